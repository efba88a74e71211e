/**
 * Applies one command to the in-memory state of its user, through the pure domain core, and
 * records what must be written. Rejections are values and change nothing (except that expiry
 * which had fallen due is recorded first: contract 6.1, the core's Result.expiry).
 */
import { randomUUID } from "node:crypto";
import {
  adjust,
  type Book,
  type ExpireOutcome,
  earn,
  type LedgerError,
  type LotChange,
  type Movement,
  mergeChanges,
  mergeChangesSteps,
  nextDue,
  type Steps,
  spendSteps,
} from "@points/core";
import {
  type AnyLedgerCommand,
  assertNever,
  type EarnCommand,
  type EntryRecord,
  type ErrorCode,
  type HttpResponse,
  httpStatusOf,
  renderEntry,
  renderTransaction,
  type SpendCommand,
  type UseItemCommand,
} from "@points/shared";
import type { BatchWrites } from "./batch-writes";
import { applyLifecycle } from "./lifecycle-apply";
import type { ReversalTarget } from "./lifecycle-store";
import { LOTS_PER_TURN_MAX, type Pace } from "./pace";
import { assertCovered, type Coverage } from "./prefetch";
import type { HoldRow } from "./storage/lifecycle";
import type { Account } from "./store";

const DAY_MS = 86_400_000;
/** The authority of entries no client asked for (expiry). */
export const LEDGER_AUTHORITY = "ledger";

export interface ApplyContext {
  now: Date;
  accounts: Map<string, Account>;
  writes: BatchWrites;
  /** Entries that use_item and reverse may name: loaded for this batch, plus those created in it. */
  entries: Map<string, EntryRecord>;
  /** What the batch loaded: every lot the core changes must lie inside it. */
  coverage: Coverage;
  /** points_validity_days of the payers of earns without expires_at. */
  validity: Map<string, number | null>;
  /** Holds named by the batch's hold commands (any status), by holdKey; updated as decided. */
  holds: Map<string, HoldRow>;
  /** What reversals need of the entries they reverse, by entry id. */
  targets: Map<string, ReversalTarget>;
  /** The Kafka partition of each user's commands, when the batch came from Kafka. */
  partitions: ReadonlyMap<string, number>;
  /** Counts the batch's work and gives the event loop its turns (pace.ts). */
  pace: Pace;
}

/**
 * Which prefetched walk a command's lot changes came from (see prefetch.ts); "loaded": any lot
 * the batch loaded (expiry, and every walk of a whole book).
 */
export type Walk = "global" | "payerLive" | "payerAdjusted" | "loaded";

export type Decision =
  | { status: "applied"; response: HttpResponse; seq: number }
  | { status: "rejected"; code: ErrorCode; response: HttpResponse };

export function reject(code: ErrorCode, message: string): Decision {
  return {
    status: "rejected",
    code,
    response: { status: httpStatusOf(code), body: { error: { code, message } } },
  };
}

export function rejectLedger(error: LedgerError): Decision {
  return reject(error.code, error.message);
}

/**
 * A partner may not read a member's balance, so its not_enough_funds says that the points are
 * short, not how many there are (contract section 2, Auth).
 */
function callerNeutral(cmd: SpendCommand, error: LedgerError): LedgerError {
  if (error.code !== "not_enough_funds" || cmd.actor.role !== "partner") return error;
  return { ...error, message: `user ${cmd.user_id} does not have enough points: ${cmd.points} requested` };
}

/**
 * Decides one command. A spend may walk any number of lots, so it runs in steps with turns of the
 * event loop between them (pace.ts); the other commands decide at once.
 */
export async function applyCommand(ctx: ApplyContext, cmd: AnyLedgerCommand): Promise<Decision> {
  const account = ctx.accounts.get(cmd.user_id);
  if (!account) return reject("not_found", `member ${cmd.user_id} not found`);
  switch (cmd.type) {
    case "earn":
      return cmd.points > 0 ? applyEarn(ctx, account, cmd) : applyNegative(ctx, account, cmd);
    case "spend":
      return applySpend(ctx, account, cmd);
    case "use_item":
      return applyUseItem(ctx, account, cmd);
    case "reverse":
    case "hold_place":
    case "hold_capture":
    case "hold_void":
    case "hold_expire":
    case "expire_due":
      return applyLifecycle(ctx, account, cmd);
    default:
      return assertNever(cmd);
  }
}

