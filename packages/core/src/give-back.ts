import { assert } from "./assert";
import { placeNegativesAgain } from "./earn";
import { ExpiryRecorder, noteExpiry } from "./expiry";
import { findLotIndex, isExpiredAt } from "./lots";
import type { Book, ExpireOutcome, Lot, LotChange } from "./types";

/**
 * Gives points back to the lots they came from (spend reversals, hold releases), collecting the
 * lots that expired meanwhile: their points expire again at once, as a separate `expire` entry.
 */
export class GiveBack {
  readonly changes: LotChange[] = [];
  private readonly reexpired = new Map<bigint, { lot: Lot; points: bigint }>();

  constructor(
    private readonly book: Book,
    private readonly at: number,
  ) {}

  /** Finds a lot the book must hold (the shell admits spent-out lots a reversal needs). */
  lotAt(key: Pick<Lot, "ts" | "arrival">): number {
    const index = findLotIndex(this.book.lots, key);
    assert(index >= 0, `lot ${key.arrival} is missing from the book of ${this.book.userId}`);
    return index;
  }

  /** `from`: "spent" (a spend reversal) or "held" (a hold release). */
  give(key: Pick<Lot, "ts" | "arrival">, points: bigint, from: "spent" | "held"): void {
    const book = this.book;
    const index = this.lotAt(key);
    const lot = book.lots[index]!;
    const state = book.payers.get(lot.payer);
    assert(state !== undefined, `lot payer ${lot.payer} is missing from the payers of user ${book.userId}`);
    const change: LotChange = {
      arrival: lot.arrival,
      payer: lot.payer,
      remainingDelta: points,
      adjustedDelta: 0n,
    };
    if (from === "held") {
      assert((lot.held ?? 0n) >= points, `lot ${lot.arrival} holds less than ${points}`);
      lot.held = (lot.held ?? 0n) - points;
      change.heldDelta = -points;
      state.held = (state.held ?? 0n) - points;
    }
    lot.remaining += points;
    state.available += points;
    book.total += points;
    this.changes.push(change);
    if (isExpiredAt(lot, this.at)) {
      const pending = this.reexpired.get(lot.arrival);
      this.reexpired.set(lot.arrival, { lot, points: (pending?.points ?? 0n) + points });
      return;
    }
    noteExpiry(book, lot);
    // Contract rule 3: the payer's deductions sit on its oldest unspent points, so they move
    // onto a lot that has points again if they sit on newer ones.
    if (state.adjusted > 0n) this.changes.push(...placeNegativesAgain(book, index, state.adjusted, this.at));
  }

  /**
   * Expires at once what went back to expired lots (counted at this instant), as its own outcome
   * for a separate `expire` entry; undefined if none.
   */
  finish(): ExpireOutcome | undefined {
    if (this.reexpired.size === 0) return undefined;
    const recorder = new ExpiryRecorder(this.book);
    for (const { lot, points } of this.reexpired.values()) recorder.expire(lot, points, this.at);
    return recorder.outcome();
  }
}
