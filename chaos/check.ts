import { decodeCachedBalance } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Kafka } from "@points/shared/kafka";
import { Redis } from "ioredis";
import { describeDifference, reconcile } from "../services/ledger/src/report-figures-reconcile";
import { auditLedgerTables, type Finding } from "./audit";
import { sleep } from "./infra";
import { compareWithStore, type ModelCommand, modelBalanceJson, replayUser, type UserReplay } from "./model";
import { type CommandRow, readSnapshot, type Snapshot } from "./snapshot";
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
}

interface SentCommand {
  commandId: string;
  op: ModelCommand["op"];
  userId: string;
  payer?: string;
  points: number;
  timestamp?: string;
  http?: HttpRecord;
  event?: EventRecord;
}

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
                                 WHERE i.key = k.key))
          + (SELECT count(*) FROM unnest($2::text[]) AS e(id)
              WHERE NOT EXISTS (SELECT 1 FROM commands c WHERE c.command_id = e.id)) AS n`,
    [keys, events],
  );
  return Number(rows[0]!.n);
}

export interface Quiescence {
  ok: boolean;
  ms: number;
  detail: string;
}

/** Polls until consumer lag is 0 and every acknowledged command has its row in `commands`. */
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
      detail = `ledger lag ${ledgerLag}, ingest lag ${ingestLag}, undecided acknowledged ${undecided}`;
      if (ledgerLag === 0 && ingestLag === 0 && undecided === 0) {
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
    const { op, userId, payer, points, timestamp } = r;
    sent.set(commandId, { commandId, op, userId, payer, points, timestamp, http: r });
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
  return sent;
}

/** Exactly once: one row per command, one entry per applied command, none per rejected one. */
function checkCommands(snap: Snapshot, sent: Map<string, SentCommand>, out: Violation[]): void {
  for (const [commandId, rows] of snap.commands) {
    if (rows.length > 1) out.push({ kind: "duplicate-command", detail: `${commandId} x${rows.length}` });
    const row = rows[0]!;
    const s = sent.get(commandId);
    if (!s) out.push({ kind: "unknown-command", detail: `${row.user_id} ${commandId}` });
    else if (s.userId !== row.user_id || row.type !== (s.op === "spend" ? "spend" : "earn")) {
      out.push({
        kind: "command-differs",
        detail: `${commandId}: ${row.user_id}/${row.type} vs sent ${s.userId}/${s.op}`,
      });
    }
    const entries = snap.entriesByCommand.get(commandId) ?? [];
    const once =
      row.status === "applied" ? entries.length === 1 && entries[0]!.seq === row.seq : entries.length === 0;
    if (!once) {
      out.push({
        kind: "not-exactly-once",
        detail: `${row.user_id} ${commandId} ${row.status} seq ${row.seq}: ${entries.length} entries (seqs ${entries.map((e) => e.seq)})`,
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

function checkHttpAnswer(r: HttpRecord, row: CommandRow | undefined, out: Violation[], anomalies: Anomaly[]) {
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
  } else if (final?.status === 202 && !row) {
    out.push({ kind: "accepted-not-decided", detail: what });
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
    checkHttpAnswer(r, commandId ? snap.commands.get(commandId)?.[0] : undefined, out, anomalies);
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

function appliedByUser(snap: Snapshot, sent: Map<string, SentCommand>) {
  const byUser = new Map<string, { seq: number; sent: SentCommand | undefined }[]>();
  for (const [commandId, rows] of snap.commands) {
    for (const row of rows) {
      if (row.status !== "applied") continue;
      const list = byUser.get(row.user_id) ?? [];
      list.push({ seq: row.seq ?? -1, sent: sent.get(commandId) });
      byUser.set(row.user_id, list);
    }
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
  const byUser = appliedByUser(snap, sent);
  const users = new Set([...byUser.keys(), ...snap.accounts.keys()]);
  for (const userId of users) {
    const applied = byUser.get(userId) ?? [];
    if (applied.some((a, i) => a.seq !== i + 1)) {
      out.push({ kind: "seq-gap", detail: `${userId}: seqs ${applied.map((a) => a.seq).join(",")}` });
    }
    if (applied.some((a) => !a.sent)) continue; // reported as unknown-command; cannot be replayed
    const commands: ModelCommand[] = applied.map((a) => ({ ...a.sent!, seq: a.seq }));
    const replay = replayUser(userId, commands);
    replays.set(userId, replay);
    for (const p of replay.problems) out.push({ kind: "model-rejects-applied", detail: p });
    const account = snap.accounts.get(userId);
    const stored = compareWithStore(
      replay,
      account,
      snap.payers.get(userId) ?? [],
      snap.lots.get(userId) ?? [],
      applied.length,
    );
    for (const d of stored) out.push({ kind: "balance-differs", detail: d });
    for (const c of commands) checkEntry(snap, replay, sent.get(c.commandId)!, out);
  }
  return replays;
}

/** The entry, its allocation rows and the client's answer agree with what the model did. */
function checkEntry(snap: Snapshot, replay: UserReplay, s: SentCommand, out: Violation[]): void {
  const entry = snap.entriesByCommand.get(s.commandId)?.[0];
  if (!entry) return; // reported by checkCommands
  const what = `${s.userId} seq ${entry.seq} ${s.commandId}`;
  const amount = s.op === "spend" ? -s.points : s.points;
  const tsMs = s.timestamp ? Date.parse(s.timestamp) : null;
  if (
    entry.amount !== amount ||
    entry.payer !== (s.payer && s.op !== "spend" ? s.payer : null) ||
    entry.ts_ms !== tsMs
  ) {
    out.push({ kind: "entry-differs", detail: `${what}: ${entry.amount}/${entry.payer}/${entry.ts_ms}` });
  }
  const changes = replay.changes.get(s.commandId) ?? [];
  const rows = snap.allocationsByEntry.get(entry.entry_id) ?? [];
  const key = (a: { arrival: bigint; payer: string; remainingDelta: bigint; adjustedDelta: bigint }) =>
    `${a.arrival}:${a.payer}:${a.remainingDelta}:${a.adjustedDelta}`;
  const want = changes.map(key).sort().join(" ");
  const got = rows.map(key).sort().join(" ");
  if (want !== got)
    out.push({ kind: "allocations-differ-from-model", detail: `${what}: stored [${got}], model [${want}]` });
  if (s.op !== "spend") return;
  const model = replay.spends.get(s.commandId) ?? [];
  if (canonical(entry.allocations) !== canonical(model)) {
    out.push({
      kind: "spend-allocations-differ",
      detail: `${what}: stored ${canonical(entry.allocations)}, model ${canonical(model)}`,
    });
  }
  const told = s.http?.final;
  if (told?.status === 200 && canonical(told.body) !== canonical(model)) {
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
        const { seq, json: body } = decodeCachedBalance(value, Date.now()) ?? {
          seq: Number.NaN,
          json: value,
        };
        const storedSeq = snap.accounts.get(userId)?.seq ?? 0;
        const replay = replays.get(userId);
        const expected = replay ? modelBalanceJson(replay.book) : "{}";
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
    const res = await fetch(`${stack.gatewayUrl}/v1/users/${encodeURIComponent(userId)}/balance`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    const body = await res.text();
    const replay = replays.get(userId);
    const expected = replay ? modelBalanceJson(replay.book) : "{}";
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
    if (
      res.status !== 200 ||
      body?.status !== row?.status ||
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
    },
  };
}