/** Contract 6.1: as given (null = never), else timestamp + the payer's validity, else never. */
function askedExpiry(ctx: ApplyContext, cmd: EarnCommand): number | null {
  if (cmd.expires_at !== undefined) return cmd.expires_at === null ? null : Date.parse(cmd.expires_at);
  const days = ctx.validity.get(cmd.payer) ?? null;
  return days === null ? null : Date.parse(cmd.timestamp) + days * DAY_MS;
}

function applyEarn(ctx: ApplyContext, account: Account, cmd: EarnCommand): Decision {
  const book = account.book;
  const isNewPayer = !book.payers.has(cmd.payer);
  const now = ctx.now.getTime();
  const result = earn(book, {
    payer: cmd.payer,
    points: BigInt(cmd.points),
    ts: Date.parse(cmd.timestamp),
    expiresAt: askedExpiry(ctx, cmd),
    now,
  });
  if (!result.ok) return rejectWithExpiry(ctx, account, cmd, result.error, result.expiry);
  const { lot, changes, movements, expiry } = result.value;
  const expiresAt = lot.expiresAt ?? null;
  const entry = newEntry(ctx, cmd, {
    type: "earn",
    payer: cmd.payer,
    amount: cmd.points,
    timestamp: cmd.timestamp,
    expires_at: expiresAt === null ? null : new Date(expiresAt).toISOString(),
  });
  ctx.writes.createLot(cmd.user_id, {
    arrival: lot.arrival,
    payer: lot.payer,
    ts: cmd.timestamp,
    points: lot.points,
    entry_id: entry.entry_id,
    expires_at: expiresAt,
  });
  recordChange(ctx, account, {
    entry,
    walk: "payerAdjusted",
    changes,
    movements,
    newPayer: isNewPayer ? { payer: cmd.payer, arrival: lot.arrival } : undefined,
  });
  // The core settles expiry after adding the lot (one born expired expires at once): after it.
  recordExpiry(ctx, account, cmd, expiry);
  return applied(account, 201, cmd.render === "transaction" ? renderTransaction(entry) : renderEntry(entry));
}

function applyNegative(ctx: ApplyContext, account: Account, cmd: EarnCommand): Decision {
  const result = adjust(account.book, {
    payer: cmd.payer,
    points: BigInt(-cmd.points),
    ts: Date.parse(cmd.timestamp),
    now: ctx.now.getTime(),
  });
  if (!result.ok) return rejectWithExpiry(ctx, account, cmd, result.error, result.expiry);
  recordExpiry(ctx, account, cmd, result.value.expiry);
  const entry = newEntry(ctx, cmd, {
    type: "adjust",
    payer: cmd.payer,
    amount: cmd.points,
    timestamp: cmd.timestamp,
  });
  recordChange(ctx, account, { entry, walk: "payerLive", ...result.value });
  return applied(account, 201, cmd.render === "transaction" ? renderTransaction(entry) : renderEntry(entry));
}

async function applySpend(ctx: ApplyContext, account: Account, cmd: SpendCommand): Promise<Decision> {
  const input = { points: BigInt(cmd.points), now: ctx.now.getTime() };
  const result = await ctx.pace.run(spendSteps(account.book, input, LOTS_PER_TURN_MAX));
  if (!result.ok) return rejectWithExpiry(ctx, account, cmd, callerNeutral(cmd, result.error), result.expiry);
  recordExpiry(ctx, account, cmd, result.value.expiry);
  const allocations = result.value.byPayer.map((p) => ({ payer: p.payer, points: Number(p.points) }));
  const entry = newEntry(ctx, cmd, {
    type: "spend",
    payer: null,
    amount: -cmd.points,
    timestamp: null,
    allocations,
  });
  await ctx.pace.run(recordChangeSteps(ctx, account, { entry, walk: "global", ...result.value }));
  return cmd.render === "spend"
    ? applied(account, 200, allocations)
    : applied(account, 201, renderEntry(entry));
}

