import type { EntryRecord } from "../messages/entry";

/** Entry rows as stored (written by the ledger, read by the gateway). */
export interface EntryRow {
  user_id: string;
  entry_id: string;
  type: EntryRecord["type"];
  authority_id: string;
  payer: string | null;
  amount: string;
  ts: Date | null;
  created_on: Date;
  reason: string | null;
  item_name: string | null;
  item_data: unknown;
  item_used: boolean | null;
  allocations: EntryRecord["allocations"];
  expires_at: Date | null;
  reversed: string;
  reverses: string | null;
  hold_id: string | null;
}

export const ENTRY_COLUMNS =
  "user_id, entry_id, type, authority_id, payer, amount, ts, created_on, reason, item_name, item_data, item_used, allocations, expires_at, reversed, reverses, hold_id";

export function entryFromRow(r: EntryRow): EntryRecord {
  return {
    entry_id: r.entry_id,
    user_id: r.user_id,
    type: r.type,
    authority_id: r.authority_id,
    payer: r.payer,
    amount: Number(r.amount),
    timestamp: r.ts ? r.ts.toISOString() : null,
    created_on: r.created_on,
    reason: r.reason,
    item:
      r.item_name === null
        ? null
        : { name: r.item_name, used: r.item_used === true, data: r.item_data ?? undefined },
    allocations: r.allocations,
    expires_at: r.expires_at ? r.expires_at.toISOString() : null,
    reversed: Number(r.reversed),
    reverses: r.reverses,
    hold_id: r.hold_id,
  };
}
