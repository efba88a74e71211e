/** Wires the ledger: Postgres pool, Kafka consumer and producer, Redis, metrics endpoint. */
import { createServer, type Server } from "node:http";
import { type LedgerConfig, topicNames } from "@points/shared";
import { createPool } from "@points/shared/db";
import { recordDeadLetters } from "@points/shared/dead-letter-store";
import {
  connectWithRetry,
  createKafka,
  createProducer,
  exitOnFatalCrash,
  KAFKA_HEARTBEAT_MS,
  KAFKA_SESSION_TIMEOUT_MS,
  kafkaSasl,
  sendAll,
} from "@points/shared/kafka";
import type { Logger } from "@points/shared/logger";
import { Redis } from "ioredis";
import { repairBalanceCache } from "./cache-repair";
import { PartnerRegistry } from "./command-guard";
import { runLedgerConsumer } from "./consumer";
import { GROUPS_IN_FLIGHT_MAX, GroupCommitter } from "./group-commit";
import { LedgerMetrics } from "./metrics";
import { OutcomePublisher } from "./publish";
import { startPruner } from "./retention";
import { ExpiryScheduler } from "./scheduler";

const FETCH_BYTES_MAX = 1536 * 1024;

export interface RunningLedger {
  stop: () => Promise<void>;
  metricsPort: number;
}

export async function startLedger(config: LedgerConfig, log: Logger): Promise<RunningLedger> {
  const topics = topicNames(config.KAFKA_TOPIC_PREFIX);
  // One connection per group transaction in flight, one for the cache repair, one for the
  // partner lookups of command-guard.ts (cache misses only), and one for the expiry scheduler's
  // scans, so they never wait behind a group.
  const pool = createPool(config.DATABASE_URL, { max: GROUPS_IN_FLIGHT_MAX + 3, name: "ledger" });
  // Fail fast instead of queueing: a cache write must never hold up a committed batch.
  const redis = new Redis(config.REDIS_URL, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 2_000,
  });
  redis.on("error", () => {}); // reported where a call fails; reconnects on its own
  const kafka = createKafka("ledger", config.KAFKA_BROKERS, log, kafkaSasl(config));
  const producer = createProducer(kafka);
  const consumer = kafka.consumer({
    groupId: config.LEDGER_GROUP_ID,
    sessionTimeout: KAFKA_SESSION_TIMEOUT_MS,
    heartbeatInterval: KAFKA_HEARTBEAT_MS,
    maxWaitTimeInMs: 50,
    maxBytesPerPartition: 1024 * 1024,
    // The whole fetch, not per partition (kafkajs's default is 10 MiB): kafkajs decodes a fetch
    // into message objects at once, ~8x its bytes in RSS. Drain bench, one run each (2026-12-01):
    // 10 MiB 3,116-3,296 commands/s at 200 MB peak RSS; 2 MiB 2,899 at 153 MB; 1.5 MiB 2,875 at
    // 140 MB; 1 MiB 2,682-2,715 at 126-129 MB. 1.5 MiB keeps the ledger under 150 MB (issue 17).
    maxBytes: FETCH_BYTES_MAX,
  });
  const metrics = new LedgerMetrics();
  await connectWithRetry("ledger producer", () => producer.connect(), log);
  await connectWithRetry("ledger consumer", () => consumer.connect(), log);
  const publisher = new OutcomePublisher(producer, redis, topics.events, config.REDIS_KEY_PREFIX, log);
  const repair = balanceCacheRepair(redis, pool, config.REDIS_KEY_PREFIX, log);
  consumer.on(consumer.events.GROUP_JOIN, repair);
  const committer = new GroupCommitter(pool, (result, replyTo) => publisher.publish(result, replyTo));
  // Expiry and hold timeouts for the partitions this instance owns (scheduler.ts).
  const scheduler = new ExpiryScheduler(pool, (commands) => committer.apply(commands), log);
  consumer.on(consumer.events.GROUP_JOIN, (event) =>
    scheduler.setOwned(event.payload.memberAssignment[topics.commands] ?? []),
  );
  redis.on("ready", repair);
  exitOnFatalCrash(consumer, log);
  await runLedgerConsumer({
    consumer,
    committer,
    log,
    metrics,
    commandsTopic: topics.commands,
    deadLetters: async (messages) => {
      await sendAll(producer, topics.commandsDlq, messages);
      await recordDeadLetters(pool, "ledger", messages); // readable for operators (GET /v1/dead-letters)
    },
    signingKeys: config.COMMAND_SIGNING_KEYS,
    partners: new PartnerRegistry(pool),
    partitionsConcurrency: config.LEDGER_PARTITIONS_CONCURRENCY,
  });
  const server = await serveMetrics(metrics, config.METRICS_PORT);
  const pruner = startPruner(
    pool,
    log,
    { retentionDays: config.RETENTION_DAYS, intervalMs: config.RETENTION_PRUNE_INTERVAL_S * 1000 },
    (counts) => countPruned(metrics, counts),
  );
  log.info({ topic: topics.commands, group: config.LEDGER_GROUP_ID }, "ledger consuming");

  return {
    metricsPort: (server.address() as { port: number }).port,
    stop: async () => {
      await pruner.stop();
      await scheduler.stop();
      await consumer.disconnect(); // finishes the batch in hand, commits, leaves the group
      await producer.disconnect();
      server.close();
      redis.disconnect();
      await pool.end();
    },
  };
}

function countPruned(metrics: LedgerMetrics, counts: Record<string, number>): void {
  for (const [table, rows] of Object.entries(counts)) metrics.prunedRows.inc({ table }, rows);
}

/**
 * A crash ends in a rebalance: every group join compares cached versions with Postgres.
 * And so does Redis coming back (it may return with a snapshot older than Postgres).
 * Bounded per run; each run continues the sweep where the last one stopped.
 */
function balanceCacheRepair(
  redis: Redis,
  pool: ReturnType<typeof createPool>,
  keyPrefix: string,
  log: Logger,
): () => Promise<void> {
  const repairAt = { cursor: "0" };
  let repairing = false;
  return async () => {
    if (repairing) return; // one run at a time: they share the cursor
    repairing = true;
    await repairBalanceCache(redis, pool, keyPrefix, log, repairAt)
      .catch((err) =>
        log.warn(
          { err: String(err) },
          "balance cache repair failed; the next rebalance or reconnect retries",
        ),
      )
      .finally(() => {
        repairing = false;
      });
  };
}

function serveMetrics(metrics: LedgerMetrics, port: number): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === "/metrics") {
      res.setHeader("content-type", metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (req.url === "/health") {
      res.setHeader("content-type", "application/json");
      res.end('{"status":"ok"}');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}
