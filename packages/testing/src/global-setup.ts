import { randomBytes } from "node:crypto";
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
  const [postgres, redis] = await Promise.all([
    new PostgreSqlContainer("postgres:16-alpine").withUsername("postgres").withPassword("postgres").start(),
    new RedisContainer("redis:7-alpine").start(),
  ]);
  stops.push(
    async () => void (await postgres.stop()),
    async () => void (await redis.stop()),
  );
  const adminUrl = `postgres://postgres:postgres@${postgres.getHost()}:${postgres.getPort()}/postgres`;
  return {
    postgresAdminUrl: adminUrl,
    redisUrl: `redis://${redis.getHost()}:${redis.getPort()}`,
    // Kafka always comes from the project's launcher: it is the broker secured as contract 3 asks
    // (SCRAM users, ACLs), which a stock container image is not.
    ...(await startKafka(stops)),
  };
}

async function startKafka(stops: Stop[]) {
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
  return { kafkaBrokers: kafka.brokers, kafkaCredentials: kafka.credentials };
}

async function startLocal(stops: Stop[]) {
  const postgresAdminUrl = process.env.TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  await ensurePostgres(postgresAdminUrl, log);
  await ensureRedis(redisUrl, log);
  return { postgresAdminUrl, redisUrl, ...(await startKafka(stops)) };
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
  // One signing key per run, as npm start generates one: tests sign and verify like the services.
  const commandSigningKeys = `test:${randomBytes(32).toString("hex")}`;
  project.provide("infra", { ...infra, templateDatabase, runId, mode, commandSigningKeys });

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
