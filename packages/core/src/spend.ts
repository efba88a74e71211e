import { assert } from "./assert";
import { settleExpiry } from "./expiry";
import { isSettled } from "./lots";
import { Movements } from "./movements";
import { minPoints } from "./points";
import { assertStepSize, finish, ONE_STEP, type Steps } from "./steps";
import type { Book, Lot, LotChange, Result, SpendInput, SpendOutcome } from "./types";
import { ok, rejected } from "./types";

/**
 * Spends `points` across all payers, oldest lot first by (ts, arrival). Only remaining points are
 * taken; adjusted points belong to the payer's negatives and are never spent.
 */
export function spend(book: Book, input: SpendInput): Result<SpendOutcome> {
  return finish(spendSteps(book, input, ONE_STEP));
}

/**
 * The spend as bounded steps (steps.ts): at most `lotsPerStep` lots walked per step, the same
 * outcome and book as `spend`. Between steps the book is half-walked: nothing else may touch it.
 */
export function* spendSteps(book: Book, input: SpendInput, lotsPerStep: number): Steps<Result<SpendOutcome>> {
  assert(input.points > 0n, `spend points must be > 0, got ${input.points}`);
  assertStepSize(lotsPerStep);
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

  const { changes, taken } = yield* takeOldestFirstSteps(book, input.points, "spend", lotsPerStep);
  book.total -= input.points;
  const moves = new Movements();
  for (const [payer, points] of taken) moves.add(payer, "spent", points, input.now ?? null);
  const byPayer = [...taken].map(([payer, points]) => ({ payer, points: -points }));
  return ok({ changes, byPayer, movements: moves.list(), ...(expiry ? { expiry } : {}) });
}

interface Taken {
  changes: LotChange[];
  /** Points taken per payer, in the order each payer was first touched (Map insertion order). */
  taken: Map<string, bigint>;
}

/**
 * Takes `points` of remaining, oldest lot first, into spent (a spend) or held (a hold), and
 * lowers the payer sums. The caller has checked the total covers it and lowers the total.
 */
export function takeOldestFirst(book: Book, points: bigint, into: "spend" | "hold"): Taken {
  return finish(takeOldestFirstSteps(book, points, into, ONE_STEP));
}

function* takeOldestFirstSteps(
  book: Book,
  points: bigint,
  into: "spend" | "hold",
  lotsPerStep: number,
): Steps<Taken> {
  const changes: LotChange[] = [];
  const taken = new Map<string, bigint>();
  let left = points;
  let end = 0;
  let walked = 0;
  for (; left > 0n; end++) {
    if (walked === lotsPerStep) {
      yield walked;
      walked = 0;
    }
    walked += 1;
    const lot = book.lots[end];
    assert(lot !== undefined, `total of user ${book.userId} disagrees with its lots`);
    if (lot.remaining === 0n) continue;
    const take = minPoints(lot.remaining, left);
    left -= take;
    changes.push(takeFrom(lot, take, into));
    taken.set(lot.payer, (taken.get(lot.payer) ?? 0n) + take);
  }
  if (walked > 0) yield walked;
  yield* dropSettledSteps(book.lots, end, lotsPerStep);

  for (const [payer, points] of taken) {
    const state = book.payers.get(payer);
    assert(state !== undefined, `lot payer ${payer} is missing from the payers of user ${book.userId}`);
    state.available -= points;
    if (into === "hold") state.held = (state.held ?? 0n) + points;
  }
  return { changes, taken };
}

/** Moves `take` of the lot's remaining into spent or held, and says so as a lot change. */
function takeFrom(lot: Lot, take: bigint, into: "spend" | "hold"): LotChange {
  lot.remaining -= take;
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
  return change;
}

/** Removes spent-out lots among the first `end` (the ones a spend walked), keeping the order. */
function* dropSettledSteps(lots: Lot[], end: number, lotsPerStep: number): Steps<void> {
  let kept = 0;
  for (let i = 0; i < end; i++) {
    if (i > 0 && i % lotsPerStep === 0) yield lotsPerStep;
    const lot = lots[i]!;
    if (!isSettled(lot)) lots[kept++] = lot;
  }
  if (kept < end) lots.splice(kept, end - kept);
}
