/**
 * The report reads (contract 7, 8) over the figures the ledger maintains (migrations 009, 011, 014):
 * - payer report: `report_totals`, running totals per (Kafka partition, payer) by day, carried
 *   forward to each day a partition had a batch (report_carried). Any period reads the totals
 *   through the day before `from` (the opening) and through `to` as a range per partition;
 *   the period's movements are their difference.
 * - daily rows: `report_figures` day rows, with the opening covered by at most five runs of
 *   whole years, months and days of its rows.
 * - members: `payer_balances.outstanding` (available + held), indexed most first, then user_id;
 *   the count from `report_holders` (migration 015).
 * Expiry that is due but not yet recorded by the ledger (at most ~60 s of it while it runs) is
 * taken out at read time from the lots (index lots_unrecorded_expiry), on the day it expired, so
 * no answer counts points past their expiry and every row keeps its identity.
 */

import type { DailyRow, ReportRow } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { ReportStore } from "./store-api";

const DAY_MS = 86_400_000;
const FIGURES = ["earned", "adjusted", "spent", "spend_reversed", "earn_reversed", "expired"] as const;
/** What a row adds to what is owed (core outstandingEffect, summed). */
const NET = "(earned - adjusted - spent + spend_reversed - earn_reversed - expired)";
const FIRST_DAY = "1970-01-01";

