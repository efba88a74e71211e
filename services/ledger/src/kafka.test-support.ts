import { type LedgerCommand, type LedgerOutcome, topicNames } from "@points/shared";
import { CommandSigningKeys, signingProducer } from "@points/shared/command-auth";
import { type Consumer, createKafka, type KafkaMessage, Partitioners } from "@points/shared/kafka";
import type { TestEnv } from "@points/testing";
import pg from "pg";

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
  const kafka = createKafka(`test-${name}`, env.kafkaBrokers, undefined, env.kafkaSasl);
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

/**
 * Produces as the gateway does: with the gateway's principal, every message signed
 * (x-command-auth), and the payers of earns registered as partners first (the gateway only
 * sends earns for registered partners; the ledger dead-letters the others).
 */
export async function commandProducer(env: TestEnv): Promise<{
  send: (commands: LedgerCommand[]) => Promise<void>;
  sendRaw: (key: string, value: string) => Promise<void>;
  stop: () => Promise<void>;
}> {
  const topic = topicNames(env.topicPrefix).commands;
  const keys = configOrThrow(CommandSigningKeys.safeParse(env.commandSigningKeys));
  const kafka = createKafka("test-producer", env.kafkaBrokers, undefined, env.saslOf("gateway"));
  const producer = signingProducer(
    kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }),
    keys,
    topic,
  );
  await producer.connect();
  return {
    send: async (commands) => {
      await registerPartners(
        env,
        commands.flatMap((c) => (c.type === "earn" ? [c.payer] : [])),
      );
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

/** Registers partner ids (no tokens) in the file's database, as POST /v1/partners would. */
export async function registerPartners(env: TestEnv, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  const client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
  try {
    await client.query(
      `INSERT INTO partners (id, name, signing_secret)
         SELECT id, id, 'test-secret' FROM unnest($1::text[]) AS id ON CONFLICT (id) DO NOTHING`,
      [[...new Set(ids)]],
    );
  } finally {
    await client.end();
  }
}

function configOrThrow<T>(r: { success: true; data: T } | { success: false; error: Error }): T {
  if (!r.success) throw r.error;
  return r.data;
}
