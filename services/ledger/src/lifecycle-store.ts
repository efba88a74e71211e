/**
 * What the lifecycle commands need loaded (contract 6): whole books (expiry walks every unspent
 * lot, a hold's release and a reversal may touch any), open holds with their takes, the holds and
 * entries commands name, the lots a reversal gives back to, and the payers' validity. Every
 * statement is scoped by user_id.
 */
import { compareLots, type Hold, type Lot } from "@points/core";
import type { PoolClient } from "@points/shared/db";
import { type Heartbeat, LOT_COLUMNS, type LoadedLots, lotFromRow, type StoredLotRow } from "./prefetch";
import type { HoldRow } from "./storage/lifecycle";
import type { Account } from "./store";

/** Rows per page of a whole-book load: bounds each page's event-loop time, as prefetch does. */
const BOOK_PAGE_ROWS = 8_192;

/**
 * Loads every lot with points in it (unspent, adjusted or held) of `userIds`, and their open holds,
 * into the books. Cost is linear in those lots; a book is loaded whole only when a lifecycle command
 * or a due expiry needs it, so plain spends keep their prefix prefetch.
 */
export async function loadWholeBooks(
  db: PoolClient,
  accounts: Map<string, Account>,
  userIds: string[],
  heartbeat: Heartbeat,
): Promise<LoadedLots> {
  const loaded: LoadedLots = new Map();
  if (userIds.length === 0) return loaded;
  let after: { user: string; arrival: string } = { user: "", arrival: "-1" };
  for (;;) {
    const { rows } = await db.query<StoredLotRow & { user_id: string }>(
      `SELECT user_id, ${LOT_COLUMNS} FROM lots
        WHERE user_id = ANY($1::text[]) AND (remaining > 0 OR adjusted > 0 OR held > 0)
          AND (user_id, arrival) > ($2, $3::bigint)
        ORDER BY user_id, arrival LIMIT ${BOOK_PAGE_ROWS}`,
      [userIds, after.user, after.arrival],
    );
    for (const row of rows) {
      const lots = loaded.get(row.user_id) ?? new Map<bigint, Lot>();
      loaded.set(row.user_id, lots);
      const lot = lotFromRow(row);
      lots.set(lot.arrival, lot);
    }
    const last = rows[rows.length - 1];
    if (!last || rows.length < BOOK_PAGE_ROWS) break;
    after = { user: last.user_id, arrival: last.arrival };
    await new Promise((resolve) => setImmediate(resolve));
    await heartbeat().catch(() => {});
  }
  for (const userId of userIds) {
    const book = accounts.get(userId)?.book;
    if (!book) continue;
    book.lots = [...(loaded.get(userId)?.values() ?? [])].sort(compareLots);
    book.nextExpiry = undefined; // recomputed from the whole book on first use
    book.holds = new Map();
  }
  await loadOpenHolds(db, accounts, userIds);
  return loaded;
}

async function loadOpenHolds(db: PoolClient, accounts: Map<string, Account>, userIds: string[]) {
  const { rows } = await db.query<{
    user_id: string;
    hold_id: string;
    points: string;
    expires_ms: string;
    arrival: string;
    payer: string;
    ts_ms: string;
    held_delta: string;
  }>(
    `SELECT h.user_id, h.hold_id, h.points, floor(extract(epoch FROM h.expires_at) * 1000)::bigint AS expires_ms,
            a.arrival, a.payer, floor(extract(epoch FROM a.ts) * 1000)::bigint AS ts_ms, a.held_delta
       FROM holds h JOIN hold_allocations a
         ON a.user_id = h.user_id AND a.hold_id = h.hold_id AND a.step = 0
      WHERE h.user_id = ANY($1::text[]) AND h.status = 'held'
      ORDER BY h.user_id, h.created_on, h.hold_id, a.ts, a.arrival`,
    [userIds],
  );
  for (const r of rows) {
    const holds = accounts.get(r.user_id)?.book.holds;
    if (!holds) continue;
    let hold: Hold | undefined = holds.get(r.hold_id);
    if (!hold) {
      hold = {
        holdId: r.hold_id,
        points: BigInt(r.points),
        takes: [],
        expiresAt: Number(r.expires_ms),
        status: "held",
      };
      holds.set(r.hold_id, hold);
    }
    hold.takes.push({
      arrival: BigInt(r.arrival),
      payer: r.payer,
      ts: Number(r.ts_ms),
      points: BigInt(r.held_delta),
    });
  }
}

