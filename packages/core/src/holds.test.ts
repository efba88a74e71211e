import { describe, expect, it } from "vitest";
import { balances, bookProblems, cloneBook, emptyBook } from "./book";
import { accepted, at, balanceObject, snapshotOf } from "./book.test-support";
import { earn } from "./earn";
import { balancesAt } from "./expiry";
import { captureHold, dueHolds, expireHold, placeHold, voidHold } from "./holds";
import { spend } from "./spend";
import type { Book, Result } from "./types";

const T0 = at("2026-01-01T00:00:00Z");
const TTL_MS = 900_000;
const HOUR_MS = 3_600_000;

function codeOf<T>(result: Result<T>): string {
  return result.ok ? "applied" : result.error.code;
}

/** A 30 (expires in an hour), B 20, A 50; a hold of 60 takes A 30, B 20, A 10. */
function heldBook(): Book {
  const book = emptyBook("u1");
  accepted(earn(book, { payer: "A", points: 30n, ts: T0 + 1, expiresAt: T0 + HOUR_MS, now: T0 }));
  accepted(earn(book, { payer: "B", points: 20n, ts: T0 + 2, now: T0 }));
  accepted(earn(book, { payer: "A", points: 50n, ts: T0 + 3, now: T0 }));
  accepted(placeHold(book, { holdId: "h1", points: 60n, expiresAt: T0 + TTL_MS, now: T0 }));
  return book;
}

