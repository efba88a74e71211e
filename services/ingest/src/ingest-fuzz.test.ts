import { randomUUID } from "node:crypto";
import { IngestConfig, parseConfig, topicNames } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import {
  CompressionTypes,
  createKafka,
  type IHeaders,
  type KafkaMessage,
  type Message,
  Partitioners,
  type Producer,
  sendAll,
} from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { startStack, type TestStack } from "@points/testing/stack";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningIngest, startIngest } from "./ingest";
import {
  collectTopic,
  header,
  outcomes,
  type Partner,
  partnerMessage,
  type TopicCollector,
  waitUntil,
} from "./test-support";
import { DLQ_CODES, signPartnerEvent, VALUE_BYTES_MAX } from "./verify-partner-event";

/**
 * Hostile input on `partner.transactions`: random bytes, broken headers and signatures, values
 * that break the event schema one field at a time (wrong types, huge and fractional numbers,
 * control characters, unpaired surrogates, long strings, bad dates, deep nesting), oversized
 * and compressed values, wrong keys. Every such message lands in `partner.transactions.dlq`,
 * unchanged, with a known x-error-code; and ingest keeps going: a good signed event sent after
 * them is applied.
 */
const TS = "2024-05-01T10:00:00Z";
const USER = "u-fuzz";
const RUNS = 12;
const PINNED_WAIT_MS = 20_000;

let env: TestEnv;
let stack: TestStack;
let ingest: RunningIngest;
let pool: Pool;
let events: TopicCollector;
let dlq: TopicCollector;
let producer: Producer;
let acme: Partner;
let sent = 0;
let good = 0;
const codes = new Map<string, number>();

beforeAll(async () => {
  env = await createTestEnv();
  const topics = topicNames(env.topicPrefix);
  stack = await startStack(env);
  acme = { id: "ACME", ...(await stack.api.createPartner("ACME")) };
  for (let n = 0; n <= PINNED.length; n++) await stack.api.createMember(n === 0 ? USER : `u-pin-${n}`);
  const config = parseConfig(IngestConfig, {
    ...env.serviceEnvFor("ingest"),
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
  });
  if (!config.ok) throw new Error(config.message);
  ingest = await startIngest(config.config, createLogger("ingest", "warn"));
  pool = createPool(env.databaseUrl, { max: 2 });
  events = await collectTopic(env, topics.events, "events");
  dlq = await collectTopic(env, topics.partnerDlq, "dlq");
  producer = createKafka("test-partner", env.kafkaBrokers, undefined, env.saslOf("partner")).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
});

afterAll(async () => {
  const byCode = [...codes].map(([c, n]) => `${c} ${n}`).join(", ");
  console.log(
    `ingest fuzz: ${sent} hostile messages, all dead-lettered (${byCode}); ${good} good events applied after them`,
  );
  await producer?.disconnect();
  await events?.stop();
  await dlq?.stop();
  await ingest?.stop();
  await stack?.stop();
  await pool?.end();
  await env?.cleanup();
});

// --- hostile messages -------------------------------------------------------------------------

