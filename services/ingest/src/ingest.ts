import { createServer, type Server } from "node:http";
import { type IngestConfig, topicNames, withTimeout } from "@points/shared";
import { signingProducer } from "@points/shared/command-auth";
import { createPool, type Pool } from "@points/shared/db";
import type { Admin } from "@points/shared/kafka";
import {
  connectWithRetry,
  createKafka,
  createProducer,
  exitOnFatalCrash,
  KAFKA_HEARTBEAT_MS,
  KAFKA_SESSION_TIMEOUT_MS,
  kafkaSasl,
} from "@points/shared/kafka";
import type { Logger } from "@points/shared/logger";
import { runIngestConsumer } from "./consumer";
import { consumerLag } from "./lag";
import { IngestMetrics } from "./metrics";
import { PartnerSecrets } from "./partner-secrets";
import { IngestPublisher } from "./publisher";

/** Wires ingest: Postgres (secrets, event claims), Kafka consumer, producer and admin, metrics. */
const MAX_BYTES_PER_PARTITION = 2 * 1024 * 1024;
const FETCH_WAIT_MS_MAX = 100;
const HEALTH_PROBE_TIMEOUT_MS = 2_000;

export interface RunningIngest {
  stop: () => Promise<void>;
  metricsPort: number;
}

export async function startIngest(config: IngestConfig, log: Logger): Promise<RunningIngest> {
  const topics = topicNames(config.KAFKA_TOPIC_PREFIX);
  const pool = createPool(config.DATABASE_URL, {
    max: config.INGEST_PARTITIONS_CONCURRENCY + 2,
    name: "ingest",
  });
  const kafka = createKafka("ingest", config.KAFKA_BROKERS, log, kafkaSasl(config));
  const producer = createProducer(kafka);
  const admin = kafka.admin();
  const consumer = kafka.consumer({
    groupId: config.INGEST_GROUP_ID,
    sessionTimeout: KAFKA_SESSION_TIMEOUT_MS,
    heartbeatInterval: KAFKA_HEARTBEAT_MS,
    maxWaitTimeInMs: FETCH_WAIT_MS_MAX,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
  });
  const metrics = new IngestMetrics(() =>
    consumerLag(admin, config.INGEST_GROUP_ID, topics.partnerTransactions),
  );
  const secrets = new PartnerSecrets(pool, log, () => metrics.secretReloads.inc());
  await secrets.start();
  await Promise.all([
    connectWithRetry("ingest producer", () => producer.connect(), log),
    connectWithRetry("ingest admin", () => admin.connect(), log),
    connectWithRetry("ingest consumer", () => consumer.connect(), log),
  ]);
  exitOnFatalCrash(consumer, log);
  await runIngestConsumer({
    consumer,
    pool,
    secrets,
    publisher: new IngestPublisher(
      signingProducer(producer, config.COMMAND_SIGNING_KEYS, topics.commands),
      topics.commands,
      topics.partnerDlq,
    ),
    metrics,
    log,
    topic: topics.partnerTransactions,
    partitionsConcurrency: config.INGEST_PARTITIONS_CONCURRENCY,
  });
  const server = await serveOps(metrics, pool, admin, config.METRICS_PORT);
  log.info({ topic: topics.partnerTransactions, group: config.INGEST_GROUP_ID }, "ingest consuming");

  return {
    metricsPort: (server.address() as { port: number }).port,
    stop: async () => {
      await consumer.disconnect(); // finishes the chunk in hand, commits, leaves the group
      await Promise.all([producer.disconnect(), admin.disconnect()]);
      secrets.stop();
      server.close();
      await pool.end();
    },
  };
}

function serveOps(metrics: IngestMetrics, pool: Pool, admin: Admin, port: number): Promise<Server> {
  const server = createServer(async (req, res) => {
    if (req.url === "/metrics") {
      res.setHeader("content-type", metrics.registry.contentType);
      res.end(await metrics.registry.metrics());
    } else if (req.url === "/health") {
      const checks = {
        postgres: await probe(() => pool.query("SELECT 1")),
        kafka: await probe(() => admin.describeCluster()),
      };
      res.statusCode = Object.values(checks).every((c) => c === "ok") ? 200 : 503;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ status: res.statusCode === 200 ? "ok" : "unavailable", checks }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  return new Promise((resolve) => server.listen(port, "127.0.0.1", () => resolve(server)));
}

async function probe(check: () => Promise<unknown>): Promise<string> {
  try {
    await withTimeout(check(), HEALTH_PROBE_TIMEOUT_MS);
    return "ok";
  } catch (err) {
    return `failing: ${err instanceof Error ? err.message : String(err)}`;
  }
}
