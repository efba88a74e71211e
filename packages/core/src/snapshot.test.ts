import { describe, expect, it } from "vitest";
import { emptyBook } from "./book";
import { accepted } from "./book.test-support";
import { earn } from "./earn";
import { placeHold } from "./holds";
import { daySnapshot, SNAPSHOT_PERIOD_MS, snapshotInstant } from "./snapshot";
import { spend } from "./spend";

const DAY = SNAPSHOT_PERIOD_MS;
const D = Date.parse("2030-01-02T00:00:00Z");

describe("snapshotInstant", () => {
  it.each([
    ["just after midnight", D + 1, D],
    ["during the day", D + 13 * 3600_000, D],
    ["the day's last millisecond", D + DAY - 1, D],
    ["exactly midnight: the day it ends", D, D - DAY],
    ["the next midnight", D + DAY, D],
    ["before 1970", -DAY + 5, -DAY],
  ])("%s", (_name, now, at) => {
    expect(snapshotInstant(now)).toBe(at);
  });

  it("takes a shorter period (tests)", () => {
    expect([snapshotInstant(1, 7), snapshotInstant(7, 7), snapshotInstant(8, 7)]).toEqual([0, 0, 7]);
  });

  it("refuses an instant that is not integer milliseconds", () => {
    expect(() => snapshotInstant(D + 0.5)).toThrow(/integer epoch milliseconds/);
    expect(() => snapshotInstant(D, 0)).toThrow(/positive milliseconds/);
  });
});

describe("daySnapshot", () => {
  it("is nothing for a book without payers", () => {
    expect(daySnapshot(emptyBook("u1"), D + 5)).toBeNull();
  });

  it("is the balance at the day's start: held points out, points due by then out, recorded or not", () => {
    const book = emptyBook("u1");
    const before = D - 3600_000;
    accepted(earn(book, { payer: "B", points: 10n, ts: before, now: before }));
    accepted(earn(book, { payer: "A", points: 30n, ts: before, expiresAt: D - 1, now: before }));
    accepted(earn(book, { payer: "A", points: 5n, ts: before, expiresAt: D, now: before }));
    accepted(earn(book, { payer: "A", points: 7n, ts: before, expiresAt: D + 1, now: before }));
    accepted(spend(book, { points: 3n, now: before }));
    accepted(placeHold(book, { holdId: "h", points: 4n, expiresAt: D + DAY, now: before }));
    // Oldest first: the spend took B's 3, the hold B's next 4; A's lots due by D count nowhere.
    expect(daySnapshot(book, D + 10)).toEqual({
      at: D,
      balances: [
        { payer: "B", points: 3n },
        { payer: "A", points: 7n },
      ],
    });
    // A change at exactly the next midnight belongs to the day it ends: the snapshot stays at D.
    expect(daySnapshot(book, D + DAY)?.at).toBe(D);
  });
});
