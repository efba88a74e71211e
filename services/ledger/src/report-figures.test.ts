import { createTestEnv, type TestEnv } from "@points/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
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
});
