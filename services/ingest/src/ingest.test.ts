import { IngestConfig, type LedgerOutcome, parseConfig, REASON_CHARS_MAX, topicNames } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import type { KafkaMessage, Message } from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningIngest, startIngest } from "./ingest";
import {
  collectTopic,
  header,
  outcomes,
  type Partner,
  partnerMessage,
  partnerProducer,
  type TopicCollector,
  waitUntil,
} from "./test-support";
import { eventCommandId, signPartnerEvent, VALUE_BYTES_MAX } from "./verify-partner-event";

/** Ingest end to end: partner producer -> ingest -> ledger.commands -> ledger -> Postgres / ledger.events. */
let env: TestEnv;
let stack: TestStack;
let api: Api;
let ingest: RunningIngest;
let config: IngestConfig;
let pool: Pool;
let events: TopicCollector;
let dlq: TopicCollector;
let partner: Awaited<ReturnType<typeof partnerProducer>>;
let acme: Partner;

const TS = "2024-05-01T10:00:00Z";
/** Enough full-size events for one user that their commands exceed Kafka's 1 MiB record batch. */
const BURST_EVENTS = 3_000;
const BURST_SEND_MAX = 1_000;

beforeAll(async () => {
  env = await createTestEnv();
  const topics = topicNames(env.topicPrefix);
  stack = await startStack(env);
  api = stack.api;
  acme = { id: "ACME", ...(await api.createPartner("ACME")) };
  const parsed = parseConfig(IngestConfig, {
    ...env.serviceEnvFor("ingest"),
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
  });
  if (!parsed.ok) throw new Error(parsed.message);
  config = parsed.config;
  ingest = await startIngest(config, createLogger("ingest", "warn"));
  pool = createPool(env.databaseUrl, { max: 2 });
  events = await collectTopic(env, topics.events, "events");
  dlq = await collectTopic(env, topics.partnerDlq, "dlq");
  partner = await partnerProducer(env, topics.partnerTransactions);
});
afterAll(async () => {
  await partner?.stop();
  await events?.stop();
  await dlq?.stop();
  await ingest?.stop();
  await stack?.stop();
  await pool?.end();
  await env?.cleanup();
});

const earn = (user: string, eventId: string, points: number, extra: Record<string, unknown> = {}) => ({
  event_id: eventId,
  user_id: user,
  points,
  timestamp: TS,
  ...extra,
});

const tagged = (id: string, m: Message): Message => ({ ...m, headers: { ...m.headers, "x-test-id": id } });

function outcomesFor(user: string, eventId: string): LedgerOutcome[] {
  return outcomes(events).filter((o) => o.user_id === user && o.event_id === eventId);
}

const outcomeOf = (user: string, eventId: string) =>
  waitUntil(`outcome of ${eventId}`, () => outcomesFor(user, eventId)[0]);

const deadLetter = (testId: string) =>
  waitUntil(`dead letter ${testId}`, () => dlq.messages.find((m) => header(m, "x-test-id") === testId));

async function ledgerState(user: string) {
  const entries = await pool.query("SELECT amount, command_id FROM entries WHERE user_id = $1", [user]);
  const account = await pool.query<{ total: string }>("SELECT total FROM accounts WHERE user_id = $1", [
    user,
  ]);
  return { entries: entries.rows.length, total: Number(account.rows[0]?.total ?? 0) };
}

