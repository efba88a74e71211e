import type { AnyLedgerCommand } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBatch } from "./apply-batch";
import { earnCommand, holdPlaceCommand, spendCommand } from "./commands.test-support";

/**
 * Daily balance snapshots through the batch path against real Postgres. The batch's instant is
 * given (`now`), so a member's changes fall on the days a test says.
 */
let env: TestEnv;
let pool: Pool;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const D1 = Date.parse("2031-03-01T00:00:00Z");
const day = (n: number, hours = 0, ms = 0) => D1 + (n - 1) * DAY + hours * HOUR + ms;
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 3 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 's' || i, 'Member ' || i, '1990-01-01' FROM generate_series(1, 8) i`,
  );
  await pool.query("INSERT INTO partners (id, name, signing_secret) VALUES ('A', 'A', 's'), ('B', 'B', 's')");
});
afterAll(async () => {
  await pool?.end();
  await env?.cleanup();
});

async function apply(ms: number, ...commands: AnyLedgerCommand[]) {
  const r = await applyBatch(pool, commands, { now: new Date(ms) });
  return r.outcomes.map((o) => o.status);
}

async function snapshots(userId: string) {
  const { rows } = await pool.query<{ at: Date; balances: unknown }>(
    "SELECT at, balances FROM balance_snapshots WHERE user_id = $1 ORDER BY at",
    [userId],
  );
  return rows.map((r) => ({ at: r.at.toISOString(), balances: r.balances }));
}

describe("daily balance snapshots", () => {
  it("are taken before the first change of a day: held points out, points expired by then out (recorded or not)", async () => {
    const u = "s1";
    expect(
      await apply(
        day(1, 10),
        earnCommand(u, "A", 100, iso(day(1, 9)), { expires_at: iso(day(2, 6)) }),
        earnCommand(u, "B", 50, iso(day(1, 9, 1))),
        earnCommand(u, "B", 8, iso(day(1, 9, 2)), { expires_at: iso(day(3, 2)) }),
      ),
    ).toEqual(["applied", "applied", "applied"]);
    // A member's first change ever: there is nothing to snapshot before it.
    expect(await snapshots(u)).toEqual([]);
    await apply(day(1, 15), spendCommand(u, 30)); // A's lot, oldest first: A 70
    await apply(day(1, 20), holdPlaceCommand(u, 20)); // A 50 unspent, 20 held
    expect(await snapshots(u)).toEqual([]);
    // Day 2 passes without a change; A's lot expires during it, B's 8 at day 3's 02:00, both
    // unrecorded until day 3's first change: the snapshot leaves A's out and B's in.
    await apply(day(3, 9), earnCommand(u, "B", 5, iso(day(3, 8))));
    const day3 = {
      at: iso(day(3)),
      balances: [
        { payer: "A", points: "0" },
        { payer: "B", points: "58" },
      ],
    };
    expect(await snapshots(u)).toEqual([day3]);
    // Later changes of the same day add none.
    await apply(day(3, 12), spendCommand(u, 1));
    expect(await snapshots(u)).toEqual([day3]);
    await apply(day(4, 1), spendCommand(u, 1));
    expect(await snapshots(u)).toEqual([
      day3,
      {
        at: iso(day(4)),
        balances: [
          { payer: "A", points: "0" },
          { payer: "B", points: "54" },
        ],
      },
    ]);
  });

  it("wait for a change: a refused command or a redelivery takes none, the next applied one does", async () => {
    const u = "s2";
    await apply(day(1, 10), earnCommand(u, "A", 10, iso(day(1, 9))));
    expect(await apply(day(2, 10), spendCommand(u, 11))).toEqual(["rejected"]);
    const spend = spendCommand(u, 4);
    await apply(day(2, 11), spend);
    expect(await snapshots(u)).toEqual([{ at: iso(day(2)), balances: [{ payer: "A", points: "10" }] }]);
    // The same command again on day 3: answered from its record, nothing changes.
    expect(await apply(day(3, 1), spend)).toEqual(["applied"]);
    expect((await snapshots(u)).map((s) => s.at)).toEqual([iso(day(2))]);
  });

  it("are never written after a change of the day they start (a ledger started mid-day)", async () => {
    const u = "s3";
    await apply(day(1, 10), earnCommand(u, "A", 10, iso(day(1, 9))));
    await apply(day(2, 8), spendCommand(u, 1));
    expect((await snapshots(u)).map((s) => s.at)).toEqual([iso(day(2))]);
    // As if no ledger had written it: the next change finds day 2's spend stored, and writes none.
    await pool.query("DELETE FROM balance_snapshots WHERE user_id = $1", [u]);
    await apply(day(2, 10), spendCommand(u, 1));
    expect(await snapshots(u)).toEqual([]);
  });

  it("put a change at exactly midnight in the day it ends", async () => {
    const u = "s4";
    await apply(day(1, 10), earnCommand(u, "A", 10, iso(day(1, 9))));
    await apply(day(3), spendCommand(u, 3)); // counts at day 3's first instant
    expect(await snapshots(u)).toEqual([{ at: iso(day(2)), balances: [{ payer: "A", points: "10" }] }]);
    await apply(day(3, 5), spendCommand(u, 1));
    expect(await snapshots(u)).toEqual([
      { at: iso(day(2)), balances: [{ payer: "A", points: "10" }] },
      { at: iso(day(3)), balances: [{ payer: "A", points: "7" }] },
    ]);
  });

  it("are taken for each member a batch changes, in first-seen order, exact past 2^53", async () => {
    const big = 9_007_199_254_740_991; // POINTS_MAX: two of them pass 2^53
    await apply(
      day(1, 10),
      earnCommand("s5", "B", big, iso(day(1, 9))),
      earnCommand("s5", "A", big, iso(day(1, 9))),
      earnCommand("s6", "A", 1, iso(day(1, 9))),
    );
    await apply(day(1, 11), earnCommand("s5", "B", big, iso(day(1, 9))));
    await apply(
      day(2, 10),
      spendCommand("s5", 1),
      spendCommand("s6", 1),
      earnCommand("s7", "A", 1, iso(day(2))),
    );
    expect(await snapshots("s5")).toEqual([
      {
        at: iso(day(2)),
        balances: [
          { payer: "B", points: (2n * BigInt(big)).toString() },
          { payer: "A", points: String(big) },
        ],
      },
    ]);
    expect(await snapshots("s6")).toEqual([{ at: iso(day(2)), balances: [{ payer: "A", points: "1" }] }]);
    expect(await snapshots("s7")).toEqual([]);
  });
});
