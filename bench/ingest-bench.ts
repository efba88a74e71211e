// `npx tsx bench/ingest-bench.ts`: partner ingest throughput (issue #6). A fresh database
// (points_bench_ingest) and topic prefix, the ledger and ingest as separate processes, then
// 200,000 signed events for 10,000 users produced to partner.transactions. Reports events/s from
// the first produce until the last balance is applied (polling Postgres), and when ingest itself
// had forwarded everything (its consumer group caught up), to show which stage is the limit.
import { randomBytes } from "node:crypto";
import { topicNames } from "@points/shared";
import { type Admin, createKafka, type Message, Partitioners } from "@points/shared/kafka";
import pg from "pg";
import { signPartnerEvent } from "../services/ingest/src/verify-partner-event";
import { startBenchStack } from "./lib/stack";

const EVENTS = Number(process.env.BENCH_INGEST_EVENTS ?? 200_000);
const USERS = 10_000;
const POINTS_MAX = 100;
const SEND_MESSAGES_MAX = 5_000;
const POLL_MS = 100;
const DRAIN_WAIT_MS_MAX = 15 * 60_000;
const PARTNER = "BENCHCO";
const SUM_SQL = "SELECT coalesce(sum(total), 0)::text AS sum FROM accounts";
const log = (m: string) => process.stderr.write(`[ingest-bench] ${m}\n`);

function signedEvents(secret: string): { messages: Message[]; totalPoints: number } {
  const messages: Message[] = [];
  let totalPoints = 0;
  const base = Date.UTC(2024, 0, 1);
  for (let i = 0; i < EVENTS; i++) {
    const user = `u${i % USERS}`;
    const points = 1 + ((i * 7919) % POINTS_MAX);
    totalPoints += points;
    const value = JSON.stringify({
      event_id: `bench-${i}`,
      user_id: user,
      points,
      timestamp: new Date(base + i * 1_000).toISOString(),
    });
    const headers = { "x-partner-id": PARTNER, "x-signature": signPartnerEvent(secret, value) };
    messages.push({ key: user, value, headers });
  }
  return { messages, totalPoints };
}

async function seed(db: pg.Client, secret: string): Promise<void> {
  await db.query("INSERT INTO partners (id, name, signing_secret) VALUES ($1, $1, $2)", [PARTNER, secret]);
  await db.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'u' || i, 'Member ' || i, '1990-01-01' FROM generate_series(0, $1::int - 1) i`,
    [USERS],
  );
}

async function caughtUp(admin: Admin, groupId: string, topic: string): Promise<boolean> {
  const [watermarks, offsets] = await Promise.all([
    admin.fetchTopicOffsets(topic),
    admin.fetchOffsets({ groupId, topics: [topic] }),
  ]);
  const committed = new Map(offsets[0]?.partitions.map((p) => [p.partition, BigInt(p.offset)]) ?? []);
  return watermarks.every((w) => (committed.get(w.partition) ?? -1n) >= BigInt(w.high));
}

/** Polls until every point is in the accounts table; notes when ingest had forwarded everything. */
async function drain(db: pg.Client, admin: Admin, env: Record<string, string>, totalPoints: number) {
  const topic = topicNames(env.KAFKA_TOPIC_PREFIX!).partnerTransactions;
  const deadline = Date.now() + DRAIN_WAIT_MS_MAX;
  let ingestDoneAt: number | null = null;
  while (Date.now() < deadline) {
    if (ingestDoneAt === null && (await caughtUp(admin, env.INGEST_GROUP_ID!, topic))) {
      ingestDoneAt = Date.now();
    }
    const { rows } = await db.query<{ sum: string }>(SUM_SQL);
    if (Number(rows[0]!.sum) === totalPoints) {
      return { appliedAt: Date.now(), ingestDoneAt: ingestDoneAt ?? Date.now() };
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error("not every event was applied in time");
}

async function main(): Promise<void> {
  const stack = await startBenchStack("ingest", 18_180);
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  const brokers = stack.env.KAFKA_BROKERS!.split(",");
  // Events produced as a partner does (its principal); progress read as the super user.
  const producer = createKafka("ingest-bench", brokers, undefined, stack.kafkaSasl("partner")).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const admin = createKafka("ingest-bench-admin", brokers, undefined, stack.kafkaSasl("admin")).admin();
  try {
    const secret = randomBytes(32).toString("base64url");
    await seed(db, secret);
    const { messages, totalPoints } = signedEvents(secret);
    log(`signed ${messages.length} events for ${USERS} users; starting ledger and ingest`);
    await Promise.all([stack.start("ledger"), stack.start("ingest"), producer.connect(), admin.connect()]);

    const topic = topicNames(stack.env.KAFKA_TOPIC_PREFIX!).partnerTransactions;
    const started = Date.now();
    for (let i = 0; i < messages.length; i += SEND_MESSAGES_MAX) {
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + SEND_MESSAGES_MAX) });
    }
    const producedAt = Date.now();
    const { appliedAt, ingestDoneAt } = await drain(db, admin, stack.env, totalPoints);
    const entries = Number((await db.query("SELECT count(*) AS n FROM entries")).rows[0].n);
    report({ started, producedAt, ingestDoneAt, appliedAt, entries, rss: stack.peakRssMb() });
  } finally {
    await producer.disconnect();
    await admin.disconnect();
    await db.end();
    await stack.shutdown();
  }
}

function report(r: {
  started: number;
  producedAt: number;
  ingestDoneAt: number;
  appliedAt: number;
  entries: number;
  rss: Record<string, number>;
}): void {
  const rate = (until: number) => Math.round(EVENTS / ((until - r.started) / 1000));
  const lines = [
    `events: ${EVENTS} for ${USERS} users; entries written: ${r.entries}`,
    `produced in ${r.producedAt - r.started} ms (${rate(r.producedAt)} events/s)`,
    `ingest forwarded all by ${r.ingestDoneAt - r.started} ms (${rate(r.ingestDoneAt)} events/s)`,
    `last balance applied at ${r.appliedAt - r.started} ms: ${rate(r.appliedAt)} events/s end to end`,
    `peak RSS MB: ${JSON.stringify(r.rss)}`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  if (r.entries !== EVENTS) throw new Error(`expected ${EVENTS} entries, found ${r.entries}`);
}

await main();