const SPECIAL = [
  "\u0000",
  "\u0001",
  "\u001f",
  "\u007f",
  "\u200b",
  "\u202e",
  "\ufeff",
  "\ud800",
  "\udc00",
  "/",
  "?",
  "#",
  ",",
  "'",
  '"',
  "\\",
  "%",
];
const weird = fc.string({
  unit: fc.constantFrom(...SPECIAL, "a", "\ud83d\ude00"),
  minLength: 1,
  maxLength: 8,
});
/** Each of these is refused by the schema, whatever the other fields hold (raw JSON text). */
const BROKEN: Record<string, fc.Arbitrary<string>> = {
  event_id: fc.oneof(
    fc.constantFrom('""', "1", "null", "[]", "{}", "true", JSON.stringify("e".repeat(201))),
    fc.constant(`${"[".repeat(10_000)}${"]".repeat(10_000)}`),
  ),
  user_id: fc.oneof(
    fc.constantFrom(
      '""',
      "1",
      "null",
      "[]",
      '{"$gt":""}',
      JSON.stringify("u".repeat(51)),
      '"a/b"',
      '"a?b"',
      '"a#b"',
      '"a\\u0000b"',
      '"a\\tb"',
      '"\\u007f"',
    ),
    weird.map((w) => JSON.stringify(`${w}/`)),
  ),
  points: fc.constantFrom(
    "0",
    "-0",
    "1.5",
    "-0.5",
    "9007199254740992",
    "-9007199254740992",
    "1e400",
    "-1e400",
    "1e21",
    '"5"',
    "null",
    "true",
    "[5]",
    "{}",
    "123456789012345678901234567890",
  ),
  timestamp: fc.constantFrom(
    '"2022-13-01T00:00:00Z"',
    '"2022-02-30T00:00:00Z"',
    '"2022-01-01"',
    '"2022-01-01T00:00:00"',
    '"0000-01-01T00:00:00Z"',
    '"0001-01-01T00:00:00+01:00"',
    '"9999-12-31T23:59:59-01:00"',
    '"+275760-09-13T00:00:00Z"',
    '"yesterday"',
    '""',
    "1666000000",
    "null",
  ),
  reason: fc.oneof(fc.constantFrom("5", "null", "[]", "{}", "true", JSON.stringify("r".repeat(501)))),
};

const validField: Record<string, () => string> = {
  event_id: () => JSON.stringify(`fz-${randomUUID()}`),
  user_id: () => JSON.stringify(USER),
  points: () => "5",
  timestamp: () => JSON.stringify(TS),
  reason: () => JSON.stringify("ok"),
};

/** A signed value that breaks the schema: 1-3 fields broken, maybe one missing, maybe an extra one. */
const brokenEvent: fc.Arbitrary<string> = fc
  .tuple(
    fc
      .subarray(Object.keys(BROKEN), { minLength: 1, maxLength: 3 })
      .chain((names) => fc.tuple(...names.map((n) => BROKEN[n]!.map((v) => [n, v] as const)))),
    fc.option(fc.tuple(weird, fc.jsonValue()), { freq: 4 }),
    fc.boolean(),
  )
  .map(([broken, extra, duplicate]) => {
    const fields = new Map(Object.entries(validField).map(([n, v]) => [n, v()]));
    const parts: string[] = [];
    for (const [name, value] of broken) {
      if (duplicate) parts.push(`${JSON.stringify(name)}:${fields.get(name)}`); // the later key wins
      fields.set(name, value);
    }
    for (const [name, value] of fields) parts.push(`${JSON.stringify(name)}:${value}`);
    if (extra) parts.push(`${JSON.stringify(`x${extra[0]}`)}:${JSON.stringify(extra[1])}`);
    return `{${parts.join(",")}}`;
  });

/** Not an event object at all. */
const notAnEvent: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    "",
    " ",
    "{",
    "{nope",
    "null",
    "[]",
    "1",
    '"event"',
    "\ufeff{}",
    '{"a":1}{"b":2}',
    "{'a':1}",
    "\u0000",
  ),
  fc
    .jsonValue()
    .map((v) => JSON.stringify(v))
    .filter((t) => !t.startsWith("{")),
  fc.constant(`${"[".repeat(100_000)}${"]".repeat(100_000)}`),
  fc.constant(`${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`),
);

const validEvent = () =>
  JSON.stringify({ event_id: `fz-${randomUUID()}`, user_id: USER, points: 5, timestamp: TS });
const signature = (value: string | Buffer, secret = acme.signing_secret) => signPartnerEvent(secret, value);

type Hostile = { key: string | Buffer | null; value: string | Buffer | null; headers: IHeaders };

