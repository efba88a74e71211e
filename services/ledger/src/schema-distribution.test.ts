import { createTestEnv, type TestEnv } from "@points/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The schema stays distributable by user (design.md decision 2; README "Scaling out"): under
 * Citus every table that holds a member's points is distributed by `user_id`, which needs its
 * primary key to start with `user_id`. A new table must either follow that or be listed below
 * with the key it is distributed by instead, so nobody adds a shared ledger row by accident.
 */
const NOT_KEYED_BY_USER: Record<string, string> = {
  members: "the register itself: loyalty_id is the user id (distributed by it)",
  partners: "a small reference table (Citus: reference table, copied to every node)",
  tokens: "keyed by token hash; looked up before the user is known",
  command_requests:
    "keyed by command id so GET /v1/commands/{id} finds the user; written once by the gateway",
  idempotency_keys: "keyed by (actor, key): the caller's scope, not a member's",
  partner_events: "keyed by (partner, event_id): the ingest's claim, before any ledger row",
  dead_letters: "operators' copy of refused messages; not ledger data",
  report_figures:
    "one writer per Kafka partition (the partition's ledger); Citus: distributed by kafka_partition or kept on the coordinator",
  report_totals:
    "running totals of report_figures, same writer and distribution (one writer per Kafka partition; Citus: by kafka_partition or on the coordinator)",
  report_carried:
    "the (partition, day)s whose report_totals were carried forward; same writer and distribution as report_totals",
  report_holders:
    "per (payer, partition) holder counts, one writer per partition like report_totals (Citus: by kafka_partition)",
  schema_migrations: "the migration log",
};

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

describe("schema distribution by user", () => {
  it("every table's primary key starts with user_id, or the table is listed with its reason", async () => {
    const { rows } = await client.query<{ table: string; first: string | null }>(`
      SELECT c.relname AS table,
             (SELECT a.attname FROM pg_constraint k
                JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
               WHERE k.conrelid = c.oid AND k.contype = 'p') AS first
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
       ORDER BY 1`);
    const offenders = rows.filter((r) => r.first !== "user_id" && !(r.table in NOT_KEYED_BY_USER));
    expect(offenders).toEqual([]);
    // The ledger's own tables are all there and keyed by user.
    const keyed = rows.filter((r) => r.first === "user_id").map((r) => r.table);
    expect(keyed).toEqual(
      expect.arrayContaining([
        "accounts",
        "payer_balances",
        "entries",
        "lots",
        "allocations",
        "commands",
        "holds",
        "hold_allocations",
        "movements",
        "balance_snapshots",
      ]),
    );
  });
});
