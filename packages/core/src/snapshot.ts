import { assert } from "./assert";
import { balancesAt } from "./expiry";
import type { Book, PayerPoints } from "./types";

/**
 * Daily balance snapshots (contract 6.4): the exact balance at the start of a UTC day, taken by
 * the one writer before the member's first change of that day, so a balance as of a past instant
 * can start from the nearest snapshot and read only the movements after it (balanceAsOf).
 */

/** One UTC day in milliseconds: the ledger snapshots at most once per member and day. */
export const SNAPSHOT_PERIOD_MS = 86_400_000;

export interface BalanceSnapshot {
  /** The period start (epoch ms). */
  at: number;
  /** Per payer, exactly at `at` (held and expired-by-then points left out), in first-seen order. */
  balances: PayerPoints[];
}

/**
 * The period start a change applied at `now` snapshots: the latest one strictly before `now`. A
 * change at exactly midnight counts at that instant, and a snapshot at an instant must include
 * everything counting at or before it (balanceAsOf reads the movements after it), so such a
 * change belongs to the day it ends, not to the one it starts.
 */
export function snapshotInstant(now: number, periodMs = SNAPSHOT_PERIOD_MS): number {
  assert(Number.isSafeInteger(now), `now must be integer epoch milliseconds, got ${now}`);
  assert(
    Number.isSafeInteger(periodMs) && periodMs > 0,
    `period must be positive milliseconds, got ${periodMs}`,
  );
  return Math.floor((now - 1) / periodMs) * periodMs;
}

/**
 * The snapshot a book gives before a change applied at `now`: balancesAt at the period start
 * before it, so unspent points due by then are left out whether their expiry is recorded or not.
 * It is exact (what balanceAsOf from any later state gives at that instant) only while no recorded
 * movement counts after that instant: the caller checks that (it holds the movements). Null for a
 * book without payers: it would say nothing a read does not already know.
 */
export function daySnapshot(book: Book, now: number, periodMs = SNAPSHOT_PERIOD_MS): BalanceSnapshot | null {
  if (book.payers.size === 0) return null;
  const at = snapshotInstant(now, periodMs);
  return { at, balances: balancesAt(book, at) };
}
