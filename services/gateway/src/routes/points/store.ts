/** What the points routes read from Redis and Postgres: balances and entry pages. */

import {
  BALANCE_CACHE_TTL_S,
  decodeCachedBalance,
  encodeCachedBalanceBody,
  renderUserEntry,
} from "@points/shared";
import { ENTRY_COLUMNS, type EntryRow, entryFromRow } from "@points/shared/db";
import type { Request } from "express";
import { currentBalance } from "../../book-reads";
import type { GatewayContext } from "../../context";
import { httpError } from "../../http-errors";
import { type PageQuery, pageLinks } from "../../pagination";

/**
 * Redis first; on a miss (or Redis down, or a cached entry that reached the member's next expiry)
 * one consistent Postgres read, then fill the cache with the instant it goes stale. When some of
 * the member's points are due but not recorded yet, the pure core takes them out (balancesAt)
 * and nothing is cached: the ledger records them within a minute and caches the result.
 */
export async function readBalance(ctx: GatewayContext, key: string, userId: string): Promise<string> {
  const now = Date.now();
  const cached = await ctx.redis.get(key).catch(() => null);
  const hit = cached ? decodeCachedBalance(cached, now) : null;
  if (hit) return hit.json;
  const { rows } = await ctx.pool.query<{ seq: string; body: string; next_expiry: Date | null }>(
    `SELECT coalesce(a.seq, 0) AS seq, a.next_expiry,
            (SELECT '{' || coalesce(string_agg(to_json(p.payer)::text || ':' || p.available, ',' ORDER BY p.first_seen), '') || '}'
               FROM payer_balances p WHERE p.user_id = m.loyalty_id) AS body
       FROM members m LEFT JOIN accounts a ON a.user_id = m.loyalty_id
      WHERE m.loyalty_id = $1`,
    [userId],
  );
  const row = rows[0];
  if (!row) throw httpError("not_found", `member ${userId} not found`);
  const staleAt = row.next_expiry?.getTime() ?? null;
  if (staleAt !== null && staleAt <= now) return currentBalance(ctx.pool, userId, now);
  const fill = (ctx.redis as unknown as { setBalance: (...a: unknown[]) => Promise<number> }).setBalance;
  const value = encodeCachedBalanceBody(row.body, staleAt);
  await fill.call(ctx.redis, key, row.seq, value, BALANCE_CACHE_TTL_S).catch(() => {});
  return row.body;
}

export async function listEntries(ctx: GatewayContext, req: Request, userId: string, page: PageQuery) {
  const { rows } = await ctx.pool.query<EntryRow & { total: string; member: boolean }>(
    `SELECT m.loyalty_id IS NOT NULL AS member, c.total, e.*
       FROM (SELECT 1) one
       LEFT JOIN members m ON m.loyalty_id = $1
       LEFT JOIN LATERAL (SELECT count(*) AS total FROM entries WHERE user_id = $1) c ON true
       LEFT JOIN LATERAL (SELECT ${ENTRY_COLUMNS} FROM entries WHERE user_id = $1
                           ORDER BY seq DESC, entry_id LIMIT $2 OFFSET $3) e ON true`,
    [userId, page.page_size, (page.page - 1) * page.page_size],
  );
  if (!rows[0]?.member) throw httpError("not_found", `member ${userId} not found`);
  const results = rows.filter((r) => r.entry_id !== null).map((r) => renderUserEntry(entryFromRow(r)));
  return { ...pageLinks(req, page, Number(rows[0].total), ctx.config.PUBLIC_URL), results };
}
