import { LedgerConfig, parseConfig } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRUNED_TABLES, pruneOnce } from "./retention";

/** Retention against real Postgres: what is old goes, what is recent stays, the ledger is never touched. */
let env: TestEnv;
let pool: Pool;
const DAY_MS = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * DAY_MS);

async function count(table: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

/** Bookkeeping rows for one command, dated `createdAt`, plus the ledger rows it produced. */
async function seedCommand(id: string, createdAt: Date): Promise<void> {
  const params = [id, createdAt];
  await pool.query(
    `INSERT INTO commands (user_id, command_id, request_hash, type, status, actor, response, seq, created_at)
     VALUES ('alice', $1, 'h', 'earn', 'applied', 'admin', '{"status":201,"body":{}}', 1, $2)`,
    params,
  );
  await pool.query(
    "INSERT INTO command_requests (command_id, user_id, actor, created_at) VALUES ($1, 'alice', 'admin', $2)",
    params,
  );
  await pool.query(
    `INSERT INTO idempotency_keys (actor, key, request_hash, command_id, user_id, created_at)
     VALUES ('admin', $1, 'h', $1, 'alice', $2)`,
    params,
  );
  await pool.query(
    `INSERT INTO partner_events (partner_id, event_id, request_hash, user_id, created_at)
     VALUES ('DANNON', $1, 'h', 'alice', $2)`,
    params,
  );
}

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 3 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('alice', 'Alice', '1990-01-01');
     INSERT INTO entries (user_id, entry_id, seq, type, authority_id, payer, amount, ts, created_on, command_id)
       VALUES ('alice', gen_random_uuid(), 1, 'earn', 'admin', 'DANNON', 5, now() - interval '400 days',
               now() - interval '400 days', 'old');
     INSERT INTO lots (user_id, arrival, entry_id, payer, ts, points, remaining, adjusted)
       SELECT user_id, 1, entry_id, 'DANNON', ts, 5, 5, 0 FROM entries WHERE user_id = 'alice';
     INSERT INTO allocations (user_id, entry_id, arrival, payer, remaining_delta, adjusted_delta)
       SELECT user_id, entry_id, 1, 'DANNON', 0, 0 FROM entries WHERE user_id = 'alice'`,
  );
});
afterAll(async () => {
  await pool?.end();
  await env?.cleanup();
});

describe("retention pruner", () => {
  it("deletes bookkeeping older than the window, in bounded batches, and keeps what is inside it", async () => {
    for (let i = 0; i < 25; i++) await seedCommand(`old-${i}`, daysAgo(40 + i));
    await seedCommand("recent", daysAgo(2));
    const counts = await pruneOnce(pool, { before: daysAgo(30), batchRows: 10 });
    expect(counts).toEqual(Object.fromEntries(PRUNED_TABLES.map((t) => [t, 25])));
    for (const table of PRUNED_TABLES) expect(await count(table)).toBe(1);
    // A replay inside the window is still answered from its record.
    const { rows } = await pool.query("SELECT response FROM commands WHERE command_id = 'recent'");
    expect(rows).toEqual([{ response: { status: 201, body: {} } }]);
  });

  it("stops a round after its batch budget; the next round continues", async () => {
    for (let i = 0; i < 30; i++) await seedCommand(`later-${i}`, daysAgo(50));
    const first = await pruneOnce(pool, { before: daysAgo(30), batchRows: 10, batchesPerRoundMax: 2 });
    expect(first?.commands).toBe(20);
    const second = await pruneOnce(pool, { before: daysAgo(30), batchRows: 10, batchesPerRoundMax: 2 });
    expect(second?.commands).toBe(10);
  });

  it("never touches entries, lots, allocations or accounts, however old", async () => {
    const before = {
      entries: await count("entries"),
      lots: await count("lots"),
      allocations: await count("allocations"),
    };
    await pruneOnce(pool, { before: new Date(Date.now() + DAY_MS) }); // everything is "old"
    expect({
      entries: await count("entries"),
      lots: await count("lots"),
      allocations: await count("allocations"),
    }).toEqual(before);
    expect(before.entries).toBe(1);
    for (const table of PRUNED_TABLES) expect(await count(table)).toBe(0);
  });

  it("lets one pruner run at a time across ledger instances", async () => {
    const other = await pool.connect();
    try {
      await other.query("SELECT pg_advisory_lock($1)", [0x70_72_75_6e]);
      expect(await pruneOnce(pool, { before: daysAgo(30) })).toBeNull();
    } finally {
      await other.query("SELECT pg_advisory_unlock($1)", [0x70_72_75_6e]);
      other.release();
    }
  });

  it("refuses a window that Kafka could still redeliver from (topic retention plus the resend window)", () => {
    const result = parseConfig(LedgerConfig, {
      COMMAND_SIGNING_KEYS: env.commandSigningKeys,
      RETENTION_DAYS: "8",
    });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toContain("RETENTION_DAYS");
    expect(
      parseConfig(LedgerConfig, { COMMAND_SIGNING_KEYS: env.commandSigningKeys, RETENTION_DAYS: "9" }).ok,
    ).toBe(true);
  });
});
