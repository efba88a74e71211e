import { assert } from "./assert";
import { effectiveNow, lotExpiry, noteExpiry, settleExpiry } from "./expiry";
import { insertLot, isExpiredAt } from "./lots";
import { Movements } from "./movements";
import { minPoints } from "./points";
import type { Book, EarnInput, EarnOutcome, LedgerError, Lot, LotChange, PayerState, Result } from "./types";
import { ok, rejected, TOTAL_MAX } from "./types";

/**
 * Adds a lot for `payer`. If the payer has accepted negatives sitting on lots newer than this
 * one, they move onto this lot (contract rule 3: negatives sit on the payer's oldest unspent
 * points), so the outcome does not depend on the order earns and negatives arrive in.
 */
export function earn(book: Book, input: EarnInput): Result<EarnOutcome> {
  assert(input.points > 0n, `earn points must be > 0, got ${input.points}`);
  assert(Number.isSafeInteger(input.ts), `earn ts must be integer epoch milliseconds, got ${input.ts}`);
  assert(
    input.expiresAt === undefined || input.expiresAt === null || input.now !== undefined,
    "an earn with expiresAt needs now",
  );
  const known = book.payers.get(input.payer);
  const limitError = balanceLimitError(book, known, input);
  if (limitError !== undefined) return rejected(limitError);

  const lot: Lot = {
    arrival: book.nextArrival,
    payer: input.payer,
    ts: input.ts,
    points: input.points,
    remaining: input.points,
    adjusted: 0n,
  };
  const at = input.now === undefined ? undefined : effectiveNow(book, input.now);
  if (at !== undefined) lot.expiresAt = lotExpiry(input.expiresAt, at);
  book.nextArrival += 1n;
  const index = insertLot(book.lots, lot);
  const state = known ?? addPayer(book, input.payer);
  state.available += input.points;
  book.total += input.points;
  noteExpiry(book, lot);
  // Most earns are stamped "now" for a payer without negatives: nothing to place again. A lot
  // born expired (expires_at already past) never takes a deduction over (contract 6.1).
  const bornExpired = at !== undefined && isExpiredAt(lot, at);
  const changes =
    state.adjusted > 0n && !bornExpired
      ? placeNegativesAgain(book, index, state.adjusted, at ?? book.expiredThrough)
      : [];
  const moves = new Movements();
  moves.add(lot.payer, "earned", lot.points, at ?? null);
  const snapshot = { ...lot };
  const expiry = settleExpiry(book, at);
  return ok({ lot: snapshot, changes, movements: moves.list(), ...(expiry ? { expiry } : {}) });
}

function balanceLimitError(
  book: Book,
  state: PayerState | undefined,
  input: EarnInput,
): LedgerError | undefined {
  const payerHeld = state === undefined ? 0n : state.available + state.adjusted + (state.held ?? 0n);
  if (book.total + input.points <= TOTAL_MAX && payerHeld + input.points <= TOTAL_MAX) return undefined;
  return {
    code: "balance_limit_exceeded",
    message: `earning ${input.points} points from ${input.payer} would push the balance of user ${book.userId} past ${TOTAL_MAX}`,
  };
}

function addPayer(book: Book, payer: string): PayerState {
  const state: PayerState = { available: 0n, adjusted: 0n };
  book.payers.set(payer, state);
  return state;
}

/**
 * Moves up to the lot's remaining points of the payer's deductions from lots newer than it onto
 * it, releasing the newest adjusted lots first so what stays adjusted is the oldest part. Walks
 * back from the newest lot and stops once the lot is full or every deduction of the payer has
 * been seen, so a lot stamped near "now" costs little. Deductions on expired lots stay where they
 * are (contract 6.1). Returns the lot's change first, then the released lots, newest first.
 * Used by earns (a new lot) and by points given back to a lot (reversals, hold releases).
 */
export function placeNegativesAgain(
  book: Book,
  index: number,
  payerAdjusted: bigint,
  now: number | undefined,
): LotChange[] {
  const lots = book.lots;
  const lot = lots[index]!;
  const released: LotChange[] = [];
  const room = lot.remaining;
  let moved = 0n;
  for (let i = lots.length - 1; i > index && moved < room && moved < payerAdjusted; i--) {
    const newer = lots[i]!;
    if (newer.payer !== lot.payer || newer.adjusted === 0n) continue;
    if (now !== undefined && isExpiredAt(newer, now)) continue;
    const take = minPoints(newer.adjusted, room - moved);
    newer.adjusted -= take;
    newer.remaining += take;
    // The newer lot has unspent points again: its expiry must bound the book's next one, or
    // the scheduler and balancesAt(past instant) would miss it (found by the day-snapshot property).
    noteExpiry(book, newer);
    moved += take;
    released.push({ arrival: newer.arrival, payer: newer.payer, remainingDelta: take, adjustedDelta: -take });
  }
  if (moved === 0n) return [];
  // The payer's available is unchanged: remaining only moved between its lots.
  lot.remaining -= moved;
  lot.adjusted += moved;
  const own: LotChange = {
    arrival: lot.arrival,
    payer: lot.payer,
    remainingDelta: -moved,
    adjustedDelta: moved,
  };
  return [own, ...released];
}
