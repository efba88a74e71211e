/**
 * A long walk in bounded steps. A spend may walk every lot a member has (60,000 one-point lots
 * spending 59,999, issue 12), and the shell that runs it must keep its event loop turning. So a
 * walk whose length the contract does not bound is a generator: it does at most `lotsPerStep`
 * lots of work, yields how many it did, and returns its result when done. The core stays pure: the
 * caller decides what happens between steps (the ledger gives its event loop a turn), and
 * `finish` runs every step at once, which is what the one-shot functions (spend, ...) do. The
 * result never depends on the step size.
 */
import { assert } from "./assert";

/** Yields the lots walked in each step (at most the step size); returns the walk's result. */
export type Steps<T> = Generator<number, T, void>;

/** No step boundary: the one-shot walk. */
export const ONE_STEP = Number.POSITIVE_INFINITY;

/** Runs every step of a walk at once and returns its result. */
export function finish<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** A step size is a positive whole number of lots, or ONE_STEP. */
export function assertStepSize(lotsPerStep: number): void {
  assert(
    lotsPerStep === ONE_STEP || (Number.isSafeInteger(lotsPerStep) && lotsPerStep > 0),
    `lots per step must be a positive integer, got ${lotsPerStep}`,
  );
}
