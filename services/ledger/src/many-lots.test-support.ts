/**
 * A member with very many one-point lots (issue 12, bug 1), written straight into Postgres so a
 * test or the bench can start from 60,000 lots in a second instead of applying 60,000 earns.
 * Payers take turns (A, B, C, A, ...) and timestamps rise one second per lot, so a spend of
 * `lots - 1` points walks every lot but the newest and touches the payers in the order A, B, C.
 */
import type { Pool } from "@points/shared/db";

export const MANY_LOTS_PAYERS = ["A", "B", "C"] as const;
const FIRST_LOT_TS = "2022-01-01T00:00:00Z";

export async function seedManyLots(pool: Pool, userId: string, lots: number): Promise<void> {
  const payers = MANY_LOTS_PAYERS.length;
  await pool.query(
    "INSERT INTO members (loyalty_id, client_name, client_birthday) VALUES ($1, 'Many lots', '1990-01-01')",
    [userId],
  );
  await pool.query(
    "INSERT INTO accounts (user_id, seq, next_arrival, total) VALUES ($1, $2::bigint, $2::bigint + 1, $2::bigint)",
    [userId, lots],
  );
  await pool.query(
    `INSERT INTO payer_balances (user_id, payer, available, adjusted, first_seen)
     SELECT $1, p.payer, ($2::int - p.i + $3::int) / $3::int, 0, p.i
       FROM unnest($4::text[]) WITH ORDINALITY AS p(payer, i)`,
    [userId, lots, payers, MANY_LOTS_PAYERS],
  );
  await pool.query(
    `INSERT INTO lots (user_id, arrival, entry_id, payer, ts, points, remaining, adjusted)
     SELECT $1, i, gen_random_uuid(), ($2::text[])[(i - 1) % $3 + 1],
            $4::timestamptz + make_interval(secs => i), 1, 1, 0
       FROM generate_series(1, $5::int) i`,
    [userId, MANY_LOTS_PAYERS, payers, FIRST_LOT_TS, lots],
  );
}

/** What a spend of `lots - 1` answers: per payer, in first-touched order. */
export function manyLotsSpendAnswer(lots: number): { payer: string; points: number }[] {
  const taken = lots - 1;
  return MANY_LOTS_PAYERS.map((payer, i) => ({
    payer,
    points: -Math.floor((taken - i + MANY_LOTS_PAYERS.length - 1) / MANY_LOTS_PAYERS.length),
  }));
}
