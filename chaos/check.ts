import { decodeCachedBalance } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Kafka } from "@points/shared/kafka";
import { Redis } from "ioredis";
import { describeDifference, reconcile } from "../services/ledger/src/report-figures-reconcile";
import { auditLedgerTables, type Finding } from "./audit";
import { sleep } from "./infra";
import {
  compareWithStore,
  type ModelCommand,
  type ModelOp,
  modelBalanceJson,
  replayUser,
  type Step,
  type UserReplay,
} from "./model";
import { type CommandRow, type EntryRow, readSnapshot, type Snapshot } from "./snapshot";
import type { ChaosStack } from "./stack";
import type { Anomaly, EventRecord, HttpRecord, Recorder } from "./workload";

/**
 * After the run: wait until everything acknowledged is decided, then compare the ledger's
 * tables, the Redis cache and the API's answers with what the clients sent and were told.
 */
export type Violation = Finding;

export interface CheckFigures {
  commands: number;
  applied: number;
  rejected: number;
  entries: number;
  lots: number;
  allocations: number;
  usersReplayed: number;
  /** Acknowledged commands checked for real-time order within their user. */
  orderedCommands: number;
  cacheKeysChecked: number;
  httpBalancesChecked: number;
  asyncStatusesChecked: number;
  /** Answered 202, then the send to Kafka failed: never reached the ledger (GET says "failed"). */
  failedSends: number;
  /** What the lifecycle workload made happen: entries per type, holds per status. */
  entriesByType: Record<string, number>;
  holdsByStatus: Record<string, number>;
  movements: number;
}

