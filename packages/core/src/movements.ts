import type { Movement, MovementCategory } from "./types";

/**
 * Collects movements, merging those of the same (payer, category, at) so an outcome carries one
 * row per payer and figure (what the report rows are kept from).
 */
export class Movements {
  private readonly rows = new Map<string, Movement>();

  add(payer: string, category: MovementCategory, points: bigint, at: number | null): void {
    if (points === 0n) return;
    const key = `${payer}\u0000${category}\u0000${at}`;
    const row = this.rows.get(key);
    if (row === undefined) this.rows.set(key, { payer, category, points, at });
    else row.points += points;
  }

  list(): Movement[] {
    return [...this.rows.values()].filter((row) => row.points !== 0n);
  }
}

/**
 * What a movement does to the member's balance (unspent, unexpired, not held) of its payer.
 * The report's outstanding figure is balance + held, so it moves by this plus a `held` movement.
 */
export function balanceEffect(movement: Movement): bigint {
  switch (movement.category) {
    case "earned":
    case "spend_reversed":
      return movement.points;
    case "adjusted":
    case "spent":
    case "earn_reversed":
    case "expired":
    case "held":
      return -movement.points;
  }
}

/** What a movement does to the report's outstanding figure (closing = opening + sum of these). */
export function outstandingEffect(movement: Movement): bigint {
  return movement.category === "held" ? 0n : balanceEffect(movement);
}
