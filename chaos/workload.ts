import { createHash, createHmac } from "node:crypto";
import { Kafka, logLevel, type Producer, recordingPartitioner, sendAll } from "@points/shared/kafka";
import { type KafkaSaslOptions, sleep } from "./infra";
import type { Rng } from "./rng";

/**
 * The clients of the bank run. HTTP workers send earns, negative transactions and spends, and with
 * the lifecycle workload (contract 6) also short-lived earns, wallet spends, reversals and holds
 * (placed, captured whole or in part, voided, or left to expire), with an Idempotency-Key on every
 * request, and retry timeouts, network errors, 5xx and 429 with the SAME key and body. Partner producers send signed events to partner.transactions and re-send a batch
 * that was not acknowledged with the same event ids. Everything sent is recorded: the checks
 * compare these records with what the ledger decided.
 */
export const PARTNERS = ["DANNON", "UNILEVER", "MILLER COORS", "ACME"] as const;
const ATTEMPT_TIMEOUT_MS = 12_000;
const BACKOFF_MS_MIN = 100;
const BACKOFF_MS_MAX = 2_000;
const REPLAY_SHARE = 0.05;
/** Retries are bounded by time (the retry deadline) and by count. */
const ATTEMPTS_MAX = 2_000;
const EVENTS_PER_SEND = 10;
const SEND_TIMEOUT_MS = 15_000;
const PRODUCER_FAILURES_BEFORE_RENEW = 3;
const TIMESTAMP_BASE_MS = Date.UTC(2024, 0, 1);
const TIMESTAMP_SPAN_MS = 60 * 24 * 3_600_000;

export type Op = "earn" | "negative" | "spend" | "reverse" | "hold_place" | "hold_capture" | "hold_void";

/** Short-lived lots and holds expire 2 s to LIFETIME_SHORT_MS_MAX after they are sent. */
const LIFETIME_SHORT_MS_MIN = 2_000;
const LIFETIME_SHORT_MS_MAX = 40_000;
/** Holds meant to be captured or voided outlive any run (contract maximum). */
const HOLD_TTL_S_LONG = 604_800;
/** Entries and holds the workers remember as reversal, capture and void targets. */
const KNOWN_TARGETS_MAX = 200;

export interface HttpRecord {
  kind: "http";
  key: string;
  op: Op;
  userId: string;
  payer?: string;
  /**
   * Signed for transactions (negative for a negative transaction); positive for a spend, hold,
   * reversal or capture; 0 for a reversal or capture that names no points (the default: all).
   */
  points: number;
  timestamp?: string;
  /** An earn's expires_at, when it sent one (absent: the payer's validity, null in the run). */
  expiresAt?: string;
  /** The entry a reversal reverses. */
  entryId?: string;
  /** The hold a capture or void names. */
  holdId?: string;
  /** A hold's ttl_s. */
  ttlS?: number;
  token: string;
  path: string;
  body: string;
  probe: boolean;
  /** When the first attempt started (ms since the epoch). */
  sentAt: number;
  attempts: number;
  /** The definitive answer (any status but 5xx, 408 and 429), when one came; `text` is its bytes. */
  final?: { status: number; body: unknown; text: string; latencyMs: number; answeredAt: number };
  /** Every attempt so far was answered 503 (so the gateway said it accepted nothing). */
  onlyUnavailable: boolean;
  replay?: { status: number; body: unknown; text: string };
}

export interface EventRecord {
  kind: "event";
  eventId: string;
  partner: string;
  userId: string;
  points: number;
  timestamp: string;
  commandId: string;
  value: string;
  acked: boolean;
  sends: number;
  probe: boolean;
}

export interface Anomaly {
  kind: string;
  detail: string;
  /** When it happened (ms since the epoch), to tell which fault it belongs to. */
  at?: number;
}

/** What the clients sent and saw. */
export class Recorder {
  readonly http: HttpRecord[] = [];
  readonly events: EventRecord[] = [];
  readonly statuses = new Map<string, number>();
  readonly anomalies: Anomaly[] = [];
  eventSends = 0;
  eventSendFailures = 0;
  eventDuplicates = 0;

  count(status: string): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
  }

  anomaly(kind: string, detail: string): void {
    this.anomalies.push({ kind, detail, at: Date.now() });
  }
}

export interface PartnerCredentials {
  token: string;
  secret: string;
}