/** The holds that commands name (any status), by user and hold id. */
export async function loadHolds(
  db: PoolClient,
  keys: { user_id: string; hold_id: string }[],
): Promise<Map<string, HoldRow>> {
  const found = new Map<string, HoldRow>();
  if (keys.length === 0) return found;
  const { rows } = await db.query<
    Omit<HoldRow, "points" | "captured"> & { points: string; captured: string | null }
  >(
    `SELECT h.* FROM holds h
       JOIN unnest($1::text[], $2::uuid[]) AS k(user_id, hold_id) USING (user_id, hold_id)`,
    [keys.map((k) => k.user_id), keys.map((k) => k.hold_id)],
  );
  for (const r of rows) {
    found.set(`${r.user_id}\u0000${r.hold_id}`, {
      ...r,
      points: BigInt(r.points),
      captured: r.captured === null ? null : BigInt(r.captured),
    });
  }
  return found;
}

/** What a reversal needs of the entry it reverses: its allocations (with their lots), or its lot. */
export interface ReversalTarget {
  /** Allocation rows with their lots, in lot order (the order a spend or capture took them). */
  allocations: { arrival: bigint; payer: string; taken: bigint; reversed: bigint; lot: Lot }[];
  /** The earn's own lot. */
  lot: Lot | null;
}

export async function loadReversalTargets(
  db: PoolClient,
  keys: { user_id: string; entry_id: string }[],
): Promise<Map<string, ReversalTarget>> {
  const found = new Map<string, ReversalTarget>();
  if (keys.length === 0) return found;
  const target = (entryId: string) => {
    const t = found.get(entryId) ?? { allocations: [], lot: null };
    found.set(entryId, t);
    return t;
  };
  const params = [keys.map((k) => k.user_id), keys.map((k) => k.entry_id)];
  const allocations = await db.query<
    StoredLotRow & { entry_id: string; taken: string; allocation_reversed: string }
  >(
    `SELECT a.entry_id, -(a.remaining_delta + a.held_delta) AS taken, a.reversed AS allocation_reversed, l.*
       FROM unnest($1::text[], $2::uuid[]) AS k(user_id, entry_id)
       JOIN allocations a ON a.user_id = k.user_id AND a.entry_id = k.entry_id
       CROSS JOIN LATERAL (SELECT ${LOT_COLUMNS} FROM lots
                            WHERE lots.user_id = a.user_id AND lots.arrival = a.arrival) l
      ORDER BY l.ts_ms, l.arrival`,
    params,
  );
  for (const r of allocations.rows) {
    const lot = lotFromRow(r);
    target(r.entry_id).allocations.push({
      arrival: lot.arrival,
      payer: lot.payer,
      taken: BigInt(r.taken),
      reversed: BigInt(r.allocation_reversed),
      lot,
    });
  }
  const lots = await db.query<StoredLotRow & { entry_id: string }>(
    `SELECT l.entry_id, ${LOT_COLUMNS} FROM unnest($1::text[], $2::uuid[]) AS k(user_id, entry_id)
       JOIN lots l ON l.user_id = k.user_id AND l.entry_id = k.entry_id`,
    params,
  );
  for (const r of lots.rows) target(r.entry_id).lot = lotFromRow(r);
  return found;
}

/** points_validity_days of the payers (null: their points never expire). */
export async function loadValidity(db: PoolClient, payers: string[]): Promise<Map<string, number | null>> {
  const found = new Map<string, number | null>();
  if (payers.length === 0) return found;
  const { rows } = await db.query<{ id: string; points_validity_days: number | null }>(
    "SELECT id, points_validity_days FROM partners WHERE id = ANY($1::text[])",
    [payers],
  );
  for (const r of rows) found.set(r.id, r.points_validity_days);
  return found;
}
