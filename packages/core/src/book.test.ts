import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { AssertionError } from "./assert";
import { balances, bookProblems, cloneBook, emptyBook, FIRST_ARRIVAL, restoreBook } from "./book";
import { accepted, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { compareLots, insertionIndex } from "./lots";
import { spend } from "./spend";
import type { Lot } from "./types";

const lot = (
  arrival: bigint,
  payer: string,
  ts: number,
  points: bigint,
  remaining = points,
  adjusted = 0n,
): Lot => ({
  arrival,
  payer,
  ts,
  points,
  remaining,
  adjusted,
});

describe("book", () => {
  it("starts empty", () => {
    expect(emptyBook("u1")).toEqual({
      userId: "u1",
      nextArrival: FIRST_ARRIVAL,
      total: 0n,
      payers: new Map(),
      lots: [],
    });
    expect(balances(emptyBook("u1"))).toEqual([]);
  });

  it("clones deeply, so changes to the clone leave the original alone", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 10n, ts: 1 }));
    const before = snapshotOf(book);
    const copy = cloneBook(book);
    accepted(spend(copy, { points: 3n }));
    accepted(earn(copy, { payer: "B", points: 3n, ts: 0 }));
    accepted(adjust(copy, { payer: "A", points: 1n, ts: 2 }));
    expect(snapshotOf(book)).toEqual(before);
    expect(copy.total).toBe(9n);
  });

  it("lists every payer ever seen in first-seen order, zeros included", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "Z", points: 1n, ts: 9 }));
    accepted(earn(book, { payer: "A", points: 2n, ts: 1 }));
    accepted(spend(book, { points: 3n }));
    expect(balances(book)).toEqual([
      { payer: "Z", points: 0n },
      { payer: "A", points: 0n },
    ]);
  });

  it("restores from stored rows: sorts lots, drops settled ones, derives the sums", () => {
    const book = restoreBook({
      userId: "u1",
      nextArrival: 6n,
      payers: ["B", "A", "C"],
      lots: [
        lot(4n, "A", 30, 10n, 7n, 0n),
        lot(2n, "A", 10, 5n, 0n, 5n),
        lot(3n, "B", 10, 9n, 9n),
        lot(1n, "C", 1, 4n, 0n),
      ],
    });
    expect(book.lots.map((entry) => entry.arrival)).toEqual([2n, 3n, 4n]);
    expect(book.total).toBe(16n);
    expect([...book.payers]).toEqual([
      ["B", { available: 9n, adjusted: 0n }],
      ["A", { available: 7n, adjusted: 5n }],
      ["C", { available: 0n, adjusted: 0n }],
    ]);
  });

  it("refuses to restore rows that break the book's invariants", () => {
    const rows = { userId: "u1", nextArrival: 3n, payers: ["A"] };
    expect(() => restoreBook({ ...rows, lots: [lot(1n, "B", 1, 5n)] })).toThrow(AssertionError);
    expect(() => restoreBook({ ...rows, lots: [lot(1n, "A", 1, 5n, 4n, 2n)] })).toThrow(AssertionError);
    expect(() => restoreBook({ ...rows, lots: [lot(3n, "A", 1, 5n)] })).toThrow(AssertionError);
    // A deduction on a newer lot while an older lot of the payer has free points breaks rule 3.
    expect(() => restoreBook({ ...rows, lots: [lot(1n, "A", 1, 5n), lot(2n, "A", 2, 5n, 3n, 2n)] })).toThrow(
      AssertionError,
    );
  });

  it("reports a total or payer sum that disagrees with the lots", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 10n, ts: 1 }));
    book.total = 11n;
    book.payers.get("A")!.available = 9n;
    expect(bookProblems(book)).toEqual([
      "payer A available disagrees with its lots",
      "total disagrees with the lots",
    ]);
  });
});

describe("lot order", () => {
  it.each([
    { a: { ts: 1, arrival: 9n }, b: { ts: 2, arrival: 1n }, expected: -1 },
    { a: { ts: 2, arrival: 1n }, b: { ts: 1, arrival: 9n }, expected: 1 },
    { a: { ts: 5, arrival: 1n }, b: { ts: 5, arrival: 2n }, expected: -1 },
    { a: { ts: 5, arrival: 2n }, b: { ts: 5, arrival: 2n }, expected: 0 },
  ])("compares by timestamp, then arrival: $a vs $b", ({ a, b, expected }) => {
    expect(compareLots(a, b)).toBe(expected);
  });

  it("finds the insertion index by binary search", () => {
    const lots = [lot(1n, "A", 1, 1n), lot(2n, "A", 3, 1n), lot(3n, "A", 3, 1n), lot(4n, "A", 7, 1n)];
    expect([0, 1, 3, 5, 7, 8].map((ts) => insertionIndex(lots, { ts, arrival: 10n }))).toEqual([
      0, 1, 3, 3, 4, 4,
    ]);
  });
});
