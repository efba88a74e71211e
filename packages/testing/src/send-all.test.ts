import type { Message, Producer, ProducerRecord } from "@points/shared/kafka";
import { createKafka, createProducer, Partitioners, sendAll, sendPerPartition } from "@points/shared/kafka";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "./env";

/**
 * sendAll sends one partition per produce request on a topic spread over brokers (kafkajs#1303:
 * a multi-broker send can be acknowledged although one partition's part was never written, after
 * a leader moves), and every partition in one request on a one-broker topic (the test broker);
 * either way it keeps each key's order and puts every message in its key's partition, on real Kafka.
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
  it("on a one-broker topic: every partition in one request, each message in its key's partition and order", async () => {
    const topic = `${env.topicPrefix}ledger.events`;
    const { requests, messages } = await sendRecorded((p, m) => sendAll(p, topic, m));
    // The very first send of a topic goes alone (it teaches the partition count and brokers).
    expect(requests[0]).toHaveLength(1);
    expect(requests).toHaveLength(2);
    expect(requests[1]!.length).toBeGreaterThan(1);
    await expectKeyedInOrder(topic, messages);
  });

  it("spread over brokers (sendPerPartition): one partition per request, each message in its key's partition and order", async () => {
    const topic = `${env.topicPrefix}partner.transactions`;
    await sendAll(producer, topic, [{ key: "teach", value: "-1" }]); // the partition count
    const { requests, messages } = await sendRecorded((p, m) => sendPerPartition(p, topic, m, PARTITIONS));
    expect(requests.length).toBeGreaterThan(1);
    for (const partitions of requests) expect(partitions).toHaveLength(1);
    await expectKeyedInOrder(topic, messages, 1);
  });
});

const PARTITIONS = 12;

/** Sends MESSAGES messages over KEYS keys through `send`, recording each request's partitions. */
async function sendRecorded(send: (p: Producer, m: Message[]) => Promise<void>) {
  const requests: number[][] = [];
  const recording: Producer = {
    ...producer,
    send: (record: ProducerRecord) => {
      requests.push([...new Set(record.messages.map((m) => m.partition ?? kafkajsPartition(record, m)))]);
      return producer.send(record);
    },
  };
  const messages: Message[] = Array.from({ length: MESSAGES }, (_, i) => ({
    key: `user-${i % KEYS}`,
    value: String(i),
  }));
  await send(recording, messages);
  return { requests, messages };
}

/** The partition kafkajs's Java-compatible partitioner gives a message without one. */
const kafkajsPartition = (record: ProducerRecord, m: Message) =>
  choose({
    topic: record.topic,
    message: m,
    partitionMetadata: Array.from({ length: PARTITIONS }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
  });
const choose = Partitioners.DefaultPartitioner();

async function expectKeyedInOrder(topic: string, messages: Message[], before = 0) {
  const read = (await readAll(topic, messages.length + before)).filter((r) => r.value >= 0);
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
  const plain = (await readAll(topic, messages.length + before + 1)).find((r) => Number.isNaN(r.value));
  expect(plain?.partition).toBe(partitionOfKey.get("user-0"));
}

async function readAll(topic: string, count: number) {
  const consumer = createKafka("send-all-reader", env.kafkaBrokers, undefined, env.kafkaSasl).consumer({
    groupId: env.groupId(`reader-${topic}-${count}`),
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
