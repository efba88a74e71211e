import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDatabase, migrate } from "@points/shared/db";
import pg from "pg";
import type { TestProject } from "vitest/node";
import "./provided";
import { ensurePostgres, ensureRedis, loadBrokerModule, redact } from "./infra";

/**
 * Runs once per `vitest run`: brings up real Kafka, Postgres and Redis (containers when a runtime
 * is found, the local launcher otherwise), migrates a template database, and hands connection
 * details to test files through `provide`. Files clone the template (see env.ts).
 */
type Stop = () => Promise<void>;
const log = (m: string) => process.stderr.write(`[test-infra] ${m}\n`);

async function containerRuntimeFound(): Promise<boolean> {
  if (process.env.TESTCONTAINERS_DISABLED === "1") return false;
  try {
    const { getContainerRuntimeClient } = await import("testcontainers");
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function startContainers(stops: Stop[]) {
  const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
  const { RedisContainer } = await import("@testcontainers/redis");
  const { KafkaContainer } = await import("@testcontainers/kafka");
  const [postgres, redis, kafka] = await Promise.all([
    new PostgreSqlContainer("postgres:16-alpine").withUsername("postgres").withPassword("postgres").start(),
    new RedisContainer("redis:7-alpine").start(),
    new KafkaContainer("confluentinc/cp-kafka:7.9.0").withKraft().start(),
  ]);
  stops.push(
    async () => void (await postgres.stop()),
    async () => void (await redis.stop()),
    async () => void (await kafka.stop()),
  );
  const adminUrl = `postgres://postgres:postgres@${postgres.getHost()}:${postgres.getPort()}/postgres`;
  return {
    postgresAdminUrl: adminUrl,
    redisUrl: `redis://${redis.getHost()}:${redis.getPort()}`,
    kafkaBrokers: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
  };
}

async function startLocal(stops: Stop[]) {
  const postgresAdminUrl = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  await ensurePostgres(postgresAdminUrl, log);
  await ensureRedis(redisUrl, log);
  const broker = await loadBrokerModule();
  const dataDir = mkdtempSync(join(tmpdir(), "points-test-kafka-"));
  const kafka = await broker.ensureKafka({
    brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092",
    dataDir,
    log,
  });
  log(kafka.started ? `started Kafka at ${kafka.brokers}` : `using running Kafka at ${kafka.brokers}`);
  stops.push(async () => {
    await kafka.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { postgresAdminUrl, redisUrl, kafkaBrokers: kafka.brokers };
}

export default async function setup(project: TestProject) {
  const stops: Stop[] = [];
  const mode = (await containerRuntimeFound()) ? "containers" : "local";
  log(`infrastructure mode: ${mode}`);
  const infra = mode === "containers" ? await startContainers(stops) : await startLocal(stops);
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  const templateDatabase = `points_tpl_${runId}`;
  const templateUrl = new URL(infra.postgresAdminUrl);
  templateUrl.pathname = `/${templateDatabase}`;
  await ensureDatabase(templateUrl.toString());
  await migrate(templateUrl.toString());
  log(`template database ${templateDatabase} migrated on ${redact(infra.postgresAdminUrl)}`);
  project.provide("infra", { ...infra, templateDatabase, runId, mode });

  return async () => {
    await dropDatabases(infra.postgresAdminUrl, runId).catch((e) => log(`cleanup: ${e}`));
    for (const stop of stops.reverse()) await stop().catch((e) => log(`stop: ${e}`));
  };
}

/** Drops the template and every per-file database of this run. */
async function dropDatabases(adminUrl: string, runId: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE $1",
      [`points_%${runId}%`],
    );
    for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
