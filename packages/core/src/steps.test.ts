/**
 * Walks in bounded steps (steps.ts) decide exactly what the one-shot walk decides, whatever the
 * step size, and no step does more than its size of work (issue 12, bug 1: a spend across 60,000
 * lots is run by the ledger a few thousand lots at a time).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { AssertionError } from "./assert";
import { cloneBook, emptyBook } from "./book";
import { accepted, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { mergeChanges, mergeChangesSteps } from "./schedule";
import { spend, spendSteps } from "./spend";
import { ONE_STEP, type Steps } from "./steps";
import type { Book, LotChange } from "./types";

const RUNS = 300;
const PAYERS = ["A", "B", "C"] as const;
const NOW = 1_000;

type Seed =
  | { kind: "earn"; payer: string; points: bigint; ts: number; expiresAt: number | null }
  | { kind: "adjust"; payer: string; points: bigint; ts: number }
  | { kind: "spend"; points: bigint };

const payerArb = fc.constantFrom(...PAYERS);
// Narrow timestamps make ties (arrival decides) common; some lots expire before NOW.
const tsArb = fc.integer({ min: 0, max: 50 });
const seedArb: fc.Arbitrary<Seed> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("earn" as const),
      payer: payerArb,
      points: fc.bigInt({ min: 1n, max: 5n }),
      ts: tsArb,
      expiresAt: fc.option(fc.integer({ min: 60, max: 2_000 }), { nil: null }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("adjust" as const),
      payer: payerArb,
      points: fc.bigInt({ min: 1n, max: 5n }),
      ts: tsArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("spend" as const), points: fc.bigInt({ min: 1n, max: 8n }) }),
  },
);

/** A book of many small lots, some spent, some adjusted, some expiring before NOW. */
function bookOf(seeds: Seed[]): Book {
  const book = emptyBook("u1");
  for (const seed of seeds) {
    // Refusals (a negative or spend larger than the balance) just leave the book as it was.
    if (seed.kind === "earn") earn(book, { ...seed, now: seed.ts });
    else if (seed.kind === "adjust") adjust(book, { ...seed, now: seed.ts });
    else spend(book, { points: seed.points, now: 50 });
  }
  return book;
}

/** Runs every step, recording each step's work. */
function runCounting<T>(steps: Steps<T>): { result: T; steps: number[] } {
  const counts: number[] = [];
  for (;;) {
    const step = steps.next();
    if (step.done) return { result: step.value, steps: counts };
    counts.push(step.value);
  }
}

const lotsPerStepArb = fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 200 }));

describe("spendSteps", () => {
  it("decides as spend does, for any lots and step size, with no step past its size", () => {
    fc.assert(
      fc.property(
        fc.array(seedArb, { minLength: 1, maxLength: 120 }),
        fc.bigInt({ min: 1n, max: 400n }),
        lotsPerStepArb,
        fc.option(fc.constant(NOW), { nil: undefined }),
        (seeds, points, lotsPerStep, now) => {
          const oneShot = bookOf(seeds);
          const stepped = cloneBook(oneShot);
          const input = now === undefined ? { points } : { points, now };
          const expected = spend(oneShot, input);
          const { result, steps } = runCounting(spendSteps(stepped, input, lotsPerStep));
          expect(result).toEqual(expected);
          expect(snapshotOf(stepped)).toEqual(snapshotOf(oneShot));
          expect(stepped.nextExpiry).toEqual(oneShot.nextExpiry);
          for (const lots of steps) expect(lots).toBeLessThanOrEqual(lotsPerStep);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("walks 60,000 one-point lots in steps of the size asked", () => {
    const book = emptyBook("whale");
    for (let i = 0; i < 60_000; i++) accepted(earn(book, { payer: PAYERS[i % 3]!, points: 1n, ts: i }));
    const { result, steps } = runCounting(spendSteps(book, { points: 59_999n }, 4_096));
    expect(accepted(result).changes).toHaveLength(59_999);
    expect(book.lots).toHaveLength(1);
    // The walk (59,999 lots) and dropping the spent-out lots each take ceil(59,999 / 4,096) steps.
    expect(steps.length).toBeGreaterThanOrEqual(2 * Math.ceil(59_999 / 4_096) - 1);
    expect(Math.max(...steps)).toBe(4_096);
  });

  it.each([0, -1, 1.5, Number.NaN])("refuses a step size of %d lots", (lotsPerStep) => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 1n, ts: 0 }));
    expect(() => spendSteps(book, { points: 1n }, lotsPerStep).next()).toThrow(AssertionError);
  });
});

describe("mergeChangesSteps", () => {
  const changeArb: fc.Arbitrary<LotChange> = fc.record(
    {
      arrival: fc.bigInt({ min: 1n, max: 12n }),
      payer: payerArb,
      remainingDelta: fc.bigInt({ min: -5n, max: 5n }),
      adjustedDelta: fc.bigInt({ min: -5n, max: 5n }),
      heldDelta: fc.bigInt({ min: -5n, max: 5n }),
      expiredDelta: fc.bigInt({ min: 0n, max: 5n }),
    },
    { requiredKeys: ["arrival", "payer", "remainingDelta", "adjustedDelta"] },
  );

  it("merges as mergeChanges does, for any step size", () => {
    fc.assert(
      fc.property(fc.array(changeArb, { maxLength: 80 }), lotsPerStepArb, (changes, lotsPerStep) => {
        const { result, steps } = runCounting(mergeChangesSteps(changes, lotsPerStep));
        expect(result).toEqual(mergeChanges(changes));
        expect(runCounting(mergeChangesSteps(changes, ONE_STEP)).steps).toEqual([]);
        for (const lots of steps) expect(lots).toBeLessThanOrEqual(lotsPerStep);
      }),
      { numRuns: RUNS },
    );
  });
});
