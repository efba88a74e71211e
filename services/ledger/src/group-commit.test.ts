import { createPool, type Pool } from "@points/shared/db";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BatchResult } from "./apply-batch";
import { earnCommand, spendCommand } from "./commands.test-support";
import { GROUPS_IN_FLIGHT_MAX, GroupCommitter, type ReplyTo } from "./group-commit";

let env: TestEnv;
let pool: Pool;

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 2 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'g' || i, 'Member ' || i, '1990-01-01' FROM generate_series(1, 8) i`,
  );
  await corruptMember(pool, "broken");
});

/**
 * A member whose stored total (100) is not backed by any lot, as a bug elsewhere could leave
 * it: a spend trips the core's assert that the total agrees with the lots. A realistic
 * programmer error, reached without a test hook in production code.
 */
async function corruptMember(db: Pool, userId: string): Promise<void> {
  await db.query(
    "INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ($1, 'Broken', '1990-01-01')",
    [userId],
  );
  await db.query("INSERT INTO accounts (user_id, seq, next_arrival, total) VALUES ($1, 1, 1, 100)", [userId]);
  await db.query(
    "INSERT INTO payer_balances (user_id, payer, available, adjusted, first_seen) VALUES ($1, 'A', 100, 0, 1)",
    [userId],
  );
}

/** A pool that counts, per user, the transactions that locked it (loadAccounts runs first in each). */
function lockCountingPool(counts: Map<string, number>): Pool {
  return {
    connect: async () => {
      const client = await pool.connect();
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      (client as unknown as { query: unknown }).query = (...args: unknown[]) => {
        const [sql, params] = args as [unknown, unknown[] | undefined];
        if (typeof sql === "string" && sql.includes("FOR UPDATE")) {
          for (const user of params![0] as string[]) counts.set(user, (counts.get(user) ?? 0) + 1);
        }
        return query(...args);
      };
      const release = client.release.bind(client);
      client.release = (err?: Error | boolean) => {
        (client as unknown as { query: unknown }).query = query;
        return release(err);
      };
      return client;
    },
  } as unknown as Pool;
}
afterAll(async () => {
  await pool?.end();
  await env?.cleanup();
});

describe("GroupCommitter", () => {
  it("gives each batch its own outcomes and balances when batches share a transaction", async () => {
    const committer = new GroupCommitter(pool);
    const batches = [
      [earnCommand("g1", "A", 10, "2022-01-01T00:00:00Z"), spendCommand("g1", 4)],
      [earnCommand("g2", "B", 7, "2022-01-01T00:00:00Z")],
      [spendCommand("g3", 1), earnCommand("g3", "A", 2, "2022-01-01T00:00:00Z"), spendCommand("g3", 2)],
    ];
    const results = await Promise.all(batches.map((b) => committer.apply(b)));
    expect(results.map((r) => r.outcomes.map((o) => o.command_id))).toEqual(
      batches.map((b) => b.map((c) => c.command_id)),
    );
    expect(results.map((r) => r.outcomes.map((o) => o.status))).toEqual([
      ["applied", "applied"],
      ["applied"],
      ["rejected", "applied", "applied"],
    ]);
    expect(results.map((r) => r.balances)).toEqual([
      [{ userId: "g1", seq: 2, body: ':{"A":6}' }],
      [{ userId: "g2", seq: 1, body: ':{"B":7}' }],
      [{ userId: "g3", seq: 2, body: ':{"A":0}' }],
    ]);
  });

  it("publishes a group once, with every batch's reply targets, before any of its batches resolve", async () => {
    const published: { commands: number; replyTo: string[] }[] = [];
    let settledBeforePublish = false;
    let resolved = 0;
    const committer = new GroupCommitter(pool, async (result: BatchResult, replyTo: ReplyTo) => {
      await new Promise((r) => setTimeout(r, 20));
      settledBeforePublish ||= resolved > 0;
      published.push({ commands: result.outcomes.length, replyTo: [...replyTo.values()].sort() });
    });
    const batches = [
      [earnCommand("g1", "A", 1, "2022-01-01T00:00:00Z")],
      [earnCommand("g2", "A", 1, "2022-01-01T00:00:00Z"), earnCommand("g2", "B", 1, "2022-01-01T00:00:00Z")],
    ];
    await Promise.all(
      batches.map((b, i) =>
        committer.apply(b, new Map(b.map((c) => [c.command_id, `gw-${i}`]))).then(() => resolved++),
      ),
    );
    expect(published).toEqual([{ commands: 3, replyTo: ["gw-0", "gw-1", "gw-1"] }]);
    expect(settledBeforePublish).toBe(false);
  });

  it(`overlaps at most ${GROUPS_IN_FLIGHT_MAX} transactions, each on its own connection`, async () => {
    let open = 0;
    let peak = 0;
    // A pool whose connections are slow to hand out, so overlapping transactions show.
    const counting = {
      connect: async () => {
        const client = await pool.connect();
        peak = Math.max(peak, ++open);
        await new Promise((r) => setTimeout(r, 30));
        const release = client.release.bind(client);
        client.release = (err?: Error | boolean) => {
          open -= 1;
          client.release = release;
          return release(err);
        };
        return client;
      },
    } as unknown as Pool;
    const committer = new GroupCommitter(counting);
    const pending: Promise<BatchResult>[] = [];
    for (const user of ["g4", "g5", "g6"]) {
      pending.push(committer.apply([earnCommand(user, "A", 1, "2022-01-01T00:00:00Z")]));
      await new Promise((r) => setImmediate(r)); // separate turns: separate groups
    }
    const results = await Promise.all(pending);
    expect(results.map((r) => r.outcomes[0]?.status)).toEqual(["applied", "applied", "applied"]);
    expect(peak).toBe(GROUPS_IN_FLIGHT_MAX);
  });

  it("rejects every batch of a group whose publish failed, though Postgres committed it", async () => {
    const committer = new GroupCommitter(pool, async () => {
      throw new Error("Kafka refused the events");
    });
    const attempts = await Promise.allSettled([
      committer.apply([earnCommand("g1", "A", 1, "2022-01-01T00:00:00Z")]),
      committer.apply([earnCommand("g2", "A", 1, "2022-01-01T00:00:00Z")]),
    ]);
    expect(attempts.map((a) => a.status)).toEqual(["rejected", "rejected"]);
  });

  it("fails every batch of a failed transaction, and still takes new batches after", async () => {
    const broken = createPool("postgres://postgres@127.0.0.1:1/none", { max: 1 });
    const committer = new GroupCommitter(broken);
    const attempts = await Promise.allSettled([
      committer.apply([earnCommand("g1", "A", 1, "2022-01-01T00:00:00Z")]),
      committer.apply([earnCommand("g2", "A", 1, "2022-01-01T00:00:00Z")]),
    ]);
    expect(attempts.map((a) => a.status)).toEqual(["rejected", "rejected"]);
    // Not wedged by the failure: a later batch runs (and fails the same way, promptly).
    await expect(committer.apply([earnCommand("g3", "A", 1, "2022-01-01T00:00:00Z")])).rejects.toThrow();
    await broken.end();
  });

  it("rejects a command Postgres refuses to store, applies the rest, and reports it as a fault", async () => {
    const committer = new GroupCommitter(pool);
    // Validation at the boundaries refuses NUL; this one bypasses it, as a buggy producer could.
    const poison = earnCommand("g2", "A", 5, "2022-01-01T00:00:00Z", { reason: "bad \u0000 reason" });
    const good = earnCommand("g2", "A", 3, "2022-01-01T00:00:00Z");
    const result = await committer.apply([good, poison]);
    expect(result.outcomes.map((o) => [o.status, o.code])).toEqual([
      ["applied", undefined],
      ["rejected", "validation_failed"],
    ]);
    expect(result.faults).toEqual([
      { command_id: poison.command_id, code: "validation_failed", reason: expect.any(String) },
    ]);
    const again = await committer.apply([poison]);
    expect(again.outcomes[0]).toMatchObject({ status: "rejected", code: "validation_failed" });
    expect(again.faults).toEqual([]); // answered from its record: dead-lettered once
  });

  it("isolates only the partition at fault, down to the command, with heartbeats, and applies the rest", async () => {
    const locks = new Map<string, number>();
    const committer = new GroupCommitter(lockCountingPool(locks));
    let heartbeats = 0;
    const heartbeat = async () => {
      heartbeats += 1;
    };
    const healthy = [1, 2, 3].map((p) => earnCommand("g5", "A", p, "2022-01-01T00:00:00Z"));
    const trips = spendCommand("broken", 50); // trips the core's assert: total 100, no lots
    const faulty = [
      earnCommand("broken", "A", 1, "2022-01-01T00:00:00Z"),
      trips,
      earnCommand("g6", "B", 2, "2022-01-01T00:00:00Z"),
    ];
    const [ok, bad] = await Promise.all([
      committer.apply(healthy, new Map(), heartbeat),
      committer.apply(faulty, new Map(), heartbeat),
    ]);
    expect(ok!.outcomes.map((o) => o.status)).toEqual(["applied", "applied", "applied"]);
    expect(ok!.faults).toEqual([]);
    expect(bad!.outcomes.map((o) => [o.status, o.code, o.response.status])).toEqual([
      ["applied", undefined, 201],
      ["rejected", "internal", 500],
      ["applied", undefined, 201],
    ]);
    expect(bad!.faults).toEqual([
      { command_id: trips.command_id, code: "internal", reason: expect.stringMatching(/^AssertionError: /) },
    ]);
    // The healthy partition: the group's transaction, then one of its own (not one per command).
    expect(locks.get("g5")).toBe(2);
    expect(heartbeats).toBeGreaterThan(0);
  });

  it("keeps each new member's Kafka partition through isolation: its account and report figures", async () => {
    const committer = new GroupCommitter(pool);
    const healthy = [earnCommand("g7", "P4", 2, "2022-01-01T00:00:00Z")];
    const faulty = [earnCommand("g8", "P7", 3, "2022-01-01T00:00:00Z"), spendCommand("broken", 50)];
    await Promise.all([
      committer.apply(healthy, new Map(), undefined, 4),
      committer.apply(faulty, new Map(), undefined, 7),
    ]);
    const accounts = await pool.query<{ user_id: string; kafka_partition: number | null }>(
      "SELECT user_id, kafka_partition FROM accounts WHERE user_id IN ('g7', 'g8') ORDER BY user_id",
    );
    expect(accounts.rows).toEqual([
      { user_id: "g7", kafka_partition: 4 },
      { user_id: "g8", kafka_partition: 7 },
    ]);
    const figures = await pool.query<{ payer: string; kafka_partition: number }>(
      `SELECT DISTINCT payer, kafka_partition FROM report_figures WHERE payer IN ('P4', 'P7') ORDER BY payer`,
    );
    expect(figures.rows).toEqual([
      { payer: "P4", kafka_partition: 4 },
      { payer: "P7", kafka_partition: 7 },
    ]);
  });
});
