import { LedgerConfig, parseConfig } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBatch } from "./apply-batch";
import { earnCommand, holdPlaceCommand } from "./commands.test-support";
import { collectEvents, commandProducer, type EventCollector, registerPartners } from "./kafka.test-support";
import { type RunningLedger, startLedger } from "./ledger";

/**
 * The expiry scheduler in the running ledger (real Kafka, Postgres, Redis): what falls due is
 * recorded within the contract's 60 s and published on ledger.events, and what fell due while no
 * ledger ran is recorded after start-up (catch-up).
 */
let env: TestEnv;
let pool: Pool;
let ledger: RunningLedger;
let events: EventCollector;
let producer: Awaited<ReturnType<typeof commandProducer>>;
/** Contract 6.1 and 6.3: recorded within 60 s of the instant. */
const BOUND_MS = 60_000;

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 2 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     VALUES ('early', 'Early', '1990-01-01'), ('live', 'Live', '1990-01-01'), ('holder', 'Holder', '1990-01-01')`,
  );
  await registerPartners(env, ["A"]);
  // Before any ledger runs: a lot that expires a moment after it is applied, and a hold that
  // times out a second later.
  const ts = new Date(Date.now() - 60_000).toISOString();
  await applyBatch(pool, [
    earnCommand("early", "A", 9, ts, { expires_at: new Date(Date.now() + 500).toISOString() }),
    earnCommand("holder", "A", 9, ts),
    holdPlaceCommand("holder", 4, 1),
  ]);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  events = await collectEvents(env, "scheduler-test");
  producer = await commandProducer(env);
  const config = parseConfig(LedgerConfig, {
    ...env.serviceEnvFor("ledger"),
    METRICS_PORT: "0",
    LOG_LEVEL: "silent",
  });
  if (!config.ok) throw new Error(config.message);
  ledger = await startLedger(config.config, createLogger("ledger", "silent"));
});
afterAll(async () => {
  await producer?.stop();
  await events?.stop();
  await ledger?.stop();
  await pool?.end();
  await env?.cleanup();
});

async function lotParts(userId: string) {
  const { rows } = await pool.query(
    "SELECT remaining::int, held::int, expired::int FROM lots WHERE user_id = $1 ORDER BY arrival",
    [userId],
  );
  return rows;
}

describe("expiry scheduler", () => {
  it("catches up at start with what fell due while no ledger ran, and publishes it", async () => {
    await expect
      .poll(() => lotParts("early"), { timeout: BOUND_MS, interval: 250 })
      .toEqual([{ remaining: 0, held: 0, expired: 9 }]);
    await expect
      .poll(() => events.events.filter((e) => e.user_id === "early" && e.type === "expire_due"), {
        timeout: 30_000,
      })
      .toEqual([
        expect.objectContaining({
          status: "applied",
          actor: "system:ledger-scheduler",
          response: { status: 200, body: expect.objectContaining({ type: "expire", amount: -9 }) },
        }),
      ]);
    await expect
      .poll(() => lotParts("holder"), { timeout: BOUND_MS, interval: 250 })
      .toEqual([{ remaining: 9, held: 0, expired: 0 }]);
    const { rows } = await pool.query("SELECT status FROM holds WHERE user_id = 'holder'");
    expect(rows).toEqual([{ status: "expired" }]);
  });

  it("records a lot's expiry within 60 s of its instant while running, once", async () => {
    const expiresAt = Date.now() + 2_000;
    const earn = earnCommand("live", "A", 5, new Date(Date.now() - 1_000).toISOString(), {
      expires_at: new Date(expiresAt).toISOString(),
    });
    await producer.send([earn]);
    await events.waitFor([earn.command_id]);
    await expect
      .poll(() => lotParts("live"), { timeout: BOUND_MS, interval: 250 })
      .toEqual([{ remaining: 0, held: 0, expired: 5 }]);
    const { rows } = await pool.query(
      `SELECT m.at FROM entries e JOIN movements m ON m.user_id = e.user_id AND m.source = e.entry_id
        WHERE e.user_id = 'live' AND e.type = 'expire'`,
    );
    expect(rows).toHaveLength(1);
    // Counted at the instant it expired, however late it was recorded (recorded within the
    // bound: the poll above waits at most that long).
    expect(rows[0].at.getTime()).toBe(expiresAt);
    const { rows: account } = await pool.query(
      "SELECT next_due, kafka_partition FROM accounts WHERE user_id = 'live'",
    );
    expect(account[0].next_due).toBeNull();
    expect(account[0].kafka_partition).not.toBeNull();
  });
});
