/** Redis key names in one place; the prefix isolates test files and co-hosted stacks. */
export function redisKeys(prefix: string) {
  return {
    /** "<seq>:<balance json>", written only if seq is newer (see BALANCE_SET_LUA). */
    balance: (userId: string) => `${prefix}bal:${userId}`,
    replyChannel: (gatewayId: string) => `${prefix}replies:${gatewayId}`,
    authInvalidate: `${prefix}auth:invalidate`,
  };
}

/** Seconds a cached balance lives: bounds staleness if a cache write was ever lost. */
export const BALANCE_CACHE_TTL_S = 300;

/**
 * Sets KEYS[1] to ARGV[1] .. ':' .. ARGV[2] unless the stored version is already >= ARGV[1].
 * Writers race (ledger after a commit, gateway filling a miss); the newest version must win.
 */
export const BALANCE_SET_LUA = `
local cur = redis.call('GET', KEYS[1])
if cur then
  local v = tonumber(string.match(cur, '^(%d+):'))
  if v and v >= tonumber(ARGV[1]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', tonumber(ARGV[3]))
return 1
`;

/** A cached balance as stored under redisKeys().balance: "<seq>:<balance json>". */
export interface CachedBalance {
  seq: number;
  json: string;
}

/** The one reader of the cached-balance format (the writer is BALANCE_SET_LUA); null if malformed. */
export function decodeCachedBalance(value: string): CachedBalance | null {
  const colon = value.indexOf(":");
  const seq = Number(value.slice(0, colon));
  if (colon <= 0 || !Number.isSafeInteger(seq)) return null;
  return { seq, json: value.slice(colon + 1) };
}
