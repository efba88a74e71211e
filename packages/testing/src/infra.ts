import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import pg from "pg";

/**
 * Local infrastructure for machines without a container runtime: the Postgres and Redis servers
 * installed on the machine (started if they are down and their binaries exist) and a real Kafka
 * broker run by the project's own launcher (infra/kafka/broker.mjs).
 */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const PROBE_TIMEOUT_MS = 2_000;
const START_WAIT_MS = 30_000;

export type KafkaPrincipal = "admin" | "gateway" | "ingest" | "ledger" | "partner";
export type KafkaCredentials = Record<KafkaPrincipal, { username: string; password: string }>;

/** One node of a cluster started by the launcher (brokerCount > 1). */
export interface ClusterNode {
  nodeId: number;
  port: number;
  broker: string;
  readonly pid: number | undefined;
  readonly running: boolean;
  start(options?: { startTimeoutMs?: number }): Promise<void>;
  /** SIGKILL waits for the exit; SIGSTOP / SIGCONT pause and resume. */
  kill(signal?: "SIGKILL" | "SIGSTOP" | "SIGCONT"): Promise<void>;
  stop(): Promise<void>;
}

export interface BrokerModule {
  ensureKafka(options: {
    brokers?: string;
    dataDir?: string;
    log?: (msg: string) => void;
    topicPrefix?: string;
    brokerCount?: number;
    controllerPorts?: number[];
  }): Promise<{
    brokers: string;
    started: boolean;
    stop: () => Promise<void>;
    credentials: KafkaCredentials;
    nodes?: ClusterNode[];
  }>;
  createTopics(options: {
    brokers: string;
    topicPrefix?: string;
    log?: (msg: string) => void;
    credentials?: KafkaCredentials;
  }): Promise<void>;
}

export async function loadBrokerModule(): Promise<BrokerModule> {
  const path = join(REPO_ROOT, "infra/kafka/broker.mjs");
  return (await import(path)) as BrokerModule;
}

export async function postgresAnswers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: PROBE_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export async function redisAnswers(url: string): Promise<boolean> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: PROBE_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
  });
  redis.on("error", () => {});
  try {
    await redis.connect();
    return (await redis.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

function isLocal(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "127.0.0.1" || host === "localhost" || host === "::1";
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + START_WAIT_MS;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not come up within ${START_WAIT_MS} ms`);
}

/** Starts the machine's Postgres cluster when it is down (idempotent command from DEVELOPERS.md). */
export async function ensurePostgres(url: string, log: (m: string) => void): Promise<void> {
  if (await postgresAnswers(url)) return;
  if (!isLocal(url) || !existsSync("/etc/postgresql")) {
    throw new Error(`Postgres at ${redact(url)} does not answer`);
  }
  const version = readdirSync("/etc/postgresql")[0];
  log(`starting local Postgres ${version}`);
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", String(version), "main", "start"], {
    stdio: "inherit",
  });
  await waitFor(() => postgresAnswers(url), "Postgres");
}

/** Starts a local redis-server when Redis is down and the binary exists. */
export async function ensureRedis(url: string, log: (m: string) => void): Promise<void> {
  if (await redisAnswers(url)) return;
  if (!isLocal(url)) throw new Error(`Redis at ${url} does not answer`);
  const port = new URL(url).port || "6379";
  log(`starting local Redis on ${port}`);
  execFileSync(
    "redis-server",
    ["--daemonize", "yes", "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"],
    { stdio: "inherit" },
  );
  await waitFor(() => redisAnswers(url), "Redis");
}

export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = "***";
  return u.toString();
}
