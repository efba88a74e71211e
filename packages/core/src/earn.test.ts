import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { AssertionError } from "./assert";
import { balances, bookProblems, emptyBook } from "./book";
import { accepted, lotViews, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { nextDue } from "./schedule";
import { spend } from "./spend";
import { POINTS_MAX, TOTAL_MAX } from "./types";

describe("earn", () => {
  it("adds a lot with the next arrival and a new payer", () => {
    const book = emptyBook("u1");
    const first = accepted(earn(book, { payer: "A", points: 10n, ts: 5 }));
    const second = accepted(earn(book, { payer: "B", points: 7n, ts: 6 }));
    expect(first.lot).toEqual({ arrival: 1n, payer: "A", ts: 5, points: 10n, remaining: 10n, adjusted: 0n });
    expect(second.lot.arrival).toBe(2n);
    expect(first.changes).toEqual([]);
    expect(book.nextArrival).toBe(3n);
    expect(book.total).toBe(17n);
    expect(balances(book)).toEqual([
      { payer: "A", points: 10n },
      { payer: "B", points: 7n },
    ]);
    expect(bookProblems(book)).toEqual([]);
  });

  it("returns a snapshot of the lot, not the live book entry", () => {
    const book = emptyBook("u1");
    const { lot } = accepted(earn(book, { payer: "A", points: 10n, ts: 5 }));
    accepted(spend(book, { points: 4n }));
    expect(lot.remaining).toBe(10n);
  });

  it.each([
    { name: "newest lot appended", order: [1, 2, 3], expected: [1, 2, 3] },
    { name: "older lot inserted before newer ones", order: [3, 1, 2], expected: [1, 2, 3] },
    { name: "oldest lot arrives last", order: [2, 3, 1], expected: [1, 2, 3] },
  ])("keeps lots in timestamp order: $name", ({ order, expected }) => {
    const book = emptyBook("u1");
    for (const ts of order) accepted(earn(book, { payer: "A", points: 1n, ts }));
    expect(book.lots.map((lot) => lot.ts)).toEqual(expected);
  });

  it("puts a lot with an equal timestamp after the ones that arrived before it", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 1n, ts: 10 }));
    accepted(earn(book, { payer: "B", points: 1n, ts: 10 }));
    accepted(earn(book, { payer: "C", points: 1n, ts: 5 }));
    accepted(earn(book, { payer: "D", points: 1n, ts: 10 }));
    expect(book.lots.map((lot) => lot.payer)).toEqual(["C", "A", "B", "D"]);
  });

  describe("placing a payer's negatives again (contract rule 3)", () => {
    it("moves a deduction onto an older lot that arrives later", () => {
      const book = emptyBook("u1");
      accepted(earn(book, { payer: "A", points: 1000n, ts: 50 }));
      accepted(adjust(book, { payer: "A", points: 200n, ts: 60 }));
      const { lot, changes } = accepted(earn(book, { payer: "A", points: 300n, ts: 10 }));
      expect(lot).toMatchObject({ arrival: 2n, remaining: 100n, adjusted: 200n });
      expect(changes).toEqual([
        { arrival: 2n, payer: "A", remainingDelta: -200n, adjustedDelta: 200n },
        { arrival: 1n, payer: "A", remainingDelta: 200n, adjustedDelta: -200n },
      ]);
      expect(lotViews(book)).toEqual([
        { payer: "A", ts: 10, points: 300n, remaining: 100n, adjusted: 200n },
        { payer: "A", ts: 50, points: 1000n, remaining: 1000n, adjusted: 0n },
      ]);
      expect(book.payers.get("A")).toEqual({ available: 1100n, adjusted: 200n });
      expect(book.total).toBe(1100n);
      expect(bookProblems(book)).toEqual([]);
    });

    it("moves only what the older lot holds, releasing the newest adjusted lots first", () => {
      const book = emptyBook("u1");
      accepted(earn(book, { payer: "A", points: 100n, ts: 20 })); // arrival 1
      accepted(earn(book, { payer: "A", points: 100n, ts: 30 })); // arrival 2
      accepted(adjust(book, { payer: "A", points: 150n, ts: 40 })); // 100 on #1, 50 on #2
      const { changes } = accepted(earn(book, { payer: "A", points: 70n, ts: 10 }));
      expect(changes).toEqual([
        { arrival: 3n, payer: "A", remainingDelta: -70n, adjustedDelta: 70n },
        { arrival: 2n, payer: "A", remainingDelta: 50n, adjustedDelta: -50n },
        { arrival: 1n, payer: "A", remainingDelta: 20n, adjustedDelta: -20n },
      ]);
      expect(lotViews(book).map((lot) => [lot.ts, lot.remaining, lot.adjusted])).toEqual([
        [10, 0n, 70n],
        [20, 20n, 80n],
        [30, 100n, 0n],
      ]);
      expect(bookProblems(book)).toEqual([]);
    });

    it("moves nothing from lots older than the new one", () => {
      const book = emptyBook("u1");
      accepted(earn(book, { payer: "A", points: 100n, ts: 10 }));
      accepted(adjust(book, { payer: "A", points: 40n, ts: 11 }));
      const { lot, changes } = accepted(earn(book, { payer: "A", points: 50n, ts: 20 }));
      expect(changes).toEqual([]);
      expect(lot).toMatchObject({ remaining: 50n, adjusted: 0n });
    });

    it("treats an equal timestamp as newer (arrival breaks the tie)", () => {
      const book = emptyBook("u1");
      accepted(earn(book, { payer: "A", points: 100n, ts: 10 }));
      accepted(adjust(book, { payer: "A", points: 40n, ts: 11 }));
      expect(accepted(earn(book, { payer: "A", points: 50n, ts: 10 })).changes).toEqual([]);
    });

    it("never moves another payer's deduction", () => {
      const book = emptyBook("u1");
      accepted(earn(book, { payer: "A", points: 100n, ts: 10 }));
      accepted(adjust(book, { payer: "A", points: 40n, ts: 11 }));
      expect(accepted(earn(book, { payer: "B", points: 50n, ts: 1 })).changes).toEqual([]);
      expect(book.lots.find((lot) => lot.payer === "A")?.adjusted).toBe(40n);
    });

    it("leaves spent points spent", () => {
      const book = emptyBook("u1");
      accepted(earn(book, { payer: "A", points: 100n, ts: 50 }));
      accepted(spend(book, { points: 60n }));
      accepted(adjust(book, { payer: "A", points: 30n, ts: 60 }));
      accepted(earn(book, { payer: "A", points: 100n, ts: 10 }));
      expect(lotViews(book).map((lot) => [lot.ts, lot.remaining, lot.adjusted])).toEqual([
        [10, 70n, 30n],
        [50, 40n, 0n],
      ]);
      expect(book.payers.get("A")).toEqual({ available: 110n, adjusted: 30n });
    });
  });

  describe("balance_limit_exceeded", () => {
    // 1024 earns of POINTS_MAX make 2^63 - 1024: close to the limit with valid transactions only.
    function nearlyFullBook() {
      const book = emptyBook("u1");
      for (let i = 0; i < 1024; i++) accepted(earn(book, { payer: "A", points: POINTS_MAX, ts: i }));
      expect(book.total).toBe(TOTAL_MAX - 1023n);
      return book;
    }

    it("accepts an earn that reaches exactly 2^63-1", () => {
      const book = nearlyFullBook();
      accepted(earn(book, { payer: "B", points: 1023n, ts: 0 }));
      expect(book.total).toBe(TOTAL_MAX);
    });

    it("rejects an earn past 2^63-1 and changes nothing", () => {
      const book = nearlyFullBook();
      const before = snapshotOf(book);
      const result = earn(book, { payer: "B", points: 1024n, ts: 0 });
      expect(result).toMatchObject({ ok: false, error: { code: "balance_limit_exceeded" } });
      expect(snapshotOf(book)).toEqual(before);
      expect(book.payers.has("B")).toBe(false);
    });

    it("rejects an earn that would push a payer's points including its negatives past 2^63-1", () => {
      const book = nearlyFullBook();
      accepted(adjust(book, { payer: "A", points: POINTS_MAX, ts: 0 }));
      // The total has room again, but payer A's earned-minus-spent points would not fit.
      const before = snapshotOf(book);
      const result = earn(book, { payer: "A", points: 1024n, ts: 0 });
      expect(result).toMatchObject({ ok: false, error: { code: "balance_limit_exceeded" } });
      expect(snapshotOf(book)).toEqual(before);
      accepted(earn(book, { payer: "B", points: 1024n, ts: 0 }));
    });
  });

  it("a back-dated earn that takes over a deduction lets the newer expiring lot count its expiry again", () => {
    const book = emptyBook("u1");
    const HOUR_MS = 3_600_000;
    accepted(earn(book, { payer: "A", points: 5n, ts: 100, expiresAt: HOUR_MS, now: 0 }));
    accepted(adjust(book, { payer: "A", points: 5n, ts: 0, now: 0 }));
    // An earn already past its expiry records an expiry, which makes the book's bound exact: none.
    accepted(earn(book, { payer: "A", points: 1n, ts: 0, expiresAt: -1, now: 0 }));
    expect(nextDue(book).expiry).toBeNull();
    // Older than the deducted lot: the deduction moves onto it (rule 3), the first lot is unspent again.
    accepted(earn(book, { payer: "A", points: 5n, ts: 50, now: 0 }));
    expect(lotViews(book).map((lot) => [lot.ts, lot.remaining, lot.adjusted])).toEqual([
      [0, 0n, 0n],
      [50, 0n, 5n],
      [100, 5n, 0n],
    ]);
    expect(nextDue(book).expiry).toBe(HOUR_MS);
    expect(bookProblems(book)).toEqual([]);
  });

  it.each([0n, -5n])("asserts on points %s (a programmer error, not a rejection)", (points) => {
    expect(() => earn(emptyBook("u1"), { payer: "A", points, ts: 0 })).toThrow(AssertionError);
  });

  it("asserts on a timestamp that is not integer milliseconds", () => {
    expect(() => earn(emptyBook("u1"), { payer: "A", points: 1n, ts: Number.NaN })).toThrow(AssertionError);
  });
});
