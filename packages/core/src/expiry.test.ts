import { describe, expect, it } from "vitest";
import { adjust } from "./adjust";
import { balances, bookProblems, emptyBook } from "./book";
import { accepted, at } from "./book.test-support";
import { earn } from "./earn";
import { balancesAt, dueExpiry, expire, expiring, lotExpiry } from "./expiry";
import { placeHold } from "./holds";
import { spend } from "./spend";
import type { Book } from "./types";

const DAY_MS = 86_400_000;
const T0 = at("2026-01-01T00:00:00Z");

/** A book with A 100 (expires day 10), B 50 (never), A 30 (expires day 20), earned at T0. */
function book(): Book {
  const b = emptyBook("u1");
  accepted(earn(b, { payer: "A", points: 100n, ts: T0, expiresAt: T0 + 10 * DAY_MS, now: T0 }));
  accepted(earn(b, { payer: "B", points: 50n, ts: T0 + 1, now: T0 }));
  accepted(earn(b, { payer: "A", points: 30n, ts: T0 + 2, expiresAt: T0 + 20 * DAY_MS, now: T0 }));
  return b;
}

describe("expiry", () => {
  it("a lot applied after its expires_at expires when applied", () => {
    expect(lotExpiry(T0, T0 + 5)).toBe(T0 + 5);
    expect(lotExpiry(T0 + 9, T0 + 5)).toBe(T0 + 9);
    expect(lotExpiry(null, T0)).toBeNull();
  });

  it("records due points per payer, counted at the instant each lot expired", () => {
    const b = book();
    const outcome = expire(b, T0 + 15 * DAY_MS);
    expect(outcome.byPayer).toEqual([{ payer: "A", points: -100n }]);
    expect(outcome.movements).toEqual([
      { payer: "A", category: "expired", points: 100n, at: T0 + 10 * DAY_MS },
    ]);
    expect(outcome.changes[0]).toMatchObject({ remainingDelta: -100n, expiredDelta: 100n });
    expect(balances(b)).toEqual([
      { payer: "A", points: 30n },
      { payer: "B", points: 50n },
    ]);
    expect(bookProblems(b)).toEqual([]);
  });

  it("records nothing when nothing is due, and nothing twice", () => {
    const b = book();
    expect(expire(b, T0 + DAY_MS).changes).toEqual([]);
    expect(expire(b, T0 + 10 * DAY_MS).changes).toHaveLength(1);
    expect(expire(b, T0 + 10 * DAY_MS).changes).toEqual([]);
  });

  it("a clock behind the last recorded expiry uses that instant", () => {
    const b = book();
    expire(b, T0 + 10 * DAY_MS);
    expect(expire(b, T0).changes).toEqual([]);
    expect(b.expiredThrough).toBe(T0 + 10 * DAY_MS);
  });

  it("expired points count nowhere, recorded or not: balance, spend, negative, hold", () => {
    const now = T0 + 11 * DAY_MS;
    const b = book();
    expect(balancesAt(b, now)).toEqual([
      { payer: "A", points: 30n },
      { payer: "B", points: 50n },
    ]);
    expect(dueExpiry(b, now)).toEqual([{ payer: "A", points: 100n, expiresAt: T0 + 10 * DAY_MS }]);
    const refused = spend(book(), { points: 81n, now });
    expect(refused.ok ? "applied" : refused.error.code).toBe("not_enough_funds");
    expect(!refused.ok && refused.expiry?.byPayer).toEqual([{ payer: "A", points: -100n }]);
    const negative = adjust(book(), { payer: "A", points: 31n, ts: now, now });
    expect(negative.ok ? "applied" : negative.error.code).toBe("payer_points_insufficient");
    const hold = placeHold(book(), { holdId: "h", points: 81n, expiresAt: now + 1, now });
    expect(hold.ok ? "applied" : hold.error.code).toBe("not_enough_funds");
    const spent = accepted(spend(book(), { points: 80n, now }));
    expect(spent.byPayer).toEqual([
      { payer: "B", points: -50n },
      { payer: "A", points: -30n },
    ]);
    expect(spent.expiry?.movements).toEqual([
      { payer: "A", category: "expired", points: 100n, at: T0 + 10 * DAY_MS },
    ]);
  });

  it("an earn born expired is recorded as expired at once and takes no deduction over", () => {
    const b = emptyBook("u1");
    accepted(earn(b, { payer: "A", points: 10n, ts: T0 + 5, now: T0 }));
    accepted(adjust(b, { payer: "A", points: 4n, ts: T0 + 6, now: T0 }));
    const late = accepted(earn(b, { payer: "A", points: 7n, ts: T0, expiresAt: T0 + 1, now: T0 + 2 }));
    expect(late.changes).toEqual([]);
    expect(late.expiry?.byPayer).toEqual([{ payer: "A", points: -7n }]);
    expect(late.expiry?.movements).toEqual([{ payer: "A", category: "expired", points: 7n, at: T0 + 2 }]);
    expect(balances(b)).toEqual([{ payer: "A", points: 6n }]);
    expect(bookProblems(b)).toEqual([]);
  });

  it("rule 3 never moves a deduction off an expired lot", () => {
    const b = emptyBook("u1");
    accepted(earn(b, { payer: "A", points: 10n, ts: T0 + 5, expiresAt: T0 + DAY_MS, now: T0 }));
    accepted(adjust(b, { payer: "A", points: 4n, ts: T0 + 6, now: T0 }));
    expire(b, T0 + DAY_MS);
    const older = accepted(earn(b, { payer: "A", points: 20n, ts: T0, now: T0 + DAY_MS }));
    expect(older.changes).toEqual([]);
    expect(b.lots.map((lot) => [lot.points, lot.remaining, lot.adjusted, lot.expired ?? 0n])).toEqual([
      [20n, 20n, 0n, 0n],
      [10n, 0n, 4n, 6n],
    ]);
    expect(bookProblems(b)).toEqual([]);
  });

  it("held points do not expire while held", () => {
    const b = book();
    accepted(placeHold(b, { holdId: "h", points: 100n, expiresAt: T0 + 30 * DAY_MS, now: T0 }));
    expect(expire(b, T0 + 15 * DAY_MS).changes).toEqual([]);
    expect(b.lots[0]).toMatchObject({ points: 100n, held: 100n, remaining: 0n });
  });

  it("lists what will expire per payer and instant, soonest first, then payer", () => {
    const b = book();
    accepted(earn(b, { payer: "0", points: 5n, ts: T0 + 3, expiresAt: T0 + 20 * DAY_MS, now: T0 }));
    expect(expiring(b, T0, T0 + 30 * DAY_MS)).toEqual([
      { payer: "A", points: 100n, expiresAt: T0 + 10 * DAY_MS },
      { payer: "0", points: 5n, expiresAt: T0 + 20 * DAY_MS },
      { payer: "A", points: 30n, expiresAt: T0 + 20 * DAY_MS },
    ]);
    expect(expiring(b, T0 + 10 * DAY_MS, T0 + 30 * DAY_MS)).toHaveLength(2);
  });
});
