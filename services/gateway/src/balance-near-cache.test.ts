import { randomBytes } from "node:crypto";
import { createLogger } from "@points/shared/logger";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BalanceNearCache } from "./balance-near-cache";

/**
 * The near cache against the real Redis: it keeps what it read, forgets it when any other
 * connection changes the key (Redis's invalidation push), never keeps a read that an
 * invalidation overtook, and forgets everything when its connections drop.
 */
const REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const log = createLogger("near-cache-test", "silent");
const prefix = `nc${randomBytes(4).toString("hex")}:`;
const key = (name: string) => `${prefix}bal:${name}`;
let writer: Redis;
const caches: BalanceNearCache[] = [];

beforeAll(() => {
  writer = new Redis(REDIS_URL);
});
afterEach(() => {
  for (const c of caches.splice(0)) c.stop();
});
afterAll(async () => {
  const keys = await writer.keys(`${prefix}*`);
  if (keys.length > 0) await writer.del(...keys);
  writer.disconnect();
});

async function tracking(entriesMax = 100): Promise<BalanceNearCache> {
  const cache = BalanceNearCache.start(REDIS_URL, entriesMax, log, prefix);
  caches.push(cache);
  await until(() => cache.isTracking);
  return cache;
}

/** Polls a condition (an invalidation travels on its own connection); fails after 5 s. */
async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("condition not reached in 5 s");
}

describe("balance near cache", () => {
  it("answers from memory what it read, until another connection changes the key", async () => {
    const cache = await tracking();
    await writer.set(key("a"), "3::{}");
    expect(cache.get(key("a"), Date.now())).toBeUndefined();
    expect(await cache.fetch(key("a"))).toBe("3::{}");
    expect(cache.get(key("a"), Date.now())).toEqual({ seq: 3, json: "{}", staleAt: null });
    await writer.set(key("a"), '4::{"DANNON":1}');
    await until(() => cache.get(key("a"), Date.now()) === undefined);
    expect(await cache.fetch(key("a"))).toBe('4::{"DANNON":1}');
    await writer.del(key("a"));
    await until(() => cache.get(key("a"), Date.now()) === undefined);
  });

  it("does not keep a read that an invalidation overtook", async () => {
    const cache = await tracking();
    await writer.set(key("b"), "1::{}");
    const read = cache.fetch(key("b"));
    cache.evict(key("b")); // as an invalidation or an outcome arriving before the GET's answer
    expect(await read).toBe("1::{}");
    expect(cache.get(key("b"), Date.now())).toBeUndefined();
  });

  it("never answers an entry at or after its next expiry (contract 6.1)", async () => {
    const cache = await tracking();
    const staleAt = Date.now() + 10_000; // within the entry's age bound
    await writer.set(key("c"), `5:${staleAt}:{"DANNON":2}`);
    await cache.fetch(key("c"));
    expect(cache.get(key("c"), staleAt - 1)?.json).toBe('{"DANNON":2}');
    expect(cache.get(key("c"), staleAt)).toBeUndefined();
  });

  it("keeps at most entriesMax entries, dropping the oldest", async () => {
    const cache = await tracking(2);
    for (const name of ["d1", "d2", "d3"]) {
      await writer.set(key(name), "1::{}");
      await cache.fetch(key(name));
    }
    expect(cache.size).toBe(2);
    expect(cache.get(key("d1"), Date.now())).toBeUndefined();
    expect(cache.get(key("d3"), Date.now())).toBeDefined();
  });

  it("keeps nothing with entriesMax 0 (the memory copy turned off)", async () => {
    const cache = BalanceNearCache.start(REDIS_URL, 0, log);
    caches.push(cache);
    await writer.set(key("e"), "1::{}");
    let read: string | null | undefined;
    // The reader fails fast until it has connected (no offline queue), like the gateway's own.
    for (let i = 0; i < 500 && read === undefined; i++) {
      read = await cache.fetch(key("e")).catch(() => undefined);
      if (read === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    expect(read).toBe("1::{}");
    expect(cache.get(key("e"), Date.now())).toBeUndefined();
  });

  it("forgets everything when its invalidation connection drops, and tracks again once back", async () => {
    const cache = await tracking();
    await writer.set(key("f"), "1::{}");
    await cache.fetch(key("f"));
    expect(cache.get(key("f"), Date.now())).toBeDefined();
    // Kill this cache's invalidation connection from the server side (only its own: Redis is shared).
    const clients = String(await writer.call("CLIENT", "LIST", "TYPE", "pubsub")).split("\n");
    const ours = clients.filter((line) => line.includes(` name=${prefix}-near-invalidations `));
    expect(ours).toHaveLength(1);
    await writer.client("KILL", "ID", /id=(\d+)/.exec(ours[0] as string)?.[1] as string);
    await until(() => !cache.isTracking);
    expect(cache.get(key("f"), Date.now())).toBeUndefined();
    await until(() => cache.isTracking);
    await cache.fetch(key("f"));
    await writer.set(key("f"), "2::{}");
    await until(() => cache.get(key("f"), Date.now()) === undefined);
  });
});
