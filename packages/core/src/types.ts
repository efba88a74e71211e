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
  /**
   * Lifecycle fields (contract section 6). Optional so books built before them still work:
   * absent means null / 0. `expiresAt`: the instant (epoch ms) the lot's unspent points expire,
   * already max(expires_at, applied instant); null = never.
   */
  expiresAt?: number | null;
  /** In open holds: out of the balance, not spent, and not expiring while held. */
  held?: bigint;
  /** Expired (final: never revived). */
  expired?: bigint;
  /** Taken back by earn reversals (of this lot's earn or, for what was spent of another, this payer's). */
  reversed?: bigint;
}

/**
 * available = sum(remaining) of the payer's lots; adjusted = sum(adjusted) = accepted negatives
 * (those frozen on expired lots included); held = sum(held).
 */
export interface PayerState {
  available: bigint;
  adjusted: bigint;
  held?: bigint;
}

/** A hold's take from one lot, in the order taken (oldest lot first). */
export interface HoldTake {
  arrival: bigint;
  ts: number;
  payer: string;
  points: bigint;
}

export type HoldStatus = "held" | "captured" | "voided" | "expired";

export interface Hold {
  holdId: string;
  /** Points held (> 0). */
  points: bigint;
  takes: HoldTake[];
  /** Epoch ms; at or after it the hold can only be expired. */
  expiresAt: number;
  status: HoldStatus;
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
  /**
   * Expiry has been recorded for every lot with expiresAt <= expiredThrough (epoch ms). A lot is
   * expired for the core iff its expiresAt <= max(now, expiredThrough). Absent: nothing recorded.
   */
  expiredThrough?: number;
  /**
   * A lower bound on the expiresAt of every lot with remaining > 0 (null: none expires), so
   * "is anything due?" costs O(1). Absent: unknown, computed by one pass on first use.
   */
  nextExpiry?: number | null;
  /** The user's open holds (status "held"), by hold id. Absent: none. */
  holds?: Map<string, Hold>;
}

/** One lot's change within one command: the audit trail row (an allocation). */
export interface LotChange {
  arrival: bigint;
  payer: string;
  remainingDelta: bigint;
  adjustedDelta: bigint;
  /** Lifecycle deltas, present only when non-zero. */
  heldDelta?: bigint;
  expiredDelta?: bigint;
  reversedDelta?: bigint;
}

/**
 * What the accounting reports count (contract section 7), per payer. `points` is the change of
 * that figure (> 0, except `held`, which is signed: placed +, released or captured -).
 */
export type MovementCategory =
  | "earned"
  | "adjusted"
  | "spent"
  | "spend_reversed"
  | "earn_reversed"
  | "expired"
  | "held";

export interface Movement {
  payer: string;
  category: MovementCategory;
  points: bigint;
  /**
   * The instant it counts at (epoch ms): the applied instant, except `expired`, which counts at
   * the instant the points expired. null only when a legacy caller gave no `now`.
   */
  at: number | null;
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
  | { code: "balance_limit_exceeded"; message: string }
  | { code: "reversal_exceeds_entry"; message: string; requested: bigint; reversible: bigint }
  | { code: "not_reversible"; message: string; entryType: string }
  | { code: "hold_not_active"; message: string; holdId: string; status: HoldStatus | "unknown" };

export type LedgerErrorCode = LedgerError["code"];

/**
 * A rejection changes nothing, except that expiry which had fallen due is recorded first by
 * commands given a `now` (expired points count nowhere): then `expiry` says what to write.
 */
export type Result<T> = { ok: true; value: T } | { ok: false; error: LedgerError; expiry?: ExpireOutcome };

/** Largest |points| of one transaction (contract rule 6): Number.MAX_SAFE_INTEGER. */
export const POINTS_MAX = 9007199254740991n;
/** Largest stored total: Postgres bigint. */
export const TOTAL_MAX = 2n ** 63n - 1n;

export interface EarnInput {
  payer: string;
  points: bigint;
  ts: number;
  /** Epoch ms, > ts; null/absent = never. Needs `now`. */
  expiresAt?: number | null;
  /** The applied instant (epoch ms). Lifecycle-aware callers always pass it. */
  now?: number;
}

/** A negative transaction; `points` is the absolute value (> 0). */
export interface AdjustInput {
  payer: string;
  points: bigint;
  ts: number;
  now?: number;
}

export interface SpendInput {
  points: bigint;
  now?: number;
}

export interface PayerPoints {
  payer: string;
  points: bigint;
}

/**
 * Expiry recorded by a command before its own change (only when `now` was given and something
 * had fallen due): the shell writes it as an `expire` entry ahead of the command's entry.
 */
export interface ExpireOutcome {
  changes: LotChange[];
  /** Points expired per payer (negative), in the order expired (lot order). */
  byPayer: PayerPoints[];
  movements: Movement[];
}

export interface EarnOutcome {
  /** A snapshot of the new lot after this earn (its remaining/adjusted already include any move). */
  lot: Lot;
  changes: LotChange[];
  movements: Movement[];
  expiry?: ExpireOutcome;
}

export interface AdjustOutcome {
  changes: LotChange[];
  movements: Movement[];
  expiry?: ExpireOutcome;
}

export interface SpendOutcome {
  changes: LotChange[];
  /** Points taken per payer (negative), in the order each payer was first touched. */
  byPayer: PayerPoints[];
  movements: Movement[];
  expiry?: ExpireOutcome;
}

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function rejected<T>(error: LedgerError, expiry?: ExpireOutcome): Result<T> {
  return expiry === undefined ? { ok: false, error } : { ok: false, error, expiry };
}
