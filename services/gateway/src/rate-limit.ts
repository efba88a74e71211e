import type { NextFunction, Request, Response } from "express";
import { type Principal, principalName } from "./auth";
import { httpError } from "./http-errors";

/**
 * Per-token token bucket, per gateway instance (N instances allow N times the rate; documented).
 * The admin token is not limited. Buckets idle for a while are dropped to bound memory.
 */
const IDLE_BUCKET_MS = 60_000;
const BUCKETS_MAX = 200_000;

export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}

  /** Takes one token: null when allowed, else the seconds to wait before retrying. */
  take(p: Principal): number | null {
    return p.role === "admin" ? null : this.takeKey(principalName(p));
  }

  /** Takes one token from the bucket named `key` (a principal, or a client address). */
  takeKey(key: string): number | null {
    const now = Date.now();
    if (this.buckets.size > BUCKETS_MAX) {
      for (const [k, b] of this.buckets) if (now - b.at > IDLE_BUCKET_MS) this.buckets.delete(k);
    }
    const bucket = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return null;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }
}

export function rateLimit(limiter: RateLimiter) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const retryAfterS = req.principal ? limiter.take(req.principal) : null;
    if (retryAfterS === null) return next();
    throw rateLimited("too many requests for this token", retryAfterS);
  };
}

export function rateLimited(message: string, retryAfterS: number) {
  return httpError("rate_limited", message, {}).withHeaders({ "Retry-After": String(retryAfterS) });
}
