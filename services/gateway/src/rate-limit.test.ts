import { describe, expect, it } from "vitest";
import { BUCKETS_MAX, RateLimiter } from "./rate-limit";

/** The limiter's memory stays bounded, and each request looks at a few buckets, not all of them. */
describe("RateLimiter", () => {
  it("never holds more than BUCKETS_MAX buckets, dropping the least recently used", () => {
    const limiter = new RateLimiter(1e-9, 1); // no refill while the test runs
    limiter.takeKey("busy");
    for (let i = 0; i < BUCKETS_MAX + 1_000; i++) {
      limiter.takeKey(`client-${i}`);
      if (i % 10_000 === 0) limiter.takeKey("busy"); // recently used: kept
    }
    expect(limiter.size).toBeLessThanOrEqual(BUCKETS_MAX);
    // "busy" kept its bucket (empty, so limited); "client-0", the least recently used, was dropped.
    expect(limiter.takeKey("busy")).not.toBeNull();
    expect(limiter.takeKey("client-0")).toBeNull();
  });
});
