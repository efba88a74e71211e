import type { Pool } from "@points/shared/db";
import { Redis } from "ioredis";
import type { ChaosStack } from "./stack";
import type { Recorder } from "./workload";

/**
 * Proof that the checks are not vacuous: after the real checks, plant known corruptions (a
 * doubled point, a lost allocation, an acknowledged command turned into a rejection, a command
 * applied twice, a stale cache entry) and run the checks again. Each must be reported.
 */
export interface Plant {
  name: string;
  /** Violation kinds of which at least one must be reported. */
  expect: string[];
  user: string;
}

type Planter = (pool: Pool, used: string[]) => Promise<Plant | null>;

const notIn = "user_id <> ALL($1::text[])";

const plantDoubledPoint: Planter = async (pool, used) => {
  const { rows } = await pool.query<{ user_id: string; arrival: string; payer: string }>(
    `SELECT user_id, arrival, payer FROM lots
      WHERE remaining > 0 AND remaining + adjusted + held + expired + reversed < points AND ${notIn} LIMIT 1`,
    [used],
  );
  const lot = rows[0];
  if (!lot) return null;
  await pool.query("UPDATE lots SET remaining = remaining + 1 WHERE user_id = $1 AND arrival = $2", [
    lot.user_id,
    lot.arrival,
  ]);
  await pool.query("UPDATE payer_balances SET available = available + 1 WHERE user_id = $1 AND payer = $2", [
    lot.user_id,
    lot.payer,
  ]);
  await pool.query("UPDATE accounts SET total = total + 1 WHERE user_id = $1", [lot.user_id]);
  return { name: "doubled point", expect: ["lot-unexplained", "balance-differs"], user: lot.user_id };
};

const plantLostAllocation: Planter = async (pool, used) => {
  const { rows } = await pool.query<{ user_id: string; entry_id: string; arrival: string }>(
    `DELETE FROM allocations WHERE (user_id, entry_id, arrival) IN (
       SELECT a.user_id, a.entry_id, a.arrival FROM allocations a
         JOIN entries e ON e.user_id = a.user_id AND e.entry_id = a.entry_id
        WHERE e.type = 'spend' AND a.${notIn} LIMIT 1)
     RETURNING user_id, entry_id, arrival`,
    [used],
  );
  const row = rows[0];
  return row
    ? {
        name: "lost allocation",
        expect: ["allocations-differ-from-model", "lot-unexplained"],
        user: row.user_id,
      }
    : null;
};

const plantAckTurnedRejected = async (pool: Pool, used: string[], rec: Recorder): Promise<Plant | null> => {
  const keys = rec.http.filter((r) => r.final?.status === 201 && !used.includes(r.userId)).map((r) => r.key);
  const { rows } = await pool.query<{ user_id: string }>(
    `UPDATE commands c SET status = 'rejected'
       FROM (SELECT user_id, command_id FROM idempotency_keys WHERE key = ANY($1::text[]) LIMIT 1) k
      WHERE c.user_id = k.user_id AND c.command_id = k.command_id
     RETURNING c.user_id`,
    [keys.slice(0, 100)],
  );
  const row = rows[0];
  return row ? { name: "acknowledged command lost", expect: ["ack-not-applied"], user: row.user_id } : null;
};

const plantAppliedTwice: Planter = async (pool, used) => {
  const { rows } = await pool.query<{ user_id: string }>(
    `INSERT INTO entries (user_id, entry_id, seq, type, authority_id, payer, amount, ts, created_on, command_id)
     SELECT user_id, gen_random_uuid(), seq, type, authority_id, payer, amount, ts, created_on, command_id
       FROM entries WHERE type = 'earn' AND ${notIn} LIMIT 1
     RETURNING user_id`,
    [used],
  );
  const row = rows[0];
  return row ? { name: "command applied twice", expect: ["not-exactly-once"], user: row.user_id } : null;
};

async function plantStaleCache(stack: ChaosStack, pool: Pool, used: string[]): Promise<Plant | null> {
  const { rows } = await pool.query<{ user_id: string; seq: string }>(
    `SELECT user_id, seq FROM accounts WHERE seq > 1 AND ${notIn} LIMIT 1`,
    [used],
  );
  const row = rows[0];
  if (!row) return null;
  const redis = new Redis(stack.redis.url, { maxRetriesPerRequest: 2 });
  try {
    await redis.set(`${stack.redisKeyPrefix}bal:${row.user_id}`, `${Number(row.seq) - 1}:{}`, "EX", 300);
  } finally {
    redis.disconnect();
  }
  return { name: "stale cache entry", expect: ["cache-stale"], user: row.user_id };
}

export async function plantCorruptions(stack: ChaosStack, pool: Pool, rec: Recorder): Promise<Plant[]> {
  const plants: Plant[] = [];
  const used = () => plants.map((p) => p.user);
  const steps: (() => Promise<Plant | null>)[] = [
    () => plantDoubledPoint(pool, used()),
    () => plantLostAllocation(pool, used()),
    () => plantAckTurnedRejected(pool, used(), rec),
    () => plantAppliedTwice(pool, used()),
    () => plantStaleCache(stack, pool, used()),
  ];
  for (const step of steps) {
    const plant = await step();
    if (plant) plants.push(plant);
  }
  return plants;
}

export function missedPlants(plants: Plant[], violations: { kind: string; detail: string }[]): Plant[] {
  return plants.filter(
    (p) => !violations.some((v) => p.expect.includes(v.kind) && mentions(v.detail, p.user)),
  );
}

/** The user id appears in the text as a whole word (u0001 must not match u00012). */
function mentions(text: string, user: string): boolean {
  const escaped = user.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(^|[^A-Za-z0-9_-])${escaped}($|[^A-Za-z0-9_-])`).test(text);
}
