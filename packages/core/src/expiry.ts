import { assert } from "./assert";
import { findLotIndex, insertLot, isExpiredAt, isSettled } from "./lots";
import { Movements } from "./movements";
import type { Book, ExpireOutcome, Lot, LotChange, PayerPoints } from "./types";

/**
 * Expiry (contract 6.1). A lot's unspent points count nowhere from its expiresAt on, recorded or
 * not; recording moves them from remaining to expired, once, and counts them at that instant.
 */

/** Instants never go back for a book: a clock behind the last recorded expiry uses that. */
export function effectiveNow(book: Book, now: number): number {
  assert(Number.isSafeInteger(now), `now must be integer epoch milliseconds, got ${now}`);
  return book.expiredThrough !== undefined && book.expiredThrough > now ? book.expiredThrough : now;
}

/** The effective expiry of a lot applied at `now`: max(expires_at, now) (contract 6.1), or null. */
export function lotExpiry(expiresAt: number | null | undefined, now: number): number | null {
  if (expiresAt === undefined || expiresAt === null) return null;
  return expiresAt > now ? expiresAt : now;
}

/** Lowers the book's next-expiry bound for a lot that (again) has remaining points. */
export function noteExpiry(book: Book, lot: Lot): void {
  if (book.nextExpiry === undefined || lot.expiresAt === undefined || lot.expiresAt === null) return;
  if (book.nextExpiry === null || lot.expiresAt < book.nextExpiry) book.nextExpiry = lot.expiresAt;
}

function nextExpiryOf(book: Book): number | null {
  let next: number | null = null;
  for (const lot of book.lots) {
    if (lot.remaining === 0n || lot.expiresAt === undefined || lot.expiresAt === null) continue;
    if (next === null || lot.expiresAt < next) next = lot.expiresAt;
  }
  return next;
}

/** Whether any unspent points may be due at `now`; O(1) once the bound is known. */
export function mayBeDue(book: Book, now: number): boolean {
  if (book.nextExpiry === undefined) book.nextExpiry = nextExpiryOf(book);
  return book.nextExpiry !== null && book.nextExpiry <= now;
}

const emptyExpiry = (): ExpireOutcome => ({ changes: [], byPayer: [], movements: [] });

/**
 * Records every expiry due at `now`: the `expire` entry's allocations per payer (negative). Each
 * lot's points count as expired at its own expiresAt. Costs O(1) when nothing is due, one pass
 * over the book's lots otherwise. Held points are not touched (they expire when released).
 */
export function expire(book: Book, now: number): ExpireOutcome {
  const at = effectiveNow(book, now);
  book.expiredThrough = at;
  if (!mayBeDue(book, at)) return emptyExpiry();
  const recorder = new ExpiryRecorder(book);
  let next: number | null = null;
  for (const lot of book.lots) {
    if (lot.remaining > 0n && isExpiredAt(lot, at)) {
      recorder.expire(lot, lot.remaining, lot.expiresAt ?? at);
    } else if (lot.remaining > 0n && lot.expiresAt !== undefined && lot.expiresAt !== null) {
      if (next === null || lot.expiresAt < next) next = lot.expiresAt;
    }
  }
  // Emptied lots stay until a spend walks past them (as spent-out lots do): a reversal may have
  // admitted a lot that this expiry, run first by the reversal, must not take away again.
  book.nextExpiry = next;
  return recorder.outcome();
}

/**
 * Collects the expiries of one `expire` entry: each lot's change, the entry's allocations per
 * payer (negative) and the movements, each counted at the instant it is given.
 */
export class ExpiryRecorder {
  private readonly changes: LotChange[] = [];
  private readonly byPayer = new Map<string, bigint>();
  private readonly moves = new Movements();

  constructor(private readonly book: Book) {}

