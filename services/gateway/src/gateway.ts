/** Wires the gateway's dependencies and starts listening. Used by main.ts and by tests. */

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { Duplex } from "node:stream";
import { type GatewayConfig, redisKeys, topicNames } from "@points/shared";
import { signingProducer } from "@points/shared/command-auth";
import { createPool } from "@points/shared/db";
import { createKafka, createProducer, kafkaSasl } from "@points/shared/kafka";
import { registerKafkaRejections } from "@points/shared/kafka-metrics";
import type { Logger } from "@points/shared/logger";
import { Redis } from "ioredis";
import { Counter, collectDefaultMetrics, Registry } from "prom-client";
import { createApp } from "./app";
import { Authenticator } from "./auth";
import { BalanceNearCache } from "./balance-near-cache";
import { CommandBus } from "./command-bus";
import { type OutboxCounters, startResender } from "./command-outbox";
import type { GatewayContext } from "./context";

export interface RunningGateway {
  url: string;
  port: number;
  stop: () => Promise<void>;
}

export async function startGateway(config: GatewayConfig, log: Logger): Promise<RunningGateway> {
  const pool = createPool(config.DATABASE_URL, { max: 20, name: "gateway" });
  const { redis, subscriber } = redisClients(config.REDIS_URL);
  const kafka = createKafka("gateway", config.KAFKA_BROKERS, log, kafkaSasl(config));
  const producer = createProducer(kafka);
  // The gateway starts and serves reads without Kafka; commands answer 503 until it connects.
  const kafkaReady = keepConnecting("kafka producer", () => producer.connect(), log);
  // Give Kafka a moment, so a gateway started with the stack does not answer its first commands 503.
  await Promise.race([kafkaReady.connected, new Promise((r) => setTimeout(r, KAFKA_START_WAIT_MS))]);
  const topics = topicNames(config.KAFKA_TOPIC_PREFIX);
  const keys = redisKeys(config.REDIS_KEY_PREFIX);
  const gatewayId = `gw-${randomBytes(6).toString("hex")}`;
  const bus = new CommandBus(
    signingProducer(producer, config.COMMAND_SIGNING_KEYS, topics.commands),
    pool,
    topics.commands,
    gatewayId,
  );
  await subscriberReady(subscriber);
  await bus.listen(subscriber, keys.replyChannel(gatewayId));
  const nearCache = BalanceNearCache.start(config.REDIS_URL, config.BALANCE_NEAR_CACHE_ENTRIES, log);
  bus.onOutcome((outcome) => nearCache.evict(keys.balance(outcome.user_id)));
  const auth = new Authenticator(pool, config.ADMIN_TOKEN);
  await subscriber.subscribe(keys.authInvalidate);
  subscriber.on("message", (channel: string) => channel === keys.authInvalidate && auth.invalidate());
  const admin = kafka.admin();
  const adminReady = keepConnecting("kafka admin", () => admin.connect(), log);
  const ctx = gatewayContext(
    config,
    log,
    { pool, redis, bus, auth, nearCache },
    {
      kafka: async () => void (await admin.fetchTopicMetadata({ topics: [topics.commands] })),
      authInvalidate: keys.authInvalidate,
    },
  );
  const resender = startResender(
    pool,
    (command) => bus.produce(command),
    resendOptions(config),
    log,
    outboxCounters(ctx.metrics),
  );
  const server = await listen(ctx, config.PORT);
  const port = (server.address() as { port: number }).port;
  log.info({ port, gatewayId }, "gateway listening");
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await resender.stop();
      kafkaReady.cancel();
      adminReady.cancel();
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
      redis.disconnect();
      subscriber.disconnect();
      nearCache.stop();
      await pool.end();
    },
  };
}

function outboxCounters(metrics: Registry): OutboxCounters {
  const resent = new Counter({
    name: "gateway_commands_resent_total",
    help: "Commands answered 202 and still undecided after COMMAND_RESEND_AFTER_MS, sent again (outbox)",
    registers: [metrics],
  });
  const abandoned = new Counter({
    name: "gateway_commands_resend_abandoned_total",
    help: "Undecided commands past COMMAND_RESEND_MAX_AGE_MS, no longer sent again (left pending)",
    registers: [metrics],
  });
  return { resent: (n) => resent.inc(n), abandoned: (n) => abandoned.inc(n) };
}

