import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { AssertionError } from "./assert";
import { balances, bookProblems, emptyBook } from "./book";
import { accepted, at, balanceObject, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { spend } from "./spend";
import type { Book } from "./types";

type Transaction = { payer: string; points: bigint; timestamp: string };

const SORTED: Transaction[] = [
  { payer: "DANNON", points: 300n, timestamp: "2022-10-31T10:00:00Z" },
  { payer: "UNILEVER", points: 200n, timestamp: "2022-10-31T11:00:00Z" },
  { payer: "DANNON", points: -200n, timestamp: "2022-10-31T15:00:00Z" },
  { payer: "MILLER COORS", points: 10000n, timestamp: "2022-11-01T14:00:00Z" },
  { payer: "DANNON", points: 1000n, timestamp: "2022-11-02T14:00:00Z" },
];
const EXERCISE_ORDER: Transaction[] = [4, 1, 2, 3, 0].map((i) => SORTED[i]!);

function apply(book: Book, { payer, points, timestamp }: Transaction): void {
  const ts = at(timestamp);
  if (points > 0n) accepted(earn(book, { payer, points, ts }));
  else accepted(adjust(book, { payer, points: -points, ts }));
}

describe("spend", () => {
  it.each([
    { order: "sorted by time", transactions: SORTED },
    { order: "as the original exercise sends them", transactions: EXERCISE_ORDER },
  ])("gives the canonical example's result with transactions $order", ({ transactions }) => {
    const book = emptyBook("u1");
    for (const transaction of transactions) apply(book, transaction);
    const { byPayer } = accepted(spend(book, { points: 5000n }));
    expect(byPayer).toEqual([
      { payer: "DANNON", points: -100n },
      { payer: "UNILEVER", points: -200n },
      { payer: "MILLER COORS", points: -4700n },
    ]);
    expect(balanceObject(book)).toEqual({ DANNON: 1000n, UNILEVER: 0n, "MILLER COORS": 5300n });
    expect(bookProblems(book)).toEqual([]);
  });

  it("takes lots oldest first across payers and reports each lot it consumed", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 10n, ts: 30 })); // arrival 1
    accepted(earn(book, { payer: "B", points: 20n, ts: 10 })); // arrival 2
    accepted(earn(book, { payer: "C", points: 30n, ts: 20 })); // arrival 3
    const { changes, byPayer } = accepted(spend(book, { points: 35n }));
    expect(changes).toEqual([
      { arrival: 2n, payer: "B", remainingDelta: -20n, adjustedDelta: 0n },
      { arrival: 3n, payer: "C", remainingDelta: -15n, adjustedDelta: 0n },
    ]);
    expect(byPayer).toEqual([
      { payer: "B", points: -20n },
      { payer: "C", points: -15n },
    ]);
    expect(balances(book)).toEqual([
      { payer: "A", points: 10n },
      { payer: "B", points: 0n },
      { payer: "C", points: 15n },
    ]);
    expect(book.total).toBe(25n);
  });

  it("takes equal timestamps in arrival order", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "B", points: 5n, ts: 10 }));
    accepted(earn(book, { payer: "A", points: 5n, ts: 10 }));
    accepted(earn(book, { payer: "C", points: 5n, ts: 10 }));
    expect(accepted(spend(book, { points: 7n })).byPayer).toEqual([
      { payer: "B", points: -5n },
      { payer: "A", points: -2n },
    ]);
  });

  it("sums a payer touched twice at the place it was first touched", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 5n, ts: 1 }));
    accepted(earn(book, { payer: "B", points: 5n, ts: 2 }));
    accepted(earn(book, { payer: "A", points: 5n, ts: 3 }));
    expect(accepted(spend(book, { points: 12n })).byPayer).toEqual([
      { payer: "A", points: -7n },
      { payer: "B", points: -5n },
    ]);
  });

  it("lets a late old lot take part in later spends without rewriting earlier ones", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "NEW", points: 100n, ts: 50 }));
    const first = accepted(spend(book, { points: 30n }));
    accepted(earn(book, { payer: "OLD", points: 40n, ts: 10 }));
    const second = accepted(spend(book, { points: 50n }));
    expect(first.byPayer).toEqual([{ payer: "NEW", points: -30n }]);
    expect(second.byPayer).toEqual([
      { payer: "OLD", points: -40n },
      { payer: "NEW", points: -10n },
    ]);
    expect(balanceObject(book)).toEqual({ NEW: 60n, OLD: 0n });
  });

  it("accepts spending exactly the total, and drops spent-out lots", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 5n, ts: 1 }));
    accepted(earn(book, { payer: "B", points: 5n, ts: 2 }));
    accepted(spend(book, { points: 10n }));
    expect(book.total).toBe(0n);
    expect(book.lots).toEqual([]);
    expect(balances(book)).toEqual([
      { payer: "A", points: 0n },
      { payer: "B", points: 0n },
    ]);
  });

  it("keeps a spent-out lot that still carries a deduction, and leaves its adjusted alone", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 10n, ts: 1 }));
    accepted(earn(book, { payer: "A", points: 10n, ts: 2 }));
    accepted(adjust(book, { payer: "A", points: 4n, ts: 3 }));
    const { changes } = accepted(spend(book, { points: 16n }));
    expect(changes.every((change) => change.adjustedDelta === 0n)).toBe(true);
    expect(book.lots.map((lot) => [lot.ts, lot.remaining, lot.adjusted])).toEqual([[1, 0n, 4n]]);
    expect(book.payers.get("A")).toEqual({ available: 0n, adjusted: 4n });
  });

  it.each([
    { name: "an empty book", earned: [], points: 1n, available: 0n },
    { name: "one point more than the total", earned: [10n, 5n], points: 16n, available: 15n },
  ])(
    "rejects a spend beyond $name with not_enough_funds and changes nothing",
    ({ earned, points, available }) => {
      const book = emptyBook("u1");
      for (const [i, earnPoints] of earned.entries()) {
        accepted(earn(book, { payer: `P${i}`, points: earnPoints, ts: i }));
      }
      const before = snapshotOf(book);
      expect(spend(book, { points })).toEqual({
        ok: false,
        error: { code: "not_enough_funds", message: expect.any(String), requested: points, available },
      });
      expect(snapshotOf(book)).toEqual(before);
    },
  );

  it("does not count adjusted points as funds", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 10n, ts: 1 }));
    accepted(adjust(book, { payer: "A", points: 4n, ts: 2 }));
    expect(spend(book, { points: 7n })).toMatchObject({
      ok: false,
      error: { code: "not_enough_funds", available: 6n },
    });
  });

  it.each([0n, -3n])("asserts on points %s", (points) => {
    expect(() => spend(emptyBook("u1"), { points })).toThrow(AssertionError);
  });
});
