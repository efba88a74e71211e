import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { applyBatch } from "@points/ledger/apply-batch";
import {
  earnCommand,
  holdCaptureCommand,
  holdPlaceCommand,
  reverseCommand,
  spendCommand,
} from "@points/ledger/commands.test-support";
import { reconcile } from "@points/ledger/report-figures-reconcile";
import type { AnyLedgerCommand } from "@points/shared";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../../test-app.test-support";

/**
 * The report figures the ledger maintains (migration 009), read over HTTP, on a scripted
 * sequence applied by the real ledger code (applyBatch on real Postgres, at chosen instants so
 * days can pass): earns, a negative, spends, both reversals, a hold placed and captured, an open
 * hold, and an expiry recorded the next day but counted on the day the points expired. Then
 * `npm run reconcile` passes, and names the payer and day of a corrupted figure.
 */
const D1 = "2026-03-10";
const D2 = "2026-03-11";
const D3 = "2026-03-12";
const at = (day: string, time: string) => new Date(`${day}T${time}Z`);
const PARTITIONS = new Map([
  ["u1", 3],
  ["u2", 7],
  ["u3", 7],
]);
/** u3's points of B expire this long after they are earned, and the ledger does not record it. */
const U3_VALIDITY_MS = 1_500;
const reconcileScript = join(dirname(fileURLToPath(import.meta.url)), "../../../../../scripts/reconcile.ts");
// tsx run by this very node (not through npx, which a nested `npx -p node@24 -c` refuses).
const tsxCli = join(dirname(fileURLToPath(import.meta.url)), "../../../../../node_modules/tsx/dist/cli.mjs");
const FIELDS = [
  "opening",
  "earned",
  "adjusted",
  "spent",
  "spend_reversed",
  "earn_reversed",
  "expired",
  "closing",
  "held",
];

let env: TestEnv;
let app: TestApp;

async function apply(now: Date, ...commands: AnyLedgerCommand[]) {
  const result = await applyBatch(app.pool, commands, { now, partitions: PARTITIONS });
  for (const o of result.outcomes) expect(o.status, JSON.stringify(o.response)).toBe("applied");
  return result;
}