export interface WorkloadContext {
  gatewayUrl: string;
  brokers: string;
  /** The partner principal's SASL options: partners may only write partner.transactions. */
  partnerSasl: KafkaSaslOptions;
  partnerTopic: string;
  adminToken: string;
  partners: Map<string, PartnerCredentials>;
  users: string[];
  tag: string;
  thinkMs: number;
  rec: Recorder;
  /** Sends reversals, holds, wallet spends and short-lived lots as well (contract 6). */
  lifecycle: boolean;
  /** Short-lived lots and holds must expire before this instant (the earliest the load can stop). */
  shortLivedUntil: number;
  /** Answers the workers learnt ids from: what reversals, captures and voids name. */
  known: KnownTargets;
  /** True once the load phase is over: workers start nothing new. */
  loadStopped: () => boolean;
  /** Until when a request already started is retried. */
  retryDeadline: () => number;
}

// --- HTTP ---------------------------------------------------------------------------------------

/** Statuses after which a client would not retry. */
function isDefinitive(status: number): boolean {
  return status < 500 && status !== 408 && status !== 429;
}

function isExpected(status: number): boolean {
  return status === 200 || status === 201 || status === 202 || status === 409;
}

function parseBody(text: string): unknown {
  try {
    return text ? JSON.parse(text) : undefined;
  } catch {
    return text;
  }
}

function errorName(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string } };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return "timeout";
  return e?.cause?.code ?? e?.name ?? "error";
}

function backoffMs(attempt: number, rng: () => number): number {
  const ceiling = Math.min(BACKOFF_MS_MAX, BACKOFF_MS_MIN * 2 ** attempt);
  return ceiling / 2 + rng() * (ceiling / 2);
}

type AttemptResult =
  | { definitive: { status: number; body: unknown; text: string; latencyMs: number; answeredAt: number } }
  | { waitMs?: number };

async function attempt(ctx: WorkloadContext, r: HttpRecord): Promise<AttemptResult> {
  const started = performance.now();
  r.attempts += 1;
  try {
    const res = await fetch(`${ctx.gatewayUrl}${r.path}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${r.token}`,
        "content-type": "application/json",
        "idempotency-key": r.key,
      },
      body: r.body,
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    const text = await res.text();
    ctx.rec.count(String(res.status));
    if (isDefinitive(res.status)) {
      if (!isExpected(res.status)) {
        ctx.rec.anomaly("unexpected-status", `${r.path} ${res.status} ${text.slice(0, 200)}`);
      }
      return {
        definitive: {
          status: res.status,
          body: parseBody(text),
          text,
          latencyMs: performance.now() - started,
          answeredAt: Date.now(),
        },
      };
    }
    if (res.status !== 503) r.onlyUnavailable = false;
    if (res.status >= 500 && res.status !== 503) {
      ctx.rec.anomaly(`http-${res.status}`, `${r.path}: ${text.slice(0, 200)}`);
    }
    const retryAfter = Number(res.headers.get("retry-after"));
    return Number.isFinite(retryAfter) && retryAfter > 0 ? { waitMs: retryAfter * 1_000 } : {};
  } catch (err) {
    r.onlyUnavailable = false;
    ctx.rec.count(errorName(err));
    return {};
  }
}

/** Sends until a definitive answer or the retry deadline; the same key and body every time. */
export async function perform(ctx: WorkloadContext, r: HttpRecord, rng: Rng): Promise<void> {
  for (let n = 0; n < ATTEMPTS_MAX && Date.now() < ctx.retryDeadline(); n++) {
    const result = await attempt(ctx, r);
    if ("definitive" in result) {
      r.final = result.definitive;
      return;
    }
    await sleep(result.waitMs ?? backoffMs(n, () => rng.next()));
  }
}

/** One attempt only (recovery probes): a probe that fails stays an unanswered request. */
export async function performOnce(ctx: WorkloadContext, r: HttpRecord): Promise<void> {
  const result = await attempt(ctx, r);
  if ("definitive" in result) r.final = result.definitive;
}

/** Asks again with the same key after a decided answer: it must come back identical. */
async function replay(ctx: WorkloadContext, r: HttpRecord, rng: Rng): Promise<void> {
  const probe: HttpRecord = { ...r, attempts: 0, final: undefined };
  await perform(ctx, probe, rng);
  if (probe.final) r.replay = { status: probe.final.status, body: probe.final.body, text: probe.final.text };
}

function randomTimestamp(rng: Rng): string {
  return new Date(TIMESTAMP_BASE_MS + rng.int(0, TIMESTAMP_SPAN_MS)).toISOString();
}

