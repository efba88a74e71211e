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

/**
 * A cached balance as stored under redisKeys().balance: "<seq>:<staleAt>:<balance json>", where
 * staleAt is the epoch ms of the member's next expiry (the earliest instant a lot with unspent
 * points expires) or empty when none expires. Contract 6.1: a cached balance must never show
 * points past their expiry, so at or after staleAt the entry is a miss. The version stays first
 * so BALANCE_SET_LUA compares it unchanged; the writer passes encodeCachedBalanceBody() as ARGV[2].
 */
export interface CachedBalance {
  seq: number;
  json: string;
  /** Epoch ms at which the entry stops being true, or null (nothing of it expires). */
  staleAt: number | null;
}

/** ARGV[2] of BALANCE_SET_LUA: the balance json and the instant it goes stale (null = never). */
export function encodeCachedBalanceBody(json: string, staleAt: number | null): string {
  return `${staleAt === null ? "" : String(staleAt)}:${json}`;
}

/**
 * The one reader of the cached-balance format; null if malformed or stale at nowMs. A value
 * written before expiry existed ("<seq>:<json>") reads as never stale: its member had no
 * expiring points when it was written, and the entry lives at most BALANCE_CACHE_TTL_S.
 */
export function decodeCachedBalance(value: string, nowMs: number): CachedBalance | null {
  const colon = value.indexOf(":");
  const seq = Number(value.slice(0, colon));
  if (colon <= 0 || !Number.isSafeInteger(seq)) return null;
  const rest = value.slice(colon + 1);
  if (rest.startsWith("{")) return { seq, json: rest, staleAt: null };
  const second = rest.indexOf(":");
  if (second < 0) return null;
  const staleText = rest.slice(0, second);
  const staleAt = staleText === "" ? null : Number(staleText);
  if (staleAt !== null && !Number.isSafeInteger(staleAt)) return null;
  if (staleAt !== null && nowMs >= staleAt) return null;
  return { seq, json: rest.slice(second + 1), staleAt };
}
