/**
 * The points ledger's pure domain model: one user's book of lots, worked on in memory.
 * The shell loads a book from Postgres, runs one command at a time against it, and writes back
 * the returned lot changes. Nothing here does I/O.
 */

/** One earn. Its `arrival` is both its id and the tie-break when timestamps are equal. */
export interface Lot {
  /** Per-user arrival sequence; also the lot's id. Ties on `ts` break by arrival. */
  arrival: bigint;
  payer: string;
  /** The transaction's own timestamp, epoch milliseconds (not the time it was received). */
  ts: number;
  /** Original earn amount (> 0). */
  points: bigint;
  /** Unspent and free: what spends and negatives may take. */
  remaining: bigint;
  /**
   * Taken by negative transactions of the same payer. Kept separate from spent points because a
   * later, older lot of that payer may take the deduction over (contract rule 3).
   * spent = points - remaining - adjusted.
   */
  adjusted: bigint;
}

/** available = sum(remaining) of the payer's lots; adjusted = sum(adjusted) = accepted negatives. */
export interface PayerState {
  available: bigint;
  adjusted: bigint;
}

export interface Book {
  userId: string;
  /** The arrival to give the next lot. */
  nextArrival: bigint;
  /** Sum of `available` over payers. */
  total: bigint;
  /** Every payer the user ever had, in first-seen order (Map keeps insertion order). */
  payers: Map<string, PayerState>;
  /**
   * Every lot with remaining > 0 or adjusted > 0, sorted by (ts, arrival). Lots with both 0 can
   * never matter again and may be absent.
   */
  lots: Lot[];
}

/** One lot's change within one command: the audit trail row (an allocation). */
export interface LotChange {
  arrival: bigint;
  payer: string;
  remainingDelta: bigint;
  adjustedDelta: bigint;
}

export type LedgerError =
  | { code: "not_enough_funds"; message: string; requested: bigint; available: bigint }
  | {
      code: "payer_points_insufficient";
      message: string;
      payer: string;
      requested: bigint;
      available: bigint;
    }
  | { code: "balance_limit_exceeded"; message: string };

export type Result<T> = { ok: true; value: T } | { ok: false; error: LedgerError };

/** Largest |points| of one transaction (contract rule 6): Number.MAX_SAFE_INTEGER. */
export const POINTS_MAX = 9007199254740991n;
/** Largest stored total: Postgres bigint. */
export const TOTAL_MAX = 2n ** 63n - 1n;

export interface EarnInput {
  payer: string;
  points: bigint;
  ts: number;
}

/** A negative transaction; `points` is the absolute value (> 0). */
export interface AdjustInput {
  payer: string;
  points: bigint;
  ts: number;
}

export interface SpendInput {
  points: bigint;
}

export interface PayerPoints {
  payer: string;
  points: bigint;
}

export interface EarnOutcome {
  /** A snapshot of the new lot after this earn (its remaining/adjusted already include any move). */
  lot: Lot;
  changes: LotChange[];
}

export interface AdjustOutcome {
  changes: LotChange[];
}

export interface SpendOutcome {
  changes: LotChange[];
  /** Points taken per payer (negative), in the order each payer was first touched. */
  byPayer: PayerPoints[];
}

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function rejected<T>(error: LedgerError): Result<T> {
  return { ok: false, error };
}
