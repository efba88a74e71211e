import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The outbox against real Kafka, Postgres and ledger: a 202's command is kept, sent again while
 * undecided, and left alone once decided, failed, or past the resend window.
 */
let env: TestEnv;
let stack: TestStack;
let api: Api;
let db: pg.Client;
const admin = TEST_ADMIN_TOKEN;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env, { COMMAND_RESEND_AFTER_MS: "1000", COMMAND_RESEND_INTERVAL_MS: "200" });
  api = stack.api;
  await api.createPartner("DANNON");
  db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await stack?.stop();
  await env?.cleanup();
});

interface OutboxRow {
  status: string;
  command: string | null;
  resend_at: Date | null;
  resends: number;
  created_at: Date;
}

async function outboxRow(id: string): Promise<OutboxRow | undefined> {
  const { rows } = await db.query<OutboxRow>(
    "SELECT status, command, resend_at, resends, created_at FROM command_requests WHERE command_id = $1",
    [id],
  );
  return rows[0];
}

/** Polls until the resender has stopped checking the row (decided, failed or given up). */
async function settled(id: string): Promise<OutboxRow> {
  for (let i = 0; i < 300; i++) {
    const row = await outboxRow(id);
    if (row && row.resend_at === null) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`outbox row ${id} still due after 30 s`);
}

const balance = async (user: string) =>
  (await api.call("GET", `/v1/users/${user}/balance`, { token: admin })).body;

/** A member with 10 DANNON points and the stored body of an applied async spend of 1. */
async function memberWithSpend(user: string): Promise<Record<string, unknown>> {
  await api.createMember(user);
  const earned = await api.call("POST", `/v1/users/${user}/transactions`, {
    token: admin,
    body: { payer: "DANNON", points: 10, timestamp: "2022-01-01T00:00:00Z" },
  });
  expect(earned.status).toBe(201);
  const res = await api.call("POST", `/v1/users/${user}/spend`, {
    token: admin,
    body: { points: 1 },
    headers: { Prefer: "respond-async" },
  });
  expect(res.status).toBe(202);
  const row = await settled(res.body.id);
  return JSON.parse(row.command!);
}

/** Writes the outbox row a gateway leaves when it answered 202 and Kafka never took the send. */
async function lostSend(command: Record<string, unknown>, options: { ageMs?: number; status?: string } = {}) {
  await db.query(
    `INSERT INTO command_requests (command_id, user_id, actor, command, resend_at, status, created_at)
     VALUES ($1, $2, 'admin:admin', $3, now(), $4, now() - make_interval(secs => $5::double precision / 1000))`,
    [
      command.command_id,
      command.user_id,
      JSON.stringify(command),
      options.status ?? "pending",
      options.ageMs ?? 0,
    ],
  );
}

describe("the outbox", () => {
  it("keeps a 202's command as produced, and stops checking it once the ledger decided it", async () => {
    await api.createMember("kept");
    const res = await api.call("POST", "/v1/users/kept/transactions", {
      token: admin,
      body: { payer: "DANNON", points: 5, timestamp: "2022-01-01T00:00:00Z" },
      headers: { Prefer: "respond-async" },
    });
    expect(res.status).toBe(202);
    const first = await outboxRow(res.body.id);
    expect(first?.resend_at?.getTime()).toBeGreaterThan(first!.created_at.getTime());
    expect(JSON.parse(first!.command!)).toMatchObject({
      command_id: res.body.id,
      user_id: "kept",
      type: "earn",
      payer: "DANNON",
      points: 5,
    });
    const row = await settled(res.body.id);
    // Decided within the wait: found decided at its first check, never sent again.
    expect(row).toMatchObject({ status: "pending", resends: 0 });
    expect(await balance("kept")).toEqual({ DANNON: 5 });
  });

  it("sends a command Kafka never took again, and the ledger applies it once", async () => {
    const applied = await memberWithSpend("lost");
    expect(await balance("lost")).toEqual({ DANNON: 9 });
    const lost = { ...applied, command_id: `lost-${Date.now()}` };
    await lostSend(lost);
    const row = await settled(lost.command_id);
    expect(row.resends).toBeGreaterThanOrEqual(1);
    const status = await api.call("GET", `/v1/commands/${lost.command_id}`, { token: admin });
    expect(status.body).toMatchObject({ id: lost.command_id, status: "applied", response: { status: 200 } });
    expect(await balance("lost")).toEqual({ DANNON: 8 });
    // Sent again once more after it was decided: the ledger answers from its record.
    await db.query("UPDATE command_requests SET resend_at = now() WHERE command_id = $1", [lost.command_id]);
    await settled(lost.command_id);
    expect(await balance("lost")).toEqual({ DANNON: 8 });
  });

  it.each([
    { label: "a command past the resend window", options: { ageMs: 2 * 86_400_000 }, status: "pending" },
    { label: "a command recorded failed", options: { status: "failed" }, status: "failed" },
  ])("never sends $label", async ({ label, options, status }) => {
    const user = `alone-${status}`;
    const applied = await memberWithSpend(user);
    const command = { ...applied, command_id: `${label.split(" ").at(-1)}-${Date.now()}` };
    await lostSend(command, options);
    if (status === "pending") {
      expect(await settled(command.command_id)).toMatchObject({ status: "pending", resends: 0 });
    } else {
      // The resender skips failed rows (they are not due); give it several rounds to prove it.
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await outboxRow(command.command_id)).toMatchObject({ status: "failed", resends: 0 });
    }
    const answer = await api.call("GET", `/v1/commands/${command.command_id}`, { token: admin });
    expect(answer.body).toEqual({ id: command.command_id, status });
    expect(await balance(user)).toEqual({ DANNON: 9 });
  });
});
