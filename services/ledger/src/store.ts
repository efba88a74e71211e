import type { Book, Lot } from "@points/core";
import type { EntryRecord, HttpResponse } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
import { ENTRY_COLUMNS, type EntryRow, entryFromRow } from "@points/shared/db";

/**
 * The ledger's SQL. Every statement takes the whole batch as arrays (unnest), so a batch of any
 * size costs the same few round trips. Every statement is scoped by user_id.
 */

export interface StoredCommand {
  user_id: string;
  command_id: string;
  request_hash: string;
  type: string;
  status: "applied" | "rejected";
  actor: string;
  response: HttpResponse;
  seq: number | null;
}

export async function loadCommands(
  db: PoolClient,
  keys: { user_id: string; command_id: string }[],
): Promise<Map<string, StoredCommand>> {
  const found = new Map<string, StoredCommand>();
  if (keys.length === 0) return found;
  const { rows } = await db.query<StoredCommand & { seq: string | null }>(
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

export function commandKey(userId: string, commandId: string): string {
  return `${userId}\u0000${commandId}`;
}

export interface Account {
  book: Book;
  seq: number;
}

/**
 * Locks and loads the accounts of `userIds` (FOR UPDATE: a second ledger instance that still
 * holds a revoked partition waits instead of writing from stale state). Members without an
 * account get one. Users that are not members are absent from the result.
 */
export async function loadAccounts(db: PoolClient, userIds: string[]): Promise<Map<string, Account>> {
  const accounts = new Map<string, Account>();
  if (userIds.length === 0) return accounts;
  let rows = await lockAccounts(db, userIds);
  if (rows.length < userIds.length) {
    const missing = userIds.filter((u) => !rows.some((r) => r.user_id === u));
    const created = await db.query(
      `INSERT INTO accounts (user_id)
       SELECT loyalty_id FROM members WHERE loyalty_id = ANY($1::text[])
       ON CONFLICT DO NOTHING`,
      [missing],
    );
    if ((created.rowCount ?? 0) > 0) rows = await lockAccounts(db, userIds);
  }
  for (const r of rows) {
    accounts.set(r.user_id, {
      seq: Number(r.seq),
      book: {
        userId: r.user_id,
        nextArrival: BigInt(r.next_arrival),
        total: BigInt(r.total),
        payers: new Map(),
        lots: [],
      },
    });
  }
  await loadPayers(db, accounts);
  return accounts;
}

async function lockAccounts(db: PoolClient, userIds: string[]) {
  const { rows } = await db.query<{ user_id: string; seq: string; next_arrival: string; total: string }>(
    `SELECT user_id, seq, next_arrival, total FROM accounts
      WHERE user_id = ANY($1::text[]) ORDER BY user_id FOR UPDATE`,
    [userIds],
  );
  return rows;
}

async function loadPayers(db: PoolClient, accounts: Map<string, Account>): Promise<void> {
  const { rows } = await db.query<{ user_id: string; payer: string; available: string; adjusted: string }>(
    `SELECT user_id, payer, available, adjusted FROM payer_balances
      WHERE user_id = ANY($1::text[]) ORDER BY user_id, first_seen`,
    [[...accounts.keys()]],
  );
  for (const r of rows) {
    accounts
      .get(r.user_id)
      ?.book.payers.set(r.payer, { available: BigInt(r.available), adjusted: BigInt(r.adjusted) });
  }
}

/**
 * What a batch may walk, per user: spends walk the oldest live lots of any payer, a negative
 * walks one payer's oldest live lots, and an earn of a payer with negatives may move them onto
 * itself (every adjusted lot of that payer). Amounts are upper bounds of what the batch takes.
 */
export interface LotNeed {
  spend: bigint;
  negatives: bigint;
  payers: Map<string, { live: bigint; adjusted: boolean }>;
}

/** Rows per user (or user and payer) in the first round; later rounds ask for more. */
export const LOTS_FIRST_PAGE = 32;
const LOTS_PAGE_GROWTH = 8;

interface LotRequest {
  kind: "global" | "payer" | "adjusted";
  userId: string;
  payer: string | null;
  /** Live points to cover; the request stays open until covered or exhausted. */
  target: bigint;
  covered: bigint;
  after: { ts: Date; arrival: string } | null;
}

interface LotRow {
  req: number;
  user_id: string;
  arrival: string;
  payer: string;
  ts: Date;
  ts_ms: string;
  points: string;
  remaining: string;
  adjusted: string;
}

/**
 * Loads just enough lots for the batch: a prefix of each user's live lots (in spend order) that
 * covers its spends and negatives, the same per payer for negatives, and the adjusted lots of
 * payers that may re-place. Cost follows the lots a batch touches, not the lots a user has:
 * pages grow geometrically, so a huge spend costs a few more round trips, never a full scan.
 */
export async function loadLots(
  db: PoolClient,
  accounts: Map<string, Account>,
  needs: Map<string, LotNeed>,
): Promise<void> {
  const open = lotRequests(needs);
  const found = new Map<string, Map<string, Lot>>();
  for (let limit = LOTS_FIRST_PAGE; open.length > 0; limit *= LOTS_PAGE_GROWTH) {
    const rows = await queryLots(db, open, limit);
    const perRequest = new Map<number, LotRow[]>();
    for (const row of rows) {
      perRequest.set(row.req, [...(perRequest.get(row.req) ?? []), row]);
      const lots = found.get(row.user_id) ?? new Map<string, Lot>();
      found.set(row.user_id, lots);
      lots.set(row.arrival, lotFromRow(row));
    }
    const still = open.filter((req, i) => advance(req, perRequest.get(i) ?? [], limit));
    open.splice(0, open.length, ...still);
  }
  for (const [userId, lots] of found) {
    const book = accounts.get(userId)?.book;
    if (!book) continue;
    book.lots = [...lots.values()].sort((a, b) => a.ts - b.ts || (a.arrival < b.arrival ? -1 : 1));
  }
}

function lotRequests(needs: Map<string, LotNeed>): LotRequest[] {
  const requests: LotRequest[] = [];
  const add = (kind: LotRequest["kind"], userId: string, payer: string | null, target: bigint) =>
    requests.push({ kind, userId, payer, target, covered: 0n, after: null });
  for (const [userId, need] of needs) {
    if (need.spend > 0n) add("global", userId, null, need.spend + need.negatives);
    for (const [payer, p] of need.payers) {
      if (p.live > 0n) add("payer", userId, payer, p.live);
      if (p.adjusted) add("adjusted", userId, payer, 0n);
    }
  }
  return requests;
}

/** Records a page; true while the request still needs another (longer) page. */
function advance(req: LotRequest, rows: LotRow[], limit: number): boolean {
  if (req.kind === "adjusted") return false; // loaded whole in one go
  for (const row of rows) req.covered += BigInt(row.remaining);
  const last = rows[rows.length - 1];
  if (!last || rows.length < limit || req.covered >= req.target) return false;
  req.after = { ts: last.ts, arrival: last.arrival };
  return true;
}

async function queryLots(db: PoolClient, requests: LotRequest[], limit: number): Promise<LotRow[]> {
  const columns =
    "user_id, arrival, payer, ts, floor(extract(epoch FROM ts) * 1000)::bigint AS ts_ms, points, remaining, adjusted";
  const { rows } = await db.query<LotRow>(
    `SELECT (r.i - 1)::int AS req, l.*
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[]) WITH ORDINALITY
            AS r(kind, user_id, payer, after_ts, after_arrival, i)
       CROSS JOIN LATERAL (
         (SELECT ${columns} FROM lots
           WHERE r.kind = 'global' AND lots.user_id = r.user_id AND remaining > 0
             AND (ts, arrival) > (coalesce(r.after_ts, '-infinity'), coalesce(r.after_arrival, -1))
           ORDER BY ts, arrival LIMIT $6)
         UNION ALL
         (SELECT ${columns} FROM lots
           WHERE r.kind = 'payer' AND lots.user_id = r.user_id AND lots.payer = r.payer AND remaining > 0
             AND (ts, arrival) > (coalesce(r.after_ts, '-infinity'), coalesce(r.after_arrival, -1))
           ORDER BY ts, arrival LIMIT $6)
         UNION ALL
         (SELECT ${columns} FROM lots
           WHERE r.kind = 'adjusted' AND lots.user_id = r.user_id AND lots.payer = r.payer AND adjusted > 0)
       ) l`,
    [
      requests.map((r) => r.kind),
      requests.map((r) => r.userId),
      requests.map((r) => r.payer),
      requests.map((r) => r.after?.ts ?? null),
      requests.map((r) => r.after?.arrival ?? null),
      limit,
    ],
  );
  return rows;
}

function lotFromRow(r: LotRow): Lot {
  return {
    arrival: BigInt(r.arrival),
    payer: r.payer,
    ts: Number(r.ts_ms),
    points: BigInt(r.points),
    remaining: BigInt(r.remaining),
    adjusted: BigInt(r.adjusted),
  };
}

/** Entries named by use_item commands (only those of the given user count). */
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
