/**
 * The hottest read, `GET /v1/users/{id}/balance`, answered without express when every step is on
 * the happy path: a plain user id in the URL, no body, a token known without Postgres, a
 * principal allowed to read that account, a cached balance (in the gateway's memory, else in Redis)
 * that is not stale (none of its points has reached its expiry, contract 6.1) and a token left in
 * the rate bucket. Anything else (an error to render, a cache miss, Redis down, an encoded URL) returns
 * false before a byte is written, and the express app gives the same answer the general way.
 * Why: express routing and its request/response decoration cost more CPU than the read itself
 * (bench/results/profiles.md); this path answers the same bytes for a fraction.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { type CachedBalance, decodeCachedBalance, redisKeys } from "@points/shared";
import type { Principal } from "./auth";
import type { GatewayContext } from "./context";
import { denial } from "./permissions";
import type { RateLimiter } from "./rate-limit";

export const BALANCE_ROUTE = "/v1/users/:userId/balance";
// Only unreserved URL characters (RFC 3986): the id needs no decoding and is always a valid UserId.
const BALANCE_URL = /^\/v1\/users\/([A-Za-z0-9._~-]{1,50})\/balance$/;

export type Observe = (method: string, route: string, status: number, seconds: number) => void;

/**
 * False at once when the request is not for this path (no promise on the way of every other
 * request), true when it answered at once from the gateway's memory (balance-near-cache.ts), else
 * a promise of whether it answered.
 */
export function balanceFastPath(ctx: GatewayContext, limiter: RateLimiter, observe: Observe) {
  const keys = redisKeys(ctx.config.REDIS_KEY_PREFIX);
  return (req: IncomingMessage, res: ServerResponse): boolean | Promise<boolean> => {
    const started = performance.now();
    if (req.method !== "GET" || req.headers["content-length"] || req.headers["transfer-encoding"]) {
      return false;
    }
    const userId = BALANCE_URL.exec(req.url ?? "")?.[1];
    if (userId === undefined) return false;
    const principal = ctx.auth.knownPrincipal(req.headers.authorization);
    if (!principal || denial(principal, "points.read", { userId }) !== null) return false;
    const key = keys.balance(userId);
    const near = ctx.nearCache?.get(key, Date.now());
    if (near) return answer(near, principal);
    return answerFromRedis(key, principal).catch(() => false);

    async function answerFromRedis(key: string, principal: Principal): Promise<boolean> {
      const cached = await (ctx.nearCache ? ctx.nearCache.fetch(key) : ctx.redis.get(key));
      const hit = cached ? decodeCachedBalance(cached, Date.now()) : null;
      return hit ? answer(hit, principal) : false;
    }

    function answer(hit: CachedBalance, principal: Principal): boolean {
      if (limiter.take(principal) !== null) return false;
      const body = hit.json;
      res.writeHead(200, {
        "content-type": "application/json; charset=utf-8",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
      observe("GET", BALANCE_ROUTE, 200, (performance.now() - started) / 1000);
      return true;
    }
  };
}
