import type { AnyLedgerCommand } from "@points/shared";
import { createPool, type Pool } from "@points/shared/db";
import { createTestEnv, type TestEnv } from "@points/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyBatch } from "../../ledger/src/apply-batch";
import {
  earnCommand,
  holdCaptureCommand,
  holdPlaceCommand,
  holdVoidCommand,
  reverseCommand,
  spendCommand,
} from "../../ledger/src/commands.test-support";
import { balanceAt, chooseBase, currentBalance } from "./book-reads";

/**
 * Balance at an instant (contract 6.4) from the snapshots the ledger writes against the
 * backward computation from now. A member changes over several days through the ledger's batch
 * path with the batch's instant given; before each batch, the balance at instants up to it is
 * read as it is then (the truth). Afterwards every instant is asked again: from the nearest
 * snapshot where the gateway picks one, and backwards from now with the snapshots taken away.
 */
let env: TestEnv;
let pool: Pool;
const DAY = 86_400_000;
const HOUR = 3_600_000;
const D1 = Date.parse("2032-05-01T00:00:00Z");
const DAYS = 7;
const iso = (ms: number) => new Date(ms).toISOString();

beforeAll(async () => {
  env = await createTestEnv();
  pool = createPool(env.databaseUrl, { max: 3 });
  await pool.query(
    "INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ('r1', 'R', '1990-01-01')",
  );
  await pool.query(
    "INSERT INTO partners (id, name, signing_secret) VALUES ('A', 'A', 's'), ('B', 'B', 's'), ('C', 'C', 's')",
  );
});
afterAll(async () => {
  await pool?.end();
  await env?.cleanup();
});

