/** The allocations table: the audit trail, one row per lot a change moved. */
import type { TableWrite } from "./unnest";

export interface AllocationRow {
  user_id: string;
  entry_id: string;
  arrival: bigint;
  payer: string;
  remaining_delta: bigint;
  adjusted_delta: bigint;
  held_delta: bigint;
  expired_delta: bigint;
  reversed_delta: bigint;
  /** A take's points given back by reversals so far (0 when written). */
  reversed: bigint;
}

export const insertAllocations: TableWrite<AllocationRow> = {
  columns: [
    { name: "user_id", type: "text", value: (a) => a.user_id },
    { name: "entry_id", type: "uuid", value: (a) => a.entry_id },
    { name: "arrival", type: "bigint", value: (a) => a.arrival.toString() },
    { name: "payer", type: "text", value: (a) => a.payer },
    { name: "remaining_delta", type: "bigint", value: (a) => a.remaining_delta.toString() },
    { name: "adjusted_delta", type: "bigint", value: (a) => a.adjusted_delta.toString() },
    { name: "held_delta", type: "bigint", value: (a) => a.held_delta.toString() },
    { name: "expired_delta", type: "bigint", value: (a) => a.expired_delta.toString() },
    { name: "reversed_delta", type: "bigint", value: (a) => a.reversed_delta.toString() },
    { name: "reversed", type: "bigint", value: (a) => a.reversed.toString() },
  ],
  sql: (from, names) => `INSERT INTO allocations (${names}) SELECT ${names} FROM ${from}`,
};