function applyUseItem(ctx: ApplyContext, account: Account, cmd: UseItemCommand): Decision {
  const target = ctx.entries.get(cmd.entry_id);
  const visible =
    target?.user_id === cmd.user_id &&
    target.item !== null &&
    (cmd.only_authority === undefined || target.authority_id === cmd.only_authority);
  if (!target?.item || !visible) return reject("not_found", `no item entry ${cmd.entry_id} for this caller`);
  if (target.item.used) return reject("item_already_used", `item of entry ${cmd.entry_id} is already used`);
  target.item = { ...target.item, used: true };
  ctx.writes.itemsUsed.push({ user_id: cmd.user_id, entry_id: cmd.entry_id });
  // The use itself is an entry too, so the user's history shows when and by whom.
  const authority = cmd.only_authority ?? cmd.actor.id;
  const use = newEntry(
    ctx,
    { ...cmd, authority_id: authority },
    { type: "use_item", payer: null, amount: 0, timestamp: null },
  );
  use.reason = `use item of entry ${cmd.entry_id}`;
  recordChange(ctx, account, { entry: use, walk: "global", changes: [], movements: [] });
  return applied(account, 200, renderEntry(target));
}

/** A rejection still records the expiry that fell due before it (the core's Result.expiry). */
export function rejectWithExpiry(
  ctx: ApplyContext,
  account: Account,
  cmd: { user_id: string; command_id: string },
  error: LedgerError,
  expiry: ExpireOutcome | undefined,
): Decision {
  recordExpiry(ctx, account, cmd, expiry);
  return rejectLedger(error);
}

type EntryFacts = Pick<EntryRecord, "type" | "payer" | "amount" | "timestamp"> &
  Partial<Pick<EntryRecord, "allocations" | "expires_at" | "reverses" | "hold_id">>;

export type NewEntryRecord = EntryRecord & { seq: number; command_id: string };

export function newEntry(
  ctx: ApplyContext,
  cmd: {
    user_id: string;
    command_id: string;
    authority_id: string;
    reason?: string;
    item?: { name: string; data?: unknown };
  },
  facts: EntryFacts,
): NewEntryRecord {
  const entry = {
    entry_id: randomUUID(),
    user_id: cmd.user_id,
    authority_id: cmd.authority_id,
    created_on: ctx.now,
    reason: cmd.reason ?? null,
    item: cmd.item ? { name: cmd.item.name, used: false, data: cmd.item.data } : null,
    ...facts,
    allocations: facts.allocations ?? null,
    reversed: 0,
    seq: 0, // set by recordChange
    command_id: cmd.command_id,
  };
  if (entry.item) ctx.entries.set(entry.entry_id, entry);
  return entry;
}

/** Expiry recorded ahead of (or after: a reversal's or release's re-expiry) a command's change. */
export function recordExpiry(
  ctx: ApplyContext,
  account: Account,
  cmd: { user_id: string; command_id: string },
  expiry: ExpireOutcome | undefined,
): NewEntryRecord | undefined {
  if (!expiry || expiry.changes.length === 0) return undefined;
  const allocations = expiry.byPayer.map((p) => ({ payer: p.payer, points: Number(p.points) }));
  const entry = newEntry(
    ctx,
    { ...cmd, authority_id: LEDGER_AUTHORITY },
    {
      type: "expire",
      payer: null,
      amount: allocations.reduce((sum, p) => sum + p.points, 0),
      timestamp: null,
      allocations,
    },
  );
  recordChange(ctx, account, { entry, walk: "loaded", changes: expiry.changes, movements: expiry.movements });
  return entry;
}

export interface Change {
  /** The change's entry; absent for a hold step (then `source` is the hold id). */
  entry?: NewEntryRecord;
  source?: string;
  walk: Walk;
  changes: LotChange[];
  /** The entry's allocation rows, when only some of `changes` (a capture: the captured takes). */
  allocated?: LotChange[];
  movements: Movement[];
  newPayer?: { payer: string; arrival: bigint } | undefined;
}

/**
 * Bumps the member's version and queues one change: its entry, the lot changes (as allocation
 * rows, one per lot), the report movements, the payers and the account. Returns the version.
 */
export function recordChange(ctx: ApplyContext, account: Account, change: Change): number {
  return ctx.pace.finish(recordChangeSteps(ctx, account, change));
}

