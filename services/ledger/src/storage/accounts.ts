/** The accounts and payer_balances tables: a user's version and totals, per payer too. */
import type { TableWrite } from "./unnest";

export interface PayerRow {
  user_id: string;
  payer: string;
  available: bigint;
  adjusted: bigint;
  held: bigint;
  /** The arrival of the payer's first lot: orders payers in answers; written on insert only. */
  first_seen: bigint;
  /** The applied instant of the payer's first lot (balance as_of); written on insert only. */
  first_seen_at: Date;
}

export const upsertPayers: TableWrite<PayerRow> = {
  columns: [
    { name: "user_id", type: "text", value: (p) => p.user_id },
    { name: "payer", type: "text", value: (p) => p.payer },
    { name: "available", type: "bigint", value: (p) => p.available.toString() },
    { name: "adjusted", type: "bigint", value: (p) => p.adjusted.toString() },
    { name: "first_seen", type: "bigint", value: (p) => p.first_seen.toString() },
    { name: "held", type: "bigint", value: (p) => p.held.toString() },
    { name: "first_seen_at", type: "timestamptz", value: (p) => p.first_seen_at.toISOString() },
  ],
  sql: (from, names) =>
    `INSERT INTO payer_balances (${names}) SELECT ${names} FROM ${from}
     ON CONFLICT (user_id, payer) DO UPDATE SET available = excluded.available, adjusted = excluded.adjusted,
       held = excluded.held`,
};

/** Members who started (+) or stopped (-) holding a payer's points in a batch, per partition. */
export interface HolderDelta {
  payer: string;
  kafka_partition: number;
  holders: number;
}

/** The members report's count (migration 015), added to in the same statement as the balances. */
export const upsertHolders: TableWrite<HolderDelta> = {
  columns: [
    { name: "payer", type: "text", value: (d) => d.payer },
    { name: "kafka_partition", type: "integer", value: (d) => d.kafka_partition },
    { name: "holders", type: "bigint", value: (d) => d.holders.toString() },
  ],
  sql: (from, names) =>
    `INSERT INTO report_holders (${names}) SELECT ${names} FROM ${from}
     ON CONFLICT (payer, kafka_partition) DO UPDATE SET holders = report_holders.holders + excluded.holders`,
};

export interface AccountRow {
  user_id: string;
  seq: number;
  next_arrival: bigint;
  total: bigint;
  /** Scheduling (migration 008), epoch ms or null. */
  next_expiry: number | null;
  next_hold_expiry: number | null;
  expired_through: number | null;
  /** The Kafka partition of the member's key, when the batch knows it (else kept). */
  kafka_partition: number | null;
}

const instant = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const updateAccounts: TableWrite<AccountRow> = {
  columns: [
    { name: "user_id", type: "text", value: (a) => a.user_id },
    { name: "seq", type: "bigint", value: (a) => a.seq },
    { name: "next_arrival", type: "bigint", value: (a) => a.next_arrival.toString() },
    { name: "total", type: "bigint", value: (a) => a.total.toString() },
    { name: "next_expiry", type: "timestamptz", value: (a) => instant(a.next_expiry) },
    { name: "next_hold_expiry", type: "timestamptz", value: (a) => instant(a.next_hold_expiry) },
    { name: "expired_through", type: "timestamptz", value: (a) => instant(a.expired_through) },
    { name: "kafka_partition", type: "int", value: (a) => a.kafka_partition },
  ],
  sql: (from) =>
    `UPDATE accounts SET seq = v.seq, next_arrival = v.next_arrival, total = v.total,
            next_expiry = v.next_expiry, next_hold_expiry = v.next_hold_expiry,
            expired_through = v.expired_through,
            kafka_partition = coalesce(v.kafka_partition, accounts.kafka_partition) FROM ${from}
      WHERE accounts.user_id = v.user_id`,
};
