import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { AssertionError } from "./assert";
import { bookProblems, emptyBook } from "./book";
import { accepted, lotViews, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { spend } from "./spend";

function bookWithLots() {
  const book = emptyBook("u1");
  accepted(earn(book, { payer: "A", points: 100n, ts: 30 })); // arrival 1
  accepted(earn(book, { payer: "B", points: 50n, ts: 10 })); // arrival 2
  accepted(earn(book, { payer: "A", points: 80n, ts: 20 })); // arrival 3
  return book;
}

describe("adjust (negative transaction)", () => {
  it("takes from that payer's lots only, oldest timestamp first", () => {
    const book = bookWithLots();
    const { changes } = accepted(adjust(book, { payer: "A", points: 120n, ts: 40 }));
    expect(changes).toEqual([
      { arrival: 3n, payer: "A", remainingDelta: -80n, adjustedDelta: 80n },
      { arrival: 1n, payer: "A", remainingDelta: -40n, adjustedDelta: 40n },
    ]);
    expect(lotViews(book).map((lot) => [lot.payer, lot.remaining, lot.adjusted])).toEqual([
      ["B", 50n, 0n],
      ["A", 0n, 80n],
      ["A", 60n, 40n],
    ]);
    expect(book.payers.get("A")).toEqual({ available: 60n, adjusted: 120n });
    expect(book.total).toBe(110n);
    expect(bookProblems(book)).toEqual([]);
  });

  it("places by lots, not by the negative's own timestamp", () => {
    const book = bookWithLots();
    const { changes } = accepted(adjust(book, { payer: "A", points: 10n, ts: 1 }));
    expect(changes).toEqual([{ arrival: 3n, payer: "A", remainingDelta: -10n, adjustedDelta: 10n }]);
  });

  it("accepts taking exactly everything the payer has", () => {
    const book = bookWithLots();
    accepted(adjust(book, { payer: "A", points: 180n, ts: 40 }));
    expect(book.payers.get("A")).toEqual({ available: 0n, adjusted: 180n });
    expect(book.total).toBe(50n);
  });

  it("keeps adjusted points out of later spends", () => {
    const book = bookWithLots();
    accepted(adjust(book, { payer: "A", points: 100n, ts: 40 }));
    const { byPayer } = accepted(spend(book, { points: 120n }));
    expect(byPayer).toEqual([
      { payer: "B", points: -50n },
      { payer: "A", points: -70n },
    ]);
    expect(lotViews(book).map((lot) => [lot.payer, lot.remaining, lot.adjusted])).toEqual([
      ["A", 0n, 80n],
      ["A", 10n, 20n],
    ]);
  });

  it.each([
    { name: "more than the payer has", payer: "A", points: 181n, available: 180n },
    { name: "a payer the user never had", payer: "Z", points: 1n, available: 0n },
    { name: "points that belong to other payers", payer: "B", points: 51n, available: 50n },
  ])("rejects $name with payer_points_insufficient and changes nothing", ({ payer, points, available }) => {
    const book = bookWithLots();
    const before = snapshotOf(book);
    const result = adjust(book, { payer, points, ts: 40 });
    expect(result).toEqual({
      ok: false,
      error: {
        code: "payer_points_insufficient",
        message: expect.stringContaining(payer),
        payer,
        requested: points,
        available,
      },
    });
    expect(snapshotOf(book)).toEqual(before);
  });

  it("counts only unspent points as the payer's", () => {
    const book = bookWithLots();
    accepted(spend(book, { points: 100n })); // B 50, A 50 of the ts-20 lot
    expect(adjust(book, { payer: "A", points: 131n, ts: 40 })).toMatchObject({
      ok: false,
      error: { code: "payer_points_insufficient", available: 130n },
    });
  });

  it.each([0n, -1n])("asserts on points %s", (points) => {
    expect(() => adjust(bookWithLots(), { payer: "A", points, ts: 0 })).toThrow(AssertionError);
  });
});
