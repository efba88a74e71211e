import { assert } from "./assert";
import { settleExpiry } from "./expiry";
import { isSettled } from "./lots";
import { Movements } from "./movements";
import { minPoints } from "./points";
import type { Book, Lot, LotChange, Result, SpendInput, SpendOutcome } from "./types";
import { ok, rejected } from "./types";

/**
 * Spends `points` across all payers, oldest lot first by (ts, arrival). Only remaining points are
 * taken; adjusted points belong to the payer's negatives and are never spent.
 */
export function spend(book: Book, input: SpendInput): Result<SpendOutcome> {
  assert(input.points > 0n, `spend points must be > 0, got ${input.points}`);
  const expiry = settleExpiry(book, input.now);
  if (book.total < input.points) {
    return rejected(
      {
        code: "not_enough_funds",
        message: `user ${book.userId} has ${book.total} points, ${input.points} requested`,
        requested: input.points,
        available: book.total,
      },
      expiry,
    );
  }

  const { changes, taken } = takeOldestFirst(book, input.points, "spend");
  book.total -= input.points;
  const moves = new Movements();
  for (const [payer, points] of taken) moves.add(payer, "spent", points, input.now ?? null);
  const byPayer = [...taken].map(([payer, points]) => ({ payer, points: -points }));
  return ok({ changes, byPayer, movements: moves.list(), ...(expiry ? { expiry } : {}) });
}

/**
 * Takes `points` of remaining, oldest lot first, into spent (a spend) or held (a hold), and
 * lowers the payer sums. The caller has checked the total covers it and lowers the total.
 */
export function takeOldestFirst(
  book: Book,
  points: bigint,
  into: "spend" | "hold",
): { changes: LotChange[]; taken: Map<string, bigint> } {
  const changes: LotChange[] = [];
  // Map keeps insertion order: the order each payer was first touched.
  const taken = new Map<string, bigint>();
  let left = points;
  let end = 0;
  for (; left > 0n; end++) {
    const lot = book.lots[end];
    assert(lot !== undefined, `total of user ${book.userId} disagrees with its lots`);
    if (lot.remaining === 0n) continue;
    const take = minPoints(lot.remaining, left);
    lot.remaining -= take;
    left -= take;
    const change: LotChange = {
      arrival: lot.arrival,
      payer: lot.payer,
      remainingDelta: -take,
      adjustedDelta: 0n,
    };
    if (into === "hold") {
      lot.held = (lot.held ?? 0n) + take;
      change.heldDelta = take;
    }
    changes.push(change);
    taken.set(lot.payer, (taken.get(lot.payer) ?? 0n) + take);
  }
  dropSettled(book.lots, end);

  for (const [payer, points] of taken) {
    const state = book.payers.get(payer);
    assert(state !== undefined, `lot payer ${payer} is missing from the payers of user ${book.userId}`);
    state.available -= points;
    if (into === "hold") state.held = (state.held ?? 0n) + points;
  }
  return { changes, taken };
}

/** Removes spent-out lots among the first `end` (the ones a spend walked), keeping the order. */
function dropSettled(lots: Lot[], end: number): void {
  let kept = 0;
  for (let i = 0; i < end; i++) {
    const lot = lots[i]!;
    if (!isSettled(lot)) lots[kept++] = lot;
  }
  if (kept < end) lots.splice(kept, end - kept);
}