async function entryId(userId: string, type: string, amount: number): Promise<string> {
  const { rows } = await app.pool.query<{ entry_id: string }>(
    "SELECT entry_id FROM entries WHERE user_id = $1 AND type = $2 AND amount = $3",
    [userId, type, amount],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.entry_id;
}

const get = async (path: string) => {
  const res = await app.request("GET", path, { token: app.adminToken });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
};

function expectIdentity(row: Record<string, number>) {
  expect(row.closing).toBe(
    row.opening! +
      row.earned! -
      row.adjusted! -
      row.spent! +
      row.spend_reversed! -
      row.earn_reversed! -
      row.expired!,
  );
}

beforeAll(async () => {
  env = await createTestEnv();
  app = await startTestApp({
    databaseUrl: env.databaseUrl,
    redisUrl: env.redisUrl,
    redisKeyPrefix: env.redisKeyPrefix,
  });
  await app.partnerToken("A");
  await app.partnerToken("B");
  await app.pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('u1', 'One', '1990-01-01'), ('u2', 'Two', '1990-01-01'), ('u3', 'Three', '1990-01-01')`,
  );
  // Day 1: earns (u1's A lot expires at 20:00), a negative, a spend, both reversals, a hold captured in part.
  await apply(
    at(D1, "10:00:00"),
    earnCommand("u1", "A", 100, `${D1}T09:00:00Z`, { expires_at: `${D1}T20:00:00Z` }),
    earnCommand("u1", "B", 50, `${D1}T09:00:00Z`, { expires_at: null }),
    earnCommand("u2", "A", 200, `${D1}T09:00:00Z`, { expires_at: null }),
    earnCommand("u1", "A", -10, `${D1}T09:30:00Z`),
    spendCommand("u2", 30),
    earnCommand("u2", "B", 40, `${D1}T09:45:00Z`, { expires_at: null }),
  );
  const hold = holdPlaceCommand("u1", 20);
  await apply(
    at(D1, "12:00:00"),
    reverseCommand("u2", await entryId("u2", "spend", -30), { points: 10 }),
    reverseCommand("u2", await entryId("u2", "earn", 40), { points: 15 }),
    hold,
  );
  await apply(at(D1, "12:05:00"), holdCaptureCommand("u1", hold.hold_id, 5));
  // Day 2: u1's next command records the expiry of 20:00 yesterday (85 points of A), then spends B.
  await apply(at(D2, "08:00:00"), spendCommand("u1", 5), holdPlaceCommand("u2", 50));
  // Today: u3 earns 30 of B that expire at once; no command records that expiry, so every read
  // must take the due but unrecorded expiry out itself.
  const now = new Date();
  await apply(
    now,
    earnCommand("u3", "B", 30, new Date(now.getTime() - 60_000).toISOString(), {
      expires_at: new Date(now.getTime() + U3_VALIDITY_MS).toISOString(),
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, U3_VALIDITY_MS + 500));
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await env?.cleanup();
});

describe("payer report over the maintained figures", () => {
  it("day 1: every movement, the expiry counted on the day it expired although recorded on day 2", async () => {
    const body = await get(`/v1/reports/payers?from=${D1}&to=${D1}`);
    expect(body).toEqual({
      from: D1,
      to: D1,
      payers: [
        {
          payer: "A",
          opening: 0,
          earned: 300,
          adjusted: 10,
          spent: 35,
          spend_reversed: 10,
          earn_reversed: 0,
          expired: 85,
          closing: 180,
          held: 0,
        },
        {
          payer: "B",
          opening: 0,
          earned: 90,
          adjusted: 0,
          spent: 0,
          spend_reversed: 0,
          earn_reversed: 15,
          expired: 0,
          closing: 75,
          held: 0,
        },
      ],
    });
    for (const row of body.payers) expectIdentity(row);
  });

  it("day 2 opens where day 1 closed; an open hold stays inside closing", async () => {
    const body = await get(`/v1/reports/payers?from=${D2}&to=${D2}`);
    expect(body.payers).toEqual([
      {
        payer: "A",
        opening: 180,
        earned: 0,
        adjusted: 0,
        spent: 0,
        spend_reversed: 0,
        earn_reversed: 0,
        expired: 0,
        closing: 180,
        held: 50,
      },
      {
        payer: "B",
        opening: 75,
        earned: 0,
        adjusted: 0,
        spent: 5,
        spend_reversed: 0,
        earn_reversed: 0,
        expired: 0,
        closing: 70,
        held: 0,
      },
    ]);
    for (const row of body.payers) expectIdentity(row);
  });

  it("up to today: the sum of closings is the members' balances plus held points now", async () => {
    const body = await get(`/v1/reports/payers?from=${D1}`);
    let owed = 0;
    for (const u of ["u1", "u2", "u3"]) {
      const balance = await get(`/v1/users/${u}/balance`);
      owed += Object.values(balance as Record<string, number>).reduce((s, p) => s + p, 0);
    }
    const held = body.payers.reduce((s: number, r: { held: number }) => s + r.held, 0);
    const closing = body.payers.reduce((s: number, r: { closing: number }) => s + r.closing, 0);
    expect(held).toBe(50);
    expect(closing).toBe(owed + held);
    for (const row of body.payers) {
      expectIdentity(row);
      expect(Object.keys(row).slice(1)).toEqual(FIELDS);
    }

    // Today u3's 30 points of B were earned and have expired (not yet recorded by the ledger).
    const today = new Date().toISOString().slice(0, 10);
    const b = (await get(`/v1/reports/payers?from=${today}&to=${today}`)).payers[1];
    expect(b).toMatchObject({ payer: "B", earned: 30, expired: 30 });
    expectIdentity(b);
  });

  it("reads carried days by ranges, and answers exactly what a probe per partition and payer answers", async () => {
    const carried = await app.pool.query<{ kafka_partition: number; day: string }>(
      "SELECT kafka_partition, to_char(day, 'YYYY-MM-DD') AS day FROM report_carried ORDER BY 1, 2",
    );
    // Each partition's writer carried its totals to every day it had a batch.
    expect(carried.rows).toEqual(
      expect.arrayContaining([
        { kafka_partition: 3, day: D1 },
        { kafka_partition: 3, day: D2 },
        { kafka_partition: 7, day: D1 },
        { kafka_partition: 7, day: D2 },
      ]),
    );
    // Partition 3 had no movement of payer A on day 2 (only B), yet has its carried row.
    const a = await app.pool.query(
      "SELECT 1 FROM report_totals WHERE kafka_partition = 3 AND payer = 'A' AND day = $1",
      [D2],
    );
    expect(a.rowCount).toBe(1);
    const today = new Date().toISOString().slice(0, 10);
    const periods = [
      `from=${D1}&to=${D1}`,
      `from=${D2}&to=${D2}`,
      `from=${D2}&to=${D3}`,
      `from=${D1}`,
      `from=${D3}&to=${today}`,
    ];
    const ranged = await Promise.all(periods.map((p) => get(`/v1/reports/payers?${p}`)));
    const partnerRanged = await get(`/v1/reports/payers?from=${D2}&to=${D3}`);
    // Without the carried days, every pair is read by a probe (figures kept before migration 014).
    await app.pool.query("DELETE FROM report_carried");
    try {
      for (const [i, p] of periods.entries()) expect(await get(`/v1/reports/payers?${p}`)).toEqual(ranged[i]);
      expect(await get(`/v1/reports/payers?from=${D2}&to=${D3}`)).toEqual(partnerRanged);
    } finally {
      await app.pool.query("INSERT INTO report_carried SELECT * FROM unnest($1::int[], $2::date[])", [
        carried.rows.map((r) => r.kafka_partition),
        carried.rows.map((r) => r.day),
      ]);
    }
    expect(await reconcile(app.pool)).toEqual([]);
  });

  it("daily rows: movements per UTC day and a running closing", async () => {
    const rows = await get(`/v1/reports/payers/A/daily?from=${D1}&to=${D3}`);
    expect(rows).toEqual([
      {
        day: D1,
        earned: 300,
        adjusted: 10,
        spent: 35,
        spend_reversed: 10,
        earn_reversed: 0,
        expired: 85,
        closing: 180,
      },
      {
        day: D2,
        earned: 0,
        adjusted: 0,
        spent: 0,
        spend_reversed: 0,
        earn_reversed: 0,
        expired: 0,
        closing: 180,
      },
      {
        day: D3,
        earned: 0,
        adjusted: 0,
        spent: 0,
        spend_reversed: 0,
        earn_reversed: 0,
        expired: 0,
        closing: 180,
      },
    ]);
  });

  it("members: most first then user_id, held included, and as of an earlier instant", async () => {
    // u3's 30 points of B expired (unrecorded): u3 is left out, and not counted.
    const b = await get("/v1/reports/payers/B/members");
    expect(b.count).toBe(2);
    expect(b.results).toEqual([
      { user_id: "u1", outstanding: 45 },
      { user_id: "u2", outstanding: 25 },
    ]);
    const a = await get("/v1/reports/payers/A/members");
    expect(a.count).toBe(1);
    expect(a.results).toEqual([{ user_id: "u2", outstanding: 180 }]);
    // Before 20:00 on day 1 u1 still had its 85 points of A (the hold was captured at 12:05).
    const before = await get(`/v1/reports/payers/A/members?as_of=${D1}T15:00:00Z`);
    expect(before.results).toEqual([
      { user_id: "u2", outstanding: 180 },
      { user_id: "u1", outstanding: 85 },
    ]);
  });
});

describe("reconciliation", () => {
  it("passes on the scripted sequence, and names the payer and day of a corrupted figure", async () => {
    expect(await reconcile(app.pool)).toEqual([]);
    const ok = await promisify(execFile)(process.execPath, [tsxCli, reconcileScript], {
      env: { ...process.env, DATABASE_URL: env.databaseUrl },
    });
    expect(ok.stdout).toContain("match");

    await app.pool.query(
      `UPDATE report_figures SET spent = spent + 1 WHERE payer = 'B' AND span = 'day' AND period = $1 AND kafka_partition = 3`,
      [D2],
    );
    const differences = await reconcile(app.pool);
    expect(differences.length).toBeGreaterThan(0);
    expect(differences).toContainEqual(expect.objectContaining({ check: "figures", payer: "B", day: D2 }));
    const failed = await promisify(execFile)(process.execPath, [tsxCli, reconcileScript], {
      env: { ...process.env, DATABASE_URL: env.databaseUrl },
    }).then(
      () => null,
      (err: { code: number; stdout: string }) => err,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stdout).toContain(`payer B day ${D2}`);
  }, 60_000);

  it("names the payer and day of a corrupted running total, and of a missing one", async () => {
    await app.pool.query(
      `UPDATE report_figures SET spent = spent - 1 WHERE payer = 'B' AND span = 'day' AND period = $1 AND kafka_partition = 3`,
      [D2],
    );
    expect(await reconcile(app.pool)).toEqual([]);
    await app.pool.query(
      `UPDATE report_totals SET expired = expired + 1 WHERE payer = 'B' AND day = $1 AND kafka_partition = 3`,
      [D1],
    );
    await app.pool.query(`DELETE FROM report_totals WHERE payer = 'A' AND day = $1`, [D2]);
    const differences = await reconcile(app.pool);
    // Partition 3's row of A on day 2 was only carried (no movement): the carried day misses it.
    expect(differences).toContainEqual(
      expect.objectContaining({
        check: "carried",
        payer: "A",
        day: D2,
        detail: expect.stringContaining("partition 3"),
      }),
    );
    expect(differences).toContainEqual(expect.objectContaining({ check: "totals", payer: "B", day: D1 }));
    expect(differences).toContainEqual(
      expect.objectContaining({
        check: "totals",
        payer: "A",
        day: D2,
        detail: expect.stringContaining("missing row"),
      }),
    );
  });
  it("repairs the running totals from the movements (--repair-totals), then reconciles", async () => {
    // Left by the test above: B's row of D1 in partition 3 is off by one and A's rows of D2 are
    // gone (one on a movement day, one on a carried day); add a row no movement explains.
    await app.pool.query(
      `INSERT INTO report_totals (kafka_partition, payer, day, earned, adjusted, spent, spend_reversed,
                                  earn_reversed, expired, held) VALUES (5, 'Z', $1, 9, 0, 0, 0, 0, 0, 0)`,
      [D1],
    );
    expect((await reconcile(app.pool)).length).toBeGreaterThan(0);
    const repaired = await promisify(execFile)(
      process.execPath,
      [tsxCli, reconcileScript, "--repair-totals"],
      {
        env: { ...process.env, DATABASE_URL: env.databaseUrl },
      },
    );
    expect(repaired.stdout).toContain("repaired partition 3: 2 totals row(s) written, 0 removed");
    expect(repaired.stdout).toContain("repaired partition 5: 0 totals row(s) written, 1 removed");
    expect(repaired.stdout).toContain("repaired partition 7: 1 totals row(s) written, 0 removed");
    expect(repaired.stdout).toContain("match");
    expect(await reconcile(app.pool)).toEqual([]);
    const unknown = await promisify(execFile)(process.execPath, [tsxCli, reconcileScript, "--repair"], {
      env: { ...process.env, DATABASE_URL: env.databaseUrl },
    }).then(
      () => null,
      (err: { code: number; stderr: string }) => err,
    );
    expect([unknown?.code, unknown?.stderr]).toEqual([2, expect.stringContaining("usage")]);
  }, 60_000);
});
