import { assert } from "./assert";
import { insertLot } from "./lots";
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
  book.nextArrival += 1n;
  const index = insertLot(book.lots, lot);
  const state = known ?? addPayer(book, input.payer);
  state.available += input.points;
  book.total += input.points;
  // Most earns are stamped "now" for a payer without negatives: nothing to place again.
  const changes = state.adjusted > 0n ? placeNegativesAgain(book.lots, index, state.adjusted) : [];
  return ok({ lot: { ...lot }, changes });
}

function balanceLimitError(
  book: Book,
  state: PayerState | undefined,
  input: EarnInput,
): LedgerError | undefined {
  const payerHeld = state === undefined ? 0n : state.available + state.adjusted;
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
 * Moves up to the new lot's points of the payer's deductions from lots newer than it onto it,
 * releasing the newest adjusted lots first so what stays adjusted is the oldest part. Walks back
 * from the newest lot and stops once the new lot is full or every deduction of the payer has
 * been seen, so a lot stamped near "now" costs little. Returns the new lot's change first, then
 * the released lots, newest first.
 */
function placeNegativesAgain(lots: Lot[], index: number, payerAdjusted: bigint): LotChange[] {
  const lot = lots[index]!;
  const released: LotChange[] = [];
  let moved = 0n;
  for (let i = lots.length - 1; i > index && moved < lot.points && moved < payerAdjusted; i--) {
    const newer = lots[i]!;
    if (newer.payer !== lot.payer || newer.adjusted === 0n) continue;
    const take = minPoints(newer.adjusted, lot.points - moved);
    newer.adjusted -= take;
    newer.remaining += take;
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