/** What route handlers may use, with the metrics and the token invalidation they share. */
function gatewayContext(
  config: GatewayConfig,
  log: Logger,
  {
    pool,
    redis,
    bus,
    auth,
    nearCache,
  }: Pick<GatewayContext, "pool" | "redis" | "bus" | "auth" | "nearCache">,
  { kafka, authInvalidate }: { kafka: () => Promise<void>; authInvalidate: string },
): GatewayContext {
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const invalidationFailures = new Counter({
    name: "gateway_token_invalidation_publish_failures_total",
    help: "Token replacements other gateways were not told of through Redis (they expire it from their cache)",
    registers: [metrics],
  });
  registerKafkaRejections(metrics);
  return {
    config,
    pool,
    redis,
    bus,
    auth,
    nearCache,
    log,
    metrics,
    health: {
      postgres: async () => void (await pool.query("SELECT 1")),
      redis: async () => void (await redis.ping()),
      kafka,
    },
    invalidateTokens: async () => {
      auth.invalidate();
      // Other gateways hear of it through Redis. If Redis cannot take the message, they keep a
      // replaced token for at most the token cache's lifetime (README, Permissions): said in a
      // log line and a metric, never silently.
      await redis.publish(authInvalidate, "1").catch((err: unknown) => {
        invalidationFailures.inc();
        log.warn(
          { err: String(err) },
          "token invalidation not published; other gateways expire it from their cache",
        );
      });
    },
  };
}

async function listen(ctx: GatewayContext, port: number): Promise<Server> {
  // 64 KiB of headers: a wallet query may name 1,000 user ids of 50 characters in its URL.
  const server: Server = createServer({ maxHeaderSize: HEADER_BYTES_MAX }, createApp(ctx));
  server.on("clientError", answerClientError);
  await new Promise<void>((resolve) => server.listen(port, resolve));
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  return server;
}
const KEEP_ALIVE_MS = 65_000;

/** The command connection and the pub/sub one. */
function redisClients(url: string): { redis: Redis; subscriber: Redis } {
  // Auto-pipelining sends the GETs of concurrent requests in one write: fewer syscalls per read.
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1_000,
    enableAutoPipelining: true,
  });
  // Pub/sub needs its own connection (ioredis resubscribes after a reconnect). No CLIENT SETINFO
  // handshake: in ioredis 5.8+ it can race a SUBSCRIBE and fail start-up (ioredis issue #2037).
  const subscriber = new Redis(url, { disableClientInfo: true });
  for (const r of [redis, subscriber]) r.on("error", () => {});
  return { redis, subscriber };
}

const CONNECT_RETRY_MS = 2_000;
const KAFKA_START_WAIT_MS = 5_000;
const HEADER_BYTES_MAX = 64 * 1024;

/**
 * Requests node's parser rejects before express sees them (headers or URL too large, a CR in a
 * header) still get the error envelope.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  // Too large headers or URL answer 413 payload_too_large, the contract's code for an oversized
  // request (not 431, which the contract does not list).
  const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
  const status = tooLarge ? "413 Payload Too Large" : "400 Bad Request";
  const body = JSON.stringify({
    error: tooLarge
      ? { code: "payload_too_large", message: "request headers or URL are too large" }
      : { code: "validation_failed", message: "malformed HTTP request" },
  });
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
const REDIS_START_WAIT_MS = 5_000;

/** Retries a connect in the background until it succeeds or is cancelled. */
function keepConnecting(
  what: string,
  connect: () => Promise<void>,
  log: Logger,
): { cancel: () => void; connected: Promise<void> } {
  let cancelled = false;
  const attempt = async (): Promise<void> => {
    while (!cancelled) {
      try {
        await connect();
        return;
      } catch (err) {
        log.warn({ err: String(err) }, `${what} cannot connect; retrying`);
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS));
      }
    }
  };
  const connected = attempt();
  const cancel = () => {
    cancelled = true;
  };
  return { cancel, connected };
}

/**
 * ioredis can refuse a SUBSCRIBE sent while its handshake is in flight ("Connection in
 * subscriber mode"): subscribe once the connection is ready (or, if Redis is down, after a
 * bounded wait: the subscription is then queued and replies fall back to Postgres meanwhile).
 */
async function subscriberReady(subscriber: Redis): Promise<void> {
  if (subscriber.status === "ready") return;
  await Promise.race([once(subscriber, "ready"), new Promise((r) => setTimeout(r, REDIS_START_WAIT_MS))]);
}

function resendOptions(config: GatewayConfig) {
  return {
    resendAfterMs: config.COMMAND_RESEND_AFTER_MS,
    backoffMaxMs: config.COMMAND_RESEND_BACKOFF_MAX_MS,
    maxAgeMs: config.COMMAND_RESEND_MAX_AGE_MS,
    intervalMs: config.COMMAND_RESEND_INTERVAL_MS,
  };
}
