/**
 * Applies one command to the in-memory state of its user, through the pure domain core, and
 * records what must be written. Rejections are values and change nothing.
 */
import { randomUUID } from "node:crypto";
import { adjust, type Book, earn, type LedgerError, type LotChange, spend } from "@points/core";
import {
  assertNever,
  type EarnCommand,
  type EntryRecord,
  type ErrorCode,
  type HttpResponse,
  httpStatusOf,
  type LedgerCommand,
  renderEntry,
  renderTransaction,
  type SpendCommand,
  type UseItemCommand,
} from "@points/shared";
import type { BatchWrites } from "./batch-writes";
import { assertCovered, type Coverage } from "./prefetch";
import type { Account } from "./store";

export interface ApplyContext {
  now: Date;
  accounts: Map<string, Account>;
  writes: BatchWrites;
  /** Entries that use_item may name: loaded for this batch, plus those created in it. */
  entries: Map<string, EntryRecord>;
  /** What the batch loaded: every lot the core changes must lie inside it. */
  coverage: Coverage;
}

/** Which prefetched walk a command's lot changes came from (see prefetch.ts). */
type Walk = "global" | "payerLive" | "payerAdjusted";

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

function rejectLedger(error: LedgerError): Decision {
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

export function applyCommand(ctx: ApplyContext, cmd: LedgerCommand): Decision {
  const account = ctx.accounts.get(cmd.user_id);
  if (!account) return reject("not_found", `member ${cmd.user_id} not found`);
  switch (cmd.type) {
    case "earn":
      return cmd.points > 0 ? applyEarn(ctx, account, cmd) : applyNegative(ctx, account, cmd);
    case "spend":
      return applySpend(ctx, account, cmd);
    case "use_item":
      return applyUseItem(ctx, account, cmd);
    default:
      return assertNever(cmd);
  }
}

function applyEarn(ctx: ApplyContext, account: Account, cmd: EarnCommand): Decision {
  const book = account.book;
  const isNewPayer = !book.payers.has(cmd.payer);
  const result = earn(book, { payer: cmd.payer, points: BigInt(cmd.points), ts: Date.parse(cmd.timestamp) });
  if (!result.ok) return rejectLedger(result.error);
  const entry = newEntry(ctx, cmd, {
    type: "earn",
    payer: cmd.payer,
    amount: cmd.points,
    timestamp: cmd.timestamp,
  });
  const { lot, changes } = result.value;
  ctx.writes.createLot(cmd.user_id, {
    arrival: lot.arrival,
    payer: lot.payer,
    ts: cmd.timestamp,
    points: lot.points,
    entry_id: entry.entry_id,
  });
  recordChanges(
    ctx,
    account,
    entry,
    { walk: "payerAdjusted", changes },
    isNewPayer ? { payer: cmd.payer, arrival: lot.arrival } : undefined,
  );
  return applied(account, 201, cmd.render === "transaction" ? renderTransaction(entry) : renderEntry(entry));
}

function applyNegative(ctx: ApplyContext, account: Account, cmd: EarnCommand): Decision {
  const result = adjust(account.book, {
    payer: cmd.payer,
    points: BigInt(-cmd.points),
    ts: Date.parse(cmd.timestamp),
  });
  if (!result.ok) return rejectLedger(result.error);
  const entry = newEntry(ctx, cmd, {
    type: "adjust",
    payer: cmd.payer,
    amount: cmd.points,
    timestamp: cmd.timestamp,
  });
  recordChanges(ctx, account, entry, { walk: "payerLive", changes: result.value.changes });
  return applied(account, 201, cmd.render === "transaction" ? renderTransaction(entry) : renderEntry(entry));
}

function applySpend(ctx: ApplyContext, account: Account, cmd: SpendCommand): Decision {
  const result = spend(account.book, { points: BigInt(cmd.points) });
  if (!result.ok) return rejectLedger(callerNeutral(cmd, result.error));
  const allocations = result.value.byPayer.map((p) => ({ payer: p.payer, points: Number(p.points) }));
  const entry = newEntry(ctx, cmd, {
    type: "spend",
    payer: null,
    amount: -cmd.points,
    timestamp: null,
    allocations,
  });
  recordChanges(ctx, account, entry, { walk: "global", changes: result.value.changes });
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
  recordChanges(ctx, account, use, { walk: "global", changes: [] });
  return applied(account, 200, renderEntry(target));
}

interface EntryFacts {
  type: EntryRecord["type"];
  payer: string | null;
  amount: number;
  timestamp: string | null;
  allocations?: EntryRecord["allocations"];
}

function newEntry(
  ctx: ApplyContext,
  cmd: {
    user_id: string;
    command_id: string;
    authority_id: string;
    reason?: string;
    item?: { name: string; data?: unknown };
  },
  facts: EntryFacts,
): EntryRecord & { seq: number; command_id: string } {
  const entry = {
    entry_id: randomUUID(),
    user_id: cmd.user_id,
    authority_id: cmd.authority_id,
    created_on: ctx.now,
    reason: cmd.reason ?? null,
    item: cmd.item ? { name: cmd.item.name, used: false, data: cmd.item.data } : null,
    ...facts,
    allocations: facts.allocations ?? null,
    seq: 0, // set by recordChanges
    command_id: cmd.command_id,
  };
  if (entry.item) ctx.entries.set(entry.entry_id, entry);
  return entry;
}

/** Queues the entry, the lot changes (as allocation rows), the payers and the account. */
function recordChanges(
  ctx: ApplyContext,
  account: Account,
  entry: EntryRecord & { seq: number; command_id: string },
  { walk, changes }: { walk: Walk; changes: LotChange[] },
  newPayer?: { payer: string; arrival: bigint },
): void {
  const book: Book = account.book;
  for (const change of changes) {
    const loaded = ctx.writes.loadedLot(book.userId, change.arrival);
    if (loaded) assertCovered(ctx.coverage, walk, book.userId, loaded);
  }
  account.seq += 1;
  entry.seq = account.seq;
  ctx.writes.entries.push(entry);
  ctx.writes.applyChanges(book.userId, entry.entry_id, changes);
  // An earn changes its payer's balance even when no existing lot changed.
  const payers = new Set(changes.map((c) => c.payer));
  if (entry.payer !== null) payers.add(entry.payer);
  for (const payer of payers) {
    const state = book.payers.get(payer);
    if (state)
      ctx.writes.setPayer(book.userId, payer, state, newPayer?.payer === payer ? newPayer.arrival : 0n);
  }
  ctx.writes.setAccount(book.userId, account.seq, book.nextArrival, book.total);
}

function applied(account: Account, status: number, body: unknown): Decision {
  return { status: "applied", response: { status, body }, seq: account.seq };
}
