import { redisKeys } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Logger } from "@points/shared/logger";
import type { Redis } from "ioredis";

/**
 * Cache writes that a ledger process failed (and only remembered in memory) or never made (it
 * died between the Postgres commit and the cache write) are lost with the process. A crash always
 * ends in a rebalance, so after every group join the surviving and restarted instances compare
 * each cached balance's version with Postgres and delete the older ones (compare-and-delete: a
 * newer version written meanwhile stays).
 */
const SCAN_COUNT = 1_000;
const DEL_IF_VERSION_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^(%d+):') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export async function repairBalanceCache(
  redis: Redis,
  pool: Pool,
  prefix: string,
  log: Logger,
): Promise<number> {
  const balanceKey = redisKeys(prefix).balance("");
  let deleted = 0;
  for await (const keys of redis.scanStream({ match: `${balanceKey}*`, count: SCAN_COUNT })) {
    const batch = keys as string[];
    if (batch.length === 0) continue;
    const values = await redis.mget(...batch);
    const users = batch.map((k) => k.slice(balanceKey.length));
    const { rows } = await pool.query<{ user_id: string; seq: string }>(
      "SELECT user_id, seq FROM accounts WHERE user_id = ANY($1::text[])",
      [users],
    );
    const stored = new Map(rows.map((r) => [r.user_id, Number(r.seq)]));
    for (let i = 0; i < batch.length; i++) {
      const version = values[i]?.match(/^(\d+):/)?.[1];
      if (version === undefined || Number(version) >= (stored.get(users[i]!) ?? 0)) continue;
      deleted += Number(await redis.eval(DEL_IF_VERSION_LUA, 1, batch[i]!, version));
    }
  }
  if (deleted > 0) log.warn({ deleted }, "stale cached balances deleted");
  return deleted;
}