function countBy<T>(items: Iterable<T>, key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

/** A command as its sender made it: a client (HTTP or partner event), or the ledger's scheduler. */
interface SentCommand {
  commandId: string;
  op: ModelOp;
  userId: string;
  payer?: string;
  /** Signed for transactions and events; 0 for a reversal or capture of the default amount. */
  points: number;
  timestamp?: string;
  expiresAt?: string;
  entryId?: string;
  holdId?: string;
  ttlS?: number;
  dueAt?: number;
  http?: HttpRecord;
  event?: EventRecord;
}

/** The commands table's `type` for each op. */
const COMMAND_TYPE: Record<ModelOp, string> = {
  earn: "earn",
  negative: "earn",
  spend: "spend",
  reverse: "reverse",
  hold_place: "hold_place",
  hold_capture: "hold_capture",
  hold_void: "hold_void",
  hold_expire: "hold_expire",
  expire_due: "expire_due",
};

/** The entry type a command's own change writes (none: holds placed, voided or expired; expiry). */
const OWN_ENTRY: Partial<Record<ModelOp, string>> = {
  earn: "earn",
  negative: "adjust",
  spend: "spend",
  reverse: "reversal",
  hold_capture: "spend",
};

/** How long nothing may fall due after quiescence: the checks must read a still ledger. */
const QUIET_AHEAD_S = 30;

const HTTP_READS_MAX = 150;
const ASYNC_READS_MAX = 200;

export function acknowledged(r: HttpRecord): boolean {
  return r.final !== undefined && [200, 201, 202, 409].includes(r.final.status);
}

/**
 * JSON with object keys sorted: for comparing values the checker builds itself (the model)
 * with stored ones. Answers are compared byte for byte instead (see answerBytes).
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

// --- Quiescence ---------------------------------------------------------------------------------

async function groupLag(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [ends, committed] = await Promise.all([
      admin.fetchTopicOffsets(topic),
      admin.fetchOffsets({ groupId, topics: [topic] }),
    ]);
    const done = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    let lag = 0n;
    for (const p of ends) {
      const at = done.get(p.partition) ?? -1n;
      lag += BigInt(p.high) - (at < 0n ? BigInt(p.low) : at);
    }
    return Number(lag);
  } finally {
    await admin.disconnect();
  }
}

async function undecidedCount(pool: Pool, rec: Recorder): Promise<number> {
  const keys = rec.http.filter(acknowledged).map((r) => r.key);
  const events = rec.events.filter((e) => e.acked).map((e) => e.commandId);
  const { rows } = await pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM unnest($1::text[]) AS k(key)
              WHERE NOT EXISTS (SELECT 1 FROM idempotency_keys i JOIN commands c
                                  ON c.user_id = i.user_id AND c.command_id = i.command_id
                                 WHERE i.key = k.key)
                AND NOT EXISTS (SELECT 1 FROM idempotency_keys i JOIN command_requests r
                                  ON r.command_id = i.command_id AND r.status = 'failed'
                                 WHERE i.key = k.key))
          + (SELECT count(*) FROM unnest($2::text[]) AS e(id)
              WHERE NOT EXISTS (SELECT 1 FROM commands c WHERE c.command_id = e.id)) AS n`,
    [keys, events],
  );
  return Number(rows[0]!.n);
}

/**
 * What the scheduler still has to do, or will have to do within QUIET_AHEAD_S: members with
 * something due, unspent points past their expiry, open holds past their ttl.
 */
async function dueSoonCount(pool: Pool): Promise<number> {
  const ahead = `now() + interval '${QUIET_AHEAD_S} seconds'`;
  const { rows } = await pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM accounts WHERE next_due <= ${ahead})
          + (SELECT count(*) FROM lots WHERE remaining > 0 AND expires_at <= ${ahead})
          + (SELECT count(*) FROM holds WHERE status = 'held' AND expires_at <= ${ahead}) AS n`,
  );
  return Number(rows[0]!.n);
}

export interface Quiescence {
  ok: boolean;
  ms: number;
  detail: string;
}

/**
 * Polls until consumer lag is 0, every acknowledged command has its row in `commands`, and the
 * scheduler has recorded every expiry and hold timeout, with none due soon.
 */
export async function waitForQuiescence(
  stack: ChaosStack,
  kafka: Kafka,
  pool: Pool,
  rec: Recorder,
  timeoutMs: number,
): Promise<Quiescence> {
  const started = Date.now();
  let detail = "not measured";
  while (Date.now() - started < timeoutMs) {
    try {
      const ledgerLag = await groupLag(kafka, stack.ledgerGroup, `${stack.topicPrefix}ledger.commands`);
      const ingestLag = stack.ingestEnabled
        ? await groupLag(kafka, stack.ingestGroup, `${stack.topicPrefix}partner.transactions`)
        : 0;
      const undecided = await undecidedCount(pool, rec);
      const due = await dueSoonCount(pool);
      detail = `ledger lag ${ledgerLag}, ingest lag ${ingestLag}, undecided acknowledged ${undecided}, due within ${QUIET_AHEAD_S} s ${due}`;
      if (ledgerLag === 0 && ingestLag === 0 && undecided === 0 && due === 0) {
        return { ok: true, ms: Date.now() - started, detail };
      }
    } catch (err) {
      detail = `probe failed: ${String(err)}`;
    }
    await sleep(500);
  }
  return { ok: false, ms: Date.now() - started, detail };
}

// --- Commands and answers -----------------------------------------------------------------------

function indexSent(rec: Recorder, snap: Snapshot, out: Violation[]): Map<string, SentCommand> {
  const sent = new Map<string, SentCommand>();
  for (const r of rec.http) {
    const commandId = snap.keyToCommand.get(r.key);
    if (!commandId) {
      if (acknowledged(r))
        out.push({ kind: "ack-key-missing", detail: `${r.key} answered ${r.final?.status}` });
      continue;
    }
    const { op, userId, payer, points, timestamp, expiresAt, entryId, holdId, ttlS } = r;
    sent.set(commandId, {
      commandId,
      op,
      userId,
      payer,
      points,
      timestamp,
      expiresAt,
      entryId,
      holdId,
      ttlS,
      http: r,
    });
  }
  for (const e of rec.events) {
    const op = e.points > 0 ? "earn" : "negative";
    sent.set(e.commandId, {
      commandId: e.commandId,
      op,
      userId: e.userId,
      payer: e.partner,
      points: e.points,
      timestamp: e.timestamp,
      event: e,
    });
  }
  for (const [commandId, rows] of snap.commands) {
    const scheduled = !sent.has(commandId) && schedulerCommand(rows[0]!);
    if (scheduled) sent.set(commandId, scheduled);
  }
  return sent;
}

/** The ledger's own commands (services/ledger/src/scheduler.ts): the payload is in the id. */
function schedulerCommand(row: CommandRow): SentCommand | undefined {
  const base = { commandId: row.command_id, userId: row.user_id, points: 0 };
  const expirePrefix = `expire:${row.user_id}:`;
  if (row.command_id.startsWith(expirePrefix)) {
    const dueAt = Date.parse(row.command_id.slice(expirePrefix.length));
    return Number.isNaN(dueAt) ? undefined : { ...base, op: "expire_due", dueAt };
  }
  const holdPrefix = `hold-expire:${row.user_id}:`;
  if (row.command_id.startsWith(holdPrefix))
    return { ...base, op: "hold_expire", holdId: row.command_id.slice(holdPrefix.length) };
  return undefined;
}

/**
 * Exactly once: one row per command, none the clients (or the scheduler) did not send; every
 * entry belongs to a decided command. That each command wrote exactly the entries the core's
 * replay makes (its own at most once, expiry around it) is checked with the model (checkSteps).
 */
function checkCommands(snap: Snapshot, sent: Map<string, SentCommand>, out: Violation[]): void {
  for (const [commandId, rows] of snap.commands) {
    if (rows.length > 1) out.push({ kind: "duplicate-command", detail: `${commandId} x${rows.length}` });
    const row = rows[0]!;
    const s = sent.get(commandId);
    if (!s) out.push({ kind: "unknown-command", detail: `${row.user_id} ${commandId}` });
    else if (s.userId !== row.user_id || row.type !== COMMAND_TYPE[s.op]) {
      out.push({
        kind: "command-differs",
        detail: `${commandId}: ${row.user_id}/${row.type} vs sent ${s.userId}/${s.op}`,
      });
    }
    const entries = snap.entriesByCommand.get(commandId) ?? [];
    const own = entries.filter((e) => e.type !== "expire");
    const once = row.status === "applied" ? own.length <= 1 : own.length === 0;
    if (!once || entries.some((e) => e.user_id !== row.user_id)) {
      out.push({
        kind: "not-exactly-once",
        detail: `${row.user_id} ${commandId} ${row.status} seq ${row.seq}: entries ${entries.map((e) => `${e.type}@${e.seq}`)}`,
      });
    }
  }
  for (const commandId of snap.entriesByCommand.keys()) {
    if (!snap.commands.has(commandId)) out.push({ kind: "entry-without-command", detail: commandId });
  }
}

/**
 * The bytes the gateway sends for a stored answer: it reads the json column (which keeps the
 * ledger's key order) and writes it back with JSON.stringify. A client's answer, a replay and
 * the stored answer must be these very bytes, key order included.
 */
function answerBytes(value: unknown): string {
  return JSON.stringify(value);
}

function checkHttpAnswer(
  r: HttpRecord,
  row: CommandRow | undefined,
  failed: boolean,
  out: Violation[],
  anomalies: Anomaly[],
) {
  const final = r.final;
  const what = `${r.key} (${r.op} ${r.points} for ${r.userId})`;
  if (final && (final.status === 200 || final.status === 201)) {
    if (row?.status !== "applied") out.push({ kind: "ack-not-applied", detail: `${what}: ${row?.status}` });
    else if (row.response.status !== final.status || answerBytes(row.response.body) !== final.text) {
      out.push({
        kind: "answer-differs",
        detail: `${what}: told ${final.text}, stored ${answerBytes(row.response)}`,
      });
    }
  } else if (final?.status === 409) {
    const code = (final.body as { error?: { code?: string } })?.error?.code;
    const storedCode = (row?.response.body as { error?: { code?: string } })?.error?.code;
    if (row?.status !== "rejected" || storedCode !== code) {
      out.push({
        kind: "409-not-rejected",
        detail: `${what}: told ${code}, stored ${row?.status} ${storedCode}`,
      });
    }
  } else if (final?.status === 202 && !row && !failed) {
    out.push({ kind: "accepted-not-decided", detail: what });
  } else if (final?.status === 202 && row && failed) {
    // The gateway said the send finally failed (nothing applied), yet the ledger decided it.
    out.push({ kind: "failed-yet-decided", detail: `${what}: ${row.status}` });
  } else if (!final && r.onlyUnavailable && r.attempts > 0 && row?.status === "applied") {
    anomalies.push({
      kind: "503-yet-applied",
      detail: `${what}: every answer was 503, but it was applied`,
      at: r.sentAt,
    });
  }
  if (r.replay && final && (r.replay.status !== final.status || r.replay.text !== final.text)) {
    out.push({
      kind: "replay-differs",
      detail: `${what}: first ${final.status} ${final.text}, then ${r.replay.status} ${r.replay.text}`,
    });
  }
}

function checkAnswers(rec: Recorder, snap: Snapshot, out: Violation[], anomalies: Anomaly[]): void {
  for (const r of rec.http) {
    const commandId = snap.keyToCommand.get(r.key);
    const row = commandId ? snap.commands.get(commandId)?.[0] : undefined;
    checkHttpAnswer(r, row, commandId !== undefined && snap.failed.has(commandId), out, anomalies);
  }
  for (const e of rec.events) {
    if (!e.acked) continue;
    const row = snap.commands.get(e.commandId)?.[0];
    const what = `event ${e.eventId} (${e.partner} ${e.points} for ${e.userId})`;
    if (!row) out.push({ kind: "acked-event-not-decided", detail: what });
    else if (e.points > 0 && row.status !== "applied") {
      out.push({ kind: "acked-earn-rejected", detail: `${what}: ${canonical(row.response)}` });
    }
  }
}

// --- The model ----------------------------------------------------------------------------------

/**
 * The commands that changed each user, in the ledger's order, with the instant each was applied:
 * those with entries, and hold places, voids and timeouts (a hold step takes a seq but writes no
 * entry). An applied command that changed nothing (an expire_due with nothing due, a timeout of a
 * hold already closed) is left out; so is a rejection that recorded no expiry.
 */
function changesByUser(snap: Snapshot, sent: Map<string, SentCommand>, out: Violation[]) {
  const byUser = new Map<string, ModelCommand[]>();
  for (const [commandId, rows] of snap.commands) {
    const row = rows[0]!;
    const s = sent.get(commandId);
    if (!s) continue; // reported as unknown-command
    const entries = snap.entriesByCommand.get(commandId) ?? [];
    const hold =
      s.op === "hold_place" ? snap.holdByCommand.get(commandId) : snap.holdById.get(s.holdId ?? "");
    const holdStep =
      row.status === "applied" &&
      ((s.op === "hold_place" && hold !== undefined) ||
        (s.op === "hold_void" && hold?.status === "voided") ||
        (s.op === "hold_expire" && hold?.status === "expired"));
    if (entries.length === 0 && !holdStep) continue;
    const now =
      entries[0]?.created_ms ?? (s.op === "hold_place" ? hold?.createdMs : (hold?.closedMs ?? undefined));
    const seq = row.status === "applied" ? row.seq : Math.max(...entries.map((e) => e.seq));
    if (now === undefined || seq === null) {
      out.push({ kind: "command-unplaceable", detail: `${row.user_id} ${commandId}: no instant or seq` });
      continue;
    }
    const own = entries.find((e) => e.type !== "expire");
    const c: ModelCommand = {
      commandId,
      op: s.op,
      status: row.status,
      now,
      seq,
      ...(s.payer !== undefined ? { payer: s.payer } : {}),
      ...(s.op === "earn" || s.op === "negative" || s.op === "spend" || s.op === "hold_place"
        ? { points: Math.abs(s.points) }
        : s.points > 0
          ? { points: s.points }
          : {}),
      ...(s.timestamp !== undefined ? { timestamp: s.timestamp } : {}),
      ...(s.expiresAt !== undefined ? { expiresAt: s.expiresAt } : {}),
      ...(s.entryId !== undefined ? { entryId: s.entryId } : {}),
      ...(s.op === "hold_place"
        ? { holdId: hold?.holdId }
        : s.holdId !== undefined
          ? { holdId: s.holdId }
          : {}),
      ...(s.ttlS !== undefined ? { ttlS: s.ttlS } : {}),
      ...(s.dueAt !== undefined ? { dueAt: s.dueAt } : {}),
      ...(own ? { ownEntryId: own.entry_id } : {}),
    };
    const list = byUser.get(row.user_id) ?? [];
    list.push(c);
    byUser.set(row.user_id, list);
  }
  for (const list of byUser.values()) list.sort((a, b) => a.seq - b.seq);
  return byUser;
}

function checkModel(
  snap: Snapshot,
  sent: Map<string, SentCommand>,
  out: Violation[],
): Map<string, UserReplay> {
  const replays = new Map<string, UserReplay>();
  const byUser = changesByUser(snap, sent, out);
  const users = new Set([...byUser.keys(), ...snap.accounts.keys()]);
  for (const userId of users) {
    const commands = byUser.get(userId) ?? [];
    const replay = replayUser(userId, commands);
    replays.set(userId, replay);
    for (const p of replay.problems) out.push({ kind: "model-rejects-applied", detail: p });
    const stored = compareWithStore(
      replay,
      snap.accounts.get(userId),
      snap.payers.get(userId) ?? [],
      snap.lots.get(userId) ?? [],
      snap.holds.get(userId) ?? [],
    );
    for (const d of stored) out.push({ kind: "balance-differs", detail: d });
    checkMovements(userId, replay, snap, out);
    for (const c of commands) {
      checkSteps(snap, replay, c, out);
      checkOwnEntry(snap, replay, sent.get(c.commandId)!, out);
    }
  }
  return replays;
}

/** The per-payer figures: every movement (payer, category, instant, seq) the core made, and no other. */
function checkMovements(userId: string, replay: UserReplay, snap: Snapshot, out: Violation[]): void {
  const stored = snap.movements.get(userId) ?? new Map<string, bigint>();
  const keys = new Set([...stored.keys(), ...replay.movements.keys()]);
  for (const key of keys) {
    const got = stored.get(key) ?? 0n;
    const want = replay.movements.get(key) ?? 0n;
    if (got !== want)
      out.push({ kind: "movements-differ", detail: `${userId} ${key}: stored ${got}, model ${want}` });
  }
}

const allocationKey = (a: {
  arrival: bigint;
  payer: string;
  remainingDelta: bigint;
  adjustedDelta: bigint;
  heldDelta?: bigint;
  expiredDelta?: bigint;
  reversedDelta?: bigint;
}) =>
  `${a.arrival}:${a.payer}:${a.remainingDelta}:${a.adjustedDelta}:${a.heldDelta ?? 0n}:${a.expiredDelta ?? 0n}:${a.reversedDelta ?? 0n}`;

/**
 * Exactly once, per change: the command's stored entries are the model's entry steps (same
 * types, same seqs), each with the model's allocation rows and per-payer allocations.
 */
function checkSteps(snap: Snapshot, replay: UserReplay, c: ModelCommand, out: Violation[]): void {
  const what = `${replay.book.userId} ${c.op} ${c.commandId}`;
  const stored = [...(snap.entriesByCommand.get(c.commandId) ?? [])].sort((a, b) => a.seq - b.seq);
  const model = (replay.steps.get(c.commandId) ?? []).filter((st) => st.entryType !== null);
  const list = (xs: { type?: string | null; entryType?: string | null; seq: number }[]) =>
    xs.map((x) => `${x.type ?? x.entryType}@${x.seq}`).join(",");
  if (list(stored) !== list(model)) {
    out.push({
      kind: "not-exactly-once",
      detail: `${what}: entries [${list(stored)}], model [${list(model)}]`,
    });
    return;
  }
  stored.forEach((entry, i) => {
    compareEntry(snap, entry, model[i]!, what, out);
  });
}

function compareEntry(snap: Snapshot, entry: EntryRow, step: Step, what: string, out: Violation[]): void {
  const rows = snap.allocationsByEntry.get(entry.entry_id) ?? [];
  const got = rows.map(allocationKey).sort().join(" ");
  const want = step.changes.map(allocationKey).sort().join(" ");
  if (got !== want) {
    out.push({
      kind: "allocations-differ-from-model",
      detail: `${what} ${entry.type}@${entry.seq}: stored [${got}], model [${want}]`,
    });
  }
  if (step.byPayer === undefined || step.entryType === "earn" || step.entryType === "adjust") return;
  const perPayer = step.byPayer.map((p) => ({ payer: p.payer, points: Number(p.points) }));
  // Signed per payer as answered: negative for spends and expiry, positive for points given back.
  const amount = perPayer.reduce((sum, p) => sum + p.points, 0);
  if (canonical(entry.allocations) !== canonical(perPayer) || entry.amount !== amount) {
    out.push({
      kind: "entry-allocations-differ",
      detail: `${what} ${entry.type}@${entry.seq}: stored ${entry.amount} ${canonical(entry.allocations)}, model ${amount} ${canonical(perPayer)}`,
    });
  }
}

/** The command's own entry and the client's answer agree with what the client sent and the model did. */
function checkOwnEntry(snap: Snapshot, replay: UserReplay, s: SentCommand, out: Violation[]): void {
  const entry = snap.entriesByCommand.get(s.commandId)?.find((e) => e.type !== "expire");
  if (!entry || entry.type !== OWN_ENTRY[s.op]) return; // a mismatch is reported by checkSteps
  const what = `${s.userId} seq ${entry.seq} ${s.commandId}`;
  if (s.op === "earn" || s.op === "negative") {
    const tsMs = s.timestamp ? Date.parse(s.timestamp) : null;
    if (entry.amount !== s.points || entry.payer !== (s.payer ?? null) || entry.ts_ms !== tsMs)
      out.push({ kind: "entry-differs", detail: `${what}: ${entry.amount}/${entry.payer}/${entry.ts_ms}` });
  }
  if (s.op === "spend" && entry.amount !== -Math.abs(s.points))
    out.push({ kind: "entry-differs", detail: `${what}: amount ${entry.amount}, sent ${s.points}` });
  if (
    s.op === "reverse" &&
    (entry.reverses !== s.entryId || (s.points > 0 && Math.abs(entry.amount) !== s.points))
  )
    out.push({
      kind: "entry-differs",
      detail: `${what}: reverses ${entry.reverses} ${entry.amount}, sent ${s.entryId} ${s.points}`,
    });
  const told = s.http?.final;
  if (s.op !== "spend" || told?.status !== 200) return;
  const step = (replay.steps.get(s.commandId) ?? []).find((st) => st.entryType === "spend");
  const model = (step?.byPayer ?? []).map((p) => ({ payer: p.payer, points: Number(p.points) }));
  if (canonical(told.body) !== canonical(model)) {
    out.push({
      kind: "spend-answer-differs",
      detail: `${what}: told ${canonical(told.body)}, model ${canonical(model)}`,
    });
  }
}

/**
 * Real-time order per user (contract rule 8): a command the client saw applied (200/201) before it
 * sent another for the same user must come first in that user's applied order.
 */
function checkRealTimeOrder(rec: Recorder, snap: Snapshot, out: Violation[]): number {
  const byUser = new Map<string, { seq: number; sentAt: number; answeredAt: number; key: string }[]>();
  for (const r of rec.http) {
    if (r.final?.status !== 200 && r.final?.status !== 201) continue;
    const commandId = snap.keyToCommand.get(r.key);
    const row = commandId ? snap.commands.get(commandId)?.[0] : undefined;
    if (row?.status !== "applied" || row.seq === null) continue;
    const list = byUser.get(r.userId) ?? [];
    list.push({ seq: row.seq, sentAt: r.sentAt, answeredAt: r.final.answeredAt, key: r.key });
    byUser.set(r.userId, list);
  }
  let pairs = 0;
  for (const [userId, list] of byUser) {
    list.sort((a, b) => b.seq - a.seq); // newest first: track the earliest answer among later seqs
    let earliestLater: (typeof list)[number] | undefined;
    for (const c of list) {
      pairs += 1;
      if (earliestLater && earliestLater.answeredAt < c.sentAt) {
        out.push({
          kind: "real-time-order",
          detail: `${userId}: ${earliestLater.key} (seq ${earliestLater.seq}) was answered before ${c.key} (seq ${c.seq}) was sent`,
        });
      }
      if (!earliestLater || c.answeredAt < earliestLater.answeredAt) earliestLater = c;
    }
  }
  return pairs;
}

// --- Cache and API reads ------------------------------------------------------------------------

async function checkCache(
  stack: ChaosStack,
  snap: Snapshot,
  replays: Map<string, UserReplay>,
  out: Violation[],
): Promise<number> {
  const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 2 });
  redis.on("error", () => {});
  const prefix = `${stack.redisKeyPrefix}bal:`;
  let checked = 0;
  try {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${prefix}*`, count: 1_000 }))
      keys.push(...(batch as string[]));
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const values = await redis.mget(...chunk);
      chunk.forEach((key, j) => {
        const value = values[j];
        if (value == null) return; // expired meanwhile
        checked += 1;
        const userId = key.slice(prefix.length);
        const at = Date.now();
        const { seq, json: body } = decodeCachedBalance(value, at) ?? {
          seq: Number.NaN,
          json: value,
        };
        const storedSeq = snap.accounts.get(userId)?.seq ?? 0;
        const replay = replays.get(userId);
        const expected = replay ? modelBalanceJson(replay.book, at) : "{}";
        if (seq !== storedSeq || body !== expected) {
          const kind = seq < storedSeq ? "cache-stale" : "cache-differs";
          out.push({ kind, detail: `${userId}: cached ${value}, Postgres seq ${storedSeq} ${expected}` });
        }
      });
    }
  } finally {
    redis.disconnect();
  }
  return checked;
}

