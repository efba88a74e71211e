import type { Message, Producer, ProducerRecord } from "@points/shared/kafka";
import { createKafka, createProducer, sendAll } from "@points/shared/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "./env";

/**
 * sendAll sends one partition per produce request (kafkajs#1303: a multi-broker send can be
 * acknowledged although one partition's part was never written, after a leader moves), keeps
 * each key's order, and puts every message in its key's partition, on real Kafka.
 */
let env: TestEnv;
let producer: Producer;
const MESSAGES = 600;
const KEYS = 40;

beforeAll(async () => {
  env = await createTestEnv();
  producer = createProducer(createKafka("send-all-test", env.kafkaBrokers, undefined, env.kafkaSasl));
  await producer.connect();
});
afterAll(async () => {
  await producer?.disconnect();
  await env?.cleanup();
});

describe("sendAll", () => {
  it("writes every message once, in its key's partition and order, one partition per request", async () => {
    const topic = `${env.topicPrefix}ledger.events`;
    const requests: number[][] = [];
    const recording: Producer = {
      ...producer,
      send: (record: ProducerRecord) => {
        requests.push([...new Set(record.messages.map((m) => m.partition ?? -1))]);
        return producer.send(record);
      },
    };
    const messages: Message[] = Array.from({ length: MESSAGES }, (_, i) => ({
      key: `user-${i % KEYS}`,
      value: String(i),
    }));
    await sendAll(recording, topic, messages);
    // The very first send of a topic goes alone (it teaches the partition count); the rest one partition each.
    for (const partitions of requests.slice(1)) expect(partitions).toHaveLength(1);

    const read = await readAll(topic, MESSAGES);
    expect(read.map((r) => r.value).sort((a, b) => a - b)).toEqual(messages.map((_, i) => i));
    const partitionOfKey = new Map<string, number>();
    const lastOfKey = new Map<string, number>();
    for (const r of read) {
      expect(partitionOfKey.get(r.key) ?? r.partition).toBe(r.partition);
      partitionOfKey.set(r.key, r.partition);
      expect(r.value).toBeGreaterThan(lastOfKey.get(r.key) ?? -1);
      lastOfKey.set(r.key, r.value);
    }
    // A plain (kafkajs-partitioned) send puts the same key in the same partition.
    await producer.send({ topic, acks: -1, messages: [{ key: "user-0", value: "plain" }] });
    const plain = (await readAll(topic, MESSAGES + 1)).find((r) => Number.isNaN(r.value));
    expect(plain?.partition).toBe(partitionOfKey.get("user-0"));
  });
});

async function readAll(topic: string, count: number) {
  const consumer = createKafka("send-all-reader", env.kafkaBrokers, undefined, env.kafkaSasl).consumer({
    groupId: env.groupId(`reader-${count}`),
  });
  const read: { key: string; value: number; partition: number }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        read.push({ key: String(message.key), value: Number(String(message.value)), partition });
        if (read.length >= count) resolve();
      },
    });
  });
  await consumer.disconnect();
  return read;
}
