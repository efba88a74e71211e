/**
 * Applies a batch of commands (in arrival order, possibly for many users) in ONE Postgres
 * transaction, in three steps: prefetch (lock the users, load their decided commands and just
 * the lots the batch may walk), decide each command in memory with the pure core (asserting it
 * walked only what was prefetched; long walks in steps, with turns of the event loop between
 * them: pace.ts), write everything with one statement per table. Each command
 * id is recorded with its request hash in the same transaction, so a redelivered batch is
 * answered, not re-applied.
 */
import { balancesAt } from "@points/core";
import {
  type AnyLedgerCommand,
  balanceJson,
  encodeCachedBalanceBody,
  type HttpResponse,
  type LedgerOutcome,
} from "@points/shared";
import { inTransaction, type Pool } from "@points/shared/db";
import { type ApplyContext, applyCommand, type Decision, expiryBound, reject } from "./apply-command";
import { BatchWrites } from "./batch-writes";
import type { CommandRecord } from "./command-record";
import type { CommandFault } from "./isolate";
import { commandKey } from "./keys";
import { holdKey } from "./lifecycle-apply";
import { loadHolds, loadReversalTargets, loadValidity, loadWholeBooks } from "./lifecycle-store";
import { Pace } from "./pace";
import { type Heartbeat, lotNeeds, prefetchLots } from "./prefetch";
import { DaySnapshots } from "./snapshots";
import { type Account, loadAccounts, loadCommands, loadEntries } from "./store";

export interface BatchResult {
  outcomes: LedgerOutcome[];
  /**
   * New cached balance of each user of the batch: version and body (the balance JSON and when it
   * goes stale, the member's next expiry: encodeCachedBalanceBody).
   */
  balances: { userId: string; seq: number; body: string }[];
  /** Commands that could not be applied and were recorded as rejected (see isolate.ts). */
  faults: CommandFault[];
}

export interface ApplyOptions {
  now?: Date;
  /** Decisions taken instead of applying (by commandKey): commands at fault (see isolate.ts). */
  forced?: ReadonlyMap<string, Decision>;
  /** Keeps the Kafka group membership alive while a long prefetch runs. */
  heartbeat?: Heartbeat;
  /** The Kafka partition of each user's commands (accounts.kafka_partition, for the scheduler). */
  partitions?: ReadonlyMap<string, number>;
}

/** Commands that need the member's whole book (every lot with points in it, open holds). */
const WHOLE_BOOK_TYPES = new Set([
  "reverse",
  "hold_place",
  "hold_capture",
  "hold_void",
  "hold_expire",
  "expire_due",
]);

export async function applyBatch(
  pool: Pool,
  commands: AnyLedgerCommand[],
  options: ApplyOptions = {},
): Promise<BatchResult> {
  const now = options.now ?? new Date();
  const forced = options.forced ?? new Map<string, Decision>();
  return inTransaction(pool, async (db) => {
    // Lock the users first: a second ledger still holding a revoked partition then waits, and
    // sees this batch's commands as decided when it gets the locks.
    const accounts = await loadAccounts(db, unique(commands.map((c) => c.user_id)));
    const known = await loadCommands(db, commands);
    const fresh = commands.filter((c) => !known.has(commandKey(c.user_id, c.command_id)));
    // A lifecycle command, or expiry already due, needs the whole book; the rest a prefix.
    const nowMs = now.getTime();
    const whole = new Set(fresh.filter((c) => WHOLE_BOOK_TYPES.has(c.type)).map((c) => c.user_id));
    for (const [userId, account] of accounts) {
      const due = account.storedNextExpiry;
      if (due !== null && due <= nowMs) whole.add(userId);
    }
    const partial = fresh.filter((c) => !whole.has(c.user_id));
    const needs = lotNeeds(partial, accounts);
    const { coverage, loaded } = await prefetchLots(db, accounts, needs, options.heartbeat);
    const wholeLoaded = await loadWholeBooks(
      db,
      accounts,
      [...whole].filter((u) => accounts.has(u)),
      options.heartbeat ?? (async () => {}),
    );
    for (const [userId, lots] of wholeLoaded) loaded.set(userId, lots);
    for (const userId of whole) coverage.full.add(userId);
    const writes = new BatchWrites(loaded);
    const entryKeys = fresh.flatMap((c) =>
      c.type === "use_item" || c.type === "reverse" ? [{ user_id: c.user_id, entry_id: c.entry_id }] : [],
    );
    const entries = await loadEntries(db, entryKeys);
    const ctx: ApplyContext = {
      now,
      accounts,
      writes,
      entries,
      coverage,
      validity: await loadValidity(db, earnPayersWithoutExpiry(fresh)),
      holds: await loadHolds(db, holdKeys(fresh)),
      targets: await loadReversalTargets(
        db,
        entryKeys.filter((k) => entries.has(k.entry_id)),
      ),
      partitions: options.partitions ?? new Map(),
      pace: new Pace(options.heartbeat),
    };

    const snapshots = new DaySnapshots(accounts, coverage.full, nowMs);
    const decided = new Map<string, CommandRecord>(known);
    const outcomes: LedgerOutcome[] = [];
    for (const cmd of commands) {
      outcomes.push(await decideOne(ctx, decided, cmd, now, forced));
      ctx.pace.add(1);
      await ctx.pace.turnIfDue();
    }
    writes.snapshots.push(...snapshots.rows());
    await writes.write(db, options.heartbeat);
    // Every user of the batch, not only those changed now: a redelivered command is "known" and
    // changes nothing, but its first delivery may have committed and died before the cache write.
    return { outcomes, balances: cachedBalances(accounts, coverage.full, nowMs), faults: [] };
  });
}

