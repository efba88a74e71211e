import { createPool, type Pool } from "@points/shared/db";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBatch } from "./apply-batch";
import {
  earnCommand,
  holdCaptureCommand,
  holdPlaceCommand,
  holdVoidCommand,
  reverseCommand,
  spendCommand,
} from "./commands.test-support";
import { ExpiryScheduler } from "./scheduler";

/**
 * The lifecycle commands (contract 6) through the batch path against real Postgres, with the
 * batch's instant given (`now`), so expiry is exact without waiting.
 */
let env: TestEnv;
let pool: Pool;
const T0 = Date.parse("2030-01-01T00:00:00Z");
const at = (ms: number) => new Date(ms);
const iso = (ms: number) => new Date(ms).toISOString();
const MIN = 60_000;

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 3 });
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'm' || i, 'Member ' || i, '1990-01-01' FROM generate_series(1, 12) i`,
  );
  await pool.query(
    `INSERT INTO partners (id, name, signing_secret, points_validity_days)
     VALUES ('A', 'A', 's', NULL), ('B', 'B', 's', NULL), ('V', 'V', 's', 10)`,
  );
});
afterAll(async () => {
  await pool?.end();
  await env?.cleanup();
});

async function lots(userId: string) {
  const { rows } = await pool.query(
    `SELECT payer, points::int, remaining::int, adjusted::int, held::int, expired::int, reversed::int
       FROM lots WHERE user_id = $1 ORDER BY ts, arrival`,
    [userId],
  );
  return rows;
}

async function payers(userId: string) {
  const { rows } = await pool.query(
    "SELECT payer, available::int, held::int FROM payer_balances WHERE user_id = $1 ORDER BY first_seen",
    [userId],
  );
  return rows;
}

/** Every lot's parts are explained by the allocations and hold steps written for it. */
async function expectExplained(userId: string) {
  const { rows } = await pool.query(
    `SELECT l.remaining, l.held, l.expired,
            l.points + coalesce(a.r, 0) + coalesce(h.r, 0) AS explained_remaining,
            coalesce(a.h, 0) + coalesce(h.h, 0) AS explained_held, coalesce(a.e, 0) AS explained_expired
       FROM lots l
       LEFT JOIN (SELECT user_id, arrival, sum(remaining_delta) r, sum(held_delta) h, sum(expired_delta) e
                    FROM allocations GROUP BY user_id, arrival) a ON a.user_id = l.user_id AND a.arrival = l.arrival
       LEFT JOIN (SELECT user_id, arrival, sum(remaining_delta) r, sum(held_delta) h
                    FROM hold_allocations GROUP BY user_id, arrival) h ON h.user_id = l.user_id AND h.arrival = l.arrival
      WHERE l.user_id = $1`,
    [userId],
  );
  for (const r of rows) {
    expect(r.explained_expired).toBe(r.expired);
    expect(r.explained_held).toBe(r.held);
  }
}

describe("expiry", () => {
  it("gives earns their expiry (as asked, from the payer's validity, or never) and renders it", async () => {
    const ts = iso(T0 - MIN);
    const asked = earnCommand("m1", "A", 10, ts, { expires_at: iso(T0 + 5 * MIN) });
    const validity = earnCommand("m1", "V", 20, ts);
    const never = earnCommand("m1", "A", 30, ts, { expires_at: null });
    const r = await applyBatch(pool, [asked, validity, never], { now: at(T0) });
    expect(r.outcomes.map((o) => (o.response.body as { expires_at: string | null }).expires_at)).toEqual([
      iso(T0 + 5 * MIN),
      iso(T0 - MIN + 10 * 86_400_000),
      null,
    ]);
    // The cached balance goes stale at the next expiry.
    expect(r.balances[0]!.body).toBe(`${T0 + 5 * MIN}:{"A":40,"V":20}`);
    const { rows } = await pool.query("SELECT next_expiry FROM accounts WHERE user_id = 'm1'");
    expect(rows[0].next_expiry.getTime()).toBe(T0 + 5 * MIN);
  });

  it("expires an earn already past its expires_at at the applied instant", async () => {
    const ts = iso(T0 - 2 * MIN);
    const gone = earnCommand("m10", "A", 40, ts, { expires_at: iso(T0 - MIN) });
    const r = await applyBatch(pool, [gone], { now: at(T0) });
    expect(r.outcomes[0]).toMatchObject({ status: "applied", response: { status: 201 } });
    // Recorded at once: nothing left to expire, so the cached balance never goes stale.
    expect(r.balances[0]!.body).toBe(':{"A":0}');
    const next = await applyBatch(pool, [earnCommand("m10", "B", 25, ts)], { now: at(T0 + 1) });
    expect(next.outcomes[0]!.status).toBe("applied");
    expect(await payers("m10")).toEqual([
      { payer: "A", available: 0, held: 0 },
      { payer: "B", available: 25, held: 0 },
    ]);
  });

  it("records expiry at the instant and counts expired points nowhere, even on a rejection", async () => {
    const ts = iso(T0 - MIN);
    await applyBatch(
      pool,
      [earnCommand("m2", "A", 10, ts, { expires_at: iso(T0 + MIN) }), earnCommand("m2", "B", 5, ts)],
      {
        now: at(T0),
      },
    );
    const spend = spendCommand("m2", 12);
    const r = await applyBatch(pool, [spend], { now: at(T0 + 2 * MIN) });
    expect(r.outcomes[0]).toMatchObject({ status: "rejected", code: "not_enough_funds" });
    expect(await lots("m2")).toMatchObject([
      { payer: "A", remaining: 0, expired: 10 },
      { payer: "B", remaining: 5, expired: 0 },
    ]);
    const { rows } = await pool.query(
      "SELECT type, amount::int, allocations, authority_id FROM entries WHERE user_id = 'm2' ORDER BY seq",
    );
    expect(rows.at(-1)).toEqual({
      type: "expire",
      amount: -10,
      allocations: [{ payer: "A", points: -10 }],
      authority_id: "ledger",
    });
    const moved = await pool.query(
      "SELECT payer, category, points::int, at FROM movements WHERE user_id = 'm2' AND category = 'expired'",
    );
    expect(moved.rows).toEqual([{ payer: "A", category: "expired", points: 10, at: at(T0 + MIN) }]);
    expect(await payers("m2")).toEqual([
      { payer: "A", available: 0, held: 0 },
      { payer: "B", available: 5, held: 0 },
    ]);
    await expectExplained("m2");
  });

  it("the scheduler's step records what is due (also what fell due long ago) and is applied once", async () => {
    const ts = iso(T0 - MIN);
    await applyBatch(pool, [earnCommand("m3", "A", 7, ts, { expires_at: iso(T0 + MIN) })], { now: at(T0) });
    const applied: string[] = [];
    const scheduler = new ExpiryScheduler(
      pool,
      async (commands) => {
        applied.push(...commands.map((c) => c.command_id));
        return applyBatch(pool, commands, { now: at(T0 + 60 * MIN) });
      },
      { warn: () => {} } as never,
    );
    scheduler.setOwned([0]);
    await scheduler.stop();
    // Two instances scanning the same instant produce the same command id: applied once.
    const first = await scheduler.step(at(T0 + 60 * MIN));
    const { rows: accountRows } = await pool.query("SELECT next_due FROM accounts WHERE user_id = 'm3'");
    expect(accountRows[0].next_due).toBeNull();
    expect(first).toBeGreaterThanOrEqual(1);
    const replay = await applyBatch(
      pool,
      [
        {
          v: 1,
          origin: "ledger-scheduler",
          sent_at: 0,
          type: "expire_due",
          command_id: applied.find((id) => id.startsWith("expire:m3:"))!,
          user_id: "m3",
          due_at: iso(T0 + MIN),
        },
      ],
      { now: at(T0 + 61 * MIN) },
    );
    expect(replay.outcomes[0]!.status).toBe("applied");
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM entries WHERE user_id = 'm3' AND type = 'expire'",
    );
    expect(rows[0].n).toBe(1);
    expect(await lots("m3")).toMatchObject([{ remaining: 0, expired: 7 }]);
  });
});

describe("reversals", () => {
  it("gives a spend back to the lots it came from, last taken first, exactly", async () => {
    const e1 = earnCommand("m4", "A", 100, iso(T0 - 3 * MIN));
    const e2 = earnCommand("m4", "B", 50, iso(T0 - 2 * MIN));
    await applyBatch(pool, [e1, e2], { now: at(T0) });
    const before = await lots("m4");
    const spend = spendCommand("m4", 120, { render: "entry" });
    const s = await applyBatch(pool, [spend], { now: at(T0) });
    const spendId = (s.outcomes[0]!.response.body as { entry_id: string }).entry_id;
    const part = reverseCommand("m4", spendId, { points: 30 });
    const p = await applyBatch(pool, [part], { now: at(T0) });
    expect(p.outcomes[0]!.response).toMatchObject({
      status: 201,
      body: {
        type: "reversal",
        reverses: spendId,
        amount: 30,
        allocations: [
          { payer: "B", points: 20 },
          { payer: "A", points: 10 },
        ],
      },
    });
    const rest = reverseCommand("m4", spendId);
    const r = await applyBatch(pool, [rest], { now: at(T0) });
    expect(r.outcomes[0]!.response).toMatchObject({ status: 201, body: { amount: 90 } });
    expect(await lots("m4")).toEqual(before);
    const { rows } = await pool.query("SELECT reversed::int FROM entries WHERE entry_id = $1", [spendId]);
    expect(rows[0].reversed).toBe(120);
    const more = await applyBatch(pool, [reverseCommand("m4", spendId, { points: 1 })], { now: at(T0) });
    expect(more.outcomes[0]).toMatchObject({ status: "rejected", code: "reversal_exceeds_entry" });
    // Replaying a reversal answers it again and gives nothing back twice.
    const again = await applyBatch(pool, [part], { now: at(T0) });
    expect(again.outcomes[0]!.response).toEqual(p.outcomes[0]!.response);
    expect(await lots("m4")).toEqual(before);
  });

  it("takes an earn back from its lot, refuses what cannot be covered, and refuses adjust entries", async () => {
    const earn = earnCommand("m5", "A", 40, iso(T0 - MIN), { render: "entry" });
    const other = earnCommand("m5", "A", 10, iso(T0 - MIN));
    const r = await applyBatch(pool, [earn, other, spendCommand("m5", 35)], { now: at(T0) });
    const earnId = (r.outcomes[0]!.response.body as { entry_id: string }).entry_id;
    const tooMuch = await applyBatch(pool, [reverseCommand("m5", earnId)], { now: at(T0) });
    expect(tooMuch.outcomes[0]).toMatchObject({ status: "rejected", code: "payer_points_insufficient" });
    const some = await applyBatch(pool, [reverseCommand("m5", earnId, { points: 15 })], { now: at(T0) });
    expect(some.outcomes[0]!.response).toMatchObject({
      status: 201,
      body: { type: "reversal", amount: -15, allocations: [{ payer: "A", points: -15 }] },
    });
    expect(await payers("m5")).toEqual([{ payer: "A", available: 0, held: 0 }]);
    const neg = earnCommand("m6", "A", 5, iso(T0 - MIN), { render: "entry" });
    const negative = earnCommand("m6", "A", -2, iso(T0 - MIN), { render: "entry" });
    const n = await applyBatch(pool, [neg, negative], { now: at(T0) });
    const adjustId = (n.outcomes[1]!.response.body as { entry_id: string }).entry_id;
    const refused = await applyBatch(pool, [reverseCommand("m6", adjustId)], { now: at(T0) });
    expect(refused.outcomes[0]).toMatchObject({ status: "rejected", code: "not_reversible" });
    const unknown = await applyBatch(pool, [reverseCommand("m5", adjustId)], { now: at(T0) });
    expect(unknown.outcomes[0]).toMatchObject({ status: "rejected", code: "not_found" });
  });

  it("never revives expired points: a reversal onto an expired lot expires them again at once", async () => {
    await applyBatch(pool, [earnCommand("m7", "A", 10, iso(T0 - MIN), { expires_at: iso(T0 + MIN) })], {
      now: at(T0),
    });
    const s = await applyBatch(pool, [spendCommand("m7", 4, { render: "entry" })], { now: at(T0) });
    const spendId = (s.outcomes[0]!.response.body as { entry_id: string }).entry_id;
    const back = await applyBatch(pool, [reverseCommand("m7", spendId)], { now: at(T0 + 2 * MIN) });
    expect(back.outcomes[0]!.status).toBe("applied");
    expect(await lots("m7")).toMatchObject([{ remaining: 0, expired: 10, points: 10 }]);
    expect(await payers("m7")).toEqual([{ payer: "A", available: 0, held: 0 }]);
    const { rows } = await pool.query(
      "SELECT type, amount::int FROM entries WHERE user_id = 'm7' ORDER BY seq",
    );
    expect(rows.map((r) => `${r.type}:${r.amount}`)).toEqual([
      "earn:10",
      "spend:-4",
      "expire:-6",
      "reversal:4",
      "expire:-4",
    ]);
  });
});

describe("holds", () => {
  it("places (points leave the balance at once), captures part (oldest held first) and is reversible", async () => {
    await applyBatch(
      pool,
      [earnCommand("m8", "A", 30, iso(T0 - 2 * MIN)), earnCommand("m8", "B", 30, iso(T0 - MIN))],
      {
        now: at(T0),
      },
    );
    const place = holdPlaceCommand("m8", 50, 600);
    const p = await applyBatch(pool, [place], { now: at(T0) });
    expect(p.outcomes[0]!.response).toEqual({
      status: 201,
      body: {
        hold_id: place.hold_id,
        user_id: "m8",
        points: 50,
        status: "held",
        allocations: [
          { payer: "A", points: -30 },
          { payer: "B", points: -20 },
        ],
        expires_at: iso(T0 + 600_000),
        created_on: iso(T0),
      },
    });
    expect(p.balances[0]!.body).toBe(':{"A":0,"B":10}');
    const capture = holdCaptureCommand("m8", place.hold_id, 40);
    const c = await applyBatch(pool, [capture], { now: at(T0 + MIN) });
    expect(c.outcomes[0]!.response).toMatchObject({
      status: 200,
      body: {
        type: "spend",
        amount: -40,
        hold_id: place.hold_id,
        allocations: [
          { payer: "A", points: -30 },
          { payer: "B", points: -10 },
        ],
      },
    });
    expect(await payers("m8")).toEqual([
      { payer: "A", available: 0, held: 0 },
      { payer: "B", available: 20, held: 0 },
    ]);
    // A replayed capture is answered again, and spends nothing twice.
    const replayed = await applyBatch(pool, [capture], { now: at(T0 + 2 * MIN) });
    expect(replayed.outcomes[0]!.response).toEqual(c.outcomes[0]!.response);
    expect(await payers("m8")).toEqual([
      { payer: "A", available: 0, held: 0 },
      { payer: "B", available: 20, held: 0 },
    ]);
    const again = await applyBatch(pool, [holdVoidCommand("m8", place.hold_id)], { now: at(T0 + MIN) });
    expect(again.outcomes[0]).toMatchObject({ status: "rejected", code: "hold_not_active" });
    const captureId = (c.outcomes[0]!.response.body as { entry_id: string }).entry_id;
    const back = await applyBatch(pool, [reverseCommand("m8", captureId)], { now: at(T0 + MIN) });
    expect(back.outcomes[0]!.response).toMatchObject({ status: 201, body: { amount: 40 } });
    expect(await lots("m8")).toMatchObject([
      { payer: "A", remaining: 30, held: 0 },
      { payer: "B", remaining: 30, held: 0 },
    ]);
  });

  it("voids, and the scheduler expires a hold past its ttl; replays apply once", async () => {
    await applyBatch(pool, [earnCommand("m9", "A", 20, iso(T0 - MIN))], { now: at(T0) });
    const voided = holdPlaceCommand("m9", 5, 60);
    const expiring = holdPlaceCommand("m9", 7, 60);
    await applyBatch(pool, [voided, expiring], { now: at(T0) });
    const voidCommand = holdVoidCommand("m9", voided.hold_id);
    const v = await applyBatch(pool, [voidCommand], { now: at(T0) });
    expect(v.outcomes[0]!.response).toMatchObject({ status: 200, body: { status: "voided", points: 5 } });
    // The same void replayed is answered again; another void of the closed hold is refused.
    const replayedVoid = await applyBatch(pool, [voidCommand], { now: at(T0) });
    expect(replayedVoid.outcomes[0]!.response).toEqual(v.outcomes[0]!.response);
    const voidAgain = await applyBatch(pool, [holdVoidCommand("m9", voided.hold_id)], { now: at(T0) });
    expect(voidAgain.outcomes[0]).toMatchObject({ status: "rejected", code: "hold_not_active" });
    const replay = await applyBatch(pool, [voided], { now: at(T0) });
    expect(replay.outcomes[0]!.response).toMatchObject({ status: 201, body: { status: "held" } });
    expect(await payers("m9")).toEqual([{ payer: "A", available: 13, held: 7 }]);
    const scheduler = new ExpiryScheduler(
      pool,
      (commands) => applyBatch(pool, commands, { now: at(T0 + 2 * MIN) }),
      {
        warn: () => {},
      } as never,
    );
    scheduler.setOwned([0]);
    await scheduler.stop();
    await scheduler.step(at(T0 + 2 * MIN));
    const { rows } = await pool.query("SELECT status FROM holds WHERE hold_id = $1", [expiring.hold_id]);
    expect(rows[0].status).toBe("expired");
    expect(await payers("m9")).toEqual([{ payer: "A", available: 20, held: 0 }]);
    const { rows: acc } = await pool.query("SELECT next_due FROM accounts WHERE user_id = 'm9'");
    expect(acc[0].next_due).toBeNull();
    await expectExplained("m9");
  });
});
