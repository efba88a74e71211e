/**
 * Helpers shared by the ledger's tests (not part of the public API, not exported by index.ts).
 */
import type { SpendTake } from "./reverse";
import type { Book, Lot, LotChange, Result } from "./types";

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

/**
 * Remembers every lot a book ever held (by reference, so a lot a spend dropped keeps its last
 * state), standing in for the shell's lots table when a reversal needs spent-out lots.
 */
export class LotRegistry {
  private readonly lots = new Map<bigint, Lot>();

  track(book: Book): void {
    for (const lot of book.lots) this.lots.set(lot.arrival, lot);
  }

  all(): Lot[] {
    return [...this.lots.values()];
  }

  get(arrival: bigint): Lot {
    const lot = this.lots.get(arrival);
    if (lot === undefined) throw new Error(`lot ${arrival} was never seen`);
    return lot;
  }

  /** A spend's changes as the takes a reversal needs (none reversed yet). */
  takesOf(changes: readonly LotChange[]): SpendTake[] {
    return changes
      .filter((change) => change.remainingDelta < 0n && change.adjustedDelta === 0n)
      .map((change) => ({
        arrival: change.arrival,
        ts: this.get(change.arrival).ts,
        payer: change.payer,
        points: -change.remainingDelta,
        reversed: 0n,
      }));
  }

  /** The lots the takes name, for admitLots. */
  lotsOf(arrivals: readonly bigint[]): Lot[] {
    return arrivals.map((arrival) => this.get(arrival));
  }
}