describe("ingest", () => {
  it("applies a signed event once even when it is sent three times (and once more re-serialised)", async () => {
    await api.createMember("u-once");
    const event = earn("u-once", "once-1", 100, { reason: "purchase 42" });
    for (let i = 0; i < 3; i++) await partner.send([partnerMessage(acme, event)]);
    const reordered = `{ "timestamp": "2024-05-01T12:00:00+02:00", "points": 100, "reason": "purchase 42",
      "user_id": "u-once", "event_id": "once-1" }`;
    await partner.send([partnerMessage(acme, reordered, { key: "u-once" })]);

    const seen = await waitUntil("four outcomes", () => {
      const found = outcomesFor("u-once", "once-1");
      return found.length >= 4 ? found : undefined;
    });
    expect(new Set(seen.map((o) => o.status))).toEqual(new Set(["applied"]));
    expect(new Set(seen.map((o) => o.command_id))).toEqual(new Set([eventCommandId("ACME", "once-1")]));
    // Equal, not byte-equal: a replayed answer comes back from jsonb with its keys reordered.
    for (const o of seen) expect(o.response).toEqual(seen[0]!.response);
    expect(seen[0]!.response).toMatchObject({ status: 201, body: { payer: "ACME", points: 100 } });
    expect(await ledgerState("u-once")).toEqual({ entries: 1, total: 100 });
  });

  it("dead-letters each kind of bad message with its code and applies the good ones around it", async () => {
    await api.createMember("u-mix");
    const good = (eventId: string, points: number) => partnerMessage(acme, earn("u-mix", eventId, points));
    const signedRaw = (value: string) => partnerMessage(acme, value, { key: "u-mix" });
    const bad: [string, Message][] = [
      ["invalid_json", signedRaw("{not json")],
      ["invalid_json", { key: "u-mix", value: null, headers: { "x-partner-id": "ACME" } }],
      ["validation_failed", good("zero", 0)],
      [
        "validation_failed",
        signedRaw(JSON.stringify(earn("u-mix", "no-zone", 5, { timestamp: "2024-05-01T10:00:00" }))),
      ],
      ["validation_failed", signedRaw(JSON.stringify(earn("u-mix", "extra", 5, { payer: "OTHER" })))],
      ["unknown_partner", partnerMessage({ id: "NOPE", signing_secret: "x" }, earn("u-mix", "nope", 5))],
      [
        "unknown_partner",
        { ...good("no-partner", 5), headers: { "x-signature": signPartnerEvent("x", "{}") } },
      ],
      ["bad_signature", partnerMessage({ id: "ACME", signing_secret: "wrong" }, earn("u-mix", "forged", 5))],
      ["bad_signature", { ...good("unsigned", 5), headers: { "x-partner-id": "ACME" } }],
      [
        "payload_too_large",
        signedRaw(JSON.stringify(earn("u-mix", "big", 5, { pad: "x".repeat(VALUE_BYTES_MAX) }))),
      ],
      ["key_mismatch", partnerMessage(acme, earn("u-mix", "no-key", 5), { key: null })],
      ["key_mismatch", partnerMessage(acme, earn("u-mix", "wrong-key", 5), { key: "u-other" })],
    ];
    const sent = [
      tagged("good-1", good("mix-1", 10)),
      ...bad.map(([code, m], i) => tagged(`${code}-${i}`, m)),
      tagged("good-2", good("mix-2", 20)),
    ];
    await partner.send(sent);

    for (const [code, m] of bad.map(([code], i) => [code, sent[i + 1]!] as const)) {
      const letter = await deadLetter(header(m as KafkaMessage, "x-test-id")!);
      expect(header(letter, "x-error-code")).toBe(code);
      expect(header(letter, "x-error-message")).toBeTruthy();
      expectSameMessage(letter, m);
    }
    expect((await outcomeOf("u-mix", "mix-1")).status).toBe("applied");
    expect((await outcomeOf("u-mix", "mix-2")).status).toBe("applied");
    expect(await ledgerState("u-mix")).toEqual({ entries: 2, total: 30 });
  });

  it("dead-letters an event id re-used with other content, also for another user", async () => {
    await api.createMember("u-reuse");
    await api.createMember("u-reuse-2");
    await partner.send([partnerMessage(acme, earn("u-reuse", "reuse-1", 7))]);
    expect((await outcomeOf("u-reuse", "reuse-1")).status).toBe("applied");

    await partner.send([
      tagged("reuse-0", partnerMessage(acme, earn("u-reuse-2", "reuse-1", 7))),
      tagged("reuse-1", partnerMessage(acme, earn("u-reuse", "reuse-1", 8))),
    ]);
    for (const id of ["reuse-0", "reuse-1"]) {
      expect(header(await deadLetter(id), "x-error-code")).toBe("event_id_reused");
    }
    expect(await ledgerState("u-reuse")).toEqual({ entries: 1, total: 7 });
    expect(await ledgerState("u-reuse-2")).toEqual({ entries: 0, total: 0 });
  });

  it("forwards expires_at to the ledger, and dead-letters a re-sent event with another expiry", async () => {
    await api.createMember("u-exp");
    const expiresAt = "2099-05-01T10:00:00.000Z";
    await partner.send([
      partnerMessage(acme, earn("u-exp", "exp-1", 9, { expires_at: "2099-05-01T12:00:00+02:00" })),
      partnerMessage(acme, earn("u-exp", "exp-2", 4, { expires_at: null })),
    ]);
    expect((await outcomeOf("u-exp", "exp-1")).response).toMatchObject({
      status: 201,
      body: { points: 9, expires_at: expiresAt },
    });
    expect((await outcomeOf("u-exp", "exp-2")).response).toMatchObject({ body: { expires_at: null } });
    const stored = await pool.query<{ expires_at: Date | null }>(
      "SELECT expires_at FROM lots WHERE user_id = $1 ORDER BY arrival",
      ["u-exp"],
    );
    expect(stored.rows.map((r) => r.expires_at?.toISOString() ?? null)).toEqual([expiresAt, null]);
    await partner.send([
      tagged(
        "exp-other",
        partnerMessage(acme, earn("u-exp", "exp-1", 9, { expires_at: "2099-06-01T10:00:00Z" })),
      ),
      tagged("exp-early", partnerMessage(acme, earn("u-exp", "exp-3", 9, { expires_at: TS }))),
    ]);
    expect(header(await deadLetter("exp-other"), "x-error-code")).toBe("event_id_reused");
    expect(header(await deadLetter("exp-early"), "x-error-code")).toBe("validation_failed");
    expect(await ledgerState("u-exp")).toEqual({ entries: 2, total: 13 });
  });

  it("reports what the ledger rejects in ledger.events with the partner's event id", async () => {
    await api.createMember("u-neg");
    await partner.send([
      partnerMessage(acme, earn("u-neg", "neg-1", 50)),
      partnerMessage(acme, earn("u-neg", "neg-2", -80)),
      partnerMessage(acme, earn("u-nobody", "neg-3", 5)),
    ]);
    expect(await outcomeOf("u-neg", "neg-2")).toMatchObject({
      status: "rejected",
      code: "payer_points_insufficient",
      command_id: eventCommandId("ACME", "neg-2"),
      response: { status: 409 },
    });
    expect(await outcomeOf("u-nobody", "neg-3")).toMatchObject({ status: "rejected", code: "not_found" });
    expect(await ledgerState("u-neg")).toEqual({ entries: 1, total: 50 });
  });

  it("accepts a partner created after start, and a rotated signing secret", async () => {
    await api.createMember("u-late");
    const late = { id: "LATECO", ...(await api.createPartner("LATECO")) };
    await partner.send([partnerMessage(late, earn("u-late", "late-1", 5))]);
    expect((await outcomeOf("u-late", "late-1")).status).toBe("applied");

    const rotated = { id: "LATECO", signing_secret: "rotated-secret-0123456789" };
    await pool.query("UPDATE partners SET signing_secret = $1 WHERE id = $2", [
      rotated.signing_secret,
      rotated.id,
    ]);
    await partner.send([partnerMessage(rotated, earn("u-late", "late-2", 6))]);
    expect((await outcomeOf("u-late", "late-2")).status).toBe("applied");
    expect(await ledgerState("u-late")).toEqual({ entries: 2, total: 11 });
  });

  it("serves metrics (accepted, dead-lettered by code, lag) and health", async () => {
    const base = `http://127.0.0.1:${ingest.metricsPort}`;
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(metric(text, "ingest_events_accepted_total")).toBeGreaterThanOrEqual(8);
    expect(metric(text, 'ingest_events_dead_lettered_total{code="bad_signature"}')).toBeGreaterThanOrEqual(2);
    expect(metric(text, 'ingest_events_dead_lettered_total{code="event_id_reused"}')).toBeGreaterThanOrEqual(
      2,
    );
    expect(text).toMatch(/^ingest_consumer_lag_messages\{partition="\d+"\} \d+$/m);
    expect(text).toMatch(/^ingest_committed_offset\{partition="\d+"\} [1-9]\d*$/m);
    expect(text).toMatch(/^ingest_high_watermark\{partition="\d+"\} [1-9]\d*$/m);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok", checks: { postgres: "ok", kafka: "ok" } });
  });

  it("forwards a burst for one user larger than one Kafka request may carry", async () => {
    await api.createMember("u-burst");
    // Stopped while the burst is produced, so it is then fetched as one large batch.
    await ingest.stop();
    const reason = "r".repeat(REASON_CHARS_MAX);
    const burst = Array.from({ length: BURST_EVENTS }, (_, i) =>
      partnerMessage(acme, earn("u-burst", `burst-${i}`, 1, { reason })),
    );
    for (let i = 0; i < burst.length; i += BURST_SEND_MAX)
      await partner.send(burst.slice(i, i + BURST_SEND_MAX));
    ingest = await startIngest(config, createLogger("ingest", "warn"));
    await waitUntil("the burst applied", async () =>
      (await ledgerState("u-burst")).entries >= BURST_EVENTS ? true : undefined,
    );
    expect(await ledgerState("u-burst")).toEqual({ entries: BURST_EVENTS, total: BURST_EVENTS });
  });
});

function metric(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : Number.NaN;
}

/** A dead letter carries the original key, value and headers. */
function expectSameMessage(letter: KafkaMessage, sent: Message): void {
  expect(letter.key?.toString() ?? null).toBe(
    sent.key === null || sent.key === undefined ? null : String(sent.key),
  );
  expect(letter.value?.toString() ?? null).toBe(sent.value === null ? null : String(sent.value));
  for (const [name, value] of Object.entries(sent.headers ?? {}))
    expect(header(letter, name)).toBe(String(value));
}
