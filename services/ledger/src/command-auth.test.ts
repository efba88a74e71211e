import { randomBytes } from "node:crypto";
import { LedgerConfig, parseConfig, topicNames } from "@points/shared";
import { COMMAND_AUTH_HEADER, CommandSigningKeys, signCommand } from "@points/shared/command-auth";
import { createPool, type Pool } from "@points/shared/db";
import {
  createKafka,
  Kafka,
  type KafkaMessage,
  type KafkaSasl,
  logLevel,
  Partitioners,
  type Producer,
} from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { earnCommand } from "./commands.test-support";
import { collectEvents, collectTopic, type EventCollector, registerPartners } from "./kafka.test-support";
import { type RunningLedger, startLedger } from "./ledger";

/**
 * Contract 3, "Kafka is not an open door", against the real secured broker: what an anonymous
 * client and the partner principal can and cannot do, and what the ledger refuses to apply
 * (commands it cannot authenticate, payers that are not registered partners).
 */
let env: TestEnv;
let pool: Pool;
let ledger: RunningLedger;
let events: EventCollector;
let dlq: { messages: KafkaMessage[]; stop: () => Promise<void> };
let gatewayProducer: Producer;
let topics: ReturnType<typeof topicNames>;
/** A second key the ledger also accepts: rotation by configuration (COMMAND_SIGNING_KEYS). */
const rotatedKey = `next:${randomBytes(32).toString("hex")}`;

