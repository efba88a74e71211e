/**
 * The lifecycle commands (contract 6), per docs/lifecycle-design.md section 2: reversals, holds,
 * and the scheduler's expire_due and hold_expire. Each runs the pure core with the batch's instant
 * and records, in order, the expiry that fell due first, its own change, and what expired again.
 */
import {
  admitLots,
  captureHold,
  expire,
  expireHold,
  findLotIndex,
  type HoldOutcome,
  type Lot,
  type LotChange,
  mergeChanges,
  placeHold,
  type ReversedEntry,
  reverse,
  voidHold,
} from "@points/core";
import {
  type AnyLedgerCommand,
  type EntryRecord,
  type ExpireDueCommand,
  type HoldCaptureCommand,
  type HoldExpireCommand,
  type HoldPlaceCommand,
  type HoldVoidCommand,
  type ReverseCommand,
  renderUserEntry,
} from "@points/shared";
import {
  type ApplyContext,
  applied,
  type Decision,
  newEntry,
  recordChange,
  recordExpiry,
  reject,
  rejectWithExpiry,
  writeAccount,
} from "./apply-command";
import type { ReversalTarget } from "./lifecycle-store";
import type { HoldRow } from "./storage/lifecycle";
import type { Account } from "./store";

type LifecycleCommand = Extract<
  AnyLedgerCommand,
  { type: "reverse" | "hold_place" | "hold_capture" | "hold_void" | "hold_expire" | "expire_due" }
>;

export function holdKey(userId: string, holdId: string): string {
  return `${userId}\u0000${holdId}`;
}

export function applyLifecycle(ctx: ApplyContext, account: Account, cmd: LifecycleCommand): Decision {
  switch (cmd.type) {
    case "reverse":
      return applyReverse(ctx, account, cmd);
    case "hold_place":
      return applyHoldPlace(ctx, account, cmd);
    case "hold_capture":
      return applyHoldCapture(ctx, account, cmd);
    case "hold_void":
    case "hold_expire":
      return applyHoldRelease(ctx, account, cmd);
    case "expire_due":
      return applyExpireDue(ctx, account, cmd);
  }
}

/** The wire shape of a hold (the gateway's GET renders the same: routes/holds/store.ts). */
export function renderHold(h: HoldRow) {
  return {
    hold_id: h.hold_id,
    user_id: h.user_id,
    points: Number(h.points),
    status: h.status,
    allocations: h.allocations,
    expires_at: h.expires_at.toISOString(),
    created_on: h.created_on.toISOString(),
  };
}

const perPayer = (rows: { payer: string; points: bigint }[]) =>
  rows.map((p) => ({ payer: p.payer, points: Number(p.points) }));

function applyReverse(ctx: ApplyContext, account: Account, cmd: ReverseCommand): Decision {
  const target = ctx.entries.get(cmd.entry_id);
  const visible =
    target?.user_id === cmd.user_id &&
    (cmd.only_authority === undefined || target.authority_id === cmd.only_authority);
  if (!target || !visible) return reject("not_found", `no entry ${cmd.entry_id} for this caller`);
  const stored = ctx.targets.get(cmd.entry_id) ?? { allocations: [], lot: null };
  const entry = reversedEntryOf(ctx, account, target, stored);
  const result = reverse(account.book, {
    entryId: cmd.entry_id,
    entry,
    ...(cmd.points !== undefined ? { points: BigInt(cmd.points) } : {}),
    now: ctx.now.getTime(),
  });
  if (!result.ok) return rejectWithExpiry(ctx, account, cmd, result.error, result.expiry);
  const outcome = result.value;
  recordExpiry(ctx, account, cmd, outcome.expiry);
  const points = Number(outcome.points);
  const reversal = newEntry(ctx, cmd, {
    type: "reversal",
    payer: null,
    amount: entry.type === "spend" ? points : -points,
    timestamp: null,
    allocations: perPayer(outcome.byPayer),
    reverses: cmd.entry_id,
  });
  recordChange(ctx, account, { entry: reversal, walk: "loaded", ...outcome });
  target.reversed = (target.reversed ?? 0) + points;
  ctx.writes.setEntryReversed(cmd.user_id, cmd.entry_id, BigInt(target.reversed));
  for (const back of outcome.takesReversed) {
    const take = stored.allocations.find((a) => a.arrival === back.arrival);
    if (!take) continue;
    take.reversed += back.points;
    ctx.writes.setTakeReversed(cmd.user_id, cmd.entry_id, back.arrival, take.reversed);
  }
  recordExpiry(ctx, account, cmd, outcome.reexpired);
  return applied(account, 201, renderUserEntry(reversal));
}

