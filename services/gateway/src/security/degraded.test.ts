import { redisKeys } from "@points/shared";
import { createTestEnv, type TestEnv } from "@points/testing";
import {
  Api,
  type ApiResponse,
  startStack,
  startTestGateway,
  TEST_ADMIN_TOKEN,
  type TestStack,
} from "@points/testing/stack";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envelopeProblems } from "./answers.test-support";
import { type PrivateRedis, startPrivateRedis } from "./private-redis.test-support";

/**
 * Degraded modes. Redis down: balances are read from Postgres, changes are still applied (the
 * ledger does not wait for its cache), and once Redis is back no stale balance is served, also
 * when Redis comes back with its old data (a snapshot). Kafka down: every command is refused at
 * once with 503 unavailable, and nothing of it is applied; a retry with the same Idempotency-Key
 * once Kafka is reachable applies it exactly once.
 *
 * The gateway and ledger here use a redis-server of this file's own; the shared Postgres, Redis
 * and Kafka are never stopped.
 */
let env: TestEnv;
let redis: PrivateRedis;
let stack: TestStack;
let api: Api;
let db: pg.Client;
const admin = TEST_ADMIN_TOKEN;
const WAIT_MS_MAX = 20_000;

beforeAll(async () => {
  env = await createTestEnv();
  redis = await startPrivateRedis();
  // A short sync wait: with Redis down, the ledger's reply cannot arrive by pub/sub.
  stack = await startStack(env, { REDIS_URL: redis.url, SYNC_WAIT_MS: "1000" });
  api = stack.api;
  await api.createPartner("ACME");
  db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
});

afterAll(async () => {
  await stack?.stop();
  await redis?.stop();
  await db?.end();
  await env?.cleanup();
});

const earn = (user: string, points: number) =>
  api.call("POST", `/v1/users/${user}/transactions`, {
    token: admin,
    body: { payer: "ACME", points, timestamp: "2022-01-01T00:00:00Z" },
  });
const spend = (user: string, points: number) =>
  api.call("POST", `/v1/users/${user}/spend`, { token: admin, body: { points } });
const balance = (user: string) => api.call("GET", `/v1/users/${user}/balance`, { token: admin });

/** The command's outcome: its synchronous answer, or (after a 202) the outcome polled from /v1/commands. */
async function outcome(res: ApiResponse): Promise<{ status: number; body: unknown }> {
  if (res.status !== 202) return { status: res.status, body: res.body };
  const location = res.headers.get("location")!;
  const deadline = Date.now() + WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const polled = await api.call("GET", location, { token: admin });
    if (polled.body.status !== "pending") return polled.body.response;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`command ${location} still pending after ${WAIT_MS_MAX} ms: the ledger stalled`);
}

async function redisHealthy(): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  while (Date.now() < deadline) {
    if ((await api.call("GET", "/health")).body.checks?.redis === "ok") return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the gateway did not reconnect to Redis");
}

