import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { createPool, type Pool } from "@points/shared/db";
import { createTestEnv, REPO_ROOT, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { earnCommand } from "./commands.test-support";
import { commandProducer } from "./kafka.test-support";

/**
 * SIGKILL the ledger process in the middle of a stream of commands, start it again, and check
 * that every command was applied exactly once: nothing lost, nothing doubled.
 */
const USERS = 20;
const COMMANDS = 3_000;
const SEND_CHUNK = 100;
const KILL_AFTER_APPLIED = 400;
const DRAIN_TIMEOUT_MS = 90_000;

let env: TestEnv;
let pool: Pool;
const children: ChildProcess[] = [];

function startLedgerProcess(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "services/ledger/src/main.ts")], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env.serviceEnvFor("ledger"), METRICS_PORT: "0", LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.push(child);
  return child;
}

async function appliedCount(): Promise<number> {
  const { rows } = await pool.query("SELECT count(*)::int AS n FROM commands");
  return rows[0].n;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out: ${what} (applied ${await appliedCount()})`);
}

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 2 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'c' || i, 'Member ' || i, '1990-01-01' FROM generate_series(0, ${USERS - 1}) i`,
  );
});
afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
  await pool?.end();
  await env?.cleanup();
});

describe("ledger crash", () => {
  it("loses nothing and applies nothing twice when SIGKILLed mid-stream", async () => {
    const producer = await commandProducer(env);
    const commands = Array.from({ length: COMMANDS }, (_, i) =>
      earnCommand(
        `c${i % USERS}`,
        ["DANNON", "UNILEVER", "MILLER COORS"][i % 3]!,
        1 + (i % 5),
        "2022-01-01T00:00:00Z",
      ),
    );
    let victim = startLedgerProcess();
    // Feed the first chunks one at a time until the ledger is applying them, then SIGKILL it
    // right after handing it another chunk (mid-batch), and send the rest while it is down.
    let sent = 0;
    while (sent < KILL_AFTER_APPLIED) {
      await producer.send(commands.slice(sent, sent + SEND_CHUNK));
      sent += SEND_CHUNK;
      await waitUntil(async () => (await appliedCount()) >= sent, DRAIN_TIMEOUT_MS, "ledger applying");
    }
    await producer.send(commands.slice(sent, sent + SEND_CHUNK));
    sent += SEND_CHUNK;
    victim.kill("SIGKILL");
    await new Promise((r) => victim.once("exit", r));
    for (; sent < COMMANDS; sent += SEND_CHUNK) await producer.send(commands.slice(sent, sent + SEND_CHUNK));
    expect(await appliedCount()).toBeLessThan(COMMANDS); // the kill really landed mid-stream
    victim = startLedgerProcess();
    await waitUntil(
      async () => (await appliedCount()) === COMMANDS,
      DRAIN_TIMEOUT_MS,
      "all commands applied",
    );
    await producer.stop();

    const expected = new Map<string, number>();
    for (const c of commands) expected.set(c.user_id, (expected.get(c.user_id) ?? 0) + (c.points as number));
    const { rows } = await pool.query<{ user_id: string; total: string; entries: number; payers: string }>(
      `SELECT a.user_id, a.total,
              (SELECT count(*)::int FROM entries e WHERE e.user_id = a.user_id) AS entries,
              (SELECT sum(available)::text FROM payer_balances p WHERE p.user_id = a.user_id) AS payers
         FROM accounts a ORDER BY a.user_id`,
    );
    expect(rows).toHaveLength(USERS);
    for (const r of rows) {
      expect(Number(r.total)).toBe(expected.get(r.user_id));
      expect(r.payers).toBe(r.total);
      expect(r.entries).toBe(COMMANDS / USERS);
    }
    const { rows: statuses } = await pool.query(
      "SELECT status, count(*)::int AS n FROM commands GROUP BY status",
    );
    expect(statuses).toEqual([{ status: "applied", n: COMMANDS }]);

    victim.kill("SIGTERM");
    const code = await new Promise<number | null>((r) => victim.once("exit", (c) => r(c)));
    expect(code).toBe(0);
  });
});
