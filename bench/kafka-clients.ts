// `npm run bench:kafka-clients` (or `npm run bench -- --only kafka-clients`): issue 17's Kafka
// client decision, kafkajs 2.2.4 (through the project's adapter) against @platformatic/kafka 1.x,
// on the project's secured broker (SASL/SCRAM-SHA-512, ACLs), A/B interleaved RUNS times:
//   (a) drain: produce MESSAGES ledger-command-sized messages over 10,000 keys in sends of 2,000
//       (idempotent producer, acks=all), then consume them all in a consumer group from the
//       earliest offset, committing every 500 messages of a partition (the ledger's chunks);
//   (b) latency: SENDERS concurrent senders, each awaiting one single-message send at a time,
//       for LATENCY_S seconds: p50/p99 of the round trip.
// Also the bench process's CPU time per 1,000 messages, which a busy machine distorts less than
// wall-clock rates. Writes bench/results/kafka-clients.json.
import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import {
  Consumer as PConsumer,
  type Message as PMessage,
  Producer as PProducer,
  ProduceAcks,
  stringDeserializers,
  stringSerializers,
} from "@platformatic/kafka";
import { topicNames } from "@points/shared";
import { createKafka, createProducer, type KafkaMessage, type Producer } from "@points/shared/kafka";
import { loadBrokerModule, REPO_ROOT } from "@points/testing/infra";
import { median } from "./lib/load";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MESSAGES = Number(process.env.BENCH_KAFKA_MESSAGES ?? 100_000);
const SEND_MESSAGES = 2_000; // per send while producing the drain, as bench/run.ts does
const COMMIT_EVERY = 500; // messages of one partition per offset commit (the ledger's chunk)
const KEYS = 10_000;
const SENDERS = 20;
const LATENCY_S = Number(process.env.BENCH_KAFKA_LATENCY_S ?? 8);
const CONSUME_TIMEOUT_MS = 120_000;
const log = (m: string) => process.stderr.write(`[kafka-clients] ${m}\n`);

type Client = "kafkajs" | "platformatic" | "platformatic-serialized";
type Sasl = { username: string; password: string };
interface Figures {
  /** Failed sends, and acknowledged messages whose partition:offset repeated (silently dropped). */
  sendErrors: number;
  sendDuplicateOffsets: number;
  producePerS: number;
  consumePerS: number;
  drainPerS: number;
  produceCpuMsPer1k: number;
  consumeCpuMsPer1k: number;
  sendP50Ms: number;
  sendP99Ms: number;
  sendsPerS: number;
  loadAverage: number;
}

/** A ledger command as the gateway produces it (~330 bytes) with its signature header. */
function command(n: number): { key: string; value: string; sig: string } {
  const user = `u${n % KEYS}`;
  const value = JSON.stringify({
    v: 1,
    command_id: randomUUID(),
    user_id: user,
    actor: { role: "admin", id: "admin" },
    request_hash: randomBytes(16).toString("hex"),
    sent_at: Date.now(),
    type: "earn",
    payer: "BENCH",
    points: 100,
    timestamp: "2022-03-01T00:00:00Z",
    authority_id: "admin",
    render: "transaction",
  });
  return { key: user, value, sig: randomBytes(32).toString("hex") };
}

/** One client behind the same four operations, so both are driven by the same code. */
interface Driver {
  /** Resolves with "partition:offset" of each acknowledged message (a silent drop shows as a repeat). */
  send(topic: string, messages: ReturnType<typeof command>[]): Promise<string[]>;
  consumeAll(topic: string, group: string, count: number): Promise<void>;
  close(): Promise<void>;
}

function kafkajsDriver(brokers: string[], sasl: Sasl): Driver {
  const kafka = createKafka("bench-kafkajs", brokers, undefined, { mechanism: "scram-sha-512", ...sasl });
  const producer: Producer = createProducer(kafka);
  let connected: Promise<void> | null = null;
  return {
    send: async (topic, messages) => {
      connected ??= producer.connect();
      await connected;
      const meta = await producer.send({
        topic,
        acks: -1,
        messages: messages.map((m) => ({ key: m.key, value: m.value, headers: { sig: m.sig } })),
      });
      return meta.map((r) => `${r.partition}:${r.baseOffset}`);
    },
    consumeAll: async (topic, groupId, count) => {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let seen = 0;
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
            for (let i = 0; i < batch.messages.length; i += COMMIT_EVERY) {
              const chunk: KafkaMessage[] = batch.messages.slice(i, i + COMMIT_EVERY);
              for (const m of chunk) if (m.value) seen++;
              const last = chunk[chunk.length - 1]!;
              resolveOffset(last.offset);
              await consumer.commitOffsets([
                { topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
              ]);
              await heartbeat();
            }
            if (seen >= count) resolve();
          },
        });
      });
      await withTimeout(done, "kafkajs consume");
      await consumer.disconnect();
    },
    close: () => producer.disconnect(),
  };
}