/** recordChange as bounded steps: its per-lot work LOTS_PER_TURN_MAX lots at a time. */
export function* recordChangeSteps(ctx: ApplyContext, account: Account, change: Change): Steps<number> {
  const book: Book = account.book;
  if (change.walk !== "loaded") yield* assertInsidePrefetch(ctx, book.userId, change.walk, change.changes);
  account.seq += 1;
  const entry = change.entry;
  if (entry) {
    entry.seq = account.seq;
    ctx.writes.entries.push(entry);
  }
  const source = entry?.entry_id ?? change.source;
  if (source === undefined) throw new TypeError("a change without an entry needs a source");
  const merged = yield* mergeChangesSteps(change.changes, LOTS_PER_TURN_MAX);
  // An entry's allocation rows are its changes, unless it names them (a capture: the captured takes).
  const allocatedHere = change.allocated === undefined ? (entry?.entry_id ?? null) : null;
  const payers = yield* applyChangesSteps(ctx.writes, book.userId, allocatedHere, merged);
  if (change.allocated !== undefined && entry)
    ctx.writes.allocate(book.userId, entry.entry_id, mergeChanges(change.allocated));
  ctx.writes.addMovements(book.userId, partitionOf(ctx, account), account.seq, source, change.movements);
  // An earn changes its payer's balance even when no existing lot changed.
  if (entry && entry.payer !== null) payers.add(entry.payer);
  for (const payer of payers) {
    const state = book.payers.get(payer);
    const first = change.newPayer?.payer === payer ? change.newPayer.arrival : 0n;
    if (state)
      ctx.writes.setPayer(book.userId, payer, state, first, ctx.now, {
        partition: partitionOf(ctx, account),
        outstanding: account.storedOutstanding.get(payer) ?? 0n,
      });
  }
  writeAccount(ctx, account);
  return account.seq;
}

/** The prefetch assertion (prefetch.ts) for every loaded lot a walk changed. */
function* assertInsidePrefetch(
  ctx: ApplyContext,
  userId: string,
  walk: Exclude<Walk, "loaded">,
  changes: readonly LotChange[],
): Steps<void> {
  for (let start = 0; start < changes.length; start += LOTS_PER_TURN_MAX) {
    const end = Math.min(start + LOTS_PER_TURN_MAX, changes.length);
    for (let i = start; i < end; i++) {
      const loaded = ctx.writes.loadedLot(userId, changes[i]!.arrival);
      if (loaded) assertCovered(ctx.coverage, walk, userId, loaded);
    }
    yield end - start;
  }
}

/** Marks the changed lots (and writes the allocation rows of `entryId`); returns their payers. */
function* applyChangesSteps(
  writes: BatchWrites,
  userId: string,
  entryId: string | null,
  merged: readonly LotChange[],
): Steps<Set<string>> {
  const payers = new Set<string>();
  for (let start = 0; start < merged.length; start += LOTS_PER_TURN_MAX) {
    const slice = merged.slice(start, start + LOTS_PER_TURN_MAX);
    writes.applyChanges(userId, entryId, slice);
    for (const c of slice) payers.add(c.payer);
    yield slice.length;
  }
  return payers;
}

/** The account row: version, totals, and when the scheduler must next look at the member. */
export function writeAccount(ctx: ApplyContext, account: Account): void {
  const book = account.book;
  const whole = ctx.coverage.full.has(book.userId);
  const due = nextDue(book);
  const expiry = expiryBound(account, whole);
  ctx.writes.setAccount({
    user_id: book.userId,
    seq: account.seq,
    next_arrival: book.nextArrival,
    total: book.total,
    next_expiry: expiry,
    next_hold_expiry: whole ? due.holdExpiry : account.nextHoldExpiry,
    expired_through: book.expiredThrough ?? null,
    kafka_partition: ctx.partitions.get(book.userId) ?? account.storedPartition,
  });
}

/**
 * The member's Kafka partition: of this batch, else as stored. A member never applied from Kafka
 * (a batch applied directly, in tests) counts in partition 0: figure rows are added to, never set,
 * so a shared row stays exact.
 */
function partitionOf(ctx: ApplyContext, account: Account): number {
  return ctx.partitions.get(account.book.userId) ?? account.storedPartition ?? 0;
}

/**
 * accounts.next_expiry: exact for a whole book; a partly loaded book's bound covers only its
 * loaded lots, and the others expire no sooner than the stored bound (Account.storedNextExpiry).
 */
export function expiryBound(account: Account, whole: boolean): number | null {
  const own = nextDue(account.book).expiry;
  const stored = account.storedNextExpiry;
  if (whole || stored === null) return own;
  return own === null ? stored : Math.min(own, stored);
}

export function applied(account: Account, status: number, body: unknown): Decision {
  return { status: "applied", response: { status, body }, seq: account.seq };
}
