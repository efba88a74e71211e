// `KAFKA_BROKERS=... npx tsx bench/many-lots-bench.ts`: one spend across 60,000 lots (issue 12,
// bug 1). A fresh database (points_bench_lots) and topic prefix; a member with 60,000 one-point
// lots written straight into Postgres; the ledger runs in this process so that
// perf_hooks.monitorEventLoopDelay sees its event loop. Sends `spend 59,999` through Kafka and
// reports the time until Postgres holds the outcome, and the event loop's longest block meanwhile.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type LedgerCommand, LedgerConfig, parseConfig, topicNames } from "@points/shared";
import { createPool, ensureDatabase, migrate } from "@points/shared/db";
import { createKafka } from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { ensurePostgres, ensureRedis, loadBrokerModule } from "@points/testing/infra";
import { Partitioners } from "kafkajs";
import pg from "pg";
import { startLedger } from "../services/ledger/src/ledger";
import { manyLotsSpendAnswer, seedManyLots } from "../services/ledger/src/many-lots.test-support";

const LOTS = Number(process.env.BENCH_LOTS ?? 60_000);
const USER = "whale";
const POLL_MS = 50;
const SPEND_WAIT_MS_MAX = 10 * 60_000;
/** Histogram resolution of the event-loop monitor; blocks shorter than this are not resolved. */
const LOOP_RESOLUTION_MS = 10;
const log = (m: string) => process.stderr.write(`[many-lots-bench] ${m}\n`);

async function freshStack() {
  const adminUrl = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  await ensurePostgres(adminUrl, log);
  await ensureRedis("redis://127.0.0.1:6379", log);
  const broker = await loadBrokerModule();
  const kafka = await broker.ensureKafka({ brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092", log });
  const database = "points_bench_lots";
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await admin.end();
  const databaseUrl = adminUrl.replace(/\/[^/]*$/, `/${database}`);
  await ensureDatabase(databaseUrl);
  await migrate(databaseUrl);
  const prefix = `benchlots${Date.now().toString(36)}.`;
  await broker.createTopics({ brokers: kafka.brokers, topicPrefix: prefix, log: () => {} });
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: "redis://127.0.0.1:6379",
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC_PREFIX: prefix,
    REDIS_KEY_PREFIX: `${prefix}:`,
    LEDGER_GROUP_ID: `${prefix}ledger`,
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
  };
  const config = parseConfig(LedgerConfig, env);
  if (!config.ok) throw new Error(config.message);
  return { config: config.config, databaseUrl };
}

function spendCommand(points: number): LedgerCommand {
  return {
    v: 1,
    type: "spend",
    command_id: `bench-spend-${Date.now()}`,
    user_id: USER,
    actor: { role: "admin", id: "admin" },
    request_hash: "bench",
    sent_at: Date.now(),
    points,
    authority_id: "admin",
    render: "spend",
  };
}

async function waitForOutcome(pool: pg.Pool, commandId: string) {
  const deadline = Date.now() + SPEND_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const { rows } = await pool.query("SELECT status, response FROM commands WHERE command_id = $1", [
      commandId,
    ]);
    if (rows[0]) return rows[0] as { status: string; response: { body: unknown } };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error("the spend was not applied in time");
}

async function main(): Promise<void> {
  const { config, databaseUrl } = await freshStack();
  const pool = createPool(databaseUrl, { max: 2 });
  await seedManyLots(pool, USER, LOTS);
  log(`seeded ${LOTS} lots; starting the ledger in this process`);
  const ledger = await startLedger(config, createLogger("ledger", "warn"));
  const producer = createKafka("many-lots-bench", config.KAFKA_BROKERS).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  await new Promise((r) => setTimeout(r, 3_000)); // consumer group join
  try {
    const spend = spendCommand(LOTS - 1);
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    const started = performance.now();
    await producer.send({
      topic: topicNames(config.KAFKA_TOPIC_PREFIX).commands,
      messages: [{ key: USER, value: JSON.stringify(spend) }],
    });
    const outcome = await waitForOutcome(pool, spend.command_id);
    const elapsedMs = performance.now() - started;
    loop.disable();
    const right = JSON.stringify(outcome.response.body) === JSON.stringify(manyLotsSpendAnswer(LOTS));
    process.stdout.write(
      `${[
        `spend ${LOTS - 1} across ${LOTS} lots: ${outcome.status}, answer ${right ? "right" : "WRONG"}`,
        `time from produce to committed outcome: ${Math.round(elapsedMs)} ms`,
        `event loop longest block: ${Math.round(loop.max / 1e6)} ms (p99 ${Math.round(loop.percentile(99) / 1e6)} ms)`,
      ].join("\n")}\n`,
    );
    if (!right) process.exitCode = 1;
  } finally {
    await producer.disconnect();
    await ledger.stop();
    await pool.end();
  }
}

await main();