/**
 * What the core needs of the reversed entry, with the lots it names admitted into the book (a
 * spend empties lots, and emptied lots are not loaded).
 */
function reversedEntryOf(
  ctx: ApplyContext,
  account: Account,
  target: EntryRecord,
  stored: ReversalTarget,
): ReversedEntry {
  if (target.type === "spend") {
    const takes = stored.allocations.filter((a) => a.taken > 0n);
    admit(
      ctx,
      account,
      takes.map((t) => t.lot),
    );
    return {
      type: "spend",
      takes: takes.map((t) => ({
        arrival: t.arrival,
        ts: t.lot.ts,
        payer: t.payer,
        points: t.taken,
        reversed: t.reversed,
      })),
    };
  }
  if (target.type === "earn" && stored.lot) {
    const lot = stored.lot;
    admit(ctx, account, [lot]);
    return {
      type: "earn",
      arrival: lot.arrival,
      ts: lot.ts,
      payer: lot.payer,
      points: lot.points,
      reversed: BigInt(target.reversed ?? 0),
    };
  }
  return { type: target.type === "earn" ? "adjust" : target.type };
}

/** Admits lots into the book, in their current state (a lot this batch changed is the loaded object). */
function admit(ctx: ApplyContext, account: Account, lots: Lot[]): void {
  const book = account.book;
  const current = lots.map((lot) => ctx.writes.loadedLot(book.userId, lot.arrival) ?? lot);
  admitLots(
    book,
    current.filter((lot) => findLotIndex(book.lots, lot) < 0),
  );
  for (const lot of current) {
    const index = findLotIndex(book.lots, lot);
    if (index >= 0) ctx.writes.admitLoaded(book.userId, book.lots[index]!);
  }
}

function applyHoldPlace(ctx: ApplyContext, account: Account, cmd: HoldPlaceCommand): Decision {
  const key = holdKey(cmd.user_id, cmd.hold_id);
  if (ctx.holds.has(key)) return reject("hold_not_active", `hold ${cmd.hold_id} already exists`);
  const now = ctx.now.getTime();
  const expiresAt = now + cmd.ttl_s * 1000;
  const result = placeHold(account.book, { holdId: cmd.hold_id, points: BigInt(cmd.points), expiresAt, now });
  if (!result.ok) return rejectWithExpiry(ctx, account, cmd, result.error, result.expiry);
  const outcome = result.value;
  recordExpiry(ctx, account, cmd, outcome.expiry);
  const row: HoldRow = {
    user_id: cmd.user_id,
    hold_id: cmd.hold_id,
    points: BigInt(cmd.points),
    status: "held",
    authority_id: cmd.authority_id,
    reason: cmd.reason ?? null,
    allocations: perPayer(outcome.byPayer),
    created_on: ctx.now,
    expires_at: new Date(expiresAt),
    closed_on: null,
    captured: null,
    capture_entry_id: null,
    command_id: cmd.command_id,
  };
  ctx.holds.set(key, row);
  ctx.writes.holds.set(key, row);
  recordChange(ctx, account, { source: cmd.hold_id, walk: "loaded", ...outcome });
  holdSteps(ctx, cmd.user_id, cmd.hold_id, 0, outcome.changes);
  return applied(account, 201, renderHold(row));
}

function applyHoldCapture(ctx: ApplyContext, account: Account, cmd: HoldCaptureCommand): Decision {
  const key = holdKey(cmd.user_id, cmd.hold_id);
  const row = ctx.holds.get(key);
  if (!row) return reject("not_found", `hold ${cmd.hold_id} not found`);
  const result = captureHold(account.book, {
    holdId: cmd.hold_id,
    ...(cmd.points !== undefined ? { points: BigInt(cmd.points) } : {}),
    now: ctx.now.getTime(),
  });
  if (!result.ok) return rejectWithExpiry(ctx, account, cmd, result.error, result.expiry);
  const outcome = result.value;
  recordExpiry(ctx, account, cmd, outcome.expiry);
  const allocations = perPayer(outcome.byPayer);
  const captured = allocations.reduce((sum, p) => sum - p.points, 0);
  const spend = newEntry(
    ctx,
    { ...cmd, authority_id: cmd.authority_id, ...(row.reason ? { reason: row.reason } : {}) },
    { type: "spend", payer: null, amount: -captured, timestamp: null, allocations, hold_id: cmd.hold_id },
  );
  // The spend's allocations are the captured takes; what went back is the hold's close step.
  const released = releaseChanges(outcome);
  const allocated = outcome.changes.filter((c) => !released.includes(c));
  recordChange(ctx, account, { entry: spend, walk: "loaded", ...outcome, allocated });
  holdSteps(ctx, cmd.user_id, cmd.hold_id, 1, released);
  closeRow(ctx, key, row, "captured", { captured: BigInt(captured), capture_entry_id: spend.entry_id });
  recordExpiry(ctx, account, cmd, outcome.reexpired);
  return applied(account, 200, renderUserEntry(spend));
}

