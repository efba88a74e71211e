import { describe, expect, it } from "vitest";
import { emptyBook } from "./book";
import { accepted } from "./book.test-support";
import { earn } from "./earn";
import { expire } from "./expiry";
import { placeHold } from "./holds";
import { mergeChanges, nextDue } from "./schedule";

describe("nextDue", () => {
  it("is the earliest expiry of unspent points and of an open hold", () => {
    const book = emptyBook("u1");
    expect(nextDue(book)).toEqual({ expiry: null, holdExpiry: null });
    accepted(earn(book, { payer: "A", points: 5n, ts: 0, expiresAt: 100, now: 0 }));
    accepted(earn(book, { payer: "A", points: 5n, ts: 1, expiresAt: 50, now: 0 }));
    accepted(placeHold(book, { holdId: "h", points: 1n, expiresAt: 30, now: 0 }));
    expect(nextDue(book)).toEqual({ expiry: 50, holdExpiry: 30 });
    expire(book, 60);
    expect(nextDue(book)).toEqual({ expiry: 100, holdExpiry: 30 });
  });
});

describe("mergeChanges", () => {
  it("sums the changes of one lot, keeping first-touched order", () => {
    expect(
      mergeChanges([
        { arrival: 2n, payer: "A", remainingDelta: 5n, adjustedDelta: 0n, heldDelta: -5n },
        { arrival: 1n, payer: "A", remainingDelta: 1n, adjustedDelta: 0n },
        { arrival: 2n, payer: "A", remainingDelta: -3n, adjustedDelta: 3n },
      ]),
    ).toEqual([
      { arrival: 2n, payer: "A", remainingDelta: 2n, adjustedDelta: 3n, heldDelta: -5n },
      { arrival: 1n, payer: "A", remainingDelta: 1n, adjustedDelta: 0n },
    ]);
  });
});
