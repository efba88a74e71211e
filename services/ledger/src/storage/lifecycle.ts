/**
 * The lifecycle tables (migration 008): holds and what they took, the report movements, and the
 * running `reversed` counts of reversed entries and of their allocations.
 */
import type { TableWrite } from "./unnest";

export interface HoldRow {
  user_id: string;
  hold_id: string;
  points: bigint;
  status: "held" | "captured" | "voided" | "expired";
  authority_id: string;
  reason: string | null;
  allocations: { payer: string; points: number }[];
  created_on: Date;
  expires_at: Date;
  closed_on: Date | null;
  captured: bigint | null;
  capture_entry_id: string | null;
  command_id: string;
}

/** A hold is inserted when placed and updated when closed: both in one upsert. */
export const upsertHolds: TableWrite<HoldRow> = {
  columns: [
    { name: "user_id", type: "text", value: (h) => h.user_id },
    { name: "hold_id", type: "uuid", value: (h) => h.hold_id },
    { name: "points", type: "bigint", value: (h) => h.points.toString() },
    { name: "status", type: "text", value: (h) => h.status },
    { name: "authority_id", type: "text", value: (h) => h.authority_id },
    { name: "reason", type: "text", value: (h) => h.reason },
    { name: "allocations", type: "jsonb", value: (h) => JSON.stringify(h.allocations) },
    { name: "created_on", type: "timestamptz", value: (h) => h.created_on.toISOString() },
    { name: "expires_at", type: "timestamptz", value: (h) => h.expires_at.toISOString() },
    { name: "closed_on", type: "timestamptz", value: (h) => h.closed_on?.toISOString() ?? null },
    { name: "captured", type: "bigint", value: (h) => h.captured?.toString() ?? null },
    { name: "capture_entry_id", type: "uuid", value: (h) => h.capture_entry_id },
    { name: "command_id", type: "text", value: (h) => h.command_id },
  ],
  sql: (from, names) =>
    `INSERT INTO holds (${names}) SELECT ${names} FROM ${from}
     ON CONFLICT (user_id, hold_id) DO UPDATE SET status = excluded.status, closed_on = excluded.closed_on,
       captured = excluded.captured, capture_entry_id = excluded.capture_entry_id`,
};

export interface HoldAllocationRow {
  user_id: string;
  hold_id: string;
  step: 0 | 1;
  arrival: bigint;
  payer: string;
  ts: number;
  remaining_delta: bigint;
  held_delta: bigint;
  adjusted_delta: bigint;
}

export const insertHoldAllocations: TableWrite<HoldAllocationRow> = {
  columns: [
    { name: "user_id", type: "text", value: (a) => a.user_id },
    { name: "hold_id", type: "uuid", value: (a) => a.hold_id },
    { name: "step", type: "smallint", value: (a) => a.step },
    { name: "arrival", type: "bigint", value: (a) => a.arrival.toString() },
    { name: "payer", type: "text", value: (a) => a.payer },
    { name: "ts", type: "timestamptz", value: (a) => new Date(a.ts).toISOString() },
    { name: "remaining_delta", type: "bigint", value: (a) => a.remaining_delta.toString() },
    { name: "held_delta", type: "bigint", value: (a) => a.held_delta.toString() },
    { name: "adjusted_delta", type: "bigint", value: (a) => a.adjusted_delta.toString() },
  ],
  sql: (from, names) => `INSERT INTO hold_allocations (${names}) SELECT ${names} FROM ${from}`,
};

export interface MovementRow {
  user_id: string;
  seq: number;
  source: string;
  payer: string;
  category: string;
  at: number;
  points: bigint;
}

export const insertMovements: TableWrite<MovementRow> = {
  columns: [
    { name: "user_id", type: "text", value: (m) => m.user_id },
    { name: "seq", type: "bigint", value: (m) => m.seq },
    { name: "source", type: "uuid", value: (m) => m.source },
    { name: "payer", type: "text", value: (m) => m.payer },
    { name: "category", type: "text", value: (m) => m.category },
    { name: "at", type: "timestamptz", value: (m) => new Date(m.at).toISOString() },
    { name: "points", type: "bigint", value: (m) => m.points.toString() },
  ],
  sql: (from, names) => `INSERT INTO movements (${names}) SELECT ${names} FROM ${from}`,
};

/** A reversal adds to the reversed entry's `reversed` (final value, computed in memory). */
export const updateEntriesReversed: TableWrite<{ user_id: string; entry_id: string; reversed: bigint }> = {
  columns: [
    { name: "user_id", type: "text", value: (e) => e.user_id },
    { name: "entry_id", type: "uuid", value: (e) => e.entry_id },
    { name: "reversed", type: "bigint", value: (e) => e.reversed.toString() },
  ],
  sql: (from) =>
    `UPDATE entries SET reversed = v.reversed FROM ${from}
      WHERE entries.user_id = v.user_id AND entries.entry_id = v.entry_id`,
};

/** ...and to each reversed take's `reversed` (the core's SpendTake.reversed), final values too. */
export const updateAllocationsReversed: TableWrite<{
  user_id: string;
  entry_id: string;
  arrival: bigint;
  reversed: bigint;
}> = {
  columns: [
    { name: "user_id", type: "text", value: (a) => a.user_id },
    { name: "entry_id", type: "uuid", value: (a) => a.entry_id },
    { name: "arrival", type: "bigint", value: (a) => a.arrival.toString() },
    { name: "reversed", type: "bigint", value: (a) => a.reversed.toString() },
  ],
  sql: (from) =>
    `UPDATE allocations SET reversed = v.reversed FROM ${from}
      WHERE allocations.user_id = v.user_id AND allocations.entry_id = v.entry_id
        AND allocations.arrival = v.arrival`,
};