type Span = "day" | "month" | "year";
interface Run {
  span: Span;
  start: string;
  end: string;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const ms = (day: string) => Date.parse(`${day}T00:00:00Z`);
const addDays = (day: string, n: number) => iso(ms(day) + n * DAY_MS);
function addSpan(day: string, span: Span): string {
  if (span === "day") return addDays(day, 1);
  const d = new Date(ms(day));
  if (span === "month") d.setUTCMonth(d.getUTCMonth() + 1);
  else d.setUTCFullYear(d.getUTCFullYear() + 1);
  return iso(d.getTime());
}

/** Whole years, then months, then days (greedy): at most 5 runs for any [from, to]. */
export function cover(from: string, to: string): Run[] {
  const runs: Run[] = [];
  for (let cur = from; cur <= to; ) {
    const span: Span =
      cur.endsWith("-01-01") && addSpan(cur, "year") <= addDays(to, 1)
        ? "year"
        : cur.endsWith("-01") && addSpan(cur, "month") <= addDays(to, 1)
          ? "month"
          : "day";
    const last = runs.at(-1);
    if (last?.span === span) last.end = cur;
    else runs.push({ span, start: cur, end: cur });
    cur = addSpan(cur, span);
  }
  return runs;
}

/** The instant a period ending with day `to` ends: now when `to` is today (contract 7). */
const endOf = (to: string, now: Date) => new Date(Math.min(ms(addDays(to, 1)), now.getTime()));

// Due but unrecorded expiry before $end, per payer and UTC day it expired (lots keep `remaining`
// until the ledger records it; recorded expiry moves it to `expired`).
const UNRECORDED = `SELECT payer, (expires_at AT TIME ZONE 'UTC')::date AS day, sum(remaining) AS points
                      FROM lots WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at < $end
                     GROUP BY 1, 2`;

/**
 * One read with parallel workers and JIT off. The due-expiry part's estimate comes from the lots'
 * whole expires_at histogram (most of it past, but those lots have no `remaining` left), so the
 * planner expects ~200,000 rows where there are a few hundred: the plan's cost crosses the JIT
 * threshold (compiling took 240 ms of a 10M-lot report) and starts parallel workers, each costing
 * more than the read itself, and more again under concurrent reads.
 */
async function plainRead<R extends Record<string, unknown>>(pool: Pool, sql: string, params: unknown[]) {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN READ ONLY; SET LOCAL max_parallel_workers_per_gather = 0; SET LOCAL jit = off");
    const { rows } = await client.query<R>(sql, params);
    await client.query("COMMIT");
    return rows;
  } catch (err) {
    // A connection that cannot even roll back is dropped, not handed to the next request.
    await client.query("ROLLBACK").catch((e: Error) => {
      broken = e;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

export const firstEntryDay: ReportStore["firstEntryDay"] = async (pool: Pool) => {
  const { rows } = await pool.query<{ day: string | null }>(
    `SELECT to_char(min(period), 'YYYY-MM-DD') AS day FROM report_figures WHERE span = 'day'`,
  );
  return rows[0]?.day ?? null;
};

const numeric = <T>(r: Record<string, string>, text: string) =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === text ? v : Number(v)])) as T;

const NET_OF = (t: string) =>
  `(${t}.earned - ${t}.adjusted - ${t}.spent + ${t}.spend_reversed - ${t}.earn_reversed - ${t}.expired)`;

/**
 * A partition with totals at or before `day` but no carried day at or before it (figures kept
 * before migration 014): its pairs are read with a probe each for that day.
 */
const uncarriedAt = (day: string) =>
  `(NOT EXISTS (SELECT 1 FROM report_carried c WHERE c.kafka_partition = p.kafka_partition AND c.day <= ${day})
      AND EXISTS (SELECT 1 FROM report_totals t WHERE t.day <= ${day} AND t.kafka_partition = p.kafka_partition))`;

/**
 * The partitions with figures (a skip scan: one probe each), and the (partition, payer) pairs of
 * those uncarried at the opening, the closing or now: those pairs are read with a probe each, the
 * rest by ranges. `$3` (one payer) or null (all).
 */
const PAIRS = `WITH RECURSIVE parts AS (
  (SELECT kafka_partition FROM report_totals ORDER BY kafka_partition LIMIT 1)
  UNION ALL
  SELECT n.kafka_partition FROM parts p CROSS JOIN LATERAL
    (SELECT t.kafka_partition FROM report_totals t WHERE t.kafka_partition > p.kafka_partition
      ORDER BY t.kafka_partition LIMIT 1) n),
  uncarried AS (SELECT p.kafka_partition FROM parts p
                 WHERE ${["$1::date - 1", "$4::date", "'infinity'::date"].map(uncarriedAt).join(" OR ")}),
  probed AS (
    (SELECT u.kafka_partition, n.payer FROM uncarried u CROSS JOIN LATERAL
       (SELECT t.payer FROM report_totals t WHERE t.kafka_partition = u.kafka_partition
           AND ($3::text IS NULL OR t.payer = $3) ORDER BY t.payer LIMIT 1) n)
    UNION ALL
    SELECT p.kafka_partition, n.payer FROM probed p CROSS JOIN LATERAL
      (SELECT t.payer FROM report_totals t WHERE t.kafka_partition = p.kafka_partition AND t.payer > p.payer
          AND $3::text IS NULL ORDER BY t.payer LIMIT 1) n)`;

/**
 * The totals of every (partition, payer) through day `day` (a SQL date), as CTEs named `name`:
 * for a partition with a carried day at or before it, the latest row per payer from that carried
 * day to `day` (every payer of the partition has a row on a carried day); for the others, a probe
 * per pair of `probed` (the latest row at or before `day`).
 */
function totalsThrough(name: string, day: string): string {
  // OFFSET 0 keeps the range a per-partition index scan: flattened into a join, the planner
  // cannot see the carried days and scans the whole table instead.
  return `${name}_c AS (SELECT * FROM (SELECT p.kafka_partition,
                                          (SELECT max(c.day) FROM report_carried c
                                            WHERE c.kafka_partition = p.kafka_partition AND c.day <= ${day}) AS day
                                     FROM parts p) c WHERE c.day IS NOT NULL),
  ${name} AS (
    (SELECT DISTINCT ON (t.kafka_partition, t.payer) t.*
       FROM ${name}_c c CROSS JOIN LATERAL
         (SELECT * FROM report_totals t WHERE t.kafka_partition = c.kafka_partition
             AND t.day >= c.day AND t.day <= ${day} AND ($3::text IS NULL OR t.payer = $3)
          OFFSET 0) t
      ORDER BY t.kafka_partition, t.payer, t.day DESC)
    UNION ALL
    SELECT k.* FROM probed p CROSS JOIN LATERAL
      (SELECT * FROM report_totals t WHERE t.kafka_partition = p.kafka_partition AND t.payer = p.payer
          AND t.day <= ${day} ORDER BY t.day DESC LIMIT 1) k
     WHERE NOT EXISTS (SELECT 1 FROM ${name}_c c WHERE c.kafka_partition = p.kafka_partition))`;
}

/**
 * Per payer: the totals through the day before `from` (the opening) and through `to`, summed
 * over the partitions; a period's movements are their difference. Every payer that ever had a
 * lot gets a row (contract 7): the payers of the totals through the last day kept (`e`; those
 * through `to` when it is today, and `e` is then not read).
 */
export const payerReport: ReportStore["payerReport"] = async (pool, q) => {
  const rows = await plainRead<Record<string, string>>(
    pool,
    `${PAIRS},
          ${totalsThrough("o", "$1::date - 1")},
          ${totalsThrough("z", "$4::date")},
          ${totalsThrough("e", "'infinity'::date")},
          payers AS (SELECT DISTINCT payer FROM ${q.to >= iso(q.now.getTime()) ? "z" : "e"}),
          os AS (SELECT payer, ${FIGURES.map((c) => `sum(${c}) AS ${c}`).join(", ")}, sum(held) AS held
                   FROM o GROUP BY payer),
          zs AS (SELECT payer, ${FIGURES.map((c) => `sum(${c}) AS ${c}`).join(", ")}, sum(held) AS held
                   FROM z GROUP BY payer),
          u AS (SELECT payer, day >= $1::date AS in_period, points
                  FROM (${UNRECORDED.replace("$end", "$2")}) u WHERE $3::text IS NULL OR payer = $3),
          sums AS (SELECT p.payer,
                          coalesce(${NET_OF("os")}, 0) AS opening,
                          ${FIGURES.map((c) => `coalesce(zs.${c}, 0) - coalesce(os.${c}, 0) AS ${c}`).join(", ")},
                          coalesce(${NET_OF("zs")}, 0) AS closing, coalesce(zs.held, 0) AS held
                     FROM payers p LEFT JOIN os USING (payer) LEFT JOIN zs USING (payer)),
          late AS (SELECT payer, sum(points) FILTER (WHERE NOT in_period) AS before,
                          sum(points) FILTER (WHERE in_period) AS within FROM u GROUP BY payer)
     SELECT s.payer,
            s.opening - coalesce(l.before, 0) AS opening,
            ${FIGURES.filter((c) => c !== "expired")
              .map((c) => `s.${c}`)
              .join(", ")},
            s.expired + coalesce(l.within, 0) AS expired,
            s.closing - coalesce(l.before, 0) - coalesce(l.within, 0) AS closing,
            s.held
       FROM sums s LEFT JOIN late l USING (payer)
      ORDER BY s.payer COLLATE "C"`,
    [q.from, endOf(q.to, q.now), q.payer ?? null, q.to],
  );
  return rows.map((r) => numeric<ReportRow>(r, "payer"));
};

export const payerDaily: ReportStore["payerDaily"] = async (pool, q) => {
  const before = cover(FIRST_DAY, addDays(q.from, -1));
  const { rows } = await pool.query<Record<string, string>>(
    `WITH d AS (SELECT generate_series($5::date, $6::date, interval '1 day')::date AS day),
          r AS (SELECT * FROM unnest($2::text[], $3::date[], $4::date[]) AS r(span, s, e)),
          o AS (SELECT coalesce(sum(${NET}), 0) AS net
                  FROM r JOIN report_figures f ON f.span = r.span AND f.period BETWEEN r.s AND r.e
                 WHERE f.payer = $1),
          u AS (${UNRECORDED.replace("$end", "$7")}),
          uo AS (SELECT coalesce(sum(points), 0) AS points FROM u WHERE payer = $1 AND day < $5::date),
          per AS (SELECT d.day,
                         ${FIGURES.map((c) => `coalesce(sum(f.${c}), 0) AS ${c}`).join(", ")}
                    FROM d LEFT JOIN report_figures f
                      ON f.payer = $1 AND f.span = 'day' AND f.period = d.day
                   GROUP BY d.day),
          per2 AS (SELECT per.day, ${FIGURES.filter((c) => c !== "expired").join(", ")},
                          per.expired + coalesce((SELECT sum(points) FROM u WHERE u.payer = $1 AND u.day = per.day), 0) AS expired
                     FROM per)
     SELECT to_char(day, 'YYYY-MM-DD') AS day, ${FIGURES.join(", ")},
            (SELECT net FROM o) - (SELECT points FROM uo) + sum(${NET}) OVER (ORDER BY day) AS closing
       FROM per2 ORDER BY day`,
    [
      q.payer,
      before.map((r) => r.span),
      before.map((r) => r.start),
      before.map((r) => r.end),
      q.from,
      q.to,
      endOf(q.to, new Date()),
    ],
  );
  return rows.map((r) => numeric<DailyRow>(r, "day"));
};

const EFFECT = `CASE category WHEN 'earned' THEN points WHEN 'spend_reversed' THEN points
                               WHEN 'held' THEN 0 ELSE -points END`;

/**
 * Outstanding at asOf = the maintained outstanding, minus what changed after asOf (movements;
 * held ones do not change what is owed) and minus expiry due by asOf but not recorded yet. When
 * nothing needs taking out (the usual case for asOf = now), the page is an index range scan.
 */
/** More members with due but unrecorded expiry than this: recompute the payer's whole list. */
const AFFECTED_MEMBERS_MAX = 10_000;

type MemberRow = { user_id: string; outstanding: number };
const byOutstanding = (a: MemberRow, b: MemberRow) =>
  b.outstanding - a.outstanding || Buffer.compare(Buffer.from(a.user_id), Buffer.from(b.user_id));

export const payerMembers: ReportStore["payerMembers"] = async (pool, q) => {
  const { rows: later } = await pool.query<{ any: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM movements WHERE payer = $1 AND at > $2 AND category <> 'held') AS any`,
    [q.payer, q.asOf],
  );
  if (!later[0]?.any) {
    const { rows: due } = await pool.query<{ user_id: string; points: string }>(
      `SELECT user_id, sum(remaining) AS points FROM lots WHERE payer = $1 AND remaining > 0
          AND expires_at IS NOT NULL AND expires_at <= $2 GROUP BY user_id LIMIT ${AFFECTED_MEMBERS_MAX + 1}`,
      [q.payer, q.asOf],
    );
    if (due.length <= AFFECTED_MEMBERS_MAX) return membersFromIndex(pool, q, due);
  }
  return membersRecomputed(pool, q);
};

/**
 * The index order, corrected for the members with due but unrecorded expiry (`due`, few): their
 * outstanding only goes down, so the first offset + limit + |due| index rows and the due members'
 * own rows hold the page.
 */
async function membersFromIndex(
  pool: Pool,
  q: { payer: string; limit: number; offset: number },
  due: { user_id: string; points: string }[],
): Promise<{ count: number; rows: MemberRow[] }> {
  const [top, count, mine] = await Promise.all([
    pool.query<{ user_id: string; outstanding: string }>(
      `SELECT user_id, outstanding FROM payer_balances WHERE payer = $1 AND outstanding > 0
        ORDER BY outstanding DESC, user_id COLLATE "C" LIMIT $2`,
      [q.payer, q.offset + q.limit + due.length],
    ),
    // The holders the ledger keeps per partition (migration 015), not a count of the index.
    pool.query<{ n: string }>(`SELECT coalesce(sum(holders), 0) AS n FROM report_holders WHERE payer = $1`, [
      q.payer,
    ]),
    pool.query<{ user_id: string; outstanding: string }>(
      `SELECT user_id, outstanding FROM payer_balances WHERE payer = $1 AND user_id = ANY($2::text[])`,
      [q.payer, due.map((d) => d.user_id)],
    ),
  ]);
  const rows = new Map<string, number>(top.rows.map((r) => [r.user_id, Number(r.outstanding)]));
  let dropped = 0;
  for (const d of due) {
    const before = Number(mine.rows.find((r) => r.user_id === d.user_id)?.outstanding ?? 0);
    const after = before - Number(d.points);
    if (before > 0 && after <= 0) dropped += 1;
    if (after > 0) rows.set(d.user_id, after);
    else rows.delete(d.user_id);
  }
  const ordered = [...rows].map(([user_id, outstanding]) => ({ user_id, outstanding })).sort(byOutstanding);
  return {
    count: Number(count.rows[0]?.n ?? 0) - dropped,
    rows: ordered.slice(q.offset, q.offset + q.limit),
  };
}

/** Outstanding at asOf recomputed for every member of the payer (asOf before later changes). */
async function membersRecomputed(
  pool: Pool,
  q: { payer: string; asOf: Date; limit: number; offset: number },
): Promise<{ count: number; rows: MemberRow[] }> {
  const { rows } = await pool.query<{ user_id: string; outstanding: string; total: string }>(
    `WITH adj AS (SELECT user_id, sum(effect) AS effect FROM (
                    SELECT user_id, ${EFFECT} AS effect FROM movements WHERE payer = $1 AND at > $2
                    UNION ALL
                    SELECT user_id, remaining FROM lots WHERE payer = $1 AND remaining > 0
                       AND expires_at IS NOT NULL AND expires_at <= $2) a GROUP BY user_id),
          o AS (SELECT pb.user_id, pb.outstanding - coalesce(adj.effect, 0) AS outstanding
                  FROM payer_balances pb LEFT JOIN adj USING (user_id) WHERE pb.payer = $1)
     SELECT user_id, outstanding, count(*) OVER () AS total FROM o WHERE outstanding > 0
      ORDER BY outstanding DESC, user_id COLLATE "C" LIMIT $3 OFFSET $4`,
    [q.payer, q.asOf, q.limit, q.offset],
  );
  let count = Number(rows[0]?.total ?? 0);
  if (rows.length === 0 && q.offset > 0) {
    const again = await membersRecomputed(pool, { ...q, limit: 1, offset: 0 });
    count = again.count;
  }
  return { count, rows: rows.map((r) => ({ user_id: r.user_id, outstanding: Number(r.outstanding) })) };
}
