import { assert } from "./assert";
import { settleExpiry } from "./expiry";
import { Movements } from "./movements";
import { minPoints } from "./points";
import type { AdjustInput, AdjustOutcome, Book, LotChange, Result } from "./types";
import { ok, rejected } from "./types";

/**
 * A negative transaction: takes `points` from that payer's unspent points, oldest lot first, and
 * marks them adjusted (not spent), so an older lot of the payer arriving later can take the
 * deduction over. `ts` does not decide placement (rule 3 places by lots, not by the negative's
 * time); it is in the input for the record.
 */
export function adjust(book: Book, input: AdjustInput): Result<AdjustOutcome> {
  assert(input.points > 0n, `adjust points must be > 0 (the absolute value), got ${input.points}`);
  // Expired points count nowhere, so they are recorded first and cannot cover a negative.
  const expiry = settleExpiry(book, input.now);
  const state = book.payers.get(input.payer);
  const available = state?.available ?? 0n;
  if (state === undefined || available < input.points) {
    // The expiry recorded above is real whatever this command's fate: the shell may keep it.
    return rejected(
      {
        code: "payer_points_insufficient",
        message: `payer ${input.payer} has ${available} points for user ${book.userId}, ${input.points} requested`,
        payer: input.payer,
        requested: input.points,
        available,
      },
      expiry,
    );
  }

  const changes: LotChange[] = [];
  let left = input.points;
  for (let i = 0; left > 0n && i < book.lots.length; i++) {
    const lot = book.lots[i]!;
    if (lot.payer !== input.payer || lot.remaining === 0n) continue;
    const take = minPoints(lot.remaining, left);
    lot.remaining -= take;
    lot.adjusted += take;
    left -= take;
    changes.push({ arrival: lot.arrival, payer: lot.payer, remainingDelta: -take, adjustedDelta: take });
  }
  assert(left === 0n, `payer ${input.payer} available disagrees with its lots for user ${book.userId}`);
  state.available -= input.points;
  state.adjusted += input.points;
  book.total -= input.points;
  const moves = new Movements();
  moves.add(input.payer, "adjusted", input.points, input.now ?? null);
  return ok({ changes, movements: moves.list(), ...(expiry ? { expiry } : {}) });
}