async function checkHttpBalances(
  stack: ChaosStack,
  replays: Map<string, UserReplay>,
  users: string[],
  out: Violation[],
): Promise<number> {
  const sample = users.slice(0, HTTP_READS_MAX);
  for (const userId of sample) {
    const at = Date.now();
    const res = await fetch(`${stack.gatewayUrl}/v1/users/${encodeURIComponent(userId)}/balance`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    const body = await res.text();
    const replay = replays.get(userId);
    const expected = replay ? modelBalanceJson(replay.book, at) : "{}";
    if (res.status !== 200 || body !== expected) {
      out.push({
        kind: "http-balance-differs",
        detail: `${userId}: ${res.status} ${body}, model ${expected}`,
      });
    }
  }
  return sample.length;
}

/** GET /v1/commands/{id} for requests answered 202 gives the decided outcome. */
async function checkAsyncStatuses(stack: ChaosStack, rec: Recorder, snap: Snapshot, out: Violation[]) {
  const accepted = rec.http.filter((r) => r.final?.status === 202).slice(0, ASYNC_READS_MAX);
  for (const r of accepted) {
    const id = (r.final!.body as { id?: string })?.id ?? "";
    const res = await fetch(`${stack.gatewayUrl}/v1/commands/${encodeURIComponent(id)}`, {
      headers: { authorization: `Bearer ${r.token}` },
    });
    const body = (await res.json().catch(() => null)) as { status?: string; response?: unknown } | null;
    const row = snap.commands.get(id)?.[0];
    const status = row?.status ?? (snap.failed.has(id) ? "failed" : undefined);
    if (
      res.status !== 200 ||
      body?.status !== status ||
      answerBytes(body?.response) !== answerBytes(row?.response)
    ) {
      out.push({
        kind: "command-status-differs",
        detail: `${id}: ${res.status} ${answerBytes(body)} vs ${row?.status} ${answerBytes(row?.response)}`,
      });
    }
  }
  return accepted.length;
}

// --- Report figures (issue 15): the maintained figures equal the raw tables ---------------------

/** Every difference `npm run reconcile` would print, as violations (one snapshot, after quiescence). */
async function reconcileReportFigures(pool: Pool): Promise<Violation[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const differences = await reconcile(client);
    await client.query("COMMIT");
    return differences.map((d) => ({ kind: `report-figures-${d.check}`, detail: describeDifference(d) }));
  } finally {
    client.release();
  }
}