export function transactionRecord(
  key: string,
  userId: string,
  payer: string,
  points: number,
  timestamp: string,
  token: string,
  probe = false,
  expiresAt?: string,
): HttpRecord {
  return {
    kind: "http",
    key,
    op: points > 0 ? "earn" : "negative",
    userId,
    payer,
    points,
    timestamp,
    ...(expiresAt === undefined ? {} : { expiresAt }),
    token,
    path: `/v1/users/${encodeURIComponent(userId)}/transactions`,
    body: JSON.stringify(
      expiresAt === undefined
        ? { payer, points, timestamp }
        : { payer, points, timestamp, expires_at: expiresAt },
    ),
    probe,
    sentAt: Date.now(),
    attempts: 0,
    onlyUnavailable: true,
  };
}

function spendRecord(key: string, userId: string, points: number, token: string): HttpRecord {
  return {
    kind: "http",
    key,
    op: "spend",
    userId,
    points,
    token,
    path: `/v1/users/${encodeURIComponent(userId)}/spend`,
    body: JSON.stringify({ points }),
    probe: false,
    sentAt: Date.now(),
    attempts: 0,
    onlyUnavailable: true,
  };
}

/** Ids learnt from answers, per kind, bounded (the oldest are forgotten). */
export class KnownTargets {
  readonly earns: { userId: string; entryId: string }[] = [];
  readonly spends: { userId: string; entryId: string }[] = [];
  readonly holds: { userId: string; holdId: string; points: number }[] = [];

  remember<T>(list: T[], item: T): void {
    list.push(item);
    if (list.length > KNOWN_TARGETS_MAX) list.shift();
  }

  /** Takes a random element out of the list (a hold is captured or voided once). */
  take<T>(list: T[], rng: Rng): T | undefined {
    if (list.length === 0) return undefined;
    return list.splice(rng.int(0, list.length - 1), 1)[0];
  }
}

function postRecord(
  key: string,
  op: Op,
  userId: string,
  token: string,
  path: string,
  body: unknown,
  fields: Partial<HttpRecord> & { points: number },
): HttpRecord {
  return {
    kind: "http",
    key,
    op,
    userId,
    token,
    path,
    body: JSON.stringify(body),
    probe: false,
    sentAt: Date.now(),
    attempts: 0,
    onlyUnavailable: true,
    ...fields,
  };
}

const userPath = (userId: string, rest: string) => `/v1/users/${encodeURIComponent(userId)}/${rest}`;

/** A lifetime that ends before the load can stop (so its expiry happens during the run), or none. */
function shortLifetimeMs(ctx: WorkloadContext, rng: Rng): number | undefined {
  const roomMs = Math.min(LIFETIME_SHORT_MS_MAX, ctx.shortLivedUntil - Date.now());
  return roomMs > LIFETIME_SHORT_MS_MIN ? rng.int(LIFETIME_SHORT_MS_MIN, roomMs) : undefined;
}

/** 45% earns, 15% negative transactions, 40% spends; the admin token for a fifth of them. */
function classicRequest(ctx: WorkloadContext, rng: Rng, key: string): HttpRecord {
  const userId = rng.pick(ctx.users);
  const r = rng.next();
  if (r < 0.6) {
    const payer = rng.pick(PARTNERS);
    const token = rng.next() < 0.2 ? ctx.adminToken : ctx.partners.get(payer)!.token;
    const points = r < 0.45 ? rng.int(1, 500) : -rng.int(1, 200);
    return transactionRecord(key, userId, payer, points, randomTimestamp(rng), token);
  }
  const token = rng.next() < 0.2 ? ctx.adminToken : ctx.partners.get(rng.pick(PARTNERS))!.token;
  return spendRecord(key, userId, rng.int(1, 400), token);
}

/**
 * The lifecycle mix: 30% earns (two in five short-lived), 12% negatives, 15% spends, 5% wallet
 * spends (their entries are reversal targets), 10% holds (half expire by ttl_s), 7% captures
 * (whole or part), 4% voids, 17% reversals (of spends and earns, all or part). A capture, void or
 * reversal with nothing known to name becomes an earn.
 */
