import { assert } from "./assert";
import { balanceEffect } from "./movements";
import type { Movement, PayerPoints } from "./types";

/**
 * Balance at an instant (contract 6.4) from a known balance and the movements between it and the
 * instant, so the cost follows the member's changes since the instant (or since a snapshot), not
 * the whole history.
 *
 * The base is the exact balance at an instant: the current one (`at` = now, balancesAt(book, now))
 * or a stored snapshot made the same way. Movements carry the instant they count at (an expiry
 * counts at the instant the points expired, even when recorded later), so a movement recorded
 * after the base with an instant before it is already reflected in the base.
 */
export interface BalanceAsOfInput {
  /** The instant asked for (epoch ms). */
  asOf: number;
  base: {
    at: number;
    /** Per payer, exactly at `at` (due expiries left out, recorded or not), in first-seen order. */
    balances: readonly PayerPoints[];
  };
  /**
   * Every recorded movement counting in (asOf, base.at] when the base is later than asOf, or in
   * (base.at, asOf] when it is earlier.
   */
  movements: readonly Movement[];
  /**
   * Unspent points already due but not recorded when asked (the book's dueExpiry(now)): no
   * movement says when they left, so those expiring between base.at and asOf are counted here.
   */
  unrecordedExpiry: ReadonlyArray<PayerPoints & { expiresAt: number }>;
  /** When each payer was first seen (its first earn's applied instant): later payers are left out. */
  firstSeen: ReadonlyMap<string, number>;
}

export function balanceAsOf(input: BalanceAsOfInput): PayerPoints[] {
  const { asOf, base } = input;
  const sums = new Map<string, bigint>();
  for (const row of base.balances) sums.set(row.payer, row.points);
  const backwards = base.at > asOf;
  for (const movement of input.movements) {
    assert(movement.at !== null, "balance as of needs movements with their instant");
    const inside = backwards
      ? movement.at > asOf && movement.at <= base.at
      : movement.at > base.at && movement.at <= asOf;
    assert(
      inside,
      `movement at ${movement.at} is outside (${Math.min(asOf, base.at)}, ${Math.max(asOf, base.at)}]`,
    );
    const effect = balanceEffect(movement);
    sums.set(movement.payer, (sums.get(movement.payer) ?? 0n) + (backwards ? -effect : effect));
  }
  for (const row of input.unrecordedExpiry) {
    const between = backwards
      ? row.expiresAt > asOf && row.expiresAt <= base.at
      : row.expiresAt > base.at && row.expiresAt <= asOf;
    if (between) sums.set(row.payer, (sums.get(row.payer) ?? 0n) + (backwards ? row.points : -row.points));
  }
  const result: PayerPoints[] = [];
  for (const [payer, points] of sums) {
    const seen = input.firstSeen.get(payer);
    if (seen === undefined || seen > asOf) continue;
    assert(points >= 0n, `balance of ${payer} as of ${asOf} would be ${points}`);
    result.push({ payer, points });
  }
  return result;
}
