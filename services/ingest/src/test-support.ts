import type { LedgerOutcome } from "@points/shared";
import {
  type Admin,
  createKafka,
  type IHeaders,
  type KafkaMessage,
  type Message,
  Partitioners,
  type Producer,
} from "@points/shared/kafka";
import type { TestEnv } from "@points/testing";
import { signPartnerEvent } from "./verify-partner-event";

/** Test-side Kafka for ingest tests: a partner's producer, and collectors for the output topics. */
export const WAIT_MS_MAX = 45_000;
const POLL_MS = 50;

export interface Partner {
  id: string;
  signing_secret: string;
}

/** A signed partner message, keyed by the event's user id unless told otherwise. */
export function partnerMessage(
  partner: Partner,
  event: Record<string, unknown> | string,
  options: { key?: string | null; headers?: IHeaders } = {},
): Message {
  const value = typeof event === "string" ? event : JSON.stringify(event);
  const key =
    options.key !== undefined ? options.key : typeof event === "string" ? null : String(event.user_id);
  return {
    key,
    value,
    headers: {
      "x-partner-id": partner.id,
      "x-signature": signPartnerEvent(partner.signing_secret, value),
      ...options.headers,
    },
  };
}

export async function partnerProducer(env: TestEnv, topic: string) {
  const producer: Producer = createKafka(
    "test-partner",
    env.kafkaBrokers,
    undefined,
    env.saslOf("partner"),
  ).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  return {
    send: async (messages: Message[]) => void (await producer.send({ topic, acks: -1, messages })),
    stop: () => producer.disconnect(),
  };
}

export interface TopicCollector {
  messages: KafkaMessage[];
  stop: () => Promise<void>;
}

/** Everything written to `topic`; returns once its consumer joined the group, so nothing is missed. */
export async function collectTopic(env: TestEnv, topic: string, name: string): Promise<TopicCollector> {
  const consumer = createKafka(`test-${name}`, env.kafkaBrokers, undefined, env.kafkaSasl).consumer({
    groupId: env.groupId(name),
    sessionTimeout: 10_000,
    maxWaitTimeInMs: 100,
  });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({ eachMessage: async ({ message }) => void messages.push(message) });
  await joined;
  return { messages, stop: () => consumer.disconnect() };
}

export function outcomes(collector: TopicCollector): LedgerOutcome[] {
  return collector.messages.map((m) => JSON.parse(m.value!.toString("utf8")) as LedgerOutcome);
}

export function header(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name];
  return value === undefined ? undefined : String(value);
}

/** Polls until `check` returns a value (not undefined); fails with `what` after WAIT_MS_MAX. */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = WAIT_MS_MAX,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await check();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** True once `groupId` has committed every partition of `topic` up to its high watermark. */
export async function groupCaughtUp(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const [watermarks, offsets] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const committed = new Map(offsets[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
  return watermarks.every((w) => w.high === w.low || (committed.get(w.partition) ?? -1n) >= BigInt(w.high));
}
