import { describe, expect, it } from "vitest";
import { decodeCachedBalance, encodeCachedBalanceBody } from "./redis-keys";

describe("cached balance format", () => {
  const NOW = 1_700_000_000_000;
  it("round-trips with and without a stale instant", () => {
    expect(decodeCachedBalance(`4:${encodeCachedBalanceBody('{"A":1}', NOW + 1)}`, NOW)).toEqual({
      seq: 4,
      json: '{"A":1}',
      staleAt: NOW + 1,
    });
    expect(decodeCachedBalance(`4:${encodeCachedBalanceBody("{}", null)}`, NOW)).toEqual({
      seq: 4,
      json: "{}",
      staleAt: null,
    });
  });

  it("is a miss at and after the stale instant (a cached balance never shows expired points)", () => {
    expect(decodeCachedBalance(`4:${NOW}:{"A":1}`, NOW)).toBeNull();
    expect(decodeCachedBalance(`4:${NOW}:{"A":1}`, NOW + 1)).toBeNull();
  });

  it("reads the earlier format as never stale, and refuses malformed values", () => {
    expect(decodeCachedBalance('3:{"A":1}', NOW)).toEqual({ seq: 3, json: '{"A":1}', staleAt: null });
    for (const bad of ["", ":{}", "x:{}", "3:abc:{}", "3:12", "3:1.5:{}"]) {
      expect(decodeCachedBalance(bad, NOW)).toBeNull();
    }
  });
});
