import { type LedgerCommand, type LedgerOutcome, topicNames } from "@points/shared";
import { createKafka } from "@points/shared/kafka";
import type { TestEnv } from "@points/testing";
import { type Consumer, type KafkaMessage, Partitioners, type Producer } from "kafkajs";

/**
 * Test-side Kafka: produce commands as the gateway would, and collect what the ledger publishes
 * on ledger.events. The collector joins its group before returning, so nothing is missed.
 */
export interface EventCollector {
  events: LedgerOutcome[];
  waitFor: (commandIds: string[], timeoutMs?: number) => Promise<LedgerOutcome[]>;
  stop: () => Promise<void>;
}

/** Every message of `topic` from the beginning, in `messages`, from a consumer that has joined. */
export async function collectTopic(
  env: TestEnv,
  topic: string,
  name: string,
  onMessage: (message: KafkaMessage) => void = () => {},
): Promise<{ messages: KafkaMessage[]; stop: () => Promise<void> }> {
  const kafka = createKafka(`test-${name}`, env.kafkaBrokers);
  const consumer: Consumer = kafka.consumer({ groupId: env.groupId(name), sessionTimeout: 10_000 });
  const messages: KafkaMessage[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    eachMessage: async ({ message }) => {
      messages.push(message);
      onMessage(message);
    },
  });
  await joined;
  return { messages, stop: () => consumer.disconnect() };
}

export async function collectEvents(env: TestEnv, name: string): Promise<EventCollector> {
  const events: LedgerOutcome[] = [];
  const collector = await collectTopic(env, topicNames(env.topicPrefix).events, `events-${name}`, (m) =>
    events.push(JSON.parse(m.value!.toString("utf8")) as LedgerOutcome),
  );
  return {
    events,
    waitFor: async (commandIds, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      const wanted = new Set(commandIds);
      while (Date.now() < deadline) {
        const found = events.filter((e) => wanted.has(e.command_id));
        if (new Set(found.map((e) => e.command_id)).size === wanted.size) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`timed out waiting for ${wanted.size} outcomes (have ${events.length} events)`);
    },
    stop: collector.stop,
  };
}

export async function commandProducer(env: TestEnv): Promise<{
  send: (commands: LedgerCommand[]) => Promise<void>;
  sendRaw: (key: string, value: string) => Promise<void>;
  stop: () => Promise<void>;
}> {
  const producer: Producer = createKafka("test-producer", env.kafkaBrokers).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  const topic = topicNames(env.topicPrefix).commands;
  return {
    send: async (commands) => {
      await producer.send({
        topic,
        messages: commands.map((c) => ({ key: c.user_id, value: JSON.stringify(c) })),
      });
    },
    sendRaw: async (key, value) => {
      await producer.send({ topic, messages: [{ key, value }] });
    },
    stop: () => producer.disconnect(),
  };
}
