import type { Pool, PoolClient } from "@points/shared/db";
import { movementKey, type StoredAccount, type StoredHold, type StoredLot, type StoredPayer } from "./model";

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
  /** The instant the ledger applied the command that wrote it (epoch ms). */
  created_ms: number;
  allocations: { payer: string; points: number }[] | null;
  reverses: string | null;
}

export interface HoldSnapshotRow extends StoredHold {
  userId: string;
  createdMs: number;
  closedMs: number | null;
}

export interface AllocationRow {
  arrival: bigint;
  payer: string;
  remainingDelta: bigint;
  adjustedDelta: bigint;
  heldDelta: bigint;
  expiredDelta: bigint;
  reversedDelta: bigint;
}

export interface Snapshot {
  /** By command id; a list, because the same id for two users would itself be a finding. */
  commands: Map<string, CommandRow[]>;
  entriesByCommand: Map<string, EntryRow[]>;
  allocationsByEntry: Map<string, AllocationRow[]>;
  /**
   * Commands the gateway answered 202 whose send to Kafka then failed (`command_requests.status =
   * 'failed'`): they never reached the ledger, and `GET /v1/commands/{id}` says "failed".
   */
  failed: Set<string>;
  /** Idempotency-Key -> command id (keys are unique within a run). */
  keyToCommand: Map<string, string>;
  accounts: Map<string, StoredAccount>;
  payers: Map<string, StoredPayer[]>;
  lots: Map<string, StoredLot[]>;
  /** Holds by user, and by command id (the place) and hold id. */
  holds: Map<string, HoldSnapshotRow[]>;
  holdByCommand: Map<string, HoldSnapshotRow>;
  holdById: Map<string, HoldSnapshotRow>;
  /** Movements per user, summed per `seq|payer|category|at`. */
  movements: Map<string, Map<string, bigint>>;
  counts: { commands: number; entries: number; allocations: number; lots: number; accounts: number };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/**
 * One REPEATABLE READ transaction: the scheduler may still record an expiry while the checker
 * reads, and every table must show the same instant.
 */
export async function readSnapshot(pool: Pool): Promise<Snapshot> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const snap = await readTables(client);
    await client.query("COMMIT");
    return snap;
  } finally {
    client.release();
  }
}

async function readTables(pool: PoolClient): Promise<Snapshot> {
  const s: Snapshot = {
    commands: new Map(),
    entriesByCommand: new Map(),
    allocationsByEntry: new Map(),
    keyToCommand: new Map(),
    failed: new Set(),
    accounts: new Map(),
    payers: new Map(),
    lots: new Map(),
    holds: new Map(),
    holdByCommand: new Map(),
    holdById: new Map(),
    movements: new Map(),
    counts: { commands: 0, entries: 0, allocations: 0, lots: 0, accounts: 0 },
  };
  await readCommands(pool, s);
  await readEntries(pool, s);
  await readBooks(pool, s);
  await readHolds(pool, s);
  await readMovements(pool, s);
  return s;
}

async function readCommands(pool: PoolClient, s: Snapshot): Promise<void> {
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
  const failed = await pool.query<{ command_id: string }>(
    "SELECT command_id FROM command_requests WHERE status = 'failed'",
  );
  for (const r of failed.rows) s.failed.add(r.command_id);
}

