import { assert } from "./assert";
import { effectiveNow, settleExpiry } from "./expiry";
import { GiveBack } from "./give-back";
import { findLotIndex, isSettled } from "./lots";
import { Movements } from "./movements";
import { minPoints } from "./points";
import type { Book, ExpireOutcome, LedgerError, LotChange, Movement, PayerPoints, Result } from "./types";
import { ok, rejected, TOTAL_MAX } from "./types";

/**
 * Reversals (contract 6.2). The shell passes what it stored about the reversed entry; lots a
 * spend emptied are not kept in a book, so it admits them first (admitLots).
 */

/** One allocation of a spend-like entry: a lot it took from, in the order taken. */
export interface SpendTake {
  arrival: bigint;
  ts: number;
  payer: string;
  /** Points taken from the lot (> 0). */
  points: bigint;
  /** Points of this take given back by earlier reversals. */
  reversed: bigint;
}

export type ReversedEntry =
  /** A spend, a hold capture, or a wallet entry with amount < 0. */
  | { type: "spend"; takes: readonly SpendTake[] }
  /** A transaction or wallet entry with amount > 0: its lot, its points, reversed so far. */
  | { type: "earn"; arrival: bigint; ts: number; payer: string; points: bigint; reversed: bigint }
  | { type: "adjust" | "expire" | "use_item" | "reversal" };

export interface ReverseInput {
  entryId: string;
  entry: ReversedEntry;
  /** Default: all the entry has left to reverse. */
  points?: bigint;
  now: number;
}

export interface ReverseOutcome {
  /** The points reversed (> 0); the entry's amount is +points for a spend, -points for an earn. */
  points: bigint;
  changes: LotChange[];
  /** Per payer, in the order given back (spend: positive) or taken back (earn: negative). */
  byPayer: PayerPoints[];
  /** Spend reversals: what each take got back now, for the per-allocation `reversed` bookkeeping. */
  takesReversed: Array<{ arrival: bigint; points: bigint }>;
  movements: Movement[];
  /** Expiry that had fallen due before the reversal: an `expire` entry ahead of it. */
  expiry?: ExpireOutcome;
  /** Points that went back to lots expired meanwhile and expired again: an `expire` entry after it. */
  reexpired?: ExpireOutcome;
}

export function reverse(book: Book, input: ReverseInput): Result<ReverseOutcome> {
  const entry = input.entry;
  switch (entry.type) {
    case "spend":
      return reverseSpend(book, input, entry.takes);
    case "earn":
      return reverseEarn(book, input, entry);
    case "adjust":
    case "expire":
    case "use_item":
    case "reversal":
      return rejected({
        code: "not_reversible",
        message: `entry ${input.entryId} is of type ${entry.type}, which cannot be reversed`,
        entryType: entry.type,
      });
  }
}

function exceeds(input: ReverseInput, requested: bigint, reversible: bigint): LedgerError {
  return {
    code: "reversal_exceeds_entry",
    message: `entry ${input.entryId} has ${reversible} points left to reverse, ${requested} requested`,
    requested,
    reversible,
  };
}

/** Gives points back, last-taken first, so the lots end as if the spend had been smaller. */
function reverseSpend(book: Book, input: ReverseInput, takes: readonly SpendTake[]): Result<ReverseOutcome> {
  let reversible = 0n;
  for (const take of takes) {
    assert(
      take.points > 0n && take.reversed >= 0n && take.reversed <= take.points,
      `bad take of lot ${take.arrival}`,
    );
    reversible += take.points - take.reversed;
  }
  const requested = input.points ?? reversible;
  assert(requested >= 0n, `reversal points must be > 0, got ${requested}`);
  if (requested === 0n || requested > reversible) return rejected(exceeds(input, requested, reversible));
  // Earns since the spend may have filled the balance: giving points back must not overflow it.
  if (book.total + requested > TOTAL_MAX) {
    return rejected({
      code: "balance_limit_exceeded",
      message: `giving back ${requested} points would push the balance of user ${book.userId} past ${TOTAL_MAX}`,
    });
  }
  const expiry = settleExpiry(book, input.now);
  const at = effectiveNow(book, input.now);
  const giveBack = new GiveBack(book, at);
  const moves = new Movements();
  const byPayer = new Map<string, bigint>();
  const takesReversed: ReverseOutcome["takesReversed"] = [];
  let left = requested;
  for (let i = takes.length - 1; i >= 0 && left > 0n; i--) {
    const take = takes[i]!;
    const give = minPoints(take.points - take.reversed, left);
    if (give === 0n) continue;
    giveBack.give(take, give, "spent");
    left -= give;
    takesReversed.push({ arrival: take.arrival, points: give });
    byPayer.set(take.payer, (byPayer.get(take.payer) ?? 0n) + give);
    moves.add(take.payer, "spend_reversed", give, at);
  }
  assert(left === 0n, "spend reversal did not place every point");
  const reexpired = giveBack.finish();
  return ok({
    points: requested,
    changes: giveBack.changes,
    byPayer: [...byPayer].map(([payer, points]) => ({ payer, points })),
    takesReversed,
    movements: moves.list(),
    ...(expiry ? { expiry } : {}),
    ...(reexpired ? { reexpired } : {}),
  });
}