function lifecycleRequest(ctx: WorkloadContext, rng: Rng, key: string): HttpRecord {
  const r = rng.next();
  if (r >= 0.72) {
    const r2 = lifecycleOnTarget(ctx, rng, key, r);
    if (r2) return r2;
  }
  const userId = rng.pick(ctx.users);
  if (r < 0.42) {
    const payer = rng.pick(PARTNERS);
    const token = rng.next() < 0.2 ? ctx.adminToken : ctx.partners.get(payer)!.token;
    if (r >= 0.3) return transactionRecord(key, userId, payer, -rng.int(1, 200), randomTimestamp(rng), token);
    const lifetime = rng.next() < 0.4 ? shortLifetimeMs(ctx, rng) : undefined;
    const expiresAt = lifetime === undefined ? undefined : new Date(Date.now() + lifetime).toISOString();
    return transactionRecord(
      key,
      userId,
      payer,
      rng.int(1, 500),
      randomTimestamp(rng),
      token,
      false,
      expiresAt,
    );
  }
  if (r < 0.57) return spendRecord(key, userId, rng.int(1, 400), ctx.adminToken);
  if (r < 0.62) {
    const points = rng.int(1, 300);
    const body = { user_id: userId, amount: -points, reason: "chaos wallet spend" };
    return postRecord(key, "spend", userId, ctx.adminToken, "/v1/entries", body, { points });
  }
  const points = rng.int(1, 300);
  const shortMs = rng.next() < 0.5 ? shortLifetimeMs(ctx, rng) : undefined;
  const ttlS = shortMs === undefined ? HOLD_TTL_S_LONG : Math.max(1, Math.floor(shortMs / 1_000));
  const token = rng.next() < 0.5 ? ctx.adminToken : ctx.partners.get(rng.pick(PARTNERS))!.token;
  const body = { points, ttl_s: ttlS, reason: "chaos hold" };
  return postRecord(key, "hold_place", userId, token, userPath(userId, "holds"), body, { points, ttlS });
}

function lifecycleOnTarget(ctx: WorkloadContext, rng: Rng, key: string, r: number): HttpRecord | undefined {
  const known = ctx.known;
  if (r < 0.83) {
    const hold = known.take(known.holds, rng);
    if (!hold) return undefined;
    const { userId, holdId } = hold;
    const base = userPath(userId, `holds/${holdId}`);
    if (r >= 0.79)
      return postRecord(key, "hold_void", userId, ctx.adminToken, `${base}/void`, {}, { points: 0, holdId });
    const points = rng.next() < 0.5 ? 0 : rng.int(1, hold.points);
    const body = points === 0 ? {} : { points };
    return postRecord(key, "hold_capture", userId, ctx.adminToken, `${base}/capture`, body, {
      points,
      holdId,
    });
  }
  const target = rng.pick([known.spends, known.spends, known.spends, known.earns]);
  if (target.length === 0) return undefined;
  const { userId, entryId } = rng.pick(target);
  const points = rng.next() < 0.5 ? 0 : rng.int(1, 100);
  const body = points === 0 ? { reason: "chaos return" } : { points, reason: "chaos return" };
  const path = userPath(userId, `entries/${entryId}/reversals`);
  return postRecord(key, "reverse", userId, ctx.adminToken, path, body, { points, entryId });
}

/** Remembers what an answer names: an earn's or spend's entry, a hold. */
function learn(ctx: WorkloadContext, r: HttpRecord): void {
  const final = r.final;
  if (!final || (final.status !== 200 && final.status !== 201)) return;
  const body = final.body as { entry_id?: string; hold_id?: string; points?: number };
  if (r.op === "earn" && body.entry_id)
    ctx.known.remember(ctx.known.earns, { userId: r.userId, entryId: body.entry_id });
  else if ((r.op === "spend" || r.op === "hold_capture") && body.entry_id)
    ctx.known.remember(ctx.known.spends, { userId: r.userId, entryId: body.entry_id });
  else if (r.op === "hold_place" && body.hold_id)
    ctx.known.remember(ctx.known.holds, { userId: r.userId, holdId: body.hold_id, points: r.points });
}

export async function httpWorker(ctx: WorkloadContext, rng: Rng, workerId: number): Promise<void> {
  for (let n = 0; !ctx.loadStopped(); n++) {
    const key = `${ctx.tag}-w${workerId}-${n}`;
    const r = ctx.lifecycle ? lifecycleRequest(ctx, rng, key) : classicRequest(ctx, rng, key);
    ctx.rec.http.push(r);
    await perform(ctx, r, rng);
    learn(ctx, r);
    if (r.final && r.final.status !== 202 && rng.next() < REPLAY_SHARE) await replay(ctx, r, rng);
    if (ctx.thinkMs > 0) await sleep(rng.int(0, ctx.thinkMs));
  }
}

// --- Partner events over Kafka ------------------------------------------------------------------

/** Mirrors the ingest service: a re-sent event becomes the same ledger command. */
export function eventCommandId(partnerId: string, eventId: string): string {
  return `ev_${createHash("sha256")
    .update(JSON.stringify([partnerId, eventId]))
    .digest("hex")}`;
}

