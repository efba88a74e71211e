import { adjust, earn, emptyBook, spend } from "@points/core";
import { createPool, type Pool } from "@points/shared/db";
import { createTestEnv, type TestEnv } from "@points/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBatch } from "./apply-batch";
import { earnCommand, spendCommand, useItemCommand, withId } from "./commands.test-support";

/** The batch applier against real Postgres (no Kafka): one transaction per batch, exactly once. */
let env: TestEnv;
let pool: Pool;

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 2 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'u' || i, 'Member ' || i, '1990-01-01' FROM generate_series(1, 9) i`,
  );
});
afterAll(async () => {
  await pool?.end();
  await env?.cleanup();
});

async function audit(userId: string) {
  const { rows } = await pool.query(
    `SELECT l.arrival, l.points, l.remaining, l.adjusted,
            l.points + coalesce(sum(a.remaining_delta), 0) AS explained_remaining,
            coalesce(sum(a.adjusted_delta), 0) AS explained_adjusted
       FROM lots l LEFT JOIN allocations a ON a.user_id = l.user_id AND a.arrival = l.arrival
      WHERE l.user_id = $1 GROUP BY l.user_id, l.arrival ORDER BY l.arrival`,
    [userId],
  );
  return rows;
}

describe("applyBatch", () => {
  it("applies a mixed batch for several users in order, with the canonical answer", async () => {
    const batch = [
      earnCommand("u1", "DANNON", 1000, "2022-11-02T14:00:00Z"),
      earnCommand("u2", "DANNON", 5, "2022-01-01T00:00:00Z"),
      earnCommand("u1", "UNILEVER", 200, "2022-10-31T11:00:00Z"),
      earnCommand("u1", "DANNON", -200, "2022-10-31T15:00:00Z"),
      earnCommand("u1", "MILLER COORS", 10000, "2022-11-01T14:00:00Z"),
      earnCommand("u1", "DANNON", 300, "2022-10-31T10:00:00Z"),
      spendCommand("u1", 5000),
      spendCommand("u2", 6),
    ];
    const result = await applyBatch(pool, batch);
    expect(result.outcomes.map((o) => o.status)).toEqual([...Array(7).fill("applied"), "rejected"]);
    expect(result.outcomes[6]!.response).toEqual({
      status: 200,
      body: [
        { payer: "DANNON", points: -100 },
        { payer: "UNILEVER", points: -200 },
        { payer: "MILLER COORS", points: -4700 },
      ],
    });
    expect(result.outcomes[7]).toMatchObject({ code: "not_enough_funds", response: { status: 409 } });
    expect(result.balances.find((b) => b.userId === "u1")).toEqual({
      userId: "u1",
      seq: 6,
      body: ':{"DANNON":1000,"UNILEVER":0,"MILLER COORS":5300}',
    });
    for (const row of await audit("u1")) {
      expect(row.explained_remaining).toBe(row.remaining);
      expect(row.explained_adjusted).toBe(row.adjusted);
    }
  });

  it("keeps payer balances right when each command is its own batch (timestamp order)", async () => {
    const order: [string, number, string][] = [
      ["DANNON", 300, "2022-10-31T10:00:00Z"],
      ["UNILEVER", 200, "2022-10-31T11:00:00Z"],
      ["DANNON", -200, "2022-10-31T15:00:00Z"],
      ["MILLER COORS", 10000, "2022-11-01T14:00:00Z"],
      ["DANNON", 1000, "2022-11-02T14:00:00Z"],
    ];
    for (const [payer, points, ts] of order) await applyBatch(pool, [earnCommand("u7", payer, points, ts)]);
    const spent = await applyBatch(pool, [spendCommand("u7", 5000)]);
    // Never stale: none of these lots expires (encodeCachedBalanceBody with no next expiry).
    expect(spent.balances[0]!.body).toBe(':{"DANNON":1000,"UNILEVER":0,"MILLER COORS":5300}');
    const { rows } = await pool.query(
      "SELECT payer, available, adjusted FROM payer_balances WHERE user_id = 'u7' ORDER BY first_seen",
    );
    expect(rows).toEqual([
      { payer: "DANNON", available: "1000", adjusted: "200" },
      { payer: "UNILEVER", available: "0", adjusted: "0" },
      { payer: "MILLER COORS", available: "5300", adjusted: "0" },
    ]);
  });

  it("answers a redelivered command from the record and applies it once", async () => {
    const earn = earnCommand("u3", "DANNON", 10, "2022-01-01T00:00:00Z");
    const first = await applyBatch(pool, [earn, earn]);
    const again = await applyBatch(pool, [earn]);
    expect(first.outcomes[1]!.response).toEqual(first.outcomes[0]!.response);
    expect(again.outcomes[0]!.response).toEqual(first.outcomes[0]!.response);
    const { rows } = await pool.query("SELECT total FROM accounts WHERE user_id = 'u3'");
    expect(rows[0].total).toBe("10");
  });

  it("rejects the same command id with another request hash and keeps the first", async () => {
    const earn = withId(earnCommand("u4", "DANNON", 10, "2022-01-01T00:00:00Z"), "same-id", "hash-a");
    await applyBatch(pool, [earn]);
    const other = withId(earnCommand("u4", "DANNON", 99, "2022-01-01T00:00:00Z"), "same-id", "hash-b");
    const result = await applyBatch(pool, [other]);
    expect(result.outcomes[0]).toMatchObject({
      status: "rejected",
      code: "idempotency_key_reused",
      response: { status: 422 },
    });
    const { rows } = await pool.query("SELECT total FROM accounts WHERE user_id = 'u4'");
    expect(rows[0].total).toBe("10");
  });

  it("rejects commands for a user who is not a member", async () => {
    const result = await applyBatch(pool, [earnCommand("ghost", "DANNON", 10, "2022-01-01T00:00:00Z")]);
    expect(result.outcomes[0]).toMatchObject({
      status: "rejected",
      code: "not_found",
      response: { status: 404 },
    });
    expect(result.balances).toEqual([]);
  });

  it("uses an item once, within a batch and across batches, and only by its authority", async () => {
    const earn = earnCommand("u5", "DANNON", 10, "2022-01-01T00:00:00Z", {
      render: "entry",
      authority_id: "DANNON",
      item: { name: "mug", data: { size: "L" } },
    });
    const first = await applyBatch(pool, [earn]);
    const entryId = (first.outcomes[0]!.response.body as { entry_id: string }).entry_id;
    const foreign = await applyBatch(pool, [useItemCommand("u5", entryId, { only_authority: "UNILEVER" })]);
    expect(foreign.outcomes[0]).toMatchObject({ code: "not_found" });
    const use = await applyBatch(pool, [
      useItemCommand("u5", entryId, { only_authority: "DANNON" }),
      useItemCommand("u5", entryId),
    ]);
    expect(use.outcomes[0]!.response).toMatchObject({
      status: 200,
      body: { entry_id: entryId, item: { name: "mug", used: true, data: { size: "L" } } },
    });
    expect(use.outcomes[1]).toMatchObject({ code: "item_already_used", response: { status: 409 } });
    const later = await applyBatch(pool, [useItemCommand("u5", entryId)]);
    expect(later.outcomes[0]).toMatchObject({ code: "item_already_used" });
  });

  it("re-places a negative onto an older lot arriving in a later batch, explained by allocations", async () => {
    await applyBatch(pool, [earnCommand("u6", "DANNON", 1000, "2022-11-02T00:00:00Z")]);
    await applyBatch(pool, [earnCommand("u6", "DANNON", -200, "2022-11-03T00:00:00Z")]);
    await applyBatch(pool, [earnCommand("u6", "DANNON", 300, "2022-10-31T00:00:00Z")]);
    const lots = await audit("u6");
    expect(lots.map((l) => [l.points, l.remaining, l.adjusted])).toEqual([
      ["1000", "1000", "0"],
      ["300", "100", "200"],
    ]);
    for (const row of lots) {
      expect(row.explained_remaining).toBe(row.remaining);
      expect(row.explained_adjusted).toBe(row.adjusted);
    }
  });
});

describe("applyBatch loading more than one page of lots", () => {
  it("spends across many pages, negatives past other payers' lots, and re-places onto an old lot", async () => {
    await pool.query(
      "INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('pages', 'P', '1990-01-01')",
    );
    const day = (d: number) =>
      `2022-01-01T00:${String(Math.floor(d / 60)).padStart(2, "0")}:${String(d % 60).padStart(2, "0")}Z`;
    // 300 one-point lots of A, then 50 of B stamped after all of them.
    await applyBatch(
      pool,
      Array.from({ length: 300 }, (_, i) => earnCommand("pages", "A", 1, day(i))),
    );
    await applyBatch(
      pool,
      Array.from({ length: 50 }, (_, i) => earnCommand("pages", "B", 1, day(1000 + i))),
    );
    const spent = await applyBatch(pool, [spendCommand("pages", 290)]);
    expect(spent.outcomes[0]!.response.body).toEqual([{ payer: "A", points: -290 }]);
    // B's points all sit behind A's remaining 10 in spend order: a negative of 45 walks B's own lots.
    const negative = await applyBatch(pool, [earnCommand("pages", "B", -45, day(2000))]);
    expect(negative.outcomes[0]!.status).toBe("applied");
    // An older B lot takes the deduction over, releasing B's newest adjusted lots.
    await applyBatch(pool, [earnCommand("pages", "B", 40, day(0))]);
    const { rows } = await pool.query(
      "SELECT payer, sum(remaining)::int AS remaining, sum(adjusted)::int AS adjusted FROM lots WHERE user_id = 'pages' GROUP BY payer ORDER BY payer",
    );
    expect(rows).toEqual([
      { payer: "A", remaining: 10, adjusted: 0 },
      { payer: "B", remaining: 45, adjusted: 45 },
    ]);
    const { rows: old } = await pool.query(
      "SELECT remaining, adjusted FROM lots WHERE user_id = 'pages' AND points = 40",
    );
    expect(old).toEqual([{ remaining: "0", adjusted: "40" }]);
    const last = await applyBatch(pool, [spendCommand("pages", 55)]);
    expect(last.outcomes[0]!.response.body).toEqual([
      { payer: "A", points: -10 },
      { payer: "B", points: -45 },
    ]);
  });
});

describe("applyBatch against the pure core", () => {
  // The batch applier loads only a prefix of a user's lots (pages of LOTS_FIRST_PAGE, growing).
  // Whatever the batch split, its decisions and final lots must equal the core run on the full book.
  const payer = fc.constantFrom("A", "B", "C");
  const command = fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant("earn" as const),
        payer,
        points: fc.integer({ min: 1, max: 2 }),
        day: fc.integer({ min: 1, max: 28 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant("negative" as const),
        payer,
        points: fc.integer({ min: 1, max: 40 }),
        day: fc.integer({ min: 1, max: 28 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ kind: fc.constant("spend" as const), points: fc.integer({ min: 20, max: 80 }) }),
    },
  );
  let run = 0;

  it("decides like the core for random commands and random batch splits", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 80, maxLength: 160 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }),
        async (cmds, splits) => {
          const user = `prop${run++}`;
          await pool.query(
            "INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ($1, 'P', '1990-01-01')",
            [user],
          );
          const commands = cmds.map((c) =>
            c.kind === "spend"
              ? spendCommand(user, c.points)
              : earnCommand(
                  user,
                  c.payer,
                  c.kind === "earn" ? c.points : -c.points,
                  `2022-01-${String(c.day).padStart(2, "0")}T00:00:00Z`,
                ),
          );
          const book = emptyBook(user);
          const expected = commands.map((c) => {
            if (c.type === "spend") return spend(book, { points: BigInt(c.points) }).ok;
            const input = { payer: c.payer, points: BigInt(Math.abs(c.points)), ts: Date.parse(c.timestamp) };
            return (c.points > 0 ? earn(book, input) : adjust(book, input)).ok;
          });
          const statuses: boolean[] = [];
          for (let i = 0, s = 0; i < commands.length; s++) {
            const size = splits[s % splits.length]!;
            const result = await applyBatch(pool, commands.slice(i, i + size));
            statuses.push(...result.outcomes.map((o) => o.status === "applied"));
            i += size;
          }
          expect(statuses).toEqual(expected);
          const { rows } = await pool.query(
            "SELECT arrival, remaining, adjusted FROM lots WHERE user_id = $1 AND (remaining > 0 OR adjusted > 0) ORDER BY arrival",
            [user],
          );
          const coreLots = [...book.lots]
            .filter((l) => l.remaining > 0n || l.adjusted > 0n)
            .sort((a, b) => (a.arrival < b.arrival ? -1 : 1))
            .map((l) => ({
              arrival: String(l.arrival),
              remaining: String(l.remaining),
              adjusted: String(l.adjusted),
            }));
          expect(rows).toEqual(coreLots);
        },
      ),
      { numRuns: 25 },
    );
  });
});