/** One message that must be refused, by construction: exactly one kind of fault, or all of them. */
const hostileMessage: fc.Arbitrary<Hostile> = fc.oneof(
  // Random bytes with random headers.
  fc
    .tuple(
      fc.uint8Array({ maxLength: 2_000 }),
      fc.uint8Array({ maxLength: 40 }),
      fc.option(fc.uint8Array({ maxLength: 80 })),
    )
    .map(([value, id, sig]) => ({
      key: USER,
      value: Buffer.from(value),
      headers: { "x-partner-id": Buffer.from(id), ...(sig ? { "x-signature": Buffer.from(sig) } : {}) },
    })),
  // Random bytes, correctly signed by a known partner.
  fc.uint8Array({ maxLength: 2_000 }).map((bytes) => {
    const value = Buffer.from(bytes);
    return { key: USER, value, headers: { "x-partner-id": "ACME", "x-signature": signature(value) } };
  }),
  // Correctly signed values that break the schema, or are no event at all: the most of them.
  {
    arbitrary: fc.oneof({ arbitrary: brokenEvent, weight: 3 }, notAnEvent).map((value) => ({
      key: USER,
      value,
      headers: { "x-partner-id": "ACME", "x-signature": signature(value) },
    })),
    weight: 6,
  },
  // A valid event with a broken partner header.
  fc
    .constantFrom<IHeaders[string] | "absent">(
      "absent",
      "",
      "NOPE",
      "acme",
      "ACME ",
      " ACME",
      "ACME\u0000",
      ["ACME", "ACME"],
      Buffer.from([0xff, 0xfe]),
    )
    .map((partner) => {
      const value = validEvent();
      const headers: IHeaders = { "x-signature": signature(value) };
      if (partner !== "absent") headers["x-partner-id"] = partner;
      return { key: USER, value, headers };
    }),
  // A valid event with a broken signature.
  fc
    .constantFrom(
      "absent",
      "empty",
      "sha1",
      "SHA256",
      "short",
      "other-secret",
      "other-value",
      "repeated",
      "raw-hex",
      "bytes",
    )
    .map((mode) => {
      const value = validEvent();
      const good = signature(value);
      const hex = good.slice("sha256=".length);
      const sig: Record<string, IHeaders[string] | undefined> = {
        absent: undefined,
        empty: "",
        sha1: `sha1=${hex}`,
        SHA256: `SHA256=${hex}`,
        short: good.slice(0, -1),
        "other-secret": signature(value, "not-the-secret"),
        "other-value": signature(`${value} `),
        repeated: [good, good],
        "raw-hex": hex,
        bytes: Buffer.from([0xff, 0x00, 0x41]),
      };
      const headers: IHeaders = { "x-partner-id": "ACME" };
      if (sig[mode] !== undefined) headers["x-signature"] = sig[mode];
      return { key: USER, value, headers };
    }),
  // A valid signed event under the wrong key.
  fc
    .constantFrom<string | Buffer | null>(
      null,
      "",
      "u-other",
      `${USER} `,
      USER.toUpperCase(),
      Buffer.from([0xff]),
    )
    .map((key) => {
      const value = validEvent();
      return { key, value, headers: { "x-partner-id": "ACME", "x-signature": signature(value) } };
    }),
  // No value at all (a tombstone), and a value past 64 KiB.
  fc.constant({ key: USER, value: null, headers: { "x-partner-id": "ACME" } }),
  fc.constantFrom(VALUE_BYTES_MAX + 1, 200_000).map((bytes) => {
    const value = JSON.stringify({
      event_id: `fz-${randomUUID()}`,
      user_id: USER,
      points: 5,
      timestamp: TS,
      pad: "p".repeat(bytes),
    });
    return { key: USER, value, headers: { "x-partner-id": "ACME", "x-signature": signature(value) } };
  }),
);

// --- sending and checking ---------------------------------------------------------------------

function tagged(m: Hostile, id: string): Message {
  return { key: m.key, value: m.value, headers: { ...m.headers, "x-fuzz-id": id } };
}

