import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "./env";
import { startStack, TEST_ADMIN_TOKEN, type TestStack } from "./stack";

/**
 * The README's backup and restore, end to end: a ledger with traffic is dumped with
 * `npm run backup`, restored with `npm run restore` into a new database, the services start on
 * it, and every balance, entry and token is as before; the Redis cache rebuilds itself.
 */
const script = join(dirname(fileURLToPath(import.meta.url)), "../../../infra/backup.mjs");
const reconcileScript = join(dirname(fileURLToPath(import.meta.url)), "../../../scripts/reconcile.ts");
// tsx run by this very node (not through npx, which a nested `npx -p node@24 -c` refuses).
const tsxCli = join(dirname(fileURLToPath(import.meta.url)), "../../../node_modules/tsx/dist/cli.mjs");
const MEMBERS = ["m1", "m2", "m3"];
let env: TestEnv;
let stack: TestStack | undefined;
let dir: string;
const admin = { token: TEST_ADMIN_TOKEN };

async function balances(s: TestStack) {
  const out: Record<string, unknown> = {};
  for (const m of MEMBERS) out[m] = (await s.api.call("GET", `/v1/users/${m}/balance`, admin)).body;
  return out;
}

beforeAll(async () => {
  env = await createTestEnv();
  dir = mkdtempSync(join(tmpdir(), "points-backup-"));
  stack = await startStack(env);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
  await env?.cleanup();
});

describe("backup and restore", () => {
  it("restores a dump into a new database on which the services carry on where they were", async () => {
    const s = stack!;
    const partner = await s.api.createPartner("DANNON");
    await s.api.createPartner("UNILEVER");
    for (const [i, m] of MEMBERS.entries()) {
      await s.api.createMember(m);
      for (const payer of ["DANNON", "UNILEVER"]) {
        const earn = { payer, points: 100 * (i + 1), timestamp: `2022-10-2${i}T10:00:00Z` };
        expect(
          (await s.api.call("POST", `/v1/users/${m}/transactions`, { ...admin, body: earn })).status,
        ).toBe(201);
      }
      const spend = await s.api.call("POST", `/v1/users/${m}/spend`, { ...admin, body: { points: 50 + i } });
      expect(spend.status).toBe(200);
    }
    const before = await balances(s);
    const entriesBefore = (await s.api.call("GET", "/v1/users/m2/entries", admin)).body;
    await s.stop();
    stack = undefined;

    const file = join(dir, "points.dump");
    execFileSync("node", [script, "dump", file, env.databaseUrl]);
    const restored = new URL(env.databaseUrl);
    restored.pathname = `${restored.pathname}_restored`; // same run prefix: the suite's cleanup drops it
    execFileSync("node", [script, "restore", file, restored.toString()]);

    // The cache is only a cache: flush this file's keys, the restored services rebuild them.
    const redis = new Redis(env.redisUrl);
    const keys = await redis.keys(`${env.redisKeyPrefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();

    // The restored database reconciles: its report figures equal its raw tables (issue 15).
    execFileSync(process.execPath, [tsxCli, reconcileScript], {
      env: { ...process.env, DATABASE_URL: restored.toString() },
      stdio: "pipe",
    });

    stack = await startStack(env, { DATABASE_URL: restored.toString() });
    expect(await balances(stack)).toEqual(before);
    expect((await stack.api.call("GET", "/v1/users/m2/entries", admin)).body).toEqual(entriesBefore);
    // Tokens came along (stored as hashes), and the restored ledger takes new commands.
    const earn = { payer: "DANNON", points: 5, timestamp: "2023-01-01T00:00:00Z" };
    const res = await stack.api.call("POST", "/v1/users/m1/transactions", {
      token: partner.token,
      body: earn,
    });
    expect(res.status).toBe(201);
    expect((await stack.api.call("GET", "/v1/users/m1/balance", admin)).body).toEqual({
      ...(before.m1 as object),
      DANNON: (before.m1 as Record<string, number>).DANNON! + 5,
    });
  });

  it("refuses to restore over an existing database", () => {
    const file = join(dir, "points.dump");
    expect(() =>
      execFileSync("node", [script, "restore", file, env.databaseUrl], { stdio: "pipe" }),
    ).toThrow();
  });
});
