import { IngestConfig, parseConfig, topicNames } from "@points/shared";
import { COMMAND_AUTH_HEADER, CommandSigningKeys, signCommand } from "@points/shared/command-auth";
import { DEAD_LETTERS_KEPT_PER_SOURCE, recordDeadLetters } from "@points/shared/dead-letter-store";
import { createKafka, Partitioners, type Producer } from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningIngest, startIngest } from "../../../../ingest/src/ingest";

/**
 * GET /v1/dead-letters on a real stack: what the ledger and the ingest dead-letter shows up,
 * bounded, newest first, for the admin only.
 */
const WAIT_MS_MAX = 45_000;
let env: TestEnv;
let stack: TestStack;
let ingest: RunningIngest;
let producer: Producer;
let partnerToken: string;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  const parsed = parseConfig(IngestConfig, {
    ...env.serviceEnvFor("ingest"),
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
  });
  if (!parsed.ok) throw new Error(parsed.message);
  ingest = await startIngest(parsed.config, createLogger("ingest", "warn"));
  producer = createKafka("test-dead-letters", env.kafkaBrokers, undefined, env.kafkaSasl).producer({
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  partnerToken = (await stack.api.createPartner("DLQ_PARTNER")).token;
});

afterAll(async () => {
  await producer?.disconnect();
  await ingest?.stop();
  await stack?.stop();
  await env?.cleanup();
});

// biome-ignore lint/suspicious/noExplicitAny: rows are checked field by field.
async function waitForDeadLetters(query: string, count: number): Promise<any[]> {
  const deadline = Date.now() + WAIT_MS_MAX;
  for (;;) {
    const res = await stack.api.call("GET", `/v1/dead-letters${query}`, { token: TEST_ADMIN_TOKEN });
    expect(res.status).toBe(200);
    if (res.body.length >= count || Date.now() > deadline) return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("GET /v1/dead-letters", () => {
  it("shows a command the ledger dead-lettered, with a bounded excerpt of its value", async () => {
    const value = `{"not a command": "${"x".repeat(10_000)}"}`;
    const topics = topicNames(env.topicPrefix);
    // Signed as the gateway signs, so the ledger reads it and refuses it for what it says.
    const keys = CommandSigningKeys.parse(env.commandSigningKeys);
    const headers = { [COMMAND_AUTH_HEADER]: signCommand(keys, value) };
    await producer.send({ topic: topics.commands, messages: [{ key: "dl-user", value, headers }] });
    const [row] = await waitForDeadLetters("?source=ledger", 1);
    expect(row).toMatchObject({ source: "ledger", error_code: "invalid_command" });
    expect(row.partition).toBeTypeOf("number");
    expect(row.offset).toMatch(/^\d+$/);
    expect(row.partner_id).toBeUndefined();
    expect(Number.isNaN(Date.parse(row.received_at))).toBe(false);
    expect(row.value_excerpt).toBe(value.slice(0, 2_048));
  });

  it("shows a partner message the ingest dead-lettered, with its partner id", async () => {
    const topics = topicNames(env.topicPrefix);
    await producer.send({
      topic: topics.partnerTransactions,
      messages: [
        {
          key: "dl-user",
          value: '{"event_id":"e1","user_id":"dl-user","points":5}',
          headers: { "x-partner-id": "DLQ_PARTNER", "x-signature": "sha256=00" },
        },
      ],
    });
    const [row] = await waitForDeadLetters("?source=partner", 1);
    expect(row).toMatchObject({ source: "partner", partner_id: "DLQ_PARTNER" });
    expect(row.error_code).toBeTypeOf("string");
    expect(row.value_excerpt).toContain('"event_id":"e1"');
    // Both sources together, newest first.
    const all = await waitForDeadLetters("", 2);
    expect(all.map((r) => r.source)).toEqual(["partner", "ledger"]);
    const one = await stack.api.call("GET", "/v1/dead-letters?limit=1", { token: TEST_ADMIN_TOKEN });
    expect(one.body).toHaveLength(1);
  });

  it("is for the admin only, and bounds its limit", async () => {
    const asPartner = await stack.api.call("GET", "/v1/dead-letters", { token: partnerToken });
    expect(asPartner.status).toBe(403);
    expect(asPartner.body.error.code).toBe("forbidden");
    const anonymous = await stack.api.call("GET", "/v1/dead-letters");
    expect(anonymous.status).toBe(401);
    for (const query of ["?limit=501", "?limit=0", "?source=other"]) {
      const res = await stack.api.call("GET", `/v1/dead-letters${query}`, { token: TEST_ADMIN_TOKEN });
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe("validation_failed");
    }
  });

  it("keeps only the newest rows per source, and one row per message", async () => {
    const pool = new pg.Pool({ connectionString: env.databaseUrl, max: 1 });
    try {
      const extra = 5;
      const messages = Array.from({ length: DEAD_LETTERS_KEPT_PER_SOURCE + extra }, (_, i) => ({
        value: `m${i}`,
        headers: {
          "x-error-code": "invalid_json",
          "x-original-partition": "9",
          "x-original-offset": String(i),
        },
      }));
      await recordDeadLetters(pool, "ledger", messages);
      await recordDeadLetters(pool, "ledger", messages.slice(-2)); // a retried chunk
      const { rows } = await pool.query<{ n: string; oldest: string }>(
        `SELECT count(*) AS n, min("offset")::text AS oldest FROM dead_letters WHERE source = 'ledger' AND "partition" = 9`,
      );
      expect(Number(rows[0]!.n)).toBeLessThanOrEqual(DEAD_LETTERS_KEPT_PER_SOURCE);
      expect(Number(rows[0]!.oldest)).toBeGreaterThanOrEqual(extra);
      const newest = await stack.api.call("GET", "/v1/dead-letters?source=ledger&limit=500", {
        token: TEST_ADMIN_TOKEN,
      });
      expect(newest.body).toHaveLength(500);
      expect(newest.body[0]).toMatchObject({
        partition: 9,
        offset: String(DEAD_LETTERS_KEPT_PER_SOURCE + extra - 1),
      });
      // The partner source is pruned on its own: its row is still there.
      const partner = await stack.api.call("GET", "/v1/dead-letters?source=partner", {
        token: TEST_ADMIN_TOKEN,
      });
      expect(partner.body).toHaveLength(1);
    } finally {
      await pool.end();
    }
  });
});