/** Polls until the balance is `expected`, then reads it a few more times: it must stay. */
async function balanceBecomes(user: string, expected: Record<string, number>): Promise<void> {
  const deadline = Date.now() + WAIT_MS_MAX;
  let last: unknown;
  while (Date.now() < deadline) {
    const res = await balance(user);
    expect(res.status).toBe(200);
    last = res.body;
    if (JSON.stringify(res.body) === JSON.stringify(expected)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(last, `the balance of ${user} served from the cache`).toEqual(expected);
  for (let i = 0; i < 3; i++) expect((await balance(user)).body).toEqual(expected);
}

const cached = async (user: string) => {
  const client = redis.client();
  try {
    return await client.get(redisKeys(env.redisKeyPrefix).balance(user));
  } finally {
    client.disconnect();
  }
};

describe("Redis down", () => {
  it("reads balances from Postgres, applies changes, and serves no stale balance after a restart", async () => {
    await api.createMember("deg-1");
    expect((await outcome(await earn("deg-1", 100))).status).toBe(201);
    expect((await balance("deg-1")).body).toEqual({ ACME: 100 });
    // "<seq>:<stale instant, empty = never>:<json>" (redis-keys.ts).
    expect(await cached("deg-1")).toMatch(/^\d+:\d*:\{"ACME":100\}$/);

    await redis.kill();
    expect((await api.call("GET", "/health")).status).toBe(503);
    expect(await balance("deg-1")).toMatchObject({ status: 200, body: { ACME: 100 } });
    const earned = await outcome(await earn("deg-1", 50));
    expect(earned.status).toBe(201);
    expect(await balance("deg-1")).toMatchObject({ status: 200, body: { ACME: 150 } });
    const spent = await outcome(await spend("deg-1", 30));
    expect(spent).toEqual({ status: 200, body: [{ payer: "ACME", points: -30 }] });
    expect((await balance("deg-1")).body).toEqual({ ACME: 120 });
    const { rows } = await db.query("SELECT type, amount FROM entries WHERE user_id = 'deg-1' ORDER BY seq");
    expect(rows.map((r) => [r.type, Number(r.amount)])).toEqual([
      ["earn", 100],
      ["earn", 50],
      ["spend", -30],
    ]);

    await redis.restart();
    await redisHealthy();
    await balanceBecomes("deg-1", { ACME: 120 });
    expect((await outcome(await earn("deg-1", 1))).status).toBe(201);
    await balanceBecomes("deg-1", { ACME: 121 });
    expect(await cached("deg-1")).toMatch(/^\d+:\d*:\{"ACME":121\}$/);
  });

  it("serves no stale balance when Redis comes back with a snapshot taken before a change", async () => {
    await api.createMember("deg-2");
    expect((await outcome(await earn("deg-2", 100))).status).toBe(201);
    expect((await balance("deg-2")).body).toEqual({ ACME: 100 });
    const client = redis.client();
    try {
      expect(await client.get(redisKeys(env.redisKeyPrefix).balance("deg-2"))).toMatch(/:\{"ACME":100\}$/);
      expect(await client.save()).toBe("OK"); // dump.rdb now holds the balance of 100
    } finally {
      client.disconnect();
    }

    await redis.kill();
    expect((await outcome(await earn("deg-2", 50))).status).toBe(201);
    expect((await balance("deg-2")).body).toEqual({ ACME: 150 });

    await redis.restart(); // loads dump.rdb: the cached balance of 100 is back
    await redisHealthy();
    await balanceBecomes("deg-2", { ACME: 150 });
  });
});

describe("Kafka down", () => {
  it("refuses every command at once with 503, applies none, and a retry with the same key applies once", async () => {
    await api.createMember("deg-3");
    expect((await outcome(await earn("deg-3", 100))).status).toBe(201);
    const item = await api.call("POST", "/v1/entries", {
      token: admin,
      body: { user_id: "deg-3", amount: 1, reason: "item", payer: "ACME", item: { name: "mug" } },
    });
    const itemId = (await outcome(item)).body as { entry_id: string };
    // A minute of sync wait: a gateway that waited for the ledger instead of refusing would hang.
    const cut = await startTestGateway(env, {
      REDIS_URL: redis.url,
      KAFKA_BROKERS: "127.0.0.1:1",
      SYNC_WAIT_MS: "60000",
    });
    try {
      const client = new Api(cut.url);
      const spendKey = { "Idempotency-Key": "deg-3-spend" };
      const attempts = [
        client.call("POST", "/v1/users/deg-3/spend", {
          token: admin,
          body: { points: 10 },
          headers: spendKey,
        }),
        client.call("POST", "/v1/users/deg-3/transactions", {
          token: admin,
          body: { payer: "ACME", points: 5, timestamp: "2022-01-01T00:00:00Z" },
          headers: { Prefer: "respond-async" },
        }),
        client.call("POST", "/v1/entries", {
          token: admin,
          body: { user_id: "deg-3", amount: -1, reason: "r" },
        }),
        client.call("POST", `/v1/inventory/${itemId.entry_id}/use`, { token: admin }),
      ];
      const started = performance.now();
      const answers = await Promise.all(attempts);
      console.log(
        `kafka down: ${answers.length} commands refused in ${Math.round(performance.now() - started)} ms`,
      );
      for (const res of answers) {
        expect([res.status, res.body.error?.code]).toEqual([503, "unavailable"]);
        const headers: Record<string, string> = {};
        res.headers.forEach((v, k) => {
          headers[k] = v;
        });
        expect(envelopeProblems({ status: res.status, headers, text: JSON.stringify(res.body) })).toEqual([]);
      }
      expect((await client.call("GET", "/v1/users/deg-3/balance", { token: admin })).body).toEqual({
        ACME: 101,
      });
    } finally {
      await cut.stop();
    }
    const entries = async () =>
      (await db.query("SELECT type, amount FROM entries WHERE user_id = 'deg-3' ORDER BY seq")).rows.map(
        (r) => [r.type, Number(r.amount)],
      );
    expect(await entries()).toEqual([
      ["earn", 100],
      ["earn", 1],
    ]);
    const retried = await api.call("POST", "/v1/users/deg-3/spend", {
      token: admin,
      body: { points: 10 },
      headers: { "Idempotency-Key": "deg-3-spend" },
    });
    expect(await outcome(retried)).toEqual({ status: 200, body: [{ payer: "ACME", points: -10 }] });
    const again = await api.call("POST", "/v1/users/deg-3/spend", {
      token: admin,
      body: { points: 10 },
      headers: { "Idempotency-Key": "deg-3-spend" },
    });
    expect(await outcome(again)).toEqual({ status: 200, body: [{ payer: "ACME", points: -10 }] });
    expect(await entries()).toEqual([
      ["earn", 100],
      ["earn", 1],
      ["spend", -10],
    ]);
    expect((await balance("deg-3")).body).toEqual({ ACME: 91 });
  }, 30_000);
});
