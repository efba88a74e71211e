import type { Lot } from "./types";

/**
 * Oldest first: by transaction timestamp, then by arrival (README, "How a command flows"). The one
 * comparator for this order: the core walks lots in it, the ledger sorts what it loads with it,
 * and the SQL that loads lots (ORDER BY ts, arrival) and the lots indexes mirror it.
 */
export function compareLots(a: Pick<Lot, "ts" | "arrival">, b: Pick<Lot, "ts" | "arrival">): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.arrival === b.arrival) return 0;
  return a.arrival < b.arrival ? -1 : 1;
}

/** The index of the first lot that sorts after `lot` (upper bound), found by binary search. */
export function insertionIndex(lots: readonly Lot[], lot: Pick<Lot, "ts" | "arrival">): number {
  let low = 0;
  let high = lots.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareLots(lots[middle]!, lot) <= 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Puts `lot` in its (ts, arrival) place and returns its index. A lot stamped now is the newest,
 * the usual case, so it is appended without a search.
 */
export function insertLot(lots: Lot[], lot: Lot): number {
  const last = lots[lots.length - 1];
  if (last === undefined || compareLots(last, lot) < 0) {
    lots.push(lot);
    return lots.length - 1;
  }
  const index = insertionIndex(lots, lot);
  lots.splice(index, 0, lot);
  return index;
}

/**
 * A lot with nothing unspent, adjusted or held is not needed by earns, spends, negatives or holds
 * (a reversal brings it back into the book: see admitLots).
 */
export function isSettled(lot: Lot): boolean {
  return lot.remaining === 0n && lot.adjusted === 0n && (lot.held ?? 0n) === 0n;
}

/** Whether the lot's points have expired by `now` (epoch ms). */
export function isExpiredAt(lot: Pick<Lot, "expiresAt">, now: number): boolean {
  return lot.expiresAt !== undefined && lot.expiresAt !== null && lot.expiresAt <= now;
}

/** The index of the lot with this (ts, arrival), or -1; O(log lots). */
export function findLotIndex(lots: readonly Lot[], key: Pick<Lot, "ts" | "arrival">): number {
  const index = insertionIndex(lots, key) - 1;
  const lot = lots[index];
  return lot !== undefined && lot.arrival === key.arrival && lot.ts === key.ts ? index : -1;
}
