import { ENTRY_COLUMNS, type EntryRow, type Pool } from "@points/shared/db";
import { currentTotal } from "../../book-reads";

/**
 * The wallet API's reads. The ledger writes entries; these only read them, always filtered by
 * user or authority so each query walks an index (entries_user_seq, entries_items).
 */

/** Entry types that move points; use_item entries (amount 0) and future types stay out of totals. */
const POINT_TYPES = ["earn", "adjust", "spend"];

export interface WalletTotalRow {
  user_id: string;
  total: bigint;
}

/**
 * One total per requested user, in request order; 0 for a user without matching entries.
 * Without an authority filter that is the user's balance, kept by the ledger in accounts.total;
 * with one it is the sum of those authorities' entries.
 */
export async function walletTotals(
  pool: Pool,
  userIds: string[],
  authorityIds: string[] | undefined,
): Promise<WalletTotalRow[]> {
  const { rows } = await pool.query<{ user_id: string; total: string; next_expiry: Date | null }>(
    authorityIds === undefined
      ? `SELECT u.user_id, coalesce(a.total, 0)::text AS total, a.next_expiry
           FROM unnest($1::text[]) WITH ORDINALITY AS u(user_id, n)
           LEFT JOIN accounts a ON a.user_id = u.user_id
          ORDER BY u.n`
      : `SELECT u.user_id, NULL::timestamptz AS next_expiry,
                coalesce((SELECT sum(e.amount) FROM entries e
                           WHERE e.user_id = u.user_id AND e.authority_id = ANY($2::text[])
                             AND e.type = ANY($3::text[])), 0)::text AS total
           FROM unnest($1::text[]) WITH ORDINALITY AS u(user_id, n)
          ORDER BY u.n`,
    authorityIds === undefined ? [userIds] : [userIds, authorityIds, POINT_TYPES],
  );
  const now = Date.now();
  const totals: WalletTotalRow[] = [];
  for (const r of rows) {
    // Contract 6.1: points past their expiry count nowhere, recorded or not. accounts.total
    // still holds what the ledger has not recorded yet (it does within a minute): the pure core
    // takes it out, for the few members with something due.
    const due = r.next_expiry !== null && r.next_expiry.getTime() <= now;
    totals.push({
      user_id: r.user_id,
      total: due ? await currentTotal(pool, r.user_id, now) : BigInt(r.total),
    });
  }
  return totals;
}

export interface InventoryFilter {
  entryIds?: string[];
  userIds?: string[];
  authorityIds?: string[];
  used?: boolean;
  limit: number;
  offset: number;
}

/** Item entries matching every given filter, oldest first (stable under appends, for paging). */
export async function inventoryPage(pool: Pool, filter: InventoryFilter): Promise<EntryRow[]> {
  const params: unknown[] = [];
  const where = ["item_name IS NOT NULL"];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (filter.entryIds) add((p) => `entry_id = ANY(${p}::uuid[])`, filter.entryIds);
  if (filter.userIds) add((p) => `user_id = ANY(${p}::text[])`, filter.userIds);
  if (filter.authorityIds) add((p) => `authority_id = ANY(${p}::text[])`, filter.authorityIds);
  if (filter.used !== undefined) add((p) => `item_used = ${p}`, filter.used);
  params.push(filter.limit, filter.offset);
  const { rows } = await pool.query<EntryRow>(
    `SELECT ${ENTRY_COLUMNS}
       FROM entries WHERE ${where.join(" AND ")}
      ORDER BY created_on, entry_id
      LIMIT $${params.length - 1} OFFSET $${params.length}`,
    params,
  );
  return rows;
}

/** Who owns an item entry and who created it; null when the entry is unknown or has no item. */
export async function itemOwner(
  pool: Pool,
  entryId: string,
): Promise<{ user_id: string; authority_id: string } | null> {
  const { rows } = await pool.query<{ user_id: string; authority_id: string }>(
    "SELECT user_id, authority_id FROM entries WHERE entry_id = $1 AND item_name IS NOT NULL",
    [entryId],
  );
  return rows[0] ?? null;
}
