/**
 * Per-token token bucket, per gateway instance (N instances allow N times the rate; documented).
 * The admin token is not limited. The buckets are kept least recently used first, so dropping
 * idle ones (and, past BUCKETS_MAX, the least recently used) looks only at the front, a few
 * buckets per request: no request ever pays for a sweep of all of them.
 */

import type { NextFunction, Request, Response } from "express";
import { type Principal, principalName } from "./auth";
import { httpError } from "./http-errors";

const IDLE_BUCKET_MS = 60_000;
export const BUCKETS_MAX = 200_000;
const EVICTIONS_PER_TAKE_MAX = 8;

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
    const found = this.buckets.get(key);
    const bucket = found ?? { tokens: this.burst, at: now };
    if (found) this.buckets.delete(key); // re-inserted below, at the most recently used end
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((now - bucket.at) / 1000) * this.perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    this.evict(now);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return null;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(now: number): void {
    let looked = 0;
    for (const [key, b] of this.buckets) {
      if (looked++ >= EVICTIONS_PER_TAKE_MAX) return;
      if (this.buckets.size <= BUCKETS_MAX && now - b.at <= IDLE_BUCKET_MS) return;
      this.buckets.delete(key);
    }
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
