import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { balances, bookProblems, emptyBook } from "./book";
import { accepted, at, balanceObject, LotRegistry, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { admitLots, balancesAt, expire } from "./expiry";
import { type ReversedEntry, reverse } from "./reverse";
import { nextDue } from "./schedule";
import { spend } from "./spend";
import type { Book, Result } from "./types";

const T0 = at("2026-01-01T00:00:00Z");
const HOUR_MS = 3_600_000;

function codeOf<T>(result: Result<T>): string {
  return result.ok ? "applied" : result.error.code;
}

/** A 30 @1, B 20 @2, A 50 @3, then spend 60: takes A 30, B 20, A 10. */
function spentBook() {
  const book = emptyBook("u1");
  const lots = new LotRegistry();
  const earns = [
    accepted(earn(book, { payer: "A", points: 30n, ts: T0 + 1, now: T0 })),
    accepted(earn(book, { payer: "B", points: 20n, ts: T0 + 2, now: T0 })),
    accepted(earn(book, { payer: "A", points: 50n, ts: T0 + 3, now: T0 })),
  ];
  lots.track(book);
  const before = snapshotOf(book);
  const spent = accepted(spend(book, { points: 60n, now: T0 }));
  lots.track(book);
  const takes = lots.takesOf(spent.changes);
  admitLots(book, lots.lotsOf(takes.map((take) => take.arrival)));
  return { book, lots, earns, before, takes };
}

describe("reverse a spend", () => {
  it("a full reversal restores the lots exactly", () => {
    const { book, before, takes } = spentBook();
    const outcome = accepted(reverse(book, { entryId: "e", entry: { type: "spend", takes }, now: T0 + 1 }));
    expect(outcome.points).toBe(60n);
    expect(outcome.byPayer).toEqual([
      { payer: "A", points: 40n },
      { payer: "B", points: 20n },
    ]);
    expect(snapshotOf(book)).toEqual({ ...before, lots: before.lots });
    expect(outcome.movements).toEqual([
      { payer: "A", category: "spend_reversed", points: 40n, at: T0 + 1 },
      { payer: "B", category: "spend_reversed", points: 20n, at: T0 + 1 },
    ]);
  });

  it("a partial reversal gives back the last-taken first", () => {
    const { book, takes } = spentBook();
    const outcome = accepted(
      reverse(book, { entryId: "e", entry: { type: "spend", takes }, points: 25n, now: T0 }),
    );
    expect(outcome.takesReversed).toEqual([
      { arrival: 3n, points: 10n },
      { arrival: 2n, points: 15n },
    ]);
    expect(balanceObject(book)).toEqual({ A: 50n, B: 15n });
    expect(bookProblems(book)).toEqual([]);
  });

  it.each([
    { label: "more than was taken", points: 61n, reversed: 0n },
    { label: "anything once all was given back", points: undefined, reversed: "all" as const },
    { label: "more than is left after a partial reversal", points: 31n, reversed: 30n },
  ])("refuses $label: reversal_exceeds_entry", ({ points, reversed }) => {
    const { book, takes } = spentBook();
    let left = reversed === "all" ? 60n : reversed;
    const marked = takes.map((take) => {
      const r = left < take.points ? left : take.points;
      left -= r;
      return { ...take, reversed: r };
    });
    const before = snapshotOf(book);
    const result = reverse(book, {
      entryId: "e",
      entry: { type: "spend", takes: marked },
      now: T0,
      ...(points ? { points } : {}),
    });
    expect(codeOf(result)).toBe("reversal_exceeds_entry");
    expect(snapshotOf(book)).toEqual(before);
  });

  it("points given back to an expired lot expire again at once", () => {
    const book = emptyBook("u1");
    const lots = new LotRegistry();
    accepted(earn(book, { payer: "A", points: 10n, ts: T0, expiresAt: T0 + HOUR_MS, now: T0 }));
    accepted(earn(book, { payer: "B", points: 10n, ts: T0 + 1, now: T0 }));
    lots.track(book);
    const takes = lots.takesOf(accepted(spend(book, { points: 15n, now: T0 })).changes);
    admitLots(book, lots.lotsOf(takes.map((take) => take.arrival)));
    const outcome = accepted(
      reverse(book, { entryId: "e", entry: { type: "spend", takes }, now: T0 + 2 * HOUR_MS }),
    );
    expect(outcome.byPayer).toEqual([
      { payer: "B", points: 5n },
      { payer: "A", points: 10n },
    ]);
    expect(outcome.reexpired?.byPayer).toEqual([{ payer: "A", points: -10n }]);
    expect(outcome.reexpired?.movements).toEqual([
      { payer: "A", category: "expired", points: 10n, at: T0 + 2 * HOUR_MS },
    ]);
    expect(balanceObject(book)).toEqual({ A: 0n, B: 10n });
    expect(bookProblems(book)).toEqual([]);
  });

  it("a deduction moves onto points given back to an older lot of its payer (rule 3)", () => {
    const { book, takes } = spentBook();
    accepted(adjust(book, { payer: "A", points: 5n, ts: T0, now: T0 }));
    expect(book.lots.find((lot) => lot.arrival === 3n)?.adjusted).toBe(5n);
    accepted(reverse(book, { entryId: "e", entry: { type: "spend", takes }, now: T0 }));
    expect(book.lots.find((lot) => lot.arrival === 1n)).toMatchObject({ remaining: 25n, adjusted: 5n });
    expect(book.lots.find((lot) => lot.arrival === 3n)).toMatchObject({ remaining: 50n, adjusted: 0n });
    expect(bookProblems(book)).toEqual([]);
  });

  it("a lot freed of a deduction that moved onto older points counts its expiry again", () => {
    // A 10 (no expiry), then A 5 expiring in an hour; spend 10 takes the first lot, a deduction
    // of 5 sits on the second (no unspent points left to expire); reversing the spend moves the deduction back onto the first lot,
    // so the second has 5 unspent points again that expire in an hour.
    const book = emptyBook("u1");
    const lots = new LotRegistry();
    accepted(earn(book, { payer: "A", points: 10n, ts: T0, now: T0 }));
    accepted(earn(book, { payer: "A", points: 5n, ts: T0 + 1, expiresAt: T0 + HOUR_MS, now: T0 }));
    lots.track(book);
    const takes = lots.takesOf(accepted(spend(book, { points: 10n, now: T0 })).changes);
    accepted(adjust(book, { payer: "A", points: 5n, ts: T0, now: T0 }));
    // An earn already past its expiry records an expiry, which makes the book's bound exact.
    accepted(earn(book, { payer: "A", points: 1n, ts: T0, expiresAt: T0 - 1, now: T0 }));
    expect(nextDue(book).expiry).toBeNull();
    admitLots(book, lots.lotsOf(takes.map((take) => take.arrival)));
    accepted(reverse(book, { entryId: "e", entry: { type: "spend", takes }, now: T0 }));
    expect(book.lots.find((lot) => lot.arrival === 2n)).toMatchObject({ remaining: 5n, adjusted: 0n });
    expect(nextDue(book).expiry).toBe(T0 + HOUR_MS);
    expect(balancesAt(book, T0 + HOUR_MS)).toEqual([{ payer: "A", points: 5n }]);
    expect(bookProblems(book)).toEqual([]);
  });
});

describe("reverse an earn", () => {
  function earnEntry(book: Book, arrival: bigint, reversed = 0n): ReversedEntry {
    const lot = book.lots.find((l) => l.arrival === arrival)!;
    return { type: "earn", arrival, ts: lot.ts, payer: lot.payer, points: lot.points, reversed };
  }

  it("takes that lot's unspent points first, then the payer's other points oldest first", () => {
    const { book, lots } = spentBook();
    // Lot 1 (A 30) is spent out; lot 3 (A 50) has 40 left.
    admitLots(book, [lots.get(1n)]);
    lots.track(book);
    const entry = earnEntry(book, 1n);
    const outcome = accepted(reverse(book, { entryId: "e", entry, now: T0 }));
    expect(outcome.byPayer).toEqual([{ payer: "A", points: -30n }]);
    expect(outcome.changes).toEqual([
      { arrival: 3n, payer: "A", remainingDelta: -30n, adjustedDelta: 0n, reversedDelta: 30n },
    ]);
    expect(outcome.movements).toEqual([{ payer: "A", category: "earn_reversed", points: 30n, at: T0 }]);
    expect(balanceObject(book)).toEqual({ A: 10n, B: 0n });
    expect(bookProblems(book)).toEqual([]);
  });

  it("takes the lot itself first when it still has points", () => {
    const { book } = spentBook();
    const outcome = accepted(
      reverse(book, { entryId: "e", entry: earnEntry(book, 3n), points: 35n, now: T0 }),
    );
    expect(outcome.changes.map((c) => [c.arrival, c.remainingDelta])).toEqual([[3n, -35n]]);
    expect(balanceObject(book)).toEqual({ A: 5n, B: 0n });
  });

  it("refuses payer_points_insufficient when the payer's unspent points cannot cover it; nothing changes", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 30n, ts: T0, now: T0 }));
    accepted(earn(book, { payer: "B", points: 30n, ts: T0 + 1, now: T0 }));
    accepted(spend(book, { points: 20n, now: T0 }));
    const before = snapshotOf(book);
    const result = reverse(book, { entryId: "e", entry: earnEntry(book, 1n), now: T0 });
    expect(codeOf(result)).toBe("payer_points_insufficient");
    expect(snapshotOf(book)).toEqual(before);
  });

  it("what of the lot expired is gone: the limit leaves it out, and it is never revived", () => {
    const book = emptyBook("u1");
    const lots = new LotRegistry();
    accepted(earn(book, { payer: "A", points: 30n, ts: T0, expiresAt: T0 + HOUR_MS, now: T0 }));
    accepted(earn(book, { payer: "A", points: 30n, ts: T0 + 1, now: T0 }));
    accepted(spend(book, { points: 10n, now: T0 }));
    lots.track(book);
    expire(book, T0 + HOUR_MS);
    admitLots(book, [lots.get(1n)]);
    lots.track(book);
    const entry = earnEntry(book, 1n);
    expect(codeOf(reverse(book, { entryId: "e", entry, points: 11n, now: T0 + HOUR_MS }))).toBe(
      "reversal_exceeds_entry",
    );
    const outcome = accepted(reverse(book, { entryId: "e", entry, now: T0 + HOUR_MS }));
    expect(outcome.points).toBe(10n);
    expect(balances(book)).toEqual([{ payer: "A", points: 20n }]);
    expect(lots.get(1n)).toMatchObject({ remaining: 0n, expired: 20n });
    expect(bookProblems(book)).toEqual([]);
  });

  it("a reversed earn cannot be reversed past what is left", () => {
    const { book } = spentBook();
    const result = reverse(book, { entryId: "e", entry: earnEntry(book, 3n, 50n), now: T0 });
    expect(codeOf(result)).toBe("reversal_exceeds_entry");
  });

  it("an earn reversed in full whose point came back to its expired lot has nothing left to reverse", () => {
    const book = emptyBook("u1");
    const lots = new LotRegistry();
    accepted(earn(book, { payer: "A", points: 10n, ts: T0, expiresAt: T0 + HOUR_MS, now: T0 }));
    accepted(earn(book, { payer: "A", points: 20n, ts: T0 + 1, now: T0 }));
    lots.track(book);
    const takes = lots.takesOf(accepted(spend(book, { points: 10n, now: T0 })).changes);
    lots.track(book);
    admitLots(book, [lots.get(1n)]);
    const entry = { type: "earn" as const, arrival: 1n, ts: T0, payer: "A", points: 10n, reversed: 0n };
    accepted(reverse(book, { entryId: "earn", entry, now: T0 + 2 * HOUR_MS }));
    admitLots(book, lots.lotsOf(takes.map((take) => take.arrival)));
    const back = accepted(
      reverse(book, { entryId: "spend", entry: { type: "spend", takes }, now: T0 + 2 * HOUR_MS }),
    );
    expect(back.reexpired?.byPayer).toEqual([{ payer: "A", points: -10n }]);
    const again = reverse(book, {
      entryId: "earn",
      entry: { ...entry, reversed: 10n },
      now: T0 + 2 * HOUR_MS,
    });
    expect(codeOf(again)).toBe("reversal_exceeds_entry");
    expect(bookProblems(book)).toEqual([]);
  });
});

describe("balance limit", () => {
  it("giving back points that would push the balance past TOTAL_MAX: balance_limit_exceeded", () => {
    const { book, takes } = spentBook();
    accepted(earn(book, { payer: "C", points: 9007199254740991n, ts: T0, now: T0 }));
    book.total = 2n ** 63n - 10n; // as if many earns had filled it; only the total is checked first
    const result = reverse(book, { entryId: "e", entry: { type: "spend", takes }, now: T0 });
    expect(codeOf(result)).toBe("balance_limit_exceeded");
  });
});

describe("not reversible", () => {
  it.each(["adjust", "expire", "use_item", "reversal"] as const)("a %s entry: not_reversible", (type) => {
    const { book } = spentBook();
    const before = snapshotOf(book);
    expect(codeOf(reverse(book, { entryId: "e", entry: { type }, now: T0 }))).toBe("not_reversible");
    expect(snapshotOf(book)).toEqual(before);
  });
});
