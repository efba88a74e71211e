/**
 * Cache writes that a ledger process failed (and only remembered in memory) or never made (it
 * died between the Postgres commit and the cache write) are lost with the process. A crash always
 * ends in a rebalance, so after every group join (and when Redis comes back) the ledger compares
 * cached balances' versions with Postgres and deletes the older ones (compare-and-delete: a newer
 * version written meanwhile stays).
 *
 * The work per run is bounded: at most REPAIR_KEYS_MAX keys, continuing the SCAN where the last
 * run stopped, so a join never walks a cache of millions of keys in one go. A key not reached yet
 * is stale for at most BALANCE_CACHE_TTL_S (every cached balance expires).
 */
import { redisKeys } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Logger } from "@points/shared/logger";
import type { Redis } from "ioredis";

/** Keys asked of Redis per SCAN step (a hint to Redis, not a bound). */
const SCAN_COUNT = 1_000;
/** Keys one repair run looks at, at most (plus what the last SCAN step returned). */
export const REPAIR_KEYS_MAX = 20_000;
const DEL_IF_VERSION_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^(%d+):') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Where the sweep stands between runs ("0": the next run starts a new sweep). */
export interface RepairCursor {
  cursor: string;
}

export async function repairBalanceCache(
  redis: Redis,
  pool: Pool,
  prefix: string,
  log: Logger,
  at: RepairCursor = { cursor: "0" },
): Promise<{ deleted: number; swept: boolean }> {
  const balanceKey = redisKeys(prefix).balance("");
  let deleted = 0;
  let seen = 0;
  do {
    const [next, keys] = await redis.scan(at.cursor, "MATCH", `${balanceKey}*`, "COUNT", SCAN_COUNT);
    at.cursor = next;
    seen += keys.length;
    if (keys.length > 0) deleted += await deleteStale(redis, pool, balanceKey, keys);
  } while (at.cursor !== "0" && seen < REPAIR_KEYS_MAX);
  if (deleted > 0) log.warn({ deleted }, "stale cached balances deleted");
  return { deleted, swept: at.cursor === "0" };
}

async function deleteStale(redis: Redis, pool: Pool, balanceKey: string, keys: string[]): Promise<number> {
  const values = await redis.mget(...keys);
  const users = keys.map((k) => k.slice(balanceKey.length));
  const { rows } = await pool.query<{ user_id: string; seq: string }>(
    "SELECT user_id, seq FROM accounts WHERE user_id = ANY($1::text[])",
    [users],
  );
  const stored = new Map(rows.map((r) => [r.user_id, Number(r.seq)]));
  let deleted = 0;
  for (let i = 0; i < keys.length; i++) {
    const version = values[i]?.match(/^(\d+):/)?.[1];
    if (version === undefined || Number(version) >= (stored.get(users[i]!) ?? 0)) continue;
    deleted += Number(await redis.eval(DEL_IF_VERSION_LUA, 1, keys[i]!, version));
  }
  return deleted;
}
