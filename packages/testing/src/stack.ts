import { GatewayConfig, LedgerConfig, parseConfig } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { type RunningGateway, startGateway } from "../../../services/gateway/src/gateway";
import { type RunningLedger, startLedger } from "../../../services/ledger/src/ledger";
import type { TestEnv } from "./env";

// Relative imports on purpose: the services depend on this package for their tests, so a
// package dependency back on them would be a cycle for the build graph.
/**
 * The whole points path in one test process: gateway and ledger wired to the file's own
 * database, topics and Redis prefix, on real Kafka, Postgres and Redis.
 */
export const TEST_ADMIN_TOKEN = "test-admin-token-0123456789";

export interface TestStack {
  gateway: RunningGateway;
  ledger: RunningLedger;
  api: Api;
  stop: () => Promise<void>;
}

function baseEnv(env: TestEnv, service: "gateway" | "ledger", overrides: Record<string, string>) {
  const base = { ADMIN_TOKEN: TEST_ADMIN_TOKEN, PORT: "0", METRICS_PORT: "0", LOG_LEVEL: "warn" };
  return { ...env.serviceEnvFor(service), ...base, ...overrides };
}

/** A gateway alone (a second instance, or one with other limits) on the file's infrastructure. */
export function startTestGateway(
  env: TestEnv,
  overrides: Record<string, string> = {},
): Promise<RunningGateway> {
  return startGateway(
    must(parseConfig(GatewayConfig, baseEnv(env, "gateway", overrides))),
    createLogger("gateway", "warn"),
  );
}

export async function startStack(env: TestEnv, overrides: Record<string, string> = {}): Promise<TestStack> {
  const config = must(parseConfig(LedgerConfig, baseEnv(env, "ledger", overrides)));
  const ledger = await startLedger(config, createLogger("ledger", "warn"));
  const gateway = await startTestGateway(env, overrides);
  const stack: TestStack = {
    gateway,
    ledger,
    api: new Api(gateway.url),
    stop: async () => {
      // The test may have replaced the gateway (restart tests): stop the current one.
      await stack.gateway.stop();
      await ledger.stop();
    },
  };
  return stack;
}

function must<T>(r: { ok: true; config: T } | { ok: false; message: string }): T {
  if (!r.ok) throw new Error(r.message);
  return r.config;
}

// biome-ignore lint/suspicious/noExplicitAny: test code reads arbitrary JSON answers field by field.
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

/** A tiny JSON client for tests: never throws on 4xx/5xx, returns status, body and headers. */
export class Api {
  constructor(readonly url: string) {}

  // biome-ignore lint/suspicious/noExplicitAny: see ApiResponse.
  async call<T = any>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown; headers?: Record<string, string>; rawBody?: string } = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.rawBody;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(`${this.url}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {}
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  async createPartner(id: string): Promise<{ token: string; signing_secret: string }> {
    const res = await this.call("POST", "/v1/partners", { token: TEST_ADMIN_TOKEN, body: { id } });
    if (res.status !== 201)
      throw new Error(`create partner ${id}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  async createMember(loyaltyId: string): Promise<void> {
    const res = await this.call("POST", "/v1/members", {
      token: TEST_ADMIN_TOKEN,
      body: { loyalty_id: loyaltyId, client_name: `Member ${loyaltyId}`, client_birthday: "1990-01-01" },
    });
    if (res.status !== 201)
      throw new Error(`create member ${loyaltyId}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  async memberToken(loyaltyId: string): Promise<string> {
    const res = await this.call("POST", `/v1/members/${encodeURIComponent(loyaltyId)}/tokens`, {
      token: TEST_ADMIN_TOKEN,
    });
    if (res.status !== 201) throw new Error(`member token: ${res.status}`);
    return res.body.token;
  }
}
