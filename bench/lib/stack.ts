import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { topicNames } from "@points/shared";
import { CommandSigningKeys, signingProducer } from "@points/shared/command-auth";
import { ensureDatabase, migrate } from "@points/shared/db";
import { createKafka, type KafkaSasl, Partitioners } from "@points/shared/kafka";
import {
  ensurePostgres,
  ensureRedis,
  type KafkaPrincipal,
  loadBrokerModule,
  REPO_ROOT,
} from "@points/testing/infra";
import pg from "pg";
import { buildServices, serviceNodeFlags } from "../../infra/build.mjs";

/**
 * A benchmark stack: the machine's Postgres and Redis, a real Kafka broker (the running one or
 * one the launcher starts), a fresh database and topic prefix, and the services as separate
 * processes so each one's peak RSS can be read from /proc.
 */
export const ADMIN_TOKEN = "bench-admin-token-0123456789";
export type ServiceName = "gateway" | "ledger" | "ingest";

export interface BenchStack {
  url: string;
  /** Common to every service; start() adds each service's own Kafka principal. */
  env: Record<string, string>;
  /** SASL of a Kafka principal, for the bench's own clients (admin; gateway to act as the gateway; partner). */
  kafkaSasl: (principal: KafkaPrincipal) => KafkaSasl;
  databaseUrl: string;
  start: (name: ServiceName) => Promise<void>;
  stop: (name: ServiceName) => Promise<void>;
  peakRssMb: () => Record<string, number>;
  shutdown: () => Promise<void>;
}

const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