  expire(lot: Lot, points: bigint, at: number): void {
    expireLotPoints(this.book, lot, points);
    this.changes.push({
      arrival: lot.arrival,
      payer: lot.payer,
      remainingDelta: -points,
      adjustedDelta: 0n,
      expiredDelta: points,
    });
    this.byPayer.set(lot.payer, (this.byPayer.get(lot.payer) ?? 0n) + points);
    this.moves.add(lot.payer, "expired", points, at);
  }

  outcome(): ExpireOutcome {
    return {
      changes: this.changes,
      byPayer: [...this.byPayer].map(([payer, points]) => ({ payer, points: -points })),
      movements: this.moves.list(),
    };
  }
}

/** Expire only when something is due: what commands run first, so expired points count nowhere. */
export function settleExpiry(book: Book, now: number | undefined): ExpireOutcome | undefined {
  if (now === undefined) return undefined;
  const outcome = expire(book, now);
  return outcome.changes.length === 0 ? undefined : outcome;
}

/** Moves `points` of a lot's remaining to expired, keeping the payer sums and the total. */
export function expireLotPoints(book: Book, lot: Lot, points: bigint): void {
  assert(points > 0n && points <= lot.remaining, `cannot expire ${points} of lot ${lot.arrival}`);
  const state = book.payers.get(lot.payer);
  assert(state !== undefined, `lot payer ${lot.payer} is missing from the payers of user ${book.userId}`);
  lot.remaining -= points;
  lot.expired = (lot.expired ?? 0n) + points;
  state.available -= points;
  book.total -= points;
}

/** Unspent points already expired at `now` but not recorded yet, one row per payer and instant. */
export function dueExpiry(book: Book, now: number): Array<PayerPoints & { expiresAt: number }> {
  if (!mayBeDue(book, now)) return [];
  return expiringRows(book, Number.NEGATIVE_INFINITY, now);
}

/**
 * `GET /expiring`: unspent points that expire after `now` and by `before`, one row per payer
 * and instant, soonest first, then payer (contract 6.1).
 */
export function expiring(
  book: Book,
  now: number,
  before: number,
): Array<PayerPoints & { expiresAt: number }> {
  return expiringRows(book, now, before);
}

function expiringRows(
  book: Book,
  after: number,
  through: number,
): Array<PayerPoints & { expiresAt: number }> {
  const rows = new Map<string, PayerPoints & { expiresAt: number }>();
  for (const lot of book.lots) {
    const at = lot.expiresAt;
    if (lot.remaining === 0n || at === undefined || at === null || at <= after || at > through) continue;
    const key = `${at}\u0000${lot.payer}`;
    const row = rows.get(key);
    if (row === undefined) rows.set(key, { payer: lot.payer, points: lot.remaining, expiresAt: at });
    else row.points += lot.remaining;
  }
  return [...rows.values()].sort((a, b) =>
    a.expiresAt !== b.expiresAt
      ? a.expiresAt - b.expiresAt
      : a.payer < b.payer
        ? -1
        : a.payer > b.payer
          ? 1
          : 0,
  );
}

/** The balance at `now`: recorded balances less what has fallen due and is not recorded yet. */
export function balancesAt(book: Book, now: number): PayerPoints[] {
  const due = new Map<string, bigint>();
  for (const row of dueExpiry(book, effectiveNow(book, now)))
    due.set(row.payer, (due.get(row.payer) ?? 0n) + row.points);
  return [...book.payers].map(([payer, state]) => ({
    payer,
    points: state.available - (due.get(payer) ?? 0n),
  }));
}

/**
 * Brings lots a reversal needs back into the book (the shell loads them: spent-out lots are not
 * kept in a book). Lots already present are left as they are.
 */
export function admitLots(book: Book, lots: readonly Lot[]): void {
  for (const lot of lots) {
    if (findLotIndex(book.lots, lot) >= 0) continue;
    assert(isSettled(lot), `lot ${lot.arrival} has points but was missing from the book of ${book.userId}`);
    assert(book.payers.has(lot.payer), `lot ${lot.arrival} has payer ${lot.payer} missing from the book`);
    insertLot(book.lots, { ...lot });
  }
}
