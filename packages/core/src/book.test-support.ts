/**
 * Helpers shared by the ledger's tests (not part of the public API, not exported by index.ts).
 */
import type { Book, Lot, Result } from "./types";

export const at = (iso: string): number => {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) throw new Error(`bad timestamp ${iso}`);
  return ms;
};

/** Unwraps an accepted result; a rejection fails the test with its code. */
export function accepted<T>(result: Result<T>): T {
  if (!result.ok) throw new Error(`expected acceptance, got ${result.error.code}: ${result.error.message}`);
  return result.value;
}

/** A plain, deep copy of everything a book holds, for comparing before and after. */
export function snapshotOf(book: Book) {
  return {
    userId: book.userId,
    nextArrival: book.nextArrival,
    total: book.total,
    payers: [...book.payers].map(([payer, state]) => ({ payer, ...state })),
    lots: book.lots.map((lot) => ({ ...lot })),
  };
}

export type LotView = Pick<Lot, "payer" | "ts" | "points" | "remaining" | "adjusted">;

export function lotViews(book: Book): LotView[] {
  return book.lots.map(({ payer, ts, points, remaining, adjusted }) => ({
    payer,
    ts,
    points,
    remaining,
    adjusted,
  }));
}

/** Balances as a plain object, e.g. { DANNON: 1000n }. */
export function balanceObject(book: Book): Record<string, bigint> {
  return Object.fromEntries([...book.payers].map(([payer, state]) => [payer, state.available]));
}