const sameBytes = (a: Buffer | string | null | undefined, b: Buffer | string | null | undefined) =>
  Buffer.compare(Buffer.from(a ?? ""), Buffer.from(b ?? "")) === 0 &&
  (a === null || a === undefined) === (b === null || b === undefined);

async function deadLetters(ids: string[], timeoutMs?: number): Promise<Map<string, KafkaMessage>> {
  return waitUntil(
    `${ids.length} dead letters`,
    () => {
      const found = new Map<string, KafkaMessage>();
      for (const m of dlq.messages) {
        const id = header(m, "x-fuzz-id");
        if (id !== undefined && ids.includes(id)) found.set(id, m);
      }
      return found.size === ids.length ? found : undefined;
    },
    timeoutMs,
  );
}

/** Sends a good signed event and waits until the ledger applied it: ingest is still going. */
async function goodEventApplied(user: string, timeoutMs?: number): Promise<void> {
  const eventId = `good-${++good}`;
  await producer.send({
    topic: topicNames(env.topicPrefix).partnerTransactions,
    acks: -1,
    messages: [partnerMessage(acme, { event_id: eventId, user_id: user, points: 1, timestamp: TS })],
  });
  const outcome = await waitUntil(
    `the good event ${eventId} applied`,
    () => outcomes(events).find((o) => o.event_id === eventId),
    timeoutMs,
  );
  expect(outcome.status).toBe("applied");
}

function checkLetter(letter: KafkaMessage, original: Message): void {
  const code = header(letter, "x-error-code");
  expect(DLQ_CODES as readonly string[]).toContain(code);
  expect(header(letter, "x-error-message")).toBeTruthy();
  expect(sameBytes(letter.value, original.value as Buffer | string | null)).toBe(true);
  expect(sameBytes(letter.key, original.key as Buffer | string | null)).toBe(true);
  codes.set(code!, (codes.get(code!) ?? 0) + 1);
}

/** Sends in byte-bounded requests (a batch over the broker's 1 MiB would be refused whole). */
async function sendHostile(messages: Message[], compression?: CompressionTypes): Promise<void> {
  const topic = topicNames(env.topicPrefix).partnerTransactions;
  if (compression === undefined) await sendAll(producer, topic, messages);
  else await producer.send({ topic, acks: -1, messages, compression });
  sent += messages.length;
}

describe("partner.transactions under hostile input", () => {
  it("dead-letters every hostile message unchanged, and applies a good event sent after them", async () => {
    const property = fc.asyncProperty(
      fc.array(hostileMessage, { minLength: 30, maxLength: 80 }),
      async (hostile) => {
        const messages = hostile.map((m) => tagged(m, randomUUID()));
        await sendHostile(messages);
        const letters = await deadLetters(messages.map((m) => String(m.headers!["x-fuzz-id"])));
        for (const m of messages) checkLetter(letters.get(String(m.headers!["x-fuzz-id"]))!, m);
        await goodEventApplied(USER);
      },
    );
    await fc.assert(property, { numRuns: RUNS, endOnFailure: true });
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM entries WHERE user_id = $1", [USER]);
    expect(rows[0].n, "only the good events were applied").toBe(RUNS);
  });
});

/**
 * Messages the fuzzing above found (or that sit next to what it found), pinned. Text Postgres
 * cannot store (NUL, an unpaired surrogate) must be refused by validation: in an event id it fails
 * ingest's claim on every retry, in a reason it fails the ledger's batch; either way the partition
 * stops. A value or headers that arrived compressed can be far larger than the broker takes
 * uncompressed, so a dead letter must stay bounded or it can never be written. A long key must not reach the
 * producer's partitioner whole: kafkajs 2.2.4's murmur2 (DefaultPartitioner) takes time quadratic
 * in the key's length, because its Long.multiply never wraps to 64 bits (16 KiB: 30 ms, 64 KiB:
 * 0.25 s, 256 KiB: 20 s of blocked event loop, so missed heartbeats and a rebalance that hands the
 * message to the next instance). No user id is longer than 50 characters, so a dead letter's key
 * is cut to DEAD_LETTER_KEY_BYTES_MAX.
 */