export async function startBenchStack(tag: string, port = 18080): Promise<BenchStack> {
  await buildServices();
  const adminUrl = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  await ensurePostgres(adminUrl, log);
  await ensureRedis("redis://127.0.0.1:6379", log);
  const broker = await loadBrokerModule();
  const kafka = await broker.ensureKafka({ brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092", log });
  // BENCH_DATABASE: a session sharing the machine's Postgres picks its own name.
  const database = process.env.BENCH_DATABASE ?? `points_bench_${tag}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  // BENCH_KEEP_DATABASE=1: reuse a database a previous run loaded (new migrations still apply).
  if (!process.env.BENCH_KEEP_DATABASE)
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
  const databaseUrl = adminUrl.replace(/\/[^/]*$/, `/${database}`);
  await ensureDatabase(databaseUrl);
  await migrate(databaseUrl);
  const prefix = `bench${Date.now().toString(36)}.`;
  await broker.createTopics({
    brokers: kafka.brokers,
    topicPrefix: prefix,
    log: () => {},
    credentials: kafka.credentials,
  });
  const kafkaSasl = (principal: KafkaPrincipal): KafkaSasl => ({
    mechanism: "scram-sha-512",
    ...kafka.credentials[principal],
  });
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: "redis://127.0.0.1:6379",
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    REDIS_KEY_PREFIX: `${prefix}:`,
    LEDGER_GROUP_ID: `${prefix}ledger`,
    INGEST_GROUP_ID: `${prefix}ingest`,
    ADMIN_TOKEN,
    COMMAND_SIGNING_KEYS: `bench:${randomBytes(32).toString("hex")}`,
    PORT: String(port),
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    RATE_LIMIT_PER_SECOND: "1000000",
    RATE_LIMIT_BURST: "1000000",
    GATEWAY_WORKERS: process.env.GATEWAY_WORKERS ?? "1",
  };
  const children = new Map<ServiceName, ChildProcess>();
  const peaks: Record<string, number> = {};
  const url = `http://127.0.0.1:${port}`;

  const stack: BenchStack = {
    url,
    env,
    kafkaSasl,
    databaseUrl,
    start: async (name) => {
      // The built bundle, run as npm start and the image run it (no TypeScript loader).
      const child = spawn(
        process.execPath,
        [...serviceNodeFlags(name), ...profileFlags(name), join(REPO_ROOT, `services/${name}/dist/main.mjs`)],
        {
          cwd: REPO_ROOT,
          env: {
            ...process.env,
            ...env,
            KAFKA_SASL_USERNAME: kafka.credentials[name].username,
            KAFKA_SASL_PASSWORD: kafka.credentials[name].password,
          },
          stdio: ["ignore", "ignore", "inherit"],
        },
      );
      children.set(name, child);
      if (name === "gateway") await waitHealthy(url);
      else await new Promise((r) => setTimeout(r, 3_000)); // consumer group join
    },
    stop: async (name) => {
      const child = children.get(name);
      if (!child || child.exitCode !== null) return;
      recordPeak(name, child, peaks);
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      children.delete(name);
    },
    peakRssMb: () => {
      for (const [name, child] of children) recordPeak(name, child, peaks);
      return { ...peaks };
    },
    shutdown: async () => {
      for (const name of [...children.keys()]) await stack.stop(name);
      await kafka.stop();
    },
  };
  return stack;
}

/**
 * BENCH_PROFILE=ledger,gateway writes a V8 CPU profile of those services into bench/results/profiles/
 * when they stop (read it with `node bench/cpuprofile-top.mjs FILE`).
 */
function profileFlags(name: ServiceName): string[] {
  const wanted = (process.env.BENCH_PROFILE ?? "").split(",");
  if (!wanted.includes(name)) return [];
  return [
    "--cpu-prof",
    `--cpu-prof-dir=${join(REPO_ROOT, "bench/results/profiles")}`,
    `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`,
  ];
}

/** VmHWM: the kernel's record of the process's peak resident set. */
function recordPeak(name: string, child: ChildProcess, peaks: Record<string, number>): void {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    peaks[name] = Math.max(peaks[name] ?? 0, Math.round(kb / 1024));
  } catch {}
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("gateway did not become healthy");
}

/** The machine's own limits in this session: redis-benchmark GET and pgbench -N (req/s). */
export function machineLimits(): { redisGetPerS: number; pgbenchTps: number } {
  const redisOut = execFileSync("redis-benchmark", ["-t", "get", "-n", "200000", "-c", "50", "-q"], {
    encoding: "utf8",
  });
  const redisGetPerS = Number(/GET: ([\d.]+) requests per second/.exec(redisOut)?.[1] ?? 0);
  const db = "points_bench_pgbench";
  const psql = (sql: string) =>
    execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-qc", sql, "postgres"]);
  psql(`DROP DATABASE IF EXISTS ${db}`);
  psql(`CREATE DATABASE ${db}`);
  execFileSync("pgbench", ["-h", "127.0.0.1", "-U", "postgres", "-i", "-q", "-s", "10", db], {
    stdio: "ignore",
  });
  const pgOut = execFileSync(
    "pgbench",
    ["-h", "127.0.0.1", "-U", "postgres", "-N", "-c", "8", "-j", "2", "-T", "10", db],
    { encoding: "utf8" },
  );
  const pgbenchTps = Number(/tps = ([\d.]+)/.exec(pgOut)?.[1] ?? 0);
  psql(`DROP DATABASE IF EXISTS ${db}`);
  return { redisGetPerS, pgbenchTps };
}

/**
 * A producer of ledger commands acting as the gateway does: the gateway's principal, every
 * command signed with the stack's key (contract 3), keys partitioned as every client partitions them.
 */
export function gatewayCommandProducer(stack: BenchStack, clientId: string) {
  const kafka = createKafka(
    clientId,
    stack.env.KAFKA_BROKERS!.split(","),
    undefined,
    stack.kafkaSasl("gateway"),
  );
  const topic = topicNames(stack.env.KAFKA_TOPIC_PREFIX!).commands;
  const producer = signingProducer(
    kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }),
    CommandSigningKeys.parse(stack.env.COMMAND_SIGNING_KEYS),
    topic,
  );
  return { producer, topic };
}
