import { assert } from "./assert";
import { compareLots, isExpiredAt, isSettled } from "./lots";
import type { Book, Hold, Lot, PayerPoints, PayerState } from "./types";
import { TOTAL_MAX } from "./types";

/** Arrivals start at 1, like a Postgres sequence. */
export const FIRST_ARRIVAL = 1n;

export function emptyBook(userId: string): Book {
  return { userId, nextArrival: FIRST_ARRIVAL, total: 0n, payers: new Map(), lots: [] };
}

/** A deep copy, so the shell can try a batch and throw the copy away if the batch fails. */
export function cloneBook(book: Book): Book {
  const payers = new Map<string, PayerState>();
  for (const [payer, state] of book.payers) payers.set(payer, { ...state });
  const copy: Book = {
    userId: book.userId,
    nextArrival: book.nextArrival,
    total: book.total,
    payers,
    lots: book.lots.map((lot) => ({ ...lot })),
  };
  if (book.expiredThrough !== undefined) copy.expiredThrough = book.expiredThrough;
  if (book.nextExpiry !== undefined) copy.nextExpiry = book.nextExpiry;
  if (book.holds !== undefined) copy.holds = copyHolds(book.holds.values());
  return copy;
}

function copyHolds(holds: Iterable<Hold>): Map<string, Hold> {
  const copy = new Map<string, Hold>();
  for (const hold of holds)
    copy.set(hold.holdId, { ...hold, takes: hold.takes.map((take) => ({ ...take })) });
  return copy;
}

export interface BookRows {
  userId: string;
  nextArrival: bigint;
  /** Every payer the user ever had, in first-seen order (payers whose lots are all spent too). */
  payers: readonly string[];
  /** Stored lots in any order; settled ones (remaining = adjusted = 0) are left out. */
  lots: readonly Lot[];
  /** Open holds (status "held"); their lots must be among `lots`. */
  holds?: readonly Hold[];
  /** The instant expiry was last recorded through (see Book.expiredThrough). */
  expiredThrough?: number;
}

/**
 * Builds a book from stored rows, deriving the per-payer sums and the total from the lots so
 * they cannot disagree. The shell may also build a Book itself; this is a convenience.
 */
export function restoreBook(rows: BookRows): Book {
  const book = emptyBook(rows.userId);
  book.nextArrival = rows.nextArrival;
  for (const payer of rows.payers) book.payers.set(payer, { available: 0n, adjusted: 0n });
  book.lots = rows.lots.filter((lot) => !isSettled(lot)).map((lot) => ({ ...lot }));
  book.lots.sort(compareLots);
  for (const lot of book.lots) {
    const state = book.payers.get(lot.payer);
    assert(state !== undefined, `lot ${lot.arrival} has payer ${lot.payer} missing from the payer list`);
    state.available += lot.remaining;
    state.adjusted += lot.adjusted;
    if ((lot.held ?? 0n) > 0n) state.held = (state.held ?? 0n) + (lot.held ?? 0n);
    book.total += lot.remaining;
  }
  if (rows.holds !== undefined && rows.holds.length > 0) book.holds = copyHolds(rows.holds);
  if (rows.expiredThrough !== undefined) book.expiredThrough = rows.expiredThrough;
  assertBookConsistent(book);
  return book;
}

/** Every payer ever seen with its available points, zeros included, in first-seen order. */
export function balances(book: Book): PayerPoints[] {
  return [...book.payers].map(([payer, state]) => ({ payer, points: state.available }));
}

/**
 * Lists every broken invariant of a book (empty when sound). Costs a pass over all lots, so it is
 * for tests, restores and debugging, not for every command.
 */
export function bookProblems(book: Book): string[] {
  const problems: string[] = [];
  const sums = new Map<string, PayerState>();
  let total = 0n;
  book.lots.forEach((lot, index) => {
    problems.push(...lotProblems(lot, book));
    const previous = book.lots[index - 1];
    if (previous !== undefined && compareLots(previous, lot) >= 0) {
      problems.push(`lot ${lot.arrival} is out of (ts, arrival) order`);
    }
    const sum = sums.get(lot.payer) ?? { available: 0n, adjusted: 0n, held: 0n };
    sum.available += lot.remaining;
    sum.adjusted += lot.adjusted;
    sum.held = (sum.held ?? 0n) + (lot.held ?? 0n);
    sums.set(lot.payer, sum);
    total += lot.remaining;
  });
  for (const [payer, state] of book.payers) {
    const sum = sums.get(payer) ?? { available: 0n, adjusted: 0n };
    if (state.available !== sum.available) problems.push(`payer ${payer} available disagrees with its lots`);
    if (state.adjusted !== sum.adjusted) problems.push(`payer ${payer} adjusted disagrees with its lots`);
    if ((state.held ?? 0n) !== (sum.held ?? 0n)) problems.push(`payer ${payer} held disagrees with its lots`);
    if (state.available + state.adjusted > TOTAL_MAX) problems.push(`payer ${payer} is past TOTAL_MAX`);
  }
  for (const payer of sums.keys()) {
    if (!book.payers.has(payer)) problems.push(`payer ${payer} has lots but no payer entry`);
  }
  if (book.total !== total) problems.push("total disagrees with the lots");
  if (book.total > TOTAL_MAX) problems.push("total is past TOTAL_MAX");
  problems.push(...placementProblems(book));
  problems.push(...holdProblems(book));
  problems.push(...nextExpiryProblems(book));
  return problems;
}