/**
 * `serialized`: one send in flight at a time, as kafkajs's idempotent producer with
 * maxInFlightRequests 1 (the project's setting) does by itself.
 */
function platformaticDriver(brokers: string[], sasl: Sasl, serialized: boolean): Driver {
  const base = {
    bootstrapBrokers: brokers,
    sasl: { mechanism: "SCRAM-SHA-512" as const, ...sasl },
    connectTimeout: 3_000,
    retries: 8,
    retryDelay: 100,
  };
  const producer = new PProducer({
    ...base,
    clientId: "bench-platformatic",
    idempotent: true,
    acks: ProduceAcks.ALL,
    serializers: stringSerializers,
  });
  let tail: Promise<unknown> = Promise.resolve();
  const sendNow = async (topic: string, messages: ReturnType<typeof command>[]) => {
    const res = await producer.send({
      messages: messages.map((m) => ({
        topic,
        key: m.key,
        value: m.value,
        headers: new Map([["sig", m.sig]]),
      })),
    });
    return (res.offsets ?? []).map((o) => `${o.partition}:${o.offset}`);
  };
  return {
    send: (topic, messages) => {
      if (!serialized) return sendNow(topic, messages);
      const next = tail.then(() => sendNow(topic, messages));
      tail = next.catch(() => {});
      return next;
    },
    consumeAll: async (topic, groupId, count) => {
      const consumer = new PConsumer({
        ...base,
        clientId: "bench-platformatic-consumer",
        groupId,
        sessionTimeout: 10_000,
        heartbeatInterval: 1_000,
        deserializers: stringDeserializers,
      });
      const stream = await consumer.consume({ topics: [topic], mode: "earliest", autocommit: false });
      const pending = new Map<number, { n: number; last: PMessage<string, string, string, string> }>();
      let seen = 0;
      const run = async () => {
        for await (const m of stream) {
          if (m.value) seen++;
          const p = pending.get(m.partition) ?? { n: 0, last: m };
          p.n++;
          p.last = m;
          pending.set(m.partition, p);
          if (p.n >= COMMIT_EVERY) {
            await p.last.commit();
            pending.delete(m.partition);
          }
          if (seen >= count) break;
        }
        for (const p of pending.values()) await p.last.commit();
      };
      await withTimeout(run(), "platformatic consume");
      await stream.close().catch(() => {}); // already destroyed by the loop's break
      await consumer.close(true);
    },
    close: () => producer.close(),
  };
}