const DEAD_LETTER_KEY_BYTES_MAX = 1024;
const event = (fields: Record<string, string>) =>
  `{${Object.entries({
    event_id: JSON.stringify(`pin-${randomUUID()}`),
    points: "5",
    timestamp: JSON.stringify(TS),
    ...fields,
  })
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(",")}}`;
interface PinnedMessage {
  name: string;
  make: (user: string) => Message;
  compression?: CompressionTypes;
  /** A check of the dead letter beyond its code. */
  letter?: (letter: KafkaMessage) => void;
  /** How long the dead letter may take (a failing run may block the event loop meanwhile). */
  waitMs?: number;
}
const PINNED: PinnedMessage[] = [
  {
    name: "an event id with NUL",
    make: (u) => signed(event({ user_id: JSON.stringify(u), event_id: '"e\\u0000"' }), u),
  },
  {
    name: "an event id with a lone surrogate",
    make: (u) => signed(event({ user_id: JSON.stringify(u), event_id: '"e\\ud800"' }), u),
  },
  {
    name: "a reason with NUL",
    make: (u) => signed(event({ user_id: JSON.stringify(u), reason: '"r\\u0000"' }), u),
  },
  {
    name: "a reason with a lone surrogate",
    make: (u) => signed(event({ user_id: JSON.stringify(u), reason: '"\\udc00"' }), u),
  },
  {
    name: "a user id with a lone surrogate",
    make: (u) => signed(event({ user_id: JSON.stringify(`${u}\ud800`) }), u),
  },
  {
    name: "a 2 MiB value that arrived gzip-compressed",
    make: (u) =>
      signed(event({ user_id: JSON.stringify(u), pad: JSON.stringify("p".repeat(2 * 1024 * 1024)) }), u),
    compression: CompressionTypes.GZIP,
  },
  {
    name: "2 MiB of headers that arrived gzip-compressed",
    make: (u) => {
      const message = signed("{not json", u);
      return { ...message, headers: { ...message.headers, "x-pad": "p".repeat(2 * 1024 * 1024) } };
    },
    compression: CompressionTypes.GZIP,
  },
  {
    name: "a 300 KiB key",
    // An explicit partition: the test's own producer must not hash the key either.
    make: (u) => ({
      ...signed(event({ user_id: JSON.stringify(u) }), u),
      key: "k".repeat(300 * 1024),
      partition: 0,
    }),
    letter: (letter) => {
      expect(letter.key?.length, "the dead letter's key, cut").toBeLessThanOrEqual(DEAD_LETTER_KEY_BYTES_MAX);
      expect(header(letter, "x-truncated-key-bytes")).toBe(String(300 * 1024));
    },
    waitMs: 90_000,
  },
];

function signed(value: string, key: string): Message {
  return { key, value, headers: { "x-partner-id": "ACME", "x-signature": signature(value) } };
}

describe("pinned hostile messages", () => {
  it.each(PINNED.map((p, i) => [p.name, p, `u-pin-${i + 1}`] as const))(
    "%s: dead-lettered, and ingest goes on",
    async (_name, pinned, user) => {
      const id = randomUUID();
      const made = pinned.make(user);
      const message = { ...made, headers: { "x-fuzz-id": id, ...made.headers } };
      await sendHostile([message], pinned.compression);
      const letter = (await deadLetters([id], pinned.waitMs ?? PINNED_WAIT_MS)).get(id)!;
      const code = header(letter, "x-error-code");
      expect(DLQ_CODES as readonly string[]).toContain(code);
      codes.set(code!, (codes.get(code!) ?? 0) + 1);
      pinned.letter?.(letter);
      await goodEventApplied(user, PINNED_WAIT_MS);
    },
    120_000,
  );
});