async function readEntries(pool: PoolClient, s: Snapshot): Promise<void> {
  const entries = await pool.query<{
    user_id: string;
    entry_id: string;
    seq: string;
    command_id: string;
    type: string;
    payer: string | null;
    amount: string;
    ts_ms: string | null;
    created_ms: string;
    allocations: { payer: string; points: number }[] | null;
    reverses: string | null;
  }>(
    `SELECT user_id, entry_id, seq, command_id, type, payer, amount,
            floor(extract(epoch FROM ts) * 1000)::bigint AS ts_ms,
            floor(extract(epoch FROM created_on) * 1000)::bigint AS created_ms, allocations, reverses
       FROM entries`,
  );
  for (const r of entries.rows) {
    push(s.entriesByCommand, r.command_id, {
      ...r,
      seq: Number(r.seq),
      amount: Number(r.amount),
      ts_ms: r.ts_ms === null ? null : Number(r.ts_ms),
      created_ms: Number(r.created_ms),
    });
  }
  s.counts.entries = entries.rowCount ?? 0;
  const allocations = await pool.query<{
    entry_id: string;
    arrival: string;
    payer: string;
    remaining_delta: string;
    adjusted_delta: string;
    held_delta: string;
    expired_delta: string;
    reversed_delta: string;
  }>(
    `SELECT entry_id, arrival, payer, remaining_delta, adjusted_delta, held_delta, expired_delta, reversed_delta
       FROM allocations`,
  );
  for (const r of allocations.rows) {
    push(s.allocationsByEntry, r.entry_id, {
      arrival: BigInt(r.arrival),
      payer: r.payer,
      remainingDelta: BigInt(r.remaining_delta),
      adjustedDelta: BigInt(r.adjusted_delta),
      heldDelta: BigInt(r.held_delta),
      expiredDelta: BigInt(r.expired_delta),
      reversedDelta: BigInt(r.reversed_delta),
    });
  }
  s.counts.allocations = allocations.rowCount ?? 0;
}

async function readBooks(pool: PoolClient, s: Snapshot): Promise<void> {
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
  const payers = await pool.query<{
    user_id: string;
    payer: string;
    available: string;
    adjusted: string;
    held: string;
  }>("SELECT user_id, payer, available, adjusted, held FROM payer_balances ORDER BY user_id, first_seen");
  for (const r of payers.rows) {
    push(s.payers, r.user_id, {
      payer: r.payer,
      available: BigInt(r.available),
      adjusted: BigInt(r.adjusted),
      held: BigInt(r.held),
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
    held: string;
    expired: string;
    reversed: string;
    expires_ms: string | null;
  }>(
    `SELECT user_id, arrival, payer, floor(extract(epoch FROM ts) * 1000)::bigint AS ts_ms,
            points, remaining, adjusted, held, expired, reversed,
            floor(extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms FROM lots`,
  );
  for (const r of lots.rows) {
    push(s.lots, r.user_id, {
      arrival: BigInt(r.arrival),
      payer: r.payer,
      tsMs: Number(r.ts_ms),
      points: BigInt(r.points),
      remaining: BigInt(r.remaining),
      adjusted: BigInt(r.adjusted),
      held: BigInt(r.held),
      expired: BigInt(r.expired),
      reversed: BigInt(r.reversed),
      expiresAt: r.expires_ms === null ? null : Number(r.expires_ms),
    });
  }
  s.counts.lots = lots.rowCount ?? 0;
}

async function readHolds(pool: PoolClient, s: Snapshot): Promise<void> {
  const { rows } = await pool.query<{
    user_id: string;
    hold_id: string;
    status: string;
    command_id: string;
    created_ms: string;
    closed_ms: string | null;
  }>(
    `SELECT user_id, hold_id, status, command_id,
            floor(extract(epoch FROM created_on) * 1000)::bigint AS created_ms,
            floor(extract(epoch FROM closed_on) * 1000)::bigint AS closed_ms FROM holds`,
  );
  for (const r of rows) {
    const hold: HoldSnapshotRow = {
      userId: r.user_id,
      holdId: r.hold_id,
      status: r.status,
      commandId: r.command_id,
      createdMs: Number(r.created_ms),
      closedMs: r.closed_ms === null ? null : Number(r.closed_ms),
    };
    push(s.holds, r.user_id, hold);
    s.holdByCommand.set(r.command_id, hold);
    s.holdById.set(r.hold_id, hold);
  }
}

async function readMovements(pool: PoolClient, s: Snapshot): Promise<void> {
  const { rows } = await pool.query<{
    user_id: string;
    seq: string;
    payer: string;
    category: string;
    at_ms: string;
    points: string;
  }>(
    `SELECT user_id, seq, payer, category, floor(extract(epoch FROM at) * 1000)::bigint AS at_ms,
            sum(points) AS points
       FROM movements GROUP BY user_id, seq, payer, category, at`,
  );
  for (const r of rows) {
    const user = s.movements.get(r.user_id) ?? new Map<string, bigint>();
    s.movements.set(r.user_id, user);
    const key = movementKey(Number(r.seq), { payer: r.payer, category: r.category, at: Number(r.at_ms) });
    user.set(key, (user.get(key) ?? 0n) + BigInt(r.points));
  }
}