/** A small deterministic generator (mulberry32): the same timeline on every run. */
function random(seed: number) {
  let a = seed;
  return (n: number) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** The member's timeline: what it holds open and what it spent, to name in later commands. */
class Timeline {
  readonly holds: { id: string; expiresAt: number }[] = [];
  readonly spends: string[] = [];
  /** Instants where something may change without a command: lot and hold expiries. */
  readonly edges: number[] = [];
  constructor(
    readonly user: string,
    private readonly pick: (n: number) => number,
  ) {}

  command(now: number): AnyLedgerCommand {
    const { user, pick } = this;
    const payer = ["A", "B", "C"][pick(3)]!;
    switch (pick(8)) {
      case 0:
      case 1: {
        const expiresAt = pick(3) === 0 ? null : now + (1 + pick(40)) * HOUR - pick(HOUR);
        if (expiresAt !== null) this.edges.push(expiresAt);
        return earnCommand(user, payer, 1 + pick(100), iso(now - pick(5) * HOUR), {
          expires_at: expiresAt === null ? null : iso(expiresAt),
        });
      }
      case 2:
        return spendCommand(user, 1 + pick(60), { render: "entry" });
      case 3: {
        const cmd = holdPlaceCommand(user, 1 + pick(40), (1 + pick(10)) * 3600);
        this.edges.push(now + cmd.ttl_s * 1000);
        return cmd;
      }
      case 4:
        return holdCaptureCommand(user, this.openHold(), 1 + pick(20));
      case 5:
        return holdVoidCommand(user, this.openHold());
      case 6:
        return this.spends.length > 0
          ? reverseCommand(user, this.spends[pick(this.spends.length)]!, { points: 1 + pick(20) })
          : spendCommand(user, 1 + pick(10), { render: "entry" });
      default:
        return this.timeDriven(now);
    }
  }

  /** The newest points (spent last), expiring at `expiresAt`. */
  earnExpiring(now: number, expiresAt: number): AnyLedgerCommand {
    this.edges.push(expiresAt);
    return earnCommand(this.user, "C", 5 + this.pick(10), iso(now), { expires_at: iso(expiresAt) });
  }

  /** What the ledger's scheduler would send: a due hold's expiry, else an expire_due. */
  private timeDriven(now: number): AnyLedgerCommand {
    const due = this.holds.find((h) => h.expiresAt <= now);
    const system = { v: 1 as const, origin: "ledger-scheduler" as const, sent_at: 0, user_id: this.user };
    if (due) {
      return {
        ...system,
        type: "hold_expire",
        command_id: `he:${due.id}`,
        hold_id: due.id,
        due_at: iso(due.expiresAt),
      };
    }
    return { ...system, type: "expire_due", command_id: `ed:${now}`, due_at: iso(now) };
  }

  private openHold(): string {
    return (
      this.holds[this.pick(Math.max(1, this.holds.length))]?.id ?? "00000000-0000-4000-8000-000000000000"
    );
  }

  /** Keeps what the outcome names for later commands. */
  note(cmd: AnyLedgerCommand, status: string, body: unknown, now: number): void {
    if (status !== "applied") return;
    if (cmd.type === "hold_place") this.holds.push({ id: cmd.hold_id, expiresAt: now + cmd.ttl_s * 1000 });
    if (cmd.type === "hold_capture" || cmd.type === "hold_void" || cmd.type === "hold_expire") {
      const index = this.holds.findIndex((h) => h.id === cmd.hold_id);
      if (index >= 0) this.holds.splice(index, 1);
    }
    if (cmd.type === "spend") this.spends.push((body as { entry_id: string }).entry_id);
  }
}

describe("balance as of an instant from the ledger's daily snapshots", () => {
  it("equals the backward computation from now at every instant, expiries and holds between included", async () => {
    const pick = random(14);
    const timeline = new Timeline("r1", pick);
    const truth = new Map<number, string>();
    let last: number | null = null;
    const batchAt: number[] = [];
    for (let d = 0; d < DAYS; d++) {
      if (d === 3) continue; // a day without changes
      const hours = [...new Set(Array.from({ length: 2 + pick(4) }, () => pick(24)))].sort((a, b) => a - b);
      for (const h of hours) batchAt.push(D1 + d * DAY + h * HOUR + (h === 0 ? 0 : pick(HOUR)));
    }
    const expected: number[] = [];
    for (const now of batchAt) {
      if (last !== null) await sampleTruth(truth, timeline, last, now);
      const before = await state();
      const commands = [timeline.command(now), timeline.command(now + 1)];
      // The day's last change earns points that expire early the next day, before its first
      // change: the next snapshot must leave them in, the first change records their expiry.
      const tomorrow = Math.floor(now / DAY) * DAY + DAY;
      if (!batchAt.some((t) => t > now && t < tomorrow))
        commands.push(timeline.earnExpiring(now, tomorrow + 10 * 60_000));
      const r = await applyBatch(pool, commands, { now: new Date(now) });
      for (const [i, o] of r.outcomes.entries()) timeline.note(commands[i]!, o.status, o.response.body, now);
      // A snapshot at the day's start when this is the member's first change since it.
      const dayStart = Math.floor((now - 1) / DAY) * DAY;
      const after = await state();
      if (after.seq > before.seq && before.payers > 0 && before.latest <= dayStart) expected.push(dayStart);
      last = now;
    }
    const now = last! + DAY;
    await sampleTruth(truth, timeline, last!, now);

    const { rows: snaps } = await pool.query<{ at: Date }>(
      "SELECT at FROM balance_snapshots WHERE user_id = 'r1' ORDER BY at",
    );
    expect(snaps.map((s) => s.at.getTime())).toEqual(expected);
    expect(expected.length).toBeGreaterThanOrEqual(DAYS - 3);

    const fromSnapshot = new Map<number, string>();
    let viaSnapshot = 0;
    for (const instant of truth.keys()) {
      fromSnapshot.set(instant, await balanceAt(pool, "r1", instant, now));
      if ((await chooseBase(pool, "r1", instant, now)).snapshot !== null) viaSnapshot++;
    }
    expect(viaSnapshot).toBeGreaterThan(truth.size / 3);
    const stored = await pool.query("DELETE FROM balance_snapshots WHERE user_id = 'r1' RETURNING *");
    const backwards = new Map<number, string>();
    for (const instant of truth.keys()) backwards.set(instant, await balanceAt(pool, "r1", instant, now));
    expect(stored.rowCount).toBe(expected.length);
    expect(fromSnapshot).toEqual(truth);
    expect(backwards).toEqual(truth);
  });
});

/** The member's version, payers and latest movement instant (epoch ms, -Infinity if none). */
async function state() {
  const { rows } = await pool.query<{ seq: string | null; payers: number; latest: Date | null }>(
    `SELECT (SELECT seq FROM accounts WHERE user_id = 'r1') AS seq,
            (SELECT count(*)::int FROM payer_balances WHERE user_id = 'r1') AS payers,
            (SELECT max(at) FROM movements WHERE user_id = 'r1') AS latest`,
  );
  const row = rows[0]!;
  return {
    seq: Number(row.seq ?? 0),
    payers: row.payers,
    latest: row.latest ? row.latest.getTime() : Number.NEGATIVE_INFINITY,
  };
}

/**
 * The balance at instants in [from, to), read before the change at `to`: the batch instant, its
 * next millisecond, every day start and expiry edge between (and a millisecond either side).
 */
async function sampleTruth(truth: Map<number, string>, timeline: Timeline, from: number, to: number) {
  const instants = new Set([from, from + 1, Math.floor((from + to) / 2), to - 1]);
  const around = (t: number) => {
    for (const near of [t - 1, t, t + 1]) instants.add(near);
  };
  for (let d = Math.ceil(from / DAY) * DAY; d < to; d += DAY) around(d);
  for (const edge of timeline.edges) around(edge);
  for (const t of instants) {
    if (t >= from && t < to) truth.set(t, await currentBalance(pool, timeline.user, t));
  }
}
