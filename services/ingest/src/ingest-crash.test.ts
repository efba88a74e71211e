import { type ChildProcess, spawn } from "node:child_process";
import { topicNames } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import type { Admin, Message } from "@points/shared/kafka";
import { createKafka } from "@points/shared/kafka";
import { createTestEnv, REPO_ROOT, type TestEnv } from "@points/testing";
import { startStack, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupCaughtUp, type Partner, partnerMessage, partnerProducer, waitUntil } from "./test-support";

/**
 * The ingest service as its own process, killed with SIGKILL while it works through a stream:
 * after a restart every event is applied exactly once (Postgres is the judge).
 */
const USERS = 40;
const EVENTS_PER_USER_PER_HALF = 250;
const SEND_MESSAGES_MAX = 2_000;
const CRASH_TEST_TIMEOUT_MS = 240_000;

let env: TestEnv;
let stack: TestStack;
let pool: Pool;
let admin: Admin;
let partner: Partner;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  partner = { id: "CRASHCO", ...(await stack.api.createPartner("CRASHCO")) };
  pool = createPool(env.databaseUrl, { max: 2 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'c' || i, 'Member ' || i, '1990-01-01' FROM generate_series(1, $1::int) i`,
    [USERS],
  );
  admin = createKafka("test-admin", env.kafkaBrokers, undefined, env.kafkaSasl).admin();
  await admin.connect();
});
afterAll(async () => {
  for (const child of children) await stopChild(child, "SIGTERM");
  await admin?.disconnect();
  await stack?.stop();
  await pool?.end();
  await env?.cleanup();
});

function startIngestProcess(): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "services/ingest/src/main.ts"], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env.serviceEnvFor("ingest"), METRICS_PORT: "0", LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await exited;
}

/** Event i of a half for user u: points vary so a lost or doubled event changes the total. */
function events(half: number): { messages: Message[]; total: Map<string, number> } {
  const messages: Message[] = [];
  const total = new Map<string, number>();
  for (let i = 0; i < EVENTS_PER_USER_PER_HALF; i++) {
    for (let u = 1; u <= USERS; u++) {
      const user = `c${u}`;
      const points = 1 + ((i * 7 + u) % 13);
      const timestamp = new Date(Date.UTC(2024, 0, 1) + (half * EVENTS_PER_USER_PER_HALF + i) * 60_000);
      messages.push(
        partnerMessage(partner, {
          event_id: `h${half}-${user}-${i}`,
          user_id: user,
          points,
          timestamp: timestamp.toISOString(),
        }),
      );
      total.set(user, (total.get(user) ?? 0) + points);
    }
  }
  return { messages, total };
}

async function sendAll(send: (m: Message[]) => Promise<void>, messages: Message[]): Promise<void> {
  for (let i = 0; i < messages.length; i += SEND_MESSAGES_MAX) {
    await send(messages.slice(i, i + SEND_MESSAGES_MAX));
  }
}

const count = async (sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);

describe("ingest process", () => {
  it(
    "loses nothing and applies nothing twice when SIGKILLed mid-stream",
    async () => {
      const topics = topicNames(env.topicPrefix);
      const producer = await partnerProducer(env, topics.partnerTransactions);
      const first = events(0);
      const second = events(1);
      const expected = first.messages.length + second.messages.length;
      await sendAll(producer.send, first.messages);

      const doomed = startIngestProcess();
      const appliedAtKill = await waitUntil("first applied entries", async () => {
        const n = await count("SELECT count(*) AS n FROM entries");
        return n > 0 ? n : undefined;
      });
      await stopChild(doomed, "SIGKILL");
      await sendAll(producer.send, second.messages);
      await producer.stop();
      expect(appliedAtKill).toBeLessThan(expected);

      startIngestProcess();
      await waitUntil(
        "every event applied and both groups caught up",
        async () => {
          const caughtUp =
            (await groupCaughtUp(admin, env.serviceEnv.INGEST_GROUP_ID!, topics.partnerTransactions)) &&
            (await groupCaughtUp(admin, env.serviceEnv.LEDGER_GROUP_ID!, topics.commands));
          const applied = caughtUp ? await count("SELECT count(*) AS n FROM entries") : 0;
          return applied >= expected ? true : undefined;
        },
        CRASH_TEST_TIMEOUT_MS / 2,
      );

      expect(await count("SELECT count(*) AS n FROM entries")).toBe(expected);
      expect(await count("SELECT count(DISTINCT command_id) AS n FROM entries")).toBe(expected);
      expect(await count("SELECT count(*) AS n FROM commands WHERE status = 'applied'")).toBe(expected);
      const { rows } = await pool.query<{ user_id: string; total: string }>(
        "SELECT user_id, total FROM accounts",
      );
      const totals = new Map(rows.map((r) => [r.user_id, Number(r.total)]));
      for (let u = 1; u <= USERS; u++) {
        const user = `c${u}`;
        expect(totals.get(user), user).toBe(first.total.get(user)! + second.total.get(user)!);
      }
    },
    CRASH_TEST_TIMEOUT_MS,
  );
});