describe("holds", () => {
  it("a hold takes exactly as a spend would, and held points leave the balance at once", () => {
    const spent = emptyBook("u1");
    const held = heldBook();
    accepted(earn(spent, { payer: "A", points: 30n, ts: T0 + 1, expiresAt: T0 + HOUR_MS, now: T0 }));
    accepted(earn(spent, { payer: "B", points: 20n, ts: T0 + 2, now: T0 }));
    accepted(earn(spent, { payer: "A", points: 50n, ts: T0 + 3, now: T0 }));
    const spendOutcome = accepted(spend(spent, { points: 60n, now: T0 }));
    expect(held.holds?.get("h1")?.takes.map((t) => [t.payer, -t.points])).toEqual(
      spendOutcome.changes.map((c) => [c.payer, c.remainingDelta]),
    );
    expect(balanceObject(held)).toEqual(balanceObject(spent));
    expect(held.payers.get("A")?.held).toBe(40n);
    expect(bookProblems(held)).toEqual([]);
  });

  it("place records held movements per payer", () => {
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 10n, ts: T0, now: T0 }));
    const outcome = accepted(placeHold(book, { holdId: "h", points: 4n, expiresAt: T0 + TTL_MS, now: T0 }));
    expect(outcome.byPayer).toEqual([{ payer: "A", points: -4n }]);
    expect(outcome.movements).toEqual([{ payer: "A", category: "held", points: 4n, at: T0 }]);
    expect(outcome.hold).toMatchObject({ status: "held", points: 4n });
  });

  it("not_enough_funds when the balance is short; nothing changes", () => {
    const book = heldBook();
    const before = snapshotOf(book);
    expect(codeOf(placeHold(book, { holdId: "h2", points: 41n, expiresAt: T0 + TTL_MS, now: T0 }))).toBe(
      "not_enough_funds",
    );
    expect(snapshotOf(book)).toEqual(before);
  });

  it("a part capture spends the oldest held points and gives the rest back to their lots", () => {
    const book = heldBook();
    const outcome = accepted(captureHold(book, { holdId: "h1", points: 40n, now: T0 + 1 }));
    expect(outcome.byPayer).toEqual([
      { payer: "A", points: -30n },
      { payer: "B", points: -10n },
    ]);
    expect(outcome.released).toEqual([
      { payer: "B", points: 10n },
      { payer: "A", points: 10n },
    ]);
    expect(outcome.hold.status).toBe("captured");
    expect(outcome.movements).toEqual([
      { payer: "A", category: "spent", points: 30n, at: T0 + 1 },
      { payer: "A", category: "held", points: -40n, at: T0 + 1 },
      { payer: "B", category: "spent", points: 10n, at: T0 + 1 },
      { payer: "B", category: "held", points: -20n, at: T0 + 1 },
    ]);
    expect(balanceObject(book)).toEqual({ A: 50n, B: 10n });
    expect(book.holds?.size).toBe(0);
    expect(bookProblems(book)).toEqual([]);
  });

  it("a whole capture spends all held points", () => {
    const book = heldBook();
    const outcome = accepted(captureHold(book, { holdId: "h1", now: T0 + 1 }));
    expect(outcome.byPayer).toEqual([
      { payer: "A", points: -40n },
      { payer: "B", points: -20n },
    ]);
    expect(balanceObject(book)).toEqual({ A: 40n, B: 0n });
  });

  it("capturing more than is held: not_enough_funds", () => {
    expect(codeOf(captureHold(heldBook(), { holdId: "h1", points: 61n, now: T0 }))).toBe("not_enough_funds");
  });

  it("void gives every held point back to its lot", () => {
    const book = heldBook();
    const outcome = accepted(voidHold(book, { holdId: "h1", now: T0 + 1 }));
    expect(outcome.hold.status).toBe("voided");
    expect(balanceObject(book)).toEqual({ A: 80n, B: 20n });
    expect(book.lots.map((lot) => lot.held ?? 0n)).toEqual([0n, 0n, 0n]);
    expect(bookProblems(book)).toEqual([]);
  });

  it("held points released after their lot expired expire at once (void, expiry, part capture)", () => {
    const later = T0 + 2 * HOUR_MS;
    const book = emptyBook("u1");
    accepted(earn(book, { payer: "A", points: 30n, ts: T0 + 1, expiresAt: T0 + HOUR_MS, now: T0 }));
    accepted(earn(book, { payer: "B", points: 20n, ts: T0 + 2, now: T0 }));
    accepted(placeHold(book, { holdId: "h", points: 40n, expiresAt: T0 + 3 * HOUR_MS, now: T0 }));
    const voided = cloneBook(book);
    const outcome = accepted(voidHold(voided, { holdId: "h", now: later }));
    expect(outcome.released).toEqual([
      { payer: "A", points: 30n },
      { payer: "B", points: 10n },
    ]);
    expect(outcome.reexpired?.byPayer).toEqual([{ payer: "A", points: -30n }]);
    expect(outcome.reexpired?.movements).toEqual([
      { payer: "A", category: "expired", points: 30n, at: later },
    ]);
    expect(balanceObject(voided)).toEqual({ A: 0n, B: 20n });
    expect(bookProblems(voided)).toEqual([]);
    const timedOut = cloneBook(book);
    expect(accepted(expireHold(timedOut, { holdId: "h", now: T0 + 3 * HOUR_MS })).reexpired?.byPayer).toEqual(
      [{ payer: "A", points: -30n }],
    );
    // A capture takes the oldest held points, so a lot that expired meanwhile is spent, not expired.
    const captured = accepted(captureHold(cloneBook(book), { holdId: "h", points: 30n, now: later }));
    expect(captured.byPayer).toEqual([{ payer: "A", points: -30n }]);
    expect(captured.reexpired).toBeUndefined();
  });

  it.each([
    { label: "capture after a capture", act: (b: Book) => captureHold(b, { holdId: "h1", now: T0 }) },
    { label: "void after a capture", act: (b: Book) => voidHold(b, { holdId: "h1", now: T0 }) },
    { label: "capture of an unknown hold", act: (b: Book) => captureHold(b, { holdId: "nope", now: T0 }) },
    {
      label: "capture after the ttl",
      act: (b: Book) => captureHold(b, { holdId: "h1", now: T0 + TTL_MS }),
      fresh: true,
    },
  ])("$label: hold_not_active", ({ act, fresh }) => {
    const book = heldBook();
    if (!fresh) accepted(captureHold(book, { holdId: "h1", now: T0 }));
    const before = snapshotOf(book);
    expect(codeOf(act(book))).toBe("hold_not_active");
    expect(snapshotOf(book)).toEqual(before);
  });

  it("a hold expires after its ttl: status expired, points back", () => {
    const book = heldBook();
    expect(dueHolds(book, T0 + TTL_MS - 1)).toEqual([]);
    expect(codeOf(expireHold(book, { holdId: "h1", now: T0 + TTL_MS - 1 }))).toBe("hold_not_active");
    expect(dueHolds(book, T0 + TTL_MS).map((hold) => hold.holdId)).toEqual(["h1"]);
    const outcome = accepted(expireHold(book, { holdId: "h1", now: T0 + TTL_MS }));
    expect(outcome.hold.status).toBe("expired");
    expect(balances(book)).toEqual([
      { payer: "A", points: 80n },
      { payer: "B", points: 20n },
    ]);
    expect(codeOf(expireHold(book, { holdId: "h1", now: T0 + TTL_MS }))).toBe("hold_not_active");
  });

  it("held points stay out of the balance at an instant", () => {
    expect(balancesAt(heldBook(), T0 + 1)).toEqual([
      { payer: "A", points: 40n },
      { payer: "B", points: 0n },
    ]);
  });
});
