import { randomUUID } from "node:crypto";
import { createTestEnv, type TestEnv } from "@points/testing";
import type { PoolClient } from "pg";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BatchWrites } from "./batch-writes";
import { type FigureRow, upsertTotals } from "./report-figures";
import { tableStatement } from "./storage/unnest";

/**
 * The running totals' write (migration 011) on real Postgres: a batch's day sums become the
 * totals through each of its days, and a movement counted on a past day (an expiry recorded
 * late) also rewrites the later days already kept for that partition and payer, and no other.
 */
let env: TestEnv;
let client: pg.Client;

beforeAll(async () => {
  env = await createTestEnv();
  client = new pg.Client({ connectionString: env.databaseUrl });
  await client.connect();
});
afterAll(async () => {
  await client?.end();
  await env?.cleanup();
});

function row(
  kafka_partition: number,
  payer: string,
  day: string,
  sums: Partial<FigureRow["sums"]>,
): FigureRow {
  return {
    kafka_partition,
    payer,
    day,
    sums: {
      earned: 0n,
      adjusted: 0n,
      spent: 0n,
      spend_reversed: 0n,
      earn_reversed: 0n,
      expired: 0n,
      held: 0n,
      ...sums,
    },
  };
}

async function write(rows: FigureRow[]) {
  const { sql, params } = tableStatement(upsertTotals, rows);
  await client.query(sql, params);
}

async function totals() {
  const { rows } = await client.query<{ key: string; earned: string; spent: string; expired: string }>(
    `SELECT kafka_partition || ' ' || payer || ' ' || to_char(day, 'YYYY-MM-DD') AS key, earned, spent, expired
       FROM report_totals ORDER BY 1`,
  );
  return Object.fromEntries(rows.map((r) => [r.key, [Number(r.earned), Number(r.spent), Number(r.expired)]]));
}

describe("report totals", () => {
  it("keeps the totals through each day, rewriting later days when a movement counts on a past day", async () => {
    await write([
      row(1, "A", "2026-03-01", { earned: 100n }),
      row(1, "A", "2026-03-03", { spent: 10n }),
      row(2, "A", "2026-03-01", { earned: 7n }),
    ]);
    await write([row(1, "A", "2026-03-03", { earned: 5n }), row(1, "A", "2026-03-05", { spent: 1n })]);
    expect(await totals()).toEqual({
      "1 A 2026-03-01": [100, 0, 0],
      "1 A 2026-03-03": [105, 10, 0],
      "1 A 2026-03-05": [105, 11, 0],
      "2 A 2026-03-01": [7, 0, 0],
    });
    // An expiry recorded on the 5th, counted on the 2nd (a day without a row yet), and the 5th's spend.
    await write([row(1, "A", "2026-03-02", { expired: 20n }), row(1, "A", "2026-03-05", { spent: 2n })]);
    expect(await totals()).toEqual({
      "1 A 2026-03-01": [100, 0, 0],
      "1 A 2026-03-02": [100, 0, 20],
      "1 A 2026-03-03": [105, 10, 20],
      "1 A 2026-03-05": [105, 13, 20],
      "2 A 2026-03-01": [7, 0, 0],
    });
  });

  it("keeps both writers' changes when two transactions write one partition at once", async () => {
    // The chaos run's finding: a hold held 32 points and transaction A released them while
    // transaction B (the expiry scheduler's group beside a Kafka batch's, or a second instance in
    // a rebalance) applied another member's change in the same partition. B's totals, read before
    // A committed, overwrote A's release: held stayed 32 in the day's totals.
    const at = Date.parse("2026-04-01T10:00:00Z");
    const batch = (userId: string, category: "held" | "earned", points: bigint) => {
      const writes = new BatchWrites(new Map());
      writes.addMovements(userId, 9, 1, randomUUID(), [{ payer: "RACE", category, points, at }]);
      return writes;
    };
    await batch("u1", "held", 32n).write(client as unknown as PoolClient);
    const a = new pg.Client({ connectionString: env.databaseUrl });
    const b = new pg.Client({ connectionString: env.databaseUrl });
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query("BEGIN");
      await batch("u1", "held", -32n).write(a as unknown as PoolClient);
      const bPid = (await b.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid;
      await b.query("BEGIN");
      const bWrite = batch("u2", "earned", 5n).write(b as unknown as PoolClient);
      // B is waiting on A (on the partition's lock, or without it on the totals row it read).
      const WAIT_POLLS_MAX = 1_000; // 10 ms apart: B starts waiting within milliseconds
      let polls = 0;
      for (let waiting = false; !waiting; polls++) {
        expect(polls).toBeLessThan(WAIT_POLLS_MAX);
        const { rows } = await client.query<{ lock: boolean }>(
          "SELECT wait_event_type = 'Lock' AS lock FROM pg_stat_activity WHERE pid = $1",
          [bPid],
        );
        waiting = rows[0]?.lock === true;
        if (!waiting) await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await a.query("COMMIT");
      await bWrite;
      await b.query("COMMIT");
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
    const { rows } = await client.query<{ earned: string; held: string }>(
      "SELECT earned, held FROM report_totals WHERE kafka_partition = 9 AND payer = 'RACE'",
    );
    expect(rows).toEqual([{ earned: "5", held: "0" }]);
  });
});
