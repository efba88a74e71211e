import type { Pool } from "@points/shared/db";
import type { StoredAccount, StoredLot, StoredPayer } from "./model";

/** The ledger's tables, read once after quiescence, indexed for the checks. */
export interface CommandRow {
  user_id: string;
  command_id: string;
  type: string;
  status: "applied" | "rejected";
  response: { status: number; body: unknown };
  seq: number | null;
}

export interface EntryRow {
  user_id: string;
  entry_id: string;
  seq: number;
  command_id: string;
  type: string;
  payer: string | null;
  amount: number;
  ts_ms: number | null;
  allocations: { payer: string; points: number }[] | null;
}

export interface AllocationRow {
  arrival: bigint;
  payer: string;
  remainingDelta: bigint;
  adjustedDelta: bigint;
}

export interface Snapshot {
  /** By command id; a list, because the same id for two users would itself be a finding. */
  commands: Map<string, CommandRow[]>;
  entriesByCommand: Map<string, EntryRow[]>;
  allocationsByEntry: Map<string, AllocationRow[]>;
  /** Idempotency-Key -> command id (keys are unique within a run). */
  keyToCommand: Map<string, string>;
  accounts: Map<string, StoredAccount>;
  payers: Map<string, StoredPayer[]>;
  lots: Map<string, StoredLot[]>;
  counts: { commands: number; entries: number; allocations: number; lots: number; accounts: number };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export async function readSnapshot(pool: Pool): Promise<Snapshot> {
  const s: Snapshot = {
    commands: new Map(),
    entriesByCommand: new Map(),
    allocationsByEntry: new Map(),
    keyToCommand: new Map(),
    accounts: new Map(),
    payers: new Map(),
    lots: new Map(),
    counts: { commands: 0, entries: 0, allocations: 0, lots: 0, accounts: 0 },
  };
  await readCommands(pool, s);
  await readEntries(pool, s);
  await readBooks(pool, s);
  return s;
}

async function readCommands(pool: Pool, s: Snapshot): Promise<void> {
  const commands = await pool.query<CommandRow & { seq: string | null }>(
    "SELECT user_id, command_id, type, status, response, seq FROM commands",
  );
  for (const r of commands.rows) {
    push(s.commands, r.command_id, { ...r, seq: r.seq === null ? null : Number(r.seq) });
  }
  s.counts.commands = commands.rowCount ?? 0;
  const keys = await pool.query<{ key: string; command_id: string }>(
    "SELECT key, command_id FROM idempotency_keys WHERE command_id IS NOT NULL",
  );
  for (const r of keys.rows) s.keyToCommand.set(r.key, r.command_id);
}

async function readEntries(pool: Pool, s: Snapshot): Promise<void> {
  const entries = await pool.query<{
    user_id: string;
    entry_id: string;
    seq: string;
    command_id: string;
    type: string;
    payer: string | null;
    amount: string;
    ts_ms: string | null;
    allocations: { payer: string; points: number }[] | null;
  }>(
    `SELECT user_id, entry_id, seq, command_id, type, payer, amount,
            floor(extract(epoch FROM ts) * 1000)::bigint AS ts_ms, allocations
       FROM entries`,
  );
  for (const r of entries.rows) {
    push(s.entriesByCommand, r.command_id, {
      ...r,
      seq: Number(r.seq),
      amount: Number(r.amount),
      ts_ms: r.ts_ms === null ? null : Number(r.ts_ms),
    });
  }
  s.counts.entries = entries.rowCount ?? 0;
  const allocations = await pool.query<{
    entry_id: string;
    arrival: string;
    payer: string;
    remaining_delta: string;
    adjusted_delta: string;
  }>("SELECT entry_id, arrival, payer, remaining_delta, adjusted_delta FROM allocations");
  for (const r of allocations.rows) {
    push(s.allocationsByEntry, r.entry_id, {
      arrival: BigInt(r.arrival),
      payer: r.payer,
      remainingDelta: BigInt(r.remaining_delta),
      adjustedDelta: BigInt(r.adjusted_delta),
    });
  }
  s.counts.allocations = allocations.rowCount ?? 0;
}

async function readBooks(pool: Pool, s: Snapshot): Promise<void> {
  const accounts = await pool.query<{ user_id: string; seq: string; next_arrival: string; total: string }>(
    "SELECT user_id, seq, next_arrival, total FROM accounts",
  );
  for (const r of accounts.rows) {
    s.accounts.set(r.user_id, {
      seq: Number(r.seq),
      nextArrival: BigInt(r.next_arrival),
      total: BigInt(r.total),
    });
  }
  s.counts.accounts = accounts.rowCount ?? 0;
  const payers = await pool.query<{ user_id: string; payer: string; available: string; adjusted: string }>(
    "SELECT user_id, payer, available, adjusted FROM payer_balances ORDER BY user_id, first_seen",
  );
  for (const r of payers.rows) {
    push(s.payers, r.user_id, {
      payer: r.payer,
      available: BigInt(r.available),
      adjusted: BigInt(r.adjusted),
    });
  }
  const lots = await pool.query<{
    user_id: string;
    arrival: string;
    payer: string;
    ts_ms: string;
    points: string;
    remaining: string;
    adjusted: string;
  }>(
    `SELECT user_id, arrival, payer, floor(extract(epoch FROM ts) * 1000)::bigint AS ts_ms,
            points, remaining, adjusted FROM lots`,
  );
  for (const r of lots.rows) {
    push(s.lots, r.user_id, {
      arrival: BigInt(r.arrival),
      payer: r.payer,
      tsMs: Number(r.ts_ms),
      points: BigInt(r.points),
      remaining: BigInt(r.remaining),
      adjusted: BigInt(r.adjusted),
    });
  }
  s.counts.lots = lots.rowCount ?? 0;
}
