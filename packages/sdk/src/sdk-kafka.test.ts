import { createHmac } from "node:crypto";
import { startIngest } from "@points/ingest";
import { IngestConfig, parseConfig, topicNames } from "@points/shared";
import { createKafka, Kafka, type KafkaMessage, Partitioners, type Producer } from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalletClient } from "./client.js";
import { partnerKafkaOptions, producePartnerEvents, signPartnerEvent } from "./kafka.js";

/** The Kafka path: events signed and produced by the SDK, read back raw and through ingest. */
let env: TestEnv;
let stack: TestStack;
let producer: Producer;
let topic: string;
let partner: { token: string; signing_secret: string };

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  topic = topicNames(env.topicPrefix).partnerTransactions;
  // As a partner connects: from a config shaped like .cache/kafka-partner.json, with the partner
  // principal, which may only write partner.transactions.
  const { username, password } = env.saslOf("partner");
  const partnerConfig = { brokers: env.kafkaBrokers, mechanism: "scram-sha-512", username, password };
  producer = new Kafka({ clientId: "sdk-test", ...partnerKafkaOptions(partnerConfig) }).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
  });
  await producer.connect();
  partner = await stack.api.createPartner("ACME");
  await stack.api.createMember("kim");
});
afterAll(async () => {
  await producer?.disconnect();
  await stack?.stop();
  await env?.cleanup();
});

describe("signPartnerEvent", () => {
  it("gives sha256=<hex HMAC-SHA256 of the raw value bytes>", () => {
    // RFC 4231-style check with a well-known vector.
    const signed = signPartnerEvent("key", "The quick brown fox jumps over the lazy dog", "ACME");
    expect(signed.headers).toEqual({
      "x-partner-id": "ACME",
      "x-signature": "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",
    });
    expect(signed.value.toString("utf8")).toBe("The quick brown fox jumps over the lazy dog");
  });

  it("signs bytes as given, and names the client's authority", async () => {
    const client = new WalletClient({ baseUrl: stack.api.url, token: partner.token, authorityId: "ACME" });
    const bytes = Buffer.from([0xff, 0x00, 0x7b]);
    const signed = client.signPartnerEvent("s3cret", bytes);
    const expected = createHmac("sha256", "s3cret").update(bytes).digest("hex");
    expect(signed.headers).toEqual({ "x-partner-id": "ACME", "x-signature": `sha256=${expected}` });
  });
});

describe("partnerKafkaOptions", () => {
  it("turns a partner Kafka config into kafkajs options, and names what is wrong with a bad one", () => {
    const config = { brokers: ["b:9092"], mechanism: "scram-sha-512", username: "partner", password: "pw" };
    expect(partnerKafkaOptions(config)).toEqual({
      brokers: ["b:9092"],
      sasl: { mechanism: "scram-sha-512", username: "partner", password: "pw" },
    });
    expect(() => partnerKafkaOptions({ ...config, mechanism: "plain" })).toThrow(/mechanism/);
    expect(() => partnerKafkaOptions({ ...config, brokers: [] })).toThrow(/brokers/);
  });
});

describe("producePartnerEvents", () => {
  it("produces signed events keyed by user id", async () => {
    const event = { event_id: "raw-1", user_id: "kim", points: 5, timestamp: "2022-01-01T00:00:00Z" };
    await producePartnerEvents(producer, [event], { partnerId: "RAW", secret: "raw-secret", topic });
    const message = await readBack((m) => m.headers?.["x-partner-id"]?.toString() === "RAW");
    expect(message.key?.toString()).toBe("kim");
    expect(JSON.parse(message.value!.toString())).toEqual(event);
    const hmac = createHmac("sha256", "raw-secret").update(message.value!).digest("hex");
    expect(message.headers?.["x-signature"]?.toString()).toBe(`sha256=${hmac}`);
  });

  it("refuses an invalid event before anything is sent", async () => {
    const bad = { event_id: "bad", user_id: "kim", points: 0, timestamp: "2022-01-01T00:00:00Z" };
    await expect(
      producePartnerEvents(producer, [bad], { partnerId: "RAW", secret: "s", topic }),
    ).rejects.toThrow(/partner event 0 is not valid.*must not be 0/s);
  });

  it("is accepted by ingest and applied once per event id", async () => {
    const ingest = await startIngest(
      must(
        parseConfig(IngestConfig, { ...env.serviceEnvFor("ingest"), METRICS_PORT: "0", LOG_LEVEL: "warn" }),
      ),
      createLogger("ingest", "warn"),
    );
    try {
      const at = "2022-03-01T00:00:00Z";
      const events = [
        { event_id: "e-1", user_id: "kim", points: 100, timestamp: at, reason: "purchase" },
        { event_id: "e-2", user_id: "kim", points: 50, timestamp: at },
      ];
      const options = { partnerId: "ACME", secret: partner.signing_secret, topic };
      await producePartnerEvents(producer, events, options);
      await producePartnerEvents(producer, [events[0]!], options); // a re-sent event
      // Same key, same partition: once the last event is applied, the re-send has been decided too.
      await producePartnerEvents(
        producer,
        [{ event_id: "e-3", user_id: "kim", points: 1, timestamp: at }],
        options,
      );
      const admin = new WalletClient({ baseUrl: stack.api.url, token: TEST_ADMIN_TOKEN });
      const entries = () => stack.api.call("GET", "/v1/users/kim/entries", { token: TEST_ADMIN_TOKEN });
      while ((await entries()).body.count < 3) await sleep(50);
      expect(await admin.getBalance("kim")).toEqual({ ACME: 151 });
      expect((await entries()).body.count).toBe(3);
    } finally {
      await ingest.stop();
    }
  });
});

/** The first message on the partner topic that matches, read with a consumer group of its own. */
async function readBack(matches: (m: KafkaMessage) => boolean): Promise<KafkaMessage> {
  const consumer = createKafka("sdk-test-reader", env.kafkaBrokers, undefined, env.kafkaSasl).consumer({
    groupId: env.groupId("reader"),
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    return await new Promise<KafkaMessage>((resolve) => {
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (matches(message)) resolve(message);
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
}

function must<T>(result: { ok: true; config: T } | { ok: false; message: string }): T {
  if (!result.ok) throw new Error(result.message);
  return result.config;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