function earnPayersWithoutExpiry(commands: AnyLedgerCommand[]): string[] {
  const payers = commands.flatMap((c) =>
    c.type === "earn" && c.points > 0 && c.expires_at === undefined ? [c.payer] : [],
  );
  return [...new Set(payers)];
}

function holdKeys(commands: AnyLedgerCommand[]): { user_id: string; hold_id: string }[] {
  const keys = new Map<string, { user_id: string; hold_id: string }>();
  for (const c of commands) {
    if (
      c.type === "hold_capture" ||
      c.type === "hold_void" ||
      c.type === "hold_expire" ||
      c.type === "hold_place"
    )
      keys.set(holdKey(c.user_id, c.hold_id), { user_id: c.user_id, hold_id: c.hold_id });
  }
  return [...keys.values()];
}

async function decideOne(
  ctx: ApplyContext,
  decided: Map<string, CommandRecord>,
  cmd: AnyLedgerCommand,
  now: Date,
  forced: ReadonlyMap<string, Decision>,
): Promise<LedgerOutcome> {
  const key = commandKey(cmd.user_id, cmd.command_id);
  const prior = decided.get(key);
  if (prior) {
    if (prior.request_hash === requestHash(cmd)) return toOutcome(cmd, prior, now);
    const reused = reject("idempotency_key_reused", "this Idempotency-Key was used with a different request");
    return toOutcome(cmd, recordOf(cmd, reused), now);
  }
  const decision = forced.get(key) ?? (await applyCommand(ctx, cmd));
  const record = recordOf(cmd, decision);
  decided.set(key, record);
  ctx.writes.commands.push(record);
  return toOutcome(cmd, record, now);
}

/** The scheduler's commands have no client request: their id says everything (deterministic). */
function requestHash(cmd: AnyLedgerCommand): string {
  return "request_hash" in cmd ? cmd.request_hash : `${cmd.origin}:${cmd.type}`;
}

function recordOf(cmd: AnyLedgerCommand, d: Decision): CommandRecord {
  return {
    user_id: cmd.user_id,
    command_id: cmd.command_id,
    request_hash: requestHash(cmd),
    type: cmd.type,
    status: d.status,
    actor: actorName(cmd),
    response: d.response,
    seq: d.status === "applied" ? d.seq : null,
  };
}

function toOutcome(cmd: AnyLedgerCommand, d: CommandRecord, now: Date): LedgerOutcome {
  return {
    v: 1,
    command_id: cmd.command_id,
    user_id: cmd.user_id,
    type: cmd.type,
    status: d.status,
    ...(d.status === "rejected" ? { code: errorCodeOf(d.response) } : {}),
    response: d.response,
    ...(d.seq !== null ? { seq: d.seq } : {}),
    actor: actorName(cmd),
    ...(cmd.type === "earn" && cmd.event_id ? { event_id: cmd.event_id } : {}),
    applied_at: now.toISOString(),
  };
}

/** A stored rejection keeps its code inside the rendered error body. */
function errorCodeOf(response: HttpResponse): LedgerOutcome["code"] {
  const body = response.body as { error?: { code?: LedgerOutcome["code"] } } | undefined;
  return body?.error?.code;
}

function actorName(cmd: AnyLedgerCommand): string {
  return "actor" in cmd ? `${cmd.actor.role}:${cmd.actor.id}` : `system:${cmd.origin}`;
}

/**
 * The balance at `now` (due but unrecorded expiry left out, held points out), stale at the
 * member's next expiry: the cache never shows points past their expiry (contract 6.1).
 */
function cachedBalances(
  accounts: Map<string, Account>,
  whole: ReadonlySet<string>,
  now: number,
): BatchResult["balances"] {
  return [...accounts].map(([userId, account]) => {
    const json = balanceJson(balancesAt(account.book, now));
    const staleAt = expiryBound(account, whole.has(userId));
    return { userId, seq: account.seq, body: encodeCachedBalanceBody(json, staleAt) };
  });
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
