import { randomBytes } from "node:crypto";
import type { KafkaSasl } from "@points/shared/kafka";
import pg from "pg";
import { inject } from "vitest";
import { type KafkaPrincipal, loadBrokerModule } from "./infra";
import "./provided";

/**
 * Per test file isolation on the shared infrastructure: a database cloned from the migrated
 * template, and a prefix for topics, consumer groups and Redis keys. Files run in parallel.
 */
export interface TestEnv {
  databaseUrl: string;
  redisUrl: string;
  kafkaBrokers: string[];
  /** SASL for a test's own Kafka clients: the `admin` super user (tests inspect every topic). */
  kafkaSasl: KafkaSasl;
  /** SASL of one principal, e.g. to act as a partner or to prove what a principal may not do. */
  saslOf: (principal: KafkaPrincipal) => KafkaSasl;
  /** COMMAND_SIGNING_KEYS of this run (the first key signs). */
  commandSigningKeys: string;
  topicPrefix: string;
  redisKeyPrefix: string;
  /** A consumer group id unique to this file. */
  groupId: (name: string) => string;
  /**
   * Environment variables for a service process started by this file, without Kafka credentials:
   * start a service with serviceEnvFor(service), which adds its own principal's.
   */
  serviceEnv: Record<string, string>;
  serviceEnvFor: (service: "gateway" | "ingest" | "ledger") => Record<string, string>;
  cleanup: () => Promise<void>;
}

const TEMPLATE_BUSY_RETRIES = 20;

export async function createTestEnv(): Promise<TestEnv> {
  const infra = inject("infra");
  const tag = randomBytes(4).toString("hex");
  const database = `points_t_${infra.runId}_${tag}`;
  await cloneTemplate(infra.postgresAdminUrl, infra.templateDatabase, database);
  const url = new URL(infra.postgresAdminUrl);
  url.pathname = `/${database}`;
  const topicPrefix = `t${tag}.`;
  const broker = await loadBrokerModule();
  await broker.createTopics({
    brokers: infra.kafkaBrokers,
    topicPrefix,
    log: () => {},
    credentials: infra.kafkaCredentials,
  });
  const redisKeyPrefix = `t${tag}:`;
  const serviceEnv = {
    DATABASE_URL: url.toString(),
    REDIS_URL: infra.redisUrl,
    KAFKA_BROKERS: infra.kafkaBrokers,
    KAFKA_TOPIC_PREFIX: topicPrefix,
    REDIS_KEY_PREFIX: redisKeyPrefix,
    LEDGER_GROUP_ID: `t${tag}.ledger`,
    INGEST_GROUP_ID: `t${tag}.ingest`,
    COMMAND_SIGNING_KEYS: infra.commandSigningKeys,
  };
  const saslOf = (principal: KafkaPrincipal): KafkaSasl => ({
    mechanism: "scram-sha-512",
    ...infra.kafkaCredentials[principal],
  });
  return {
    databaseUrl: url.toString(),
    redisUrl: infra.redisUrl,
    kafkaBrokers: infra.kafkaBrokers.split(","),
    kafkaSasl: saslOf("admin"),
    saslOf,
    commandSigningKeys: infra.commandSigningKeys,
    topicPrefix,
    redisKeyPrefix,
    groupId: (name) => `t${tag}.${name}`,
    serviceEnv,
    serviceEnvFor: (service) => ({
      ...serviceEnv,
      KAFKA_SASL_USERNAME: infra.kafkaCredentials[service].username,
      KAFKA_SASL_PASSWORD: infra.kafkaCredentials[service].password,
    }),
    cleanup: () => dropDatabase(infra.postgresAdminUrl, database),
  };
}

async function cloneTemplate(adminUrl: string, template: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await client.query(`CREATE DATABASE "${database}" TEMPLATE "${template}"`);
        return;
      } catch (err) {
        // 55006: another file is cloning the same template at this instant.
        if ((err as { code?: string }).code !== "55006" || attempt >= TEMPLATE_BUSY_RETRIES) throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await client.end();
  }
}

async function dropDatabase(adminUrl: string, database: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
