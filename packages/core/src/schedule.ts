import { mayBeDue } from "./expiry";
import { assertStepSize, finish, ONE_STEP, type Steps } from "./steps";
import type { Book, LotChange } from "./types";

/**
 * When the member next needs a time-driven command (the accounts row the ledger's scheduler
 * reads): the earliest expiry of unspent points and of an open hold. `expiry` is a lower bound
 * (after spends it may be early); an early expire_due records nothing and makes it exact.
 */
export function nextDue(book: Book): { expiry: number | null; holdExpiry: number | null } {
  mayBeDue(book, Number.NEGATIVE_INFINITY); // computes the bound once when unknown
  let holdExpiry: number | null = null;
  for (const hold of book.holds?.values() ?? []) {
    if (hold.status === "held" && (holdExpiry === null || hold.expiresAt < holdExpiry))
      holdExpiry = hold.expiresAt;
  }
  return { expiry: book.nextExpiry ?? null, holdExpiry };
}

/**
 * One row per lot for an entry's allocations (their key is (user, entry, lot)): a reversal or a
 * hold release may touch a lot twice (points given back, then a deduction moved onto it).
 * Keeps first-touched order.
 */
export function mergeChanges(changes: readonly LotChange[]): LotChange[] {
  return finish(mergeChangesSteps(changes, ONE_STEP));
}

/** mergeChanges as bounded steps (steps.ts): at most `lotsPerStep` changes per step. */
export function* mergeChangesSteps(changes: readonly LotChange[], lotsPerStep: number): Steps<LotChange[]> {
  assertStepSize(lotsPerStep);
  const byLot = new Map<bigint, LotChange>();
  for (let i = 0; i < changes.length; i++) {
    if (i > 0 && i % lotsPerStep === 0) yield lotsPerStep;
    mergeInto(byLot, changes[i]!);
  }
  return [...byLot.values()];
}

function mergeInto(byLot: Map<bigint, LotChange>, change: LotChange): void {
  const row = byLot.get(change.arrival);
  if (row === undefined) {
    byLot.set(change.arrival, { ...change });
    return;
  }
  row.remainingDelta += change.remainingDelta;
  row.adjustedDelta += change.adjustedDelta;
  for (const key of ["heldDelta", "expiredDelta", "reversedDelta"] as const) {
    const sum = (row[key] ?? 0n) + (change[key] ?? 0n);
    if (sum === 0n) delete row[key];
    else row[key] = sum;
  }
}
