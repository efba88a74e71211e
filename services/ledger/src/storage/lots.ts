/**
 * The lots table: inserted once per earn; afterwards only its parts (remaining, adjusted, held,
 * expired, reversed) change, each change explained by an allocations row.
 */
import type { TableWrite } from "./unnest";

export interface LotRow {
  user_id: string;
  arrival: bigint;
  remaining: bigint;
  adjusted: bigint;
  held: bigint;
  expired: bigint;
  reversed: bigint;
}

export interface NewLot extends LotRow {
  entry_id: string;
  payer: string;
  /** ISO 8601, as the command gave it. */
  ts: string;
  points: bigint;
  /** Epoch ms (already max(asked, applied instant)), or null = never. */
  expires_at: number | null;
}

export const insertLots: TableWrite<NewLot> = {
  columns: [
    { name: "user_id", type: "text", value: (l) => l.user_id },
    { name: "arrival", type: "bigint", value: (l) => l.arrival.toString() },
    { name: "entry_id", type: "uuid", value: (l) => l.entry_id },
    { name: "payer", type: "text", value: (l) => l.payer },
    { name: "ts", type: "timestamptz", value: (l) => l.ts },
    { name: "points", type: "bigint", value: (l) => l.points.toString() },
    { name: "remaining", type: "bigint", value: (l) => l.remaining.toString() },
    { name: "adjusted", type: "bigint", value: (l) => l.adjusted.toString() },
    { name: "held", type: "bigint", value: (l) => l.held.toString() },
    { name: "expired", type: "bigint", value: (l) => l.expired.toString() },
    { name: "reversed", type: "bigint", value: (l) => l.reversed.toString() },
    {
      name: "expires_at",
      type: "timestamptz",
      value: (l) => (l.expires_at === null ? null : new Date(l.expires_at).toISOString()),
    },
  ],
  sql: (from, names) => `INSERT INTO lots (${names}) SELECT ${names} FROM ${from}`,
};

export const updateLots: TableWrite<LotRow> = {
  columns: [
    { name: "user_id", type: "text", value: (l) => l.user_id },
    { name: "arrival", type: "bigint", value: (l) => l.arrival.toString() },
    { name: "remaining", type: "bigint", value: (l) => l.remaining.toString() },
    { name: "adjusted", type: "bigint", value: (l) => l.adjusted.toString() },
    { name: "held", type: "bigint", value: (l) => l.held.toString() },
    { name: "expired", type: "bigint", value: (l) => l.expired.toString() },
    { name: "reversed", type: "bigint", value: (l) => l.reversed.toString() },
  ],
  sql: (from) =>
    `UPDATE lots SET remaining = v.remaining, adjusted = v.adjusted, held = v.held, expired = v.expired,
            reversed = v.reversed FROM ${from}
      WHERE lots.user_id = v.user_id AND lots.arrival = v.arrival`,
};
