/** The cache repair against real Redis and Postgres: bounded work per run, continued across runs. */
import { redisKeys } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPAIR_KEYS_MAX, type RepairCursor, repairBalanceCache } from "./cache-repair";

const FILLER_KEYS = REPAIR_KEYS_MAX + 5_000;

let env: TestEnv;
let pool: Pool;
let redis: Redis;

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 2 });
  redis = new Redis(env.redisUrl);
});
afterAll(async () => {
  for await (const keys of redis.scanStream({ match: `${env.redisKeyPrefix}*`, count: 1_000 })) {
    if ((keys as string[]).length > 0) await redis.del(...(keys as string[]));
  }
  redis?.disconnect();
  await pool?.end();
  await env?.cleanup();
});

describe("repairBalanceCache", () => {
  it("looks at a bounded number of keys per run and finishes the sweep over later runs", async () => {
    await pool.query(
      "INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('stale', 'Stale', '1990-01-01')",
    );
    await pool.query("INSERT INTO accounts (user_id, seq, next_arrival, total) VALUES ('stale', 5, 1, 0)");
    const keys = redisKeys(env.redisKeyPrefix);
    const filler = redis.pipeline();
    // Users without an account: version 0, never older than Postgres, so kept.
    for (let i = 0; i < FILLER_KEYS; i++) filler.set(keys.balance(`filler${i}`), "0:{}");
    await filler.exec();
    await redis.set(keys.balance("stale"), '3:{"A":1}'); // older than seq 5: deleted

    const log = createLogger("test", "silent");
    const at: RepairCursor = { cursor: "0" };
    const runs: { deleted: number; swept: boolean }[] = [];
    do runs.push(await repairBalanceCache(redis, pool, env.redisKeyPrefix, log, at));
    while (!runs[runs.length - 1]!.swept && runs.length < 10);

    expect(runs[0]!.swept).toBe(false); // the first run stopped at its bound
    expect(runs[runs.length - 1]!.swept).toBe(true);
    expect(runs.reduce((n, r) => n + r.deleted, 0)).toBe(1);
    expect(await redis.get(keys.balance("stale"))).toBeNull();
    expect(await redis.get(keys.balance("filler0"))).toBe("0:{}");
  });
});
