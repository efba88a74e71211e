/** The accounts and payer_balances tables: a user's version and totals, per payer too. */
import type { TableWrite } from "./unnest";

export interface PayerRow {
  user_id: string;
  payer: string;
  available: bigint;
  adjusted: bigint;
  /** The arrival of the payer's first lot: orders payers in answers; written on insert only. */
  first_seen: bigint;
}

export const upsertPayers: TableWrite<PayerRow> = {
  columns: [
    { name: "user_id", type: "text", value: (p) => p.user_id },
    { name: "payer", type: "text", value: (p) => p.payer },
    { name: "available", type: "bigint", value: (p) => p.available.toString() },
    { name: "adjusted", type: "bigint", value: (p) => p.adjusted.toString() },
    { name: "first_seen", type: "bigint", value: (p) => p.first_seen.toString() },
  ],
  sql: (from, names) =>
    `INSERT INTO payer_balances (${names}) SELECT ${names} FROM ${from}
     ON CONFLICT (user_id, payer) DO UPDATE SET available = excluded.available, adjusted = excluded.adjusted`,
};

export interface AccountRow {
  user_id: string;
  seq: number;
  next_arrival: bigint;
  total: bigint;
}

export const updateAccounts: TableWrite<AccountRow> = {
  columns: [
    { name: "user_id", type: "text", value: (a) => a.user_id },
    { name: "seq", type: "bigint", value: (a) => a.seq },
    { name: "next_arrival", type: "bigint", value: (a) => a.next_arrival.toString() },
    { name: "total", type: "bigint", value: (a) => a.total.toString() },
  ],
  sql: (from) =>
    `UPDATE accounts SET seq = v.seq, next_arrival = v.next_arrival, total = v.total FROM ${from}
      WHERE accounts.user_id = v.user_id`,
};