/** Void (a client) or expiry (the scheduler): every held point goes back to its lot. */
function applyHoldRelease(
  ctx: ApplyContext,
  account: Account,
  cmd: HoldVoidCommand | HoldExpireCommand,
): Decision {
  const key = holdKey(cmd.user_id, cmd.hold_id);
  const row = ctx.holds.get(key);
  if (!row) return reject("not_found", `hold ${cmd.hold_id} not found`);
  const input = { holdId: cmd.hold_id, now: ctx.now.getTime() };
  const result = cmd.type === "hold_void" ? voidHold(account.book, input) : expireHold(account.book, input);
  if (!result.ok) {
    // A hold the member closed (or that is not due yet) needs no timeout: a no-op, not an error.
    if (cmd.type === "hold_expire" && result.error.code === "hold_not_active") {
      recordExpiry(ctx, account, cmd, result.expiry);
      writeAccount(ctx, account);
      return applied(account, 200, renderHold(row));
    }
    return rejectWithExpiry(ctx, account, cmd, result.error, result.expiry);
  }
  const outcome = result.value;
  recordExpiry(ctx, account, cmd, outcome.expiry);
  recordChange(ctx, account, { source: cmd.hold_id, walk: "loaded", ...outcome });
  holdSteps(ctx, cmd.user_id, cmd.hold_id, 1, outcome.changes);
  const closed = closeRow(ctx, key, row, cmd.type === "hold_void" ? "voided" : "expired", {});
  recordExpiry(ctx, account, cmd, outcome.reexpired);
  return applied(account, 200, renderHold(closed));
}

function closeRow(
  ctx: ApplyContext,
  key: string,
  row: HoldRow,
  status: HoldRow["status"],
  capture: Partial<Pick<HoldRow, "captured" | "capture_entry_id">>,
): HoldRow {
  const closed: HoldRow = { ...row, status, closed_on: ctx.now, ...capture };
  ctx.holds.set(key, closed);
  ctx.writes.holds.set(key, closed);
  return closed;
}

/** A capture's release: the changes that gave held points back (and what they moved), not the captured ones. */
function releaseChanges(outcome: HoldOutcome): LotChange[] {
  return outcome.changes.filter((c) => c.remainingDelta !== 0n || c.adjustedDelta !== 0n);
}

function holdSteps(ctx: ApplyContext, userId: string, holdId: string, step: 0 | 1, changes: LotChange[]) {
  for (const c of mergeChanges(changes)) {
    const lot = ctx.writes.loadedLot(userId, c.arrival) ?? ctx.writes.createdLotTs(userId, c.arrival);
    ctx.writes.holdAllocations.push({
      user_id: userId,
      hold_id: holdId,
      step,
      arrival: c.arrival,
      payer: c.payer,
      ts: typeof lot === "number" ? lot : (lot?.ts ?? 0),
      remaining_delta: c.remainingDelta,
      held_delta: c.heldDelta ?? 0n,
      adjusted_delta: c.adjustedDelta,
    });
  }
}

/** Records what fell due by max(due_at, now); nothing when the stored bound was early. */
function applyExpireDue(ctx: ApplyContext, account: Account, cmd: ExpireDueCommand): Decision {
  const at = Math.max(Date.parse(cmd.due_at), ctx.now.getTime());
  const entry = recordExpiry(ctx, account, cmd, expire(account.book, at));
  writeAccount(ctx, account);
  // The outcome on ledger.events carries the expire entry (null: nothing was due after all).
  return applied(account, 200, entry ? renderUserEntry(entry) : null);
}
