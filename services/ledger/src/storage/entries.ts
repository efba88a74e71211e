/** The entries table: one row per applied change, append-only; use_item marks an item used. */
import type { EntryRecord } from "@points/shared";
import type { TableWrite } from "./unnest";

export type NewEntry = EntryRecord & { seq: number; command_id: string };

export const insertEntries: TableWrite<NewEntry> = {
  columns: [
    { name: "user_id", type: "text", value: (e) => e.user_id },
    { name: "entry_id", type: "uuid", value: (e) => e.entry_id },
    { name: "seq", type: "bigint", value: (e) => e.seq },
    { name: "type", type: "text", value: (e) => e.type },
    { name: "authority_id", type: "text", value: (e) => e.authority_id },
    { name: "payer", type: "text", value: (e) => e.payer },
    { name: "amount", type: "bigint", value: (e) => e.amount },
    { name: "ts", type: "timestamptz", value: (e) => e.timestamp },
    { name: "created_on", type: "timestamptz", value: (e) => e.created_on.toISOString() },
    { name: "reason", type: "text", value: (e) => e.reason },
    { name: "item_name", type: "text", value: (e) => e.item?.name ?? null },
    {
      name: "item_data",
      type: "jsonb",
      value: (e) => (e.item?.data === undefined ? null : JSON.stringify(e.item.data)),
    },
    { name: "item_used", type: "boolean", value: (e) => (e.item ? e.item.used : null) },
    { name: "command_id", type: "text", value: (e) => e.command_id },
    {
      name: "allocations",
      type: "jsonb",
      value: (e) => (e.allocations ? JSON.stringify(e.allocations) : null),
    },
    { name: "expires_at", type: "timestamptz", value: (e) => e.expires_at ?? null },
    { name: "reversed", type: "bigint", value: (e) => e.reversed ?? 0 },
    { name: "reverses", type: "uuid", value: (e) => e.reverses ?? null },
    { name: "hold_id", type: "uuid", value: (e) => e.hold_id ?? null },
  ],
  sql: (from, names) => `INSERT INTO entries (${names}) SELECT ${names} FROM ${from}`,
};

export const markItemsUsed: TableWrite<{ user_id: string; entry_id: string }> = {
  columns: [
    { name: "user_id", type: "text", value: (u) => u.user_id },
    { name: "entry_id", type: "uuid", value: (u) => u.entry_id },
  ],
  sql: (from) =>
    `UPDATE entries SET item_used = true FROM ${from}
      WHERE entries.user_id = v.user_id AND entries.entry_id = v.entry_id`,
};