async function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no end within ${CONSUME_TIMEOUT_MS} ms`)),
      CONSUME_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function measure(client: Client, brokers: string[], sasl: Sasl, prefix: string): Promise<Figures> {
  const driver =
    client === "kafkajs"
      ? kafkajsDriver(brokers, sasl)
      : platformaticDriver(brokers, sasl, client === "platformatic-serialized");
  const topic = topicNames(prefix).commands;
  const loadAverage = os.loadavg()[0]!;
  try {
    await driver.send(topic, [command(0)]); // connect, metadata, producer id: not timed
    const drain = await drainPhase(driver, topic, prefix).catch((err: unknown) => {
      log(`${client}: drain FAILED: ${String(err).slice(0, 300)}`);
      return { producePerS: 0, consumePerS: 0, drainPerS: 0, produceCpuMsPer1k: 0, consumeCpuMsPer1k: 0 };
    });
    const latency = await sendLatency(driver, topic);
    return { ...drain, ...latency, loadAverage };
  } finally {
    await driver.close();
  }
}

async function drainPhase(driver: Driver, topic: string, prefix: string) {
  {
    const all = Array.from({ length: MESSAGES }, (_, n) => command(n));
    let cpu = cpuMs();
    let t = performance.now();
    for (let i = 0; i < all.length; i += SEND_MESSAGES)
      await driver.send(topic, all.slice(i, i + SEND_MESSAGES));
    const produceS = (performance.now() - t) / 1000;
    const produceCpu = cpuMs() - cpu;
    cpu = cpuMs();
    t = performance.now();
    await driver.consumeAll(topic, `${prefix}ledger`, MESSAGES + 1);
    const consumeS = (performance.now() - t) / 1000;
    const consumeCpu = cpuMs() - cpu;
    return {
      producePerS: MESSAGES / produceS,
      consumePerS: MESSAGES / consumeS,
      drainPerS: MESSAGES / (produceS + consumeS),
      produceCpuMsPer1k: (produceCpu / MESSAGES) * 1000,
      consumeCpuMsPer1k: (consumeCpu / MESSAGES) * 1000,
    };
  }
}

/** SENDERS loops, each awaiting one single-message send at a time, for LATENCY_S. */
async function sendLatency(driver: Driver, topic: string) {
  const latencies: number[] = [];
  const offsets = new Set<string>();
  let acked = 0;
  let sendErrors = 0;
  let firstError: unknown;
  const until = performance.now() + LATENCY_S * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: SENDERS }, async () => {
      while (performance.now() < until) {
        const m = command(n++);
        const t = performance.now();
        try {
          for (const o of await driver.send(topic, [m])) offsets.add(o);
          acked++;
          latencies.push(performance.now() - t);
        } catch (err) {
          sendErrors++;
          firstError ??= err;
        }
      }
    }),
  );
  if (firstError) log(`send failed ${sendErrors} times, first: ${String(firstError).slice(0, 300)}`);
  latencies.sort((a, b) => a - b);
  return {
    sendErrors,
    sendDuplicateOffsets: acked - offsets.size,
    sendP50Ms: latencies[Math.floor(latencies.length * 0.5)]!,
    sendP99Ms: latencies[Math.floor(latencies.length * 0.99)]!,
    sendsPerS: latencies.length / LATENCY_S,
  };
}

async function main(): Promise<void> {
  const broker = await loadBrokerModule();
  const kafka = await broker.ensureKafka({ brokers: process.env.KAFKA_BROKERS ?? "127.0.0.1:9092", log });
  const brokers = kafka.brokers.split(",");
  // admin for both clients: the topic and group names are fresh per run, and SCRAM costs the same.
  const sasl = kafka.credentials.admin;
  const results: Record<Client, Figures[]> = { kafkajs: [], platformatic: [], "platformatic-serialized": [] };
  try {
    for (let r = 0; r < RUNS; r++) {
      const order: Client[] =
        r % 2 === 0
          ? ["kafkajs", "platformatic", "platformatic-serialized"]
          : ["platformatic-serialized", "platformatic", "kafkajs"];
      for (const client of order) {
        const prefix = `kc${Date.now().toString(36)}${client.slice(0, 2)}.`;
        await broker.createTopics({
          brokers: kafka.brokers,
          topicPrefix: prefix,
          log: () => {},
          credentials: kafka.credentials,
        });
        const f = await measure(client, brokers, sasl, prefix).catch((err: unknown) => {
          log(`run ${r + 1} ${client} FAILED: ${String(err).slice(0, 500)}`);
          return null;
        });
        if (!f) continue;
        results[client].push(f);
        log(
          `run ${r + 1} ${client}: produce ${Math.round(f.producePerS)}/s, consume ${Math.round(f.consumePerS)}/s, ` +
            `drain ${Math.round(f.drainPerS)}/s, CPU ${f.produceCpuMsPer1k.toFixed(1)}+${f.consumeCpuMsPer1k.toFixed(1)} ms/1k, ` +
            `send p50 ${f.sendP50Ms.toFixed(1)} ms p99 ${f.sendP99Ms.toFixed(1)} ms (${Math.round(f.sendsPerS)}/s, ${f.sendErrors} failed, ${f.sendDuplicateOffsets} repeated offsets), load ${f.loadAverage.toFixed(1)}`,
        );
      }
    }
  } finally {
    await kafka.stop();
  }
  const medians = Object.fromEntries(
    Object.entries(results)
      .filter(([, runs]) => runs.length > 0)
      .map(([client, runs]) => [
        client,
        Object.fromEntries(
          Object.keys(runs[0]!).map((k) => [k, median(runs.map((f) => f[k as keyof Figures]))]),
        ) as unknown as Figures,
      ]),
  ) as Record<Client, Figures>;
  const out = {
    date: new Date().toISOString(),
    messages: MESSAGES,
    senders: SENDERS,
    latencyS: LATENCY_S,
    runs: results,
    medians,
  };
  writeFileSync(join(REPO_ROOT, "bench/results/kafka-clients.json"), `${JSON.stringify(out, null, 2)}\n`);
  process.stdout.write(`${table(medians)}\n`);
}

function table(m: Partial<Record<Client, Figures>>): string {
  const clients = Object.keys(m) as Client[];
  const row = (name: string, k: keyof Figures, digits = 0) =>
    `| ${name} | ${clients.map((c) => m[c]![k].toFixed(digits)).join(" | ")} |`;
  return [
    `Medians of the successful runs out of ${RUNS} interleaved, ${MESSAGES.toLocaleString("en-US")} messages, ${SENDERS} senders.`,
    "",
    `| figure | ${clients.join(" | ")} |`,
    `|---|${clients.map(() => "---").join("|")}|`,
    row("produce, messages/s", "producePerS"),
    row("consume (group, commits), messages/s", "consumePerS"),
    row("drain (produce + consume), messages/s", "drainPerS"),
    row("CPU ms per 1,000 produced", "produceCpuMsPer1k", 1),
    row("CPU ms per 1,000 consumed", "consumeCpuMsPer1k", 1),
    row(`single send p50 ms, ${SENDERS} senders`, "sendP50Ms", 1),
    row(`single send p99 ms, ${SENDERS} senders`, "sendP99Ms", 1),
    row("single sends/s", "sendsPerS"),
    row("failed single sends", "sendErrors"),
    row("acknowledged sends with a repeated offset", "sendDuplicateOffsets"),
  ].join("\n");
}

await main();
