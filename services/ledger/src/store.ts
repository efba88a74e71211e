/**
 * The ledger's SQL. Every statement takes the whole batch as arrays (unnest), so a batch of any
 * size costs the same few round trips. Every statement is scoped by user_id.
 */
import type { Book } from "@points/core";
import type { EntryRecord } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
import { ENTRY_COLUMNS, type EntryRow, entryFromRow } from "@points/shared/db";
import type { CommandRecord } from "./command-record";
import { commandKey } from "./keys";

export async function loadCommands(
  db: PoolClient,
  keys: { user_id: string; command_id: string }[],
): Promise<Map<string, CommandRecord>> {
  const found = new Map<string, CommandRecord>();
  if (keys.length === 0) return found;
  const { rows } = await db.query<CommandRecord & { seq: string | null }>(
    `SELECT c.user_id, c.command_id, c.request_hash, c.type, c.status, c.actor, c.response, c.seq
       FROM commands c
       JOIN unnest($1::text[], $2::text[]) AS k(user_id, command_id)
         ON c.user_id = k.user_id AND c.command_id = k.command_id`,
    [keys.map((k) => k.user_id), keys.map((k) => k.command_id)],
  );
  for (const r of rows)
    found.set(commandKey(r.user_id, r.command_id), { ...r, seq: r.seq === null ? null : Number(r.seq) });
  return found;
}

export interface Account {
  book: Book;
  seq: number;
  /** accounts.next_hold_expiry as stored (epoch ms): kept unless the book's holds were loaded. */
  nextHoldExpiry: number | null;
  /**
   * accounts.next_expiry as loaded: a lower bound on the expiry of every unspent lot, so also of
   * the lots a partial prefetch left unloaded (those expire no sooner than it).
   */
  storedNextExpiry: number | null;
  /** accounts.kafka_partition as stored (null: never written by a batch from Kafka). */
  storedPartition: number | null;
  /** Per payer, outstanding (available + held) as stored: the holder counts' starting point. */
  storedOutstanding: Map<string, bigint>;
}

/**
 * Locks and loads the accounts of `userIds` (FOR UPDATE: a second ledger instance that still
 * holds a revoked partition waits instead of writing from stale state). Members without an
 * account get one. Users that are not members are absent from the result.
 */
export async function loadAccounts(db: PoolClient, userIds: string[]): Promise<Map<string, Account>> {
  const accounts = new Map<string, Account>();
  if (userIds.length === 0) return accounts;
  // The member rows first, in one order, the way a member DELETE or rename (gateway) takes them
  // before cascading to the account: that waits for this transaction instead of removing the
  // member under it (a foreign-key failure mid-batch), and the two never deadlock.
  await db.query(
    "SELECT 1 FROM members WHERE loyalty_id = ANY($1::text[]) ORDER BY loyalty_id FOR KEY SHARE",
    [userIds],
  );
  let rows = await lockAccounts(db, userIds);
  if (rows.length < userIds.length) {
    const locked = new Set(rows.map((r) => r.user_id));
    const missing = userIds.filter((u) => !locked.has(u));
    const created = await db.query(
      // FOR KEY SHARE: a member being deleted or renamed right now is waited for and then left
      // out (not found), instead of failing the insert's foreign key after the other commits.
      `INSERT INTO accounts (user_id)
       SELECT loyalty_id FROM members WHERE loyalty_id = ANY($1::text[]) FOR KEY SHARE
       ON CONFLICT DO NOTHING`,
      [missing],
    );
    if ((created.rowCount ?? 0) > 0) rows = await lockAccounts(db, userIds);
  }
  for (const r of rows) {
    const book: Book = {
      userId: r.user_id,
      nextArrival: BigInt(r.next_arrival),
      total: BigInt(r.total),
      payers: new Map(),
      lots: [],
      // The stored bound: "is anything due?" stays O(1) on a partly loaded book.
      nextExpiry: msOrNull(r.next_expiry_ms),
    };
    const through = msOrNull(r.expired_through_ms);
    if (through !== null) book.expiredThrough = through;
    accounts.set(r.user_id, {
      seq: Number(r.seq),
      book,
      nextHoldExpiry: msOrNull(r.next_hold_expiry_ms),
      storedNextExpiry: msOrNull(r.next_expiry_ms),
      storedPartition: r.kafka_partition,
      storedOutstanding: new Map(),
    });
  }
  await loadPayers(db, accounts);
  return accounts;
}

const msOrNull = (ms: string | null) => (ms === null ? null : Number(ms));
const epochMs = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::bigint AS ${column}_ms`;

async function lockAccounts(db: PoolClient, userIds: string[]) {
  const { rows } = await db.query<{
    user_id: string;
    seq: string;
    next_arrival: string;
    total: string;
    next_expiry_ms: string | null;
    next_hold_expiry_ms: string | null;
    expired_through_ms: string | null;
    kafka_partition: number | null;
  }>(
    `SELECT user_id, seq, next_arrival, total, kafka_partition, ${epochMs("next_expiry")}, ${epochMs("next_hold_expiry")},
            ${epochMs("expired_through")} FROM accounts
      WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE`,
    [userIds],
  );
  return rows;
}

async function loadPayers(db: PoolClient, accounts: Map<string, Account>): Promise<void> {
  const { rows } = await db.query<{
    user_id: string;
    payer: string;
    available: string;
    adjusted: string;
    held: string;
  }>(
    `SELECT user_id, payer, available, adjusted, held FROM payer_balances
      WHERE user_id = ANY($1::text[]) ORDER BY user_id, first_seen`,
    [[...accounts.keys()]],
  );
  for (const r of rows) {
    const account = accounts.get(r.user_id);
    if (account === undefined) continue;
    const state = { available: BigInt(r.available), adjusted: BigInt(r.adjusted), held: BigInt(r.held) };
    account.book.payers.set(r.payer, state);
    account.storedOutstanding.set(r.payer, state.available + state.held);
  }
}

/** Entries named by use_item and reverse commands (only those of the given user count). */
export async function loadEntries(
  db: PoolClient,
  keys: { user_id: string; entry_id: string }[],
): Promise<Map<string, EntryRecord>> {
  const found = new Map<string, EntryRecord>();
  if (keys.length === 0) return found;
  const { rows } = await db.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS} FROM entries e
       JOIN unnest($1::text[], $2::uuid[]) AS k(user_id, entry_id) USING (user_id, entry_id)`,
    [keys.map((k) => k.user_id), keys.map((k) => k.entry_id)],
  );
  for (const r of rows) found.set(r.entry_id, entryFromRow(r));
  return found;
}
