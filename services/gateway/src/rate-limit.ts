import type { NextFunction, Request, Response } from "express";
import { principalName } from "./auth";
import { httpError } from "./http-errors";

/**
 * Per-token token bucket, per gateway instance (N instances allow N times the rate; documented).
 * The admin token is not limited. Buckets idle for a while are dropped to bound memory.
 */
const IDLE_BUCKET_MS = 60_000;
const BUCKETS_MAX = 200_000;

export function rateLimit(perSecond: number, burst: number) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  return (req: Request, _res: Response, next: NextFunction) => {
    const p = req.principal;
    if (!p || p.role === "admin") return next();
    const key = principalName(p);
    const now = Date.now();
    if (buckets.size > BUCKETS_MAX) {
      for (const [k, b] of buckets) if (now - b.at > IDLE_BUCKET_MS) buckets.delete(k);
    }
    const bucket = buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return next();
    }
    const retryAfterS = Math.max(1, Math.ceil((1 - bucket.tokens) / perSecond));
    throw httpError("rate_limited", "too many requests for this token", {}).withHeaders({
      "Retry-After": String(retryAfterS),
    });
  };
}