beforeAll(async () => {
  env = await createTestEnv();
  topics = topicNames(env.topicPrefix);
  pool = createPool(env.databaseUrl, { max: 2 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('alice', 'Alice', '1990-01-01')`,
  );
  await registerPartners(env, ["ACME"]);
  const config = parseConfig(LedgerConfig, {
    ...env.serviceEnvFor("ledger"),
    COMMAND_SIGNING_KEYS: `${rotatedKey},${env.commandSigningKeys}`,
    METRICS_PORT: "0",
    LOG_LEVEL: "silent",
  });
  if (!config.ok) throw new Error(config.message);
  ledger = await startLedger(config.config, createLogger("ledger", "silent"));
  events = await collectEvents(env, "auth-events");
  dlq = await collectTopic(env, topics.commandsDlq, "auth-dlq");
  gatewayProducer = createKafka("test-gateway", env.kafkaBrokers, undefined, env.saslOf("gateway")).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await gatewayProducer.connect();
});
afterAll(async () => {
  await gatewayProducer?.disconnect();
  await dlq?.stop();
  await events?.stop();
  await ledger?.stop();
  await pool?.end();
  await env?.cleanup();
});

/** A client that gives up quickly: these tests expect refusals, not outages to ride out. */
function client(sasl?: KafkaSasl): Kafka {
  return new Kafka({
    clientId: "test-intruder",
    brokers: env.kafkaBrokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 1, initialRetryTime: 100 },
    connectionTimeout: 3_000,
    requestTimeout: 5_000,
    ...(sasl ? { sasl } : {}),
  });
}

async function produce(kafka: Kafka, topic: string): Promise<void> {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  try {
    await producer.connect();
    const command = earnCommand("alice", "ACME", 4242, "2022-01-01T00:00:00Z");
    await producer.send({ topic, acks: -1, messages: [{ key: "alice", value: JSON.stringify(command) }] });
  } finally {
    await producer.disconnect().catch(() => {});
  }
}

/** Reads from the beginning with a group named like the ledger's own; resolves on the first message. */
async function read(kafka: Kafka, topic: string): Promise<KafkaMessage> {
  const consumer = kafka.consumer({ groupId: env.groupId("ledger-intruder"), sessionTimeout: 10_000 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<KafkaMessage>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => reject(payload.error));
      consumer.run({ eachMessage: async ({ message }) => resolve(message) }).catch(reject);
    });
  } finally {
    await consumer.disconnect().catch(() => {});
  }
}

async function describeTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: [topic] });
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * A refusal by ACL. kafkajs reports a FindCoordinator answered GROUP_AUTHORIZATION_FAILED (no
 * ACL on the group) as "Failed to find group coordinator"; the coordinator itself is up (the
 * ledger and the collectors of this file joined their groups in beforeAll).
 */
const REFUSED = /authoriz|group coordinator/i;

describe("the broker (contract 3: SASL/SCRAM and ACLs)", () => {
  it("lets an anonymous client neither write nor read ledger topics", async () => {
    await expect(produce(client(), topics.commands)).rejects.toThrow();
    await expect(read(client(), topics.events)).rejects.toThrow();
    await expect(read(client(), topics.commands)).rejects.toThrow();
  });

  it("refuses a wrong password", async () => {
    const wrong = { ...env.saslOf("partner"), password: "not-the-password-0123456789" };
    await expect(produce(client(wrong), topics.partnerTransactions)).rejects.toThrow(/SASL|auth/i);
  });

  it("lets the partner principal write partner.transactions and nothing else", async () => {
    const partner = client(env.saslOf("partner"));
    await produce(partner, topics.partnerTransactions);
    await expect(produce(partner, topics.commands)).rejects.toThrow(REFUSED);
    await expect(produce(partner, topics.events)).rejects.toThrow(REFUSED);
    await expect(read(partner, topics.commands)).rejects.toThrow(REFUSED);
    await expect(read(partner, topics.events)).rejects.toThrow(REFUSED);
    await expect(read(partner, topics.partnerTransactions)).rejects.toThrow(REFUSED);
    // Not even the topic's metadata: no Describe without Read or Write.
    await expect(describeTopic(partner, topics.events)).rejects.toThrow(REFUSED);
  });

  it("lets only the ledger write ledger.events, and nobody but the ledger read ledger.commands", async () => {
    for (const principal of ["gateway", "ingest"] as const) {
      const kafka = client(env.saslOf(principal));
      await expect(produce(kafka, topics.events), principal).rejects.toThrow(REFUSED);
      await expect(read(kafka, topics.events), principal).rejects.toThrow(REFUSED);
      await expect(read(kafka, topics.commands), principal).rejects.toThrow(REFUSED);
    }
  });
});

describe("the ledger refuses what it cannot authenticate (contract 3)", () => {
  const send = async (value: string, headers: Record<string, string>) =>
    gatewayProducer.send({ topic: topics.commands, acks: -1, messages: [{ key: "alice", value, headers }] });
  const testKeys = () => CommandSigningKeys.parse(env.commandSigningKeys);

  it("dead-letters unsigned, wrongly signed and unknown-payer commands and applies none of them", async () => {
    const forged = (points: number, payer = "ACME") =>
      earnCommand("alice", payer, points, "2022-01-01T00:00:00Z", {
        actor: { role: "admin", id: "admin" },
        authority_id: "admin",
      });
    const unsigned = forged(4242);
    const foreignKey = forged(4243);
    const tampered = forged(4244);
    const unknownPayer = forged(4245, "NOT-A-PARTNER");
    const marker = forged(5);
    const value = (c: object) => JSON.stringify(c);
    const attacker = CommandSigningKeys.parse(`test:${randomBytes(32).toString("hex")}`);

    await send(value(unsigned), {});
    await send(value(foreignKey), { [COMMAND_AUTH_HEADER]: signCommand(attacker, value(foreignKey)) });
    // Signed with the real key, then changed: the signature covers the exact value bytes.
    const signedOriginal = signCommand(testKeys(), value({ ...tampered, points: 1 }));
    await send(value(tampered), { [COMMAND_AUTH_HEADER]: signedOriginal });
    await send(value(unknownPayer), { [COMMAND_AUTH_HEADER]: signCommand(testKeys(), value(unknownPayer)) });
    await send(value(marker), { [COMMAND_AUTH_HEADER]: signCommand(testKeys(), value(marker)) });

    const [applied] = await events.waitFor([marker.command_id]);
    expect(applied).toMatchObject({ status: "applied" });
    await expect.poll(() => dlq.messages.length, { timeout: 30_000 }).toBe(4);
    const codes = dlq.messages.map((m) => [
      JSON.parse(m.value!.toString("utf8")).command_id,
      m.headers?.["x-error-code"]?.toString(),
    ]);
    expect(codes).toEqual([
      [unsigned.command_id, "unauthenticated_command"],
      [foreignKey.command_id, "unauthenticated_command"],
      [tampered.command_id, "unauthenticated_command"],
      [unknownPayer.command_id, "unknown_payer"],
    ]);

    // Nothing changed but the marker's 5 points: no lots, no commands, no outcomes for the others.
    const refused = [unsigned, foreignKey, tampered, unknownPayer].map((c) => c.command_id);
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM commands WHERE command_id = ANY($1)", [
      refused,
    ]);
    expect(rows[0].n).toBe(0);
    const lots = await pool.query("SELECT payer, points FROM lots WHERE user_id = 'alice'");
    expect(lots.rows).toEqual([{ payer: "ACME", points: "5" }]);
    expect(events.events.filter((e) => refused.includes(e.command_id))).toEqual([]);
  });

  it("accepts every configured key, so keys rotate by configuration", async () => {
    const byOld = earnCommand("alice", "ACME", 1, "2022-01-02T00:00:00Z");
    const byNext = earnCommand("alice", "ACME", 2, "2022-01-03T00:00:00Z");
    await send(JSON.stringify(byOld), {
      [COMMAND_AUTH_HEADER]: signCommand(testKeys(), JSON.stringify(byOld)),
    });
    const next = CommandSigningKeys.parse(rotatedKey);
    await send(JSON.stringify(byNext), { [COMMAND_AUTH_HEADER]: signCommand(next, JSON.stringify(byNext)) });
    const outcomes = await events.waitFor([byOld.command_id, byNext.command_id]);
    expect(outcomes.map((o) => o.status)).toEqual(["applied", "applied"]);
  });
});
