/**
 * One ledger entry as stored, and the shapes clients see. The ledger renders its answers with
 * these and the gateway renders its reads with the same functions, so both always agree.
 */
export type EntryType = "earn" | "adjust" | "spend" | "use_item" | "expire" | "reversal";

export interface PayerPoints {
  payer: string;
  points: number;
}

export interface EntryRecord {
  entry_id: string;
  user_id: string;
  type: EntryType;
  authority_id: string;
  payer: string | null;
  amount: number;
  /** Transaction timestamp (earn and adjust), ISO 8601 UTC. */
  timestamp: string | null;
  created_on: Date;
  reason: string | null;
  item: { name: string; used: boolean; data?: unknown } | null;
  allocations: PayerPoints[] | null;
  /** Contract 6.1, earns only: when the lot expires, ISO 8601 UTC; null = never. */
  expires_at?: string | null;
  /** Contract 6.2: points reversed so far (shown when > 0). */
  reversed?: number;
  /** A reversal: the entry it reverses. */
  reverses?: string | null;
  /** A spend that captured a hold (contract 6.3). */
  hold_id?: string | null;
}

/** Wallet API Entry. */
export function renderEntry(e: EntryRecord) {
  return {
    entry_id: e.entry_id,
    authority_id: e.authority_id,
    user_id: e.user_id,
    created_on: Math.floor(e.created_on.getTime() / 1000),
    amount: e.amount,
    reason: e.reason,
    ...(e.item ? { item: renderItem(e.item) } : {}),
    ...(e.allocations ? { allocations: e.allocations } : {}),
    ...lifecycleFields(e),
  };
}

/** Contract 6: expires_at on earns, reverses on reversals, hold_id on captures, reversed when > 0. */
function lifecycleFields(e: EntryRecord) {
  return {
    ...(e.type === "earn" ? { expires_at: e.expires_at ?? null } : {}),
    ...(e.type === "reversal" && e.reverses ? { reverses: e.reverses } : {}),
    ...(e.hold_id ? { hold_id: e.hold_id } : {}),
    ...((e.reversed ?? 0) > 0 ? { reversed: e.reversed } : {}),
  };
}

/** Entry as listed under /v1/users/{id}/entries: the wallet Entry plus type, payer and timestamp. */
export function renderUserEntry(e: EntryRecord) {
  return {
    ...renderEntry(e),
    type: e.type,
    ...(e.type === "earn" || e.type === "adjust" ? { payer: e.payer, timestamp: e.timestamp } : {}),
  };
}

/** Answer of POST /v1/users/{id}/transactions. */
export function renderTransaction(e: EntryRecord) {
  return {
    entry_id: e.entry_id,
    payer: e.payer,
    points: e.amount,
    timestamp: e.timestamp,
    ...(e.type === "earn" ? { expires_at: e.expires_at ?? null } : {}),
  };
}

function renderItem(item: NonNullable<EntryRecord["item"]>) {
  return {
    name: item.name,
    used: item.used,
    ...(item.data !== undefined && item.data !== null ? { data: item.data } : {}),
  };
}
