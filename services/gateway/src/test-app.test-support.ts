/**
 * A real gateway (express app, Postgres, Redis, authentication) on an ephemeral port, without
 * Kafka: for tests and benchmarks of the routes that never reach the ledger (members, partners,
 * tokens). Any route that would send a command answers 503 unavailable.
 */

import { createServer, type Server } from "node:http";
import { GatewayConfig } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import { createLogger } from "@points/shared/logger";
import { Redis } from "ioredis";
import { Registry } from "prom-client";
import { createApp } from "./app";
import { Authenticator } from "./auth";
import type { CommandBus } from "./command-bus";
import type { GatewayContext } from "./context";
import { httpError } from "./http-errors";

export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789";
const POOL_CONNECTIONS_MAX = 10;

export interface TestAppOptions {
  databaseUrl: string;
  redisUrl: string;
  /** Keeps Redis keys and channels of parallel test files apart (TestEnv.redisKeyPrefix). */
  redisKeyPrefix?: string;
  /** Any other GatewayConfig variable, e.g. { PUBLIC_URL: "https://api.example" }. */
  config?: Record<string, string>;
  /** pino level; "error" shows unhandled route errors (500s) in test output. */
  logLevel?: string;
}

export interface TestResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, the text when it is not JSON, or null for an empty body. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read bodies of many shapes
  body: any;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface TestApp {
  /** e.g. http://127.0.0.1:40123 */
  url: string;
  ctx: GatewayContext;
  pool: Pool;
  adminToken: string;
  /** fetch(url + path) with a bearer token and a JSON body; never throws on an HTTP status. */
  request(method: string, path: string, options?: RequestOptions): Promise<TestResponse>;
  /** Creates partner `id` as admin and returns its token. */
  partnerToken(id: string): Promise<string>;
  /** Issues a token for existing member `loyaltyId` as admin. */
  memberToken(loyaltyId: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestApp(options: TestAppOptions): Promise<TestApp> {
  const config = GatewayConfig.parse({
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: options.redisKeyPrefix ?? "",
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    PORT: "0",
    // Required by the config; never used: this app sends no command (see noKafka).
    COMMAND_SIGNING_KEYS: `unused:${"0".repeat(64)}`,
    ...options.config,
  });
  const ctx = await testContext(config, options.logLevel ?? "error");
  const server: Server = await new Promise((resolve) => {
    const s = createServer(createApp(ctx)).listen(0, "127.0.0.1", () => resolve(s));
  });
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const request = (method: string, path: string, o: RequestOptions = {}) => send(url, method, path, o);
  const adminToken = config.ADMIN_TOKEN;
  return {
    url,
    ctx,
    pool: ctx.pool,
    adminToken,
    request,
    partnerToken: async (id) =>
      tokenOf(await request("POST", "/v1/partners", { token: adminToken, body: { id } })),
    memberToken: async (id) =>
      tokenOf(await request("POST", `/v1/members/${encodeURIComponent(id)}/tokens`, { token: adminToken })),
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      ctx.redis.disconnect();
      await ctx.pool.end();
    },
  };
}

async function testContext(config: GatewayConfig, logLevel: string): Promise<GatewayContext> {
  const pool = createPool(config.DATABASE_URL, { max: POOL_CONNECTIONS_MAX, name: "gateway-test" });
  const redis = new Redis(config.REDIS_URL, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  await redis.ping();
  const auth = new Authenticator(pool, config.ADMIN_TOKEN);
  return {
    config,
    pool,
    redis,
    bus: noKafka(),
    auth,
    log: createLogger("gateway-test", logLevel),
    metrics: new Registry(),
    health: {
      postgres: async () => void (await pool.query("SELECT 1")),
      redis: async () => void (await redis.ping()),
    },
    invalidateTokens: async () => auth.invalidate(),
  };
}

/** A CommandBus stand-in: every use is a 503, as when Kafka is down. */
function noKafka(): CommandBus {
  const refuse = async () => {
    throw httpError("unavailable", "this test gateway has no Kafka");
  };
  return {
    gatewayId: "test-app",
    send: refuse,
    produce: refuse,
    storedOutcome: refuse,
    listen: refuse,
  } as unknown as CommandBus;
}

async function send(base: string, method: string, path: string, o: RequestOptions): Promise<TestResponse> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
  if (o.body !== undefined) headers["content-type"] ??= "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    ...(o.body !== undefined ? { body: typeof o.body === "string" ? o.body : JSON.stringify(o.body) } : {}),
  });
  return { status: res.status, headers: res.headers, body: parsed(await res.text()) };
}

function parsed(text: string): unknown {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function tokenOf(res: TestResponse): string {
  if (res.status !== 201 || typeof res.body?.token !== "string") {
    throw new Error(`expected a token, got ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body.token;
}