export function eventRecord(
  eventId: string,
  partner: string,
  userId: string,
  points: number,
  timestamp: string,
  probe = false,
): EventRecord {
  const value = JSON.stringify({ event_id: eventId, user_id: userId, points, timestamp });
  return {
    kind: "event",
    eventId,
    partner,
    userId,
    points,
    timestamp,
    commandId: eventCommandId(partner, eventId),
    value,
    acked: false,
    sends: 0,
    probe,
  };
}

export function eventMessage(ctx: WorkloadContext, e: EventRecord) {
  const secret = ctx.partners.get(e.partner)!.secret;
  const signature = `sha256=${createHmac("sha256", secret).update(e.value).digest("hex")}`;
  return {
    key: e.userId,
    value: e.value,
    headers: { "x-partner-id": e.partner, "x-signature": signature },
  };
}

/** A Kafka client of the chaos run, as `sasl`'s principal (the partner's, or admin for checks). */
export function partnerKafka(brokers: string, clientId: string, sasl: KafkaSaslOptions): Kafka {
  return new Kafka({
    clientId,
    brokers: brokers.split(","),
    sasl,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 200, retries: 3 },
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
  });
}

/** A partner system's producer: plain at-least-once (not idempotent), so re-sends are real duplicates. */
export class PartnerProducer {
  private producer: Producer | undefined;
  private failures = 0;

  constructor(
    private readonly ctx: WorkloadContext,
    private readonly kafka: Kafka,
  ) {}

  /** Sends until Kafka acknowledges (acks=all) or the retry deadline passes. */
  async sendUntilAcked(batch: EventRecord[], rng: Rng): Promise<void> {
    for (let n = 0; n < ATTEMPTS_MAX && Date.now() < this.ctx.retryDeadline(); n++) {
      for (const e of batch) e.sends += 1;
      this.ctx.rec.eventSends += 1;
      try {
        const producer = await this.connected();
        // Per partition (sendAll): kafkajs can acknowledge a multi-broker send it only half wrote (kafkajs#1303).
        await withTimeout(
          sendAll(
            producer,
            this.ctx.partnerTopic,
            batch.map((e) => eventMessage(this.ctx, e)),
          ),
          SEND_TIMEOUT_MS,
        );
        for (const e of batch) e.acked = true;
        this.failures = 0;
        return;
      } catch {
        this.ctx.rec.eventSendFailures += 1;
        if (++this.failures >= PRODUCER_FAILURES_BEFORE_RENEW) await this.renew();
        await sleep(backoffMs(n, () => rng.next()));
      }
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect().catch(() => {});
    this.producer = undefined;
  }

  private async connected(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = this.kafka.producer({
      allowAutoTopicCreation: false,
      createPartitioner: recordingPartitioner,
    });
    await withTimeout(producer.connect(), SEND_TIMEOUT_MS).catch(async (err) => {
      await producer.disconnect().catch(() => {});
      throw err;
    });
    this.producer = producer;
    return producer;
  }

  private async renew(): Promise<void> {
    this.failures = 0;
    await this.close();
  }
}

export async function partnerWorker(ctx: WorkloadContext, rng: Rng, workerId: number): Promise<void> {
  const producer = new PartnerProducer(
    ctx,
    partnerKafka(ctx.brokers, `chaos-partner-${workerId}`, ctx.partnerSasl),
  );
  const sentBefore: EventRecord[] = [];
  try {
    for (let n = 0; !ctx.loadStopped(); n++) {
      const batch = Array.from({ length: EVENTS_PER_SEND }, (_, i) => {
        const points = rng.next() < 0.8 ? rng.int(1, 500) : -rng.int(1, 100);
        const id = `${ctx.tag}-p${workerId}-${n}-${i}`;
        return eventRecord(id, rng.pick(PARTNERS), rng.pick(ctx.users), points, randomTimestamp(rng));
      });
      ctx.rec.events.push(...batch);
      const duplicate = sentBefore.length > 0 && rng.next() < 0.2 ? [rng.pick(sentBefore)] : [];
      ctx.rec.eventDuplicates += duplicate.length;
      await producer.sendUntilAcked([...batch, ...duplicate], rng);
      sentBefore.push(...batch.filter((e) => e.acked));
      // Partner traffic is bursty but sparse next to the HTTP clients: one batch every 0.1-0.3 s.
      await sleep(rng.int(100, 300));
    }
  } finally {
    await producer.close();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
