/**
 * INTERIM (written by G so the report routes and their tests run; R owns this file and replaces
 * the SQL with reads of the maintained figures, migration 009, keeping store-api.ts's signatures).
 * This version sums the `movements` table (migration 008) directly: exact for recorded changes,
 * but a scan, and an expiry counts only once the ledger has recorded it (within 60 s).
 */

import type { Pool } from "@points/shared/db";
import type { DailyRow, PayerReportRow, ReportStore } from "./store-api";

const EFFECT = `CASE category WHEN 'earned' THEN points WHEN 'spend_reversed' THEN points
                               WHEN 'held' THEN 0 ELSE -points END`;
const dayStart = (day: string) => new Date(`${day}T00:00:00Z`);
const nextDay = (day: string) => new Date(Date.parse(`${day}T00:00:00Z`) + 24 * 3600 * 1000);
const FIGURES = ["earned", "adjusted", "spent", "spend_reversed", "earn_reversed", "expired"] as const;

export const firstEntryDay: ReportStore["firstEntryDay"] = async (pool: Pool) => {
  const { rows } = await pool.query<{ day: string | null }>(
    `SELECT to_char(min(at) AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day FROM movements`,
  );
  return rows[0]?.day ?? null;
};

export const payerReport: ReportStore["payerReport"] = async (pool, q) => {
  const end = new Date(Math.min(nextDay(q.to).getTime(), q.now.getTime() + 1));
  const { rows } = await pool.query<Record<string, string>>(
    `WITH p AS (SELECT DISTINCT payer FROM payer_balances WHERE $3::text IS NULL OR payer = $3),
          m AS (SELECT payer, category, points, at, ${EFFECT} AS effect FROM movements
                 WHERE ($3::text IS NULL OR payer = $3) AND at < $2)
     SELECT p.payer,
            coalesce(sum(m.effect) FILTER (WHERE m.at < $1), 0) AS opening,
            ${FIGURES.map((f) => `coalesce(sum(m.points) FILTER (WHERE m.category = '${f}' AND m.at >= $1), 0) AS ${f}`).join(",\n            ")},
            coalesce(sum(m.effect), 0) AS closing,
            coalesce(sum(m.points) FILTER (WHERE m.category = 'held'), 0) AS held
       FROM p LEFT JOIN m ON m.payer = p.payer
      GROUP BY p.payer ORDER BY p.payer COLLATE "C"`,
    [dayStart(q.from), end, q.payer ?? null],
  );
  return rows.map(
    (r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, k === "payer" ? v : Number(v)]),
      ) as unknown as PayerReportRow,
  );
};

export const payerMembers: ReportStore["payerMembers"] = async (pool, q) => {
  const { rows } = await pool.query<{ user_id: string; outstanding: string; total: string }>(
    `SELECT user_id, outstanding, count(*) OVER () AS total FROM (
       SELECT user_id, sum(${EFFECT}) AS outstanding FROM movements
        WHERE payer = $1 AND at <= $2 GROUP BY user_id) o
      WHERE outstanding > 0
      ORDER BY outstanding DESC, user_id COLLATE "C" LIMIT $3 OFFSET $4`,
    [q.payer, q.asOf, q.limit, q.offset],
  );
  let count = Number(rows[0]?.total ?? 0);
  if (rows.length === 0 && q.offset > 0) {
    const all = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM (SELECT 1 FROM movements WHERE payer = $1 AND at <= $2
                                   GROUP BY user_id HAVING sum(${EFFECT}) > 0) o`,
      [q.payer, q.asOf],
    );
    count = Number(all.rows[0]?.n ?? 0);
  }
  return { count, rows: rows.map((r) => ({ user_id: r.user_id, outstanding: Number(r.outstanding) })) };
};

export const payerDaily: ReportStore["payerDaily"] = async (pool, q) => {
  const { rows } = await pool.query<Record<string, string>>(
    `WITH d AS (SELECT generate_series($2::date, $3::date, interval '1 day')::date AS day),
          m AS (SELECT (at AT TIME ZONE 'UTC')::date AS day, category, points, ${EFFECT} AS effect
                  FROM movements WHERE payer = $1 AND at < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'),
          before AS (SELECT coalesce(sum(effect), 0) AS opening FROM m WHERE day < $2::date),
          per AS (SELECT d.day,
                         ${FIGURES.map((f) => `coalesce(sum(m.points) FILTER (WHERE m.category = '${f}'), 0) AS ${f}`).join(",\n                         ")},
                         coalesce(sum(m.effect), 0) AS net
                    FROM d LEFT JOIN m ON m.day = d.day GROUP BY d.day)
     SELECT to_char(per.day, 'YYYY-MM-DD') AS day, ${FIGURES.join(", ")},
            (SELECT opening FROM before) + sum(net) OVER (ORDER BY per.day) AS closing
       FROM per ORDER BY per.day`,
    [q.payer, q.from, q.to],
  );
  return rows.map(
    (r) =>
      Object.fromEntries(
        Object.entries(r).map(([k, v]) => [k, k === "day" ? v : Number(v)]),
      ) as unknown as DailyRow,
  );
};