type EarnEntry = Extract<ReversedEntry, { type: "earn" }>;

/**
 * Takes back an earn: first that lot's unspent points, then, for what was already spent of it,
 * the same payer's other unspent points, oldest first. What of the lot expired is gone: the
 * limit is points - reversed - expired. Deductions on the lot stay (the payer's total is what
 * counts for rule 3; the points they sit on are not unspent).
 */
function reverseEarn(book: Book, input: ReverseInput, entry: EarnEntry): Result<ReverseOutcome> {
  const expiry = settleExpiry(book, input.now);
  const at = effectiveNow(book, input.now);
  // The shell admits the earn's lot (admitLots) even when it is spent out: its expired part counts.
  const index = findLotIndex(book.lots, entry);
  assert(
    index >= 0,
    `lot ${entry.arrival} of earn ${input.entryId} is missing from the book of ${book.userId}`,
  );
  const lot = book.lots[index]!;
  const expired = lot.expired ?? 0n;
  assert(
    entry.reversed >= 0n && entry.reversed <= entry.points,
    `earn ${input.entryId} reversed more than it earned`,
  );
  // Below 0 when points of an earn already reversed in full (from other lots) came back to its
  // lot by a spend reversal and expired there: nothing is left to reverse.
  const unreversed = entry.points - entry.reversed - expired;
  const reversible = unreversed > 0n ? unreversed : 0n;
  const requested = input.points ?? reversible;
  if (requested === 0n || requested > reversible)
    return rejected(exceeds(input, requested, reversible), expiry);
  const state = book.payers.get(entry.payer);
  const available = state?.available ?? 0n;
  if (state === undefined || available < requested) {
    return rejected(
      {
        code: "payer_points_insufficient",
        message: `payer ${entry.payer} has ${available} unspent points for user ${book.userId}; reversing ${requested} needs them`,
        payer: entry.payer,
        requested,
        available,
      },
      expiry,
    );
  }
  const changes: LotChange[] = [];
  let left = requested;
  if (lot.remaining > 0n) left -= takeBack(lot, minPoints(lot.remaining, left), changes);
  for (let i = 0; left > 0n && i < book.lots.length; i++) {
    const other = book.lots[i]!;
    if (other.payer !== entry.payer || other.remaining === 0n || other === lot) continue;
    left -= takeBack(other, minPoints(other.remaining, left), changes);
  }
  assert(left === 0n, `payer ${entry.payer} available disagrees with its lots for user ${book.userId}`);
  state.available -= requested;
  book.total -= requested;
  dropSettledLots(book);
  const moves = new Movements();
  moves.add(entry.payer, "earn_reversed", requested, at);
  return ok({
    points: requested,
    changes,
    byPayer: [{ payer: entry.payer, points: -requested }],
    takesReversed: [],
    movements: moves.list(),
    ...(expiry ? { expiry } : {}),
  });
}

function takeBack(
  lot: { arrival: bigint; payer: string; remaining: bigint; reversed?: bigint },
  points: bigint,
  changes: LotChange[],
): bigint {
  lot.remaining -= points;
  lot.reversed = (lot.reversed ?? 0n) + points;
  changes.push({
    arrival: lot.arrival,
    payer: lot.payer,
    remainingDelta: -points,
    adjustedDelta: 0n,
    reversedDelta: points,
  });
  return points;
}

/** Reversals touch few lots; dropping the emptied ones keeps the book's "unsettled only" shape. */
function dropSettledLots(book: Book): void {
  if (book.lots.some(isSettled)) book.lots = book.lots.filter((lot) => !isSettled(lot));
}