// --- All checks ---------------------------------------------------------------------------------

export async function runChecks(
  stack: ChaosStack,
  pool: Pool,
  rec: Recorder,
  users: string[],
): Promise<{ violations: Violation[]; anomalies: Anomaly[]; figures: CheckFigures }> {
  const violations: Violation[] = [];
  const anomalies: Anomaly[] = [];
  const snap = await readSnapshot(pool);
  const sent = indexSent(rec, snap, violations);
  checkCommands(snap, sent, violations);
  checkAnswers(rec, snap, violations, anomalies);
  const replays = checkModel(snap, sent, violations);
  const orderedCommands = checkRealTimeOrder(rec, snap, violations);
  violations.push(...(await auditLedgerTables(pool)));
  violations.push(...(await reconcileReportFigures(pool)));
  const cacheKeysChecked = await checkCache(stack, snap, replays, violations);
  const httpBalancesChecked = await checkHttpBalances(stack, replays, users, violations);
  const asyncStatusesChecked = await checkAsyncStatuses(stack, rec, snap, violations);
  const rows = [...snap.commands.values()].map((r) => r[0]!);
  return {
    violations,
    anomalies,
    figures: {
      commands: snap.counts.commands,
      applied: rows.filter((r) => r.status === "applied").length,
      rejected: rows.filter((r) => r.status === "rejected").length,
      entries: snap.counts.entries,
      lots: snap.counts.lots,
      allocations: snap.counts.allocations,
      usersReplayed: replays.size,
      orderedCommands,
      cacheKeysChecked,
      httpBalancesChecked,
      asyncStatusesChecked,
      failedSends: snap.failed.size,
      entriesByType: countBy([...snap.entriesByCommand.values()].flat(), (e) => e.type),
      holdsByStatus: countBy(snap.holdById.values(), (h) => h.status),
      movements: [...snap.movements.values()].reduce((n, m) => n + m.size, 0),
    },
  };
}
