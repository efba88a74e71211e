import { LedgerConfig, type LedgerOutcome, parseConfig, redisKeys, topicNames } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { earnCommand, spendCommand } from "./commands.test-support";
import { collectEvents, collectTopic, commandProducer, type EventCollector } from "./kafka.test-support";
import { type RunningLedger, startLedger } from "./ledger";

/** The ledger service on real infrastructure: a command through Kafka, into Postgres, out to Redis. */
let env: TestEnv;
let pool: Pool;
let redis: Redis;
let ledger: RunningLedger;
let events: EventCollector;
let producer: Awaited<ReturnType<typeof commandProducer>>;

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 2 });
  redis = new Redis(env.redisUrl);
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('alice', 'Alice', '1990-01-01'), ('bob', 'Bob', '1990-01-01')`,
  );
  const config = parseConfig(LedgerConfig, {
    ...env.serviceEnvFor("ledger"),
    METRICS_PORT: "0",
    LOG_LEVEL: "silent",
  });
  if (!config.ok) throw new Error(config.message);
  ledger = await startLedger(config.config, createLogger("ledger", "silent"));
  events = await collectEvents(env, "ledger-test");
  producer = await commandProducer(env);
});
afterAll(async () => {
  await producer?.stop();
  await events?.stop();
  await ledger?.stop();
  redis?.disconnect();
  await pool?.end();
  await env?.cleanup();
});

describe("ledger service", () => {
  it("applies a command from Kafka to Postgres, publishes the outcome and caches the balance in Redis", async () => {
    const earn = earnCommand("alice", "DANNON", 250, "2022-10-31T10:00:00Z");
    await producer.send([earn]);
    const [outcome] = await events.waitFor([earn.command_id]);
    expect(outcome).toMatchObject({ status: "applied", user_id: "alice", seq: 1, response: { status: 201 } });
    const { rows } = await pool.query("SELECT payer, points, remaining FROM lots WHERE user_id = 'alice'");
    expect(rows).toEqual([{ payer: "DANNON", points: "250", remaining: "250" }]);
    const cached = await redis.get(redisKeys(env.redisKeyPrefix).balance("alice"));
    // "<seq>:<stale at>:<json>": empty stale-at, as none of these points expires.
    expect(cached).toBe('1::{"DANNON":250}');
  });

  it("applies a re-sent command once and publishes the same outcome again", async () => {
    const spend = spendCommand("alice", 50);
    await producer.send([spend]);
    const [first] = await events.waitFor([spend.command_id]);
    await producer.send([spend]);
    await expect
      .poll(() => events.events.filter((e) => e.command_id === spend.command_id).length, { timeout: 30_000 })
      .toBe(2);
    const copies = events.events.filter((e) => e.command_id === spend.command_id);
    expect(copies[1]!.response).toEqual(first!.response);
    const { rows } = await pool.query("SELECT total FROM accounts WHERE user_id = 'alice'");
    expect(rows[0].total).toBe("200");
  });

  it("dead-letters a message that is not a valid command, with the reason, and keeps applying", async () => {
    const dlq = await collectTopic(env, topicNames(env.topicPrefix).commandsDlq, "ledger-dlq");
    try {
      await producer.sendRaw("bob", "{not json");
      await producer.sendRaw("bob", JSON.stringify({ v: 1, type: "earn", user_id: "bob" }));
      const earn = earnCommand("bob", "DANNON", 7, "2022-10-31T10:00:00Z");
      await producer.send([earn]);
      const [outcome] = await events.waitFor([earn.command_id]);
      expect(outcome!.status).toBe("applied");
      await expect.poll(() => dlq.messages.length, { timeout: 30_000 }).toBe(2);
      const header = (i: number, name: string) => dlq.messages[i]!.headers?.[name]?.toString();
      expect([header(0, "x-error-code"), header(1, "x-error-code")]).toEqual([
        "invalid_json",
        "invalid_command",
      ]);
      expect(dlq.messages.map((m) => m.value?.toString())).toEqual([
        "{not json",
        JSON.stringify({ v: 1, type: "earn", user_id: "bob" }),
      ]);
      expect(dlq.messages.map((m) => m.key?.toString())).toEqual(["bob", "bob"]);
      expect(header(0, "x-original-offset")).toMatch(/^\d+$/);
    } finally {
      await dlq.stop();
    }
  });

  it("replays a decided command with the first answer's bytes, over Redis and from Postgres after a cache flush", async () => {
    const subscriber = new Redis(env.redisUrl);
    const replies: string[] = [];
    try {
      await subscriber.subscribe(redisKeys(env.redisKeyPrefix).replyChannel("gw-bytes"));
      subscriber.on("message", (_channel: string, message: string) => replies.push(message));
      // The gateway answers with JSON.stringify(outcome.response.body) of what it received.
      const answered = (message: string) =>
        JSON.stringify((JSON.parse(message) as LedgerOutcome).response.body);
      const earn = earnCommand("bob", "DANNON", 5, "2022-11-01T10:00:00Z", { reply_to: "gw-bytes" });
      await producer.send([earn]);
      await expect.poll(() => replies.length, { timeout: 30_000 }).toBe(1);
      const first = answered(replies[0]!);
      expect(first).toMatch(/^\{"entry_id":"[^"]+","payer":"DANNON","points":5,"timestamp":/);

      await producer.send([earn]); // a retry with the same Idempotency-Key: answered from the record
      await expect.poll(() => replies.length, { timeout: 30_000 }).toBe(2);
      expect(answered(replies[1]!)).toBe(first);

      await redis.del(redisKeys(env.redisKeyPrefix).balance("bob"));
      const { rows } = await pool.query("SELECT response FROM commands WHERE command_id = $1", [
        earn.command_id,
      ]);
      expect(JSON.stringify(rows[0].response.body)).toBe(first);
    } finally {
      subscriber.disconnect();
    }
  });

  it("rejects a command that trips an assert (500 internal), dead-letters it, counts it, and keeps the partition flowing", async () => {
    // A stored total (100) no lot backs, as a bug elsewhere could leave it: a spend trips the
    // core's assert that the total agrees with the lots. It was retried forever, stalling the partition.
    await pool.query(
      "INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('carol', 'Carol', '1990-01-01')",
    );
    await pool.query("INSERT INTO accounts (user_id, seq, next_arrival, total) VALUES ('carol', 1, 1, 100)");
    await pool.query(
      "INSERT INTO payer_balances (user_id, payer, available, adjusted, first_seen) VALUES ('carol', 'DANNON', 100, 0, 1)",
    );
    const dlq = await collectTopic(env, topicNames(env.topicPrefix).commandsDlq, "ledger-dlq-faults");
    try {
      const trips = spendCommand("carol", 50);
      const after = earnCommand("carol", "DANNON", 7, "2022-10-31T10:00:00Z"); // same user, same partition
      await producer.send([trips, after]);
      const outcomes = await events.waitFor([trips.command_id, after.command_id]);
      const byId = new Map(outcomes.map((o) => [o.command_id, o]));
      expect(byId.get(trips.command_id)).toMatchObject({
        status: "rejected",
        code: "internal",
        response: { status: 500, body: { error: { code: "internal" } } },
      });
      expect(byId.get(after.command_id)!.status).toBe("applied");
      const faults = () => dlq.messages.filter((m) => m.headers?.["x-error-code"]?.toString() === "internal");
      await expect.poll(() => faults().length, { timeout: 30_000 }).toBe(1);
      expect(faults()[0]!.value?.toString()).toBe(JSON.stringify(trips));
      expect(faults()[0]!.headers?.["x-error-message"]?.toString()).toMatch(/^AssertionError: /);
      const text = await (await fetch(`http://127.0.0.1:${ledger.metricsPort}/metrics`)).text();
      expect(text).toMatch(/ledger_command_faults_total\{code="internal"\} 1\b/);
    } finally {
      await dlq.stop();
    }
  });

  it("exposes Prometheus metrics", async () => {
    const text = await (await fetch(`http://127.0.0.1:${ledger.metricsPort}/metrics`)).text();
    expect(text).toMatch(/ledger_commands_total\{type="earn",status="applied"\} \d+/);
    const invalid = Number(/ledger_invalid_commands_total (\d+)/.exec(text)?.[1]);
    expect(invalid).toBe(2);
  });
});