/**
 * The book's next-expiry bound (when known) is at or before every unspent lot's expiry: the
 * scheduler and balancesAt trust it to skip work, so a late bound hides due points.
 */
function nextExpiryProblems(book: Book): string[] {
  if (book.nextExpiry === undefined) return [];
  const problems: string[] = [];
  for (const lot of book.lots) {
    if (lot.remaining === 0n || lot.expiresAt === undefined || lot.expiresAt === null) continue;
    if (book.nextExpiry === null || lot.expiresAt < book.nextExpiry) {
      problems.push(
        `lot ${lot.arrival} expires at ${lot.expiresAt}, before the book's next expiry ${book.nextExpiry}`,
      );
    }
  }
  return problems;
}

/** Open holds account for every held point, lot by lot. */
function holdProblems(book: Book): string[] {
  const problems: string[] = [];
  const heldByLot = new Map<bigint, bigint>();
  for (const hold of book.holds?.values() ?? []) {
    if (hold.status !== "held") problems.push(`hold ${hold.holdId} is ${hold.status} but still open`);
    let sum = 0n;
    for (const take of hold.takes) {
      sum += take.points;
      heldByLot.set(take.arrival, (heldByLot.get(take.arrival) ?? 0n) + take.points);
    }
    if (sum !== hold.points) problems.push(`hold ${hold.holdId} takes do not add up to its points`);
  }
  for (const lot of book.lots) {
    if ((lot.held ?? 0n) !== (heldByLot.get(lot.arrival) ?? 0n))
      problems.push(`lot ${lot.arrival} held disagrees with the holds`);
  }
  return problems;
}

function lotProblems(lot: Lot, book: Book): string[] {
  const problems: string[] = [];
  if (lot.points <= 0n) problems.push(`lot ${lot.arrival} has points <= 0`);
  const held = lot.held ?? 0n;
  const expired = lot.expired ?? 0n;
  const reversed = lot.reversed ?? 0n;
  if (lot.remaining < 0n || lot.adjusted < 0n || held < 0n || expired < 0n || reversed < 0n)
    problems.push(`lot ${lot.arrival} is negative`);
  // What is left of points after these is what was spent: never negative.
  if (lot.remaining + lot.adjusted + held + expired + reversed > lot.points)
    problems.push(`lot ${lot.arrival} holds more than it earned`);
  if (book.expiredThrough !== undefined && lot.remaining > 0n && isExpiredAt(lot, book.expiredThrough))
    problems.push(`lot ${lot.arrival} has unspent points past its recorded expiry`);
  if (lot.arrival >= book.nextArrival) problems.push(`lot ${lot.arrival} is not below nextArrival`);
  return problems;
}

/**
 * Contract rule 3 as an invariant: a payer's negatives sit on its oldest unspent points, so no
 * lot of a payer with remaining > 0 is older than an unexpired lot of that payer with
 * adjusted > 0 (deductions on expired lots stay where they were: contract 6.1).
 */
function placementProblems(book: Book): string[] {
  const problems: string[] = [];
  const hasFreePoints = new Set<string>();
  const through = book.expiredThrough;
  for (const lot of book.lots) {
    const expired = through !== undefined && isExpiredAt(lot, through);
    if (lot.adjusted > 0n && !expired && hasFreePoints.has(lot.payer)) {
      problems.push(`lot ${lot.arrival} of ${lot.payer} is adjusted while an older lot has remaining points`);
    }
    if (lot.remaining > 0n) hasFreePoints.add(lot.payer);
  }
  return problems;
}

export function assertBookConsistent(book: Book): void {
  const problems = bookProblems(book);
  assert(problems.length === 0, `book of ${book.userId} is inconsistent: ${problems.join("; ")}`);
}
