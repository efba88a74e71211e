/**
 * Reconciliation of the report figures (issue 15 item 4; `npm run reconcile`, the chaos checker,
 * the backup test): recomputes them from the raw tables and lists every difference.
 * - per (partition, payer, day | month | year): report_figures = the movements of the members of
 *   that partition (accounts.kafka_partition), summed by the UTC period of `at`;
 * - per (partition, payer, day): report_totals (migration 011) = those movements counted on or
 *   before that day, one row per day with a movement;
 * - per payer and UTC day: earned = the points of the lots whose earn entry was applied that day;
 * - per payer, all time, from the lots (the core's lot-by-lot conservation): earned = points,
 *   adjusted, expired, earn_reversed = reversed, spent - spend_reversed = the rest, held;
 * - per payer at now: closing (the figures, less due but unrecorded expiry) = the members'
 *   balances + held points (payer_balances), and so for the sum over payers;
 * - per member and payer: payer_balances.outstanding = the lots' remaining + held.
 * The checks are read-only; run them on a quiet database (or inside one snapshot) for an exact
 * answer. `repairTotals` (`npm run reconcile -- --repair-totals`) rewrites the running totals.
 */

import { TOTALS_LOCK_CLASS } from "./report-figures";

export interface Queryable {
  query<R extends Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

export interface Difference {
  check:
    | "figures"
    | "totals"
    | "carried"
    | "earned_by_day"
    | "lots"
    | "closing"
    | "total"
    | "outstanding"
    | "holders";
  payer?: string;
  day?: string;
  detail: string;
}

/** At most this many differences per check are listed (a corrupted table would list millions). */
export const DIFFERENCES_LISTED_MAX = 50;

const CATS = ["earned", "adjusted", "spent", "spend_reversed", "earn_reversed", "expired", "held"] as const;
const NET = "(earned - adjusted - spent + spend_reversed - earn_reversed - expired)";
const UNRECORDED = `SELECT payer, sum(remaining) AS points FROM lots
                     WHERE remaining > 0 AND expires_at IS NOT NULL AND expires_at <= $1 GROUP BY payer`;

function fieldDiffs(row: Record<string, unknown>, fields: readonly string[]): string {
  return fields
    .filter((f) => String(row[`f_${f}`] ?? 0) !== String(row[`r_${f}`] ?? 0))
    .map((f) => `${f} figure=${row[`f_${f}`] ?? 0} recomputed=${row[`r_${f}`] ?? 0}`)
    .join(", ");
}

async function figuresVsMovements(db: Queryable): Promise<Difference[]> {
  const { rows } = await db.query<Record<string, string>>(
    `WITH r AS (SELECT coalesce(a.kafka_partition, -1) AS kafka_partition, m.payer, s.span,
                       date_trunc(s.span, m.at AT TIME ZONE 'UTC')::date AS period,
                       ${CATS.map((c) => `coalesce(sum(m.points) FILTER (WHERE m.category = '${c}'), 0) AS ${c}`).join(", ")}
                  FROM movements m LEFT JOIN accounts a USING (user_id)
                 CROSS JOIN (VALUES ('day'), ('month'), ('year')) AS s(span)
                 GROUP BY 1, 2, 3, 4)
     SELECT coalesce(f.kafka_partition, r.kafka_partition) AS kafka_partition, coalesce(f.payer, r.payer) AS payer,
            coalesce(f.span, r.span) AS span, to_char(coalesce(f.period, r.period), 'YYYY-MM-DD') AS period,
            ${CATS.map((c) => `f.${c} AS f_${c}, r.${c} AS r_${c}`).join(", ")}
       FROM report_figures f FULL JOIN r
         ON f.kafka_partition = r.kafka_partition AND f.payer = r.payer AND f.span = r.span AND f.period = r.period
      WHERE (${CATS.map((c) => `coalesce(f.${c}, 0)`).join(", ")}) IS DISTINCT FROM (${CATS.map((c) => `coalesce(r.${c}, 0)`).join(", ")})
      ORDER BY 2, 4, 3, 1 LIMIT ${DIFFERENCES_LISTED_MAX}`,
  );
  return rows.map((r) => ({
    check: "figures",
    payer: r.payer!,
    day: r.period!,
    detail: `partition ${r.kafka_partition} ${r.span} ${r.period}: ${fieldDiffs(r, CATS)}`,
  }));
}

/**
 * The running totals recomputed from the movements, as the CTEs ending in `r` (kafka_partition,
 * payer, day, moved, seen, and the categories): per (partition, payer), on every day with a
 * movement, a kept row, or a carried day after its first movement (migration 014), the sums of
 * its movements through that day (`seen` = how many; 0 = a row no movement explains). `only`:
 * the SQL of one partition (a parameter), or null for all (movements of a member without a
 * partition count as partition -1).
 */
function recomputedTotals(only: string | null): string {
  const movementsOf = only === null ? "" : `WHERE a.kafka_partition = ${only}`;
  const keptOf = only === null ? "" : `WHERE kafka_partition = ${only}`;
  const zeros = `${CATS.map((c) => `0 AS ${c}`).join(", ")}, 0 AS moved`;
  return `d AS (SELECT coalesce(a.kafka_partition, -1) AS kafka_partition, m.payer,
                       (m.at AT TIME ZONE 'UTC')::date AS day,
                       ${CATS.map((c) => `coalesce(sum(m.points) FILTER (WHERE m.category = '${c}'), 0) AS ${c}`).join(", ")},
                       count(*) AS moved
                  FROM movements m LEFT JOIN accounts a USING (user_id) ${movementsOf}
                 GROUP BY 1, 2, 3),
          k AS (SELECT kafka_partition, payer, day, ${zeros} FROM report_totals ${keptOf}
                UNION ALL
                SELECT f.kafka_partition, f.payer, c.day, ${zeros}
                  FROM (SELECT kafka_partition, payer, min(day) AS first FROM d GROUP BY 1, 2) f
                  JOIN report_carried c ON c.kafka_partition = f.kafka_partition AND c.day > f.first),
          u AS (SELECT kafka_partition, payer, day, ${CATS.map((c) => `sum(${c}) AS ${c}`).join(", ")},
                       sum(moved) AS moved
                  FROM (SELECT * FROM d UNION ALL SELECT * FROM k) x GROUP BY 1, 2, 3),
          r AS (SELECT kafka_partition, payer, day, moved, sum(moved) OVER w AS seen,
                       ${CATS.map((c) => `sum(${c}) OVER w AS ${c}`).join(", ")}
                  FROM u WINDOW w AS (PARTITION BY kafka_partition, payer ORDER BY day))`;
}

async function totalsVsMovements(db: Queryable): Promise<Difference[]> {
  // Every kept row's day joins the movement days (with nothing moved), so a row carried forward
  // to a day without movements (migration 014) is checked against the running totals through it.
  // A carried day's missing row is the `carried` check's finding (carriedComplete).
  const { rows } = await db.query<Record<string, string>>(
    `WITH ${recomputedTotals(null)}
     SELECT coalesce(f.kafka_partition, r.kafka_partition) AS kafka_partition, coalesce(f.payer, r.payer) AS payer,
            to_char(coalesce(f.day, r.day), 'YYYY-MM-DD') AS day,
            ${CATS.map((c) => `f.${c} AS f_${c}, r.${c} AS r_${c}`).join(", ")},
            r.seen = 0 AS unmoved
       FROM report_totals f FULL JOIN r
         ON f.kafka_partition = r.kafka_partition AND f.payer = r.payer AND f.day = r.day
      WHERE (f.day IS NULL AND r.moved > 0) OR r.seen = 0
         OR (f.day IS NOT NULL AND (${CATS.map((c) => `f.${c}`).join(", ")}) IS DISTINCT FROM (${CATS.map((c) => `r.${c}`).join(", ")}))
      ORDER BY 2, 3, 1 LIMIT ${DIFFERENCES_LISTED_MAX}`,
  );
  return rows.map((r) => ({
    check: "totals",
    payer: r.payer!,
    day: r.day!,
    detail: `partition ${r.kafka_partition} totals through ${r.day}: ${
      r.f_earned === null ? "missing row" : r.unmoved ? "row without movements" : fieldDiffs(r, CATS)
    }`,
  }));
}

/** What `repairTotals` changed in one partition. */
export interface TotalsRepair {
  kafka_partition: number;
  /** Rows inserted (missing) or rewritten (different). */
  written: number;
  /** Rows no movement explains. */
  removed: number;
}

/**
 * Rewrites the running totals (`report_totals`) from the movements, one partition per
 * transaction, each under the partition's lock (report-figures.ts, lockTotalsStatement), so it
 * may run beside a live ledger: a batch of that partition waits, then adds to the repaired rows.
 * The repair for a database written before that lock existed (the expiry scheduler's group
 * beside a Kafka batch's, or two instances in a rebalance, could lose a change: README,
 * Accounting). `db` is one connection (it runs BEGIN and COMMIT); it reads every movement of
 * each partition, so a partition of a large database holds its writer for as long as that scan
 * takes. Returns the partitions it changed.
 */
export async function repairTotals(db: Queryable): Promise<TotalsRepair[]> {
  const { rows: partitions } = await db.query<{ p: number }>(
    `SELECT kafka_partition AS p FROM accounts WHERE kafka_partition IS NOT NULL
     UNION SELECT kafka_partition FROM report_totals UNION SELECT kafka_partition FROM report_carried ORDER BY 1`,
  );
  const repairs: TotalsRepair[] = [];
  for (const { p } of partitions) {
    await db.query("BEGIN");
    try {
      await db.query("SELECT pg_advisory_xact_lock($1::int, $2::int)", [TOTALS_LOCK_CLASS, p]);
      const { rows } = await db.query<{ written: string; removed: string }>(REPAIR_PARTITION, [p]);
      await db.query("COMMIT");
      const written = Number(rows[0]!.written);
      const removed = Number(rows[0]!.removed);
      if (written + removed > 0) repairs.push({ kafka_partition: p, written, removed });
    } catch (err) {
      await db.query("ROLLBACK").catch(() => {});
      throw err;
    }
  }
  return repairs;
}

const REPAIR_PARTITION = `WITH ${recomputedTotals("$1::int")},
  written AS (INSERT INTO report_totals AS t (kafka_partition, payer, day, ${CATS.join(", ")})
              SELECT kafka_partition, payer, day, ${CATS.join(", ")} FROM r WHERE seen > 0
              ON CONFLICT (kafka_partition, payer, day) DO UPDATE SET
                ${CATS.map((c) => `${c} = excluded.${c}`).join(", ")}
              WHERE (${CATS.map((c) => `t.${c}`).join(", ")}) IS DISTINCT FROM (${CATS.map((c) => `excluded.${c}`).join(", ")})
              RETURNING 1),
  removed AS (DELETE FROM report_totals t USING r
               WHERE t.kafka_partition = r.kafka_partition AND t.payer = r.payer AND t.day = r.day AND r.seen = 0
              RETURNING 1)
  SELECT (SELECT count(*) FROM written) AS written, (SELECT count(*) FROM removed) AS removed`;

/**
 * A carried (partition, day) (migration 014) has a totals row on that day for every payer of the
 * partition with a row before it: the payer report reads that day's rows as the whole partition.
 */
async function carriedComplete(db: Queryable): Promise<Difference[]> {
  const { rows } = await db.query<{ kafka_partition: number; payer: string; day: string }>(
    `SELECT c.kafka_partition, t.payer, to_char(c.day, 'YYYY-MM-DD') AS day
       FROM report_carried c
       JOIN (SELECT kafka_partition, payer, min(day) AS first FROM report_totals GROUP BY 1, 2) t
         ON t.kafka_partition = c.kafka_partition AND t.first < c.day
      WHERE NOT EXISTS (SELECT 1 FROM report_totals x
                         WHERE x.kafka_partition = c.kafka_partition AND x.payer = t.payer AND x.day = c.day)
      ORDER BY 2, 3, 1 LIMIT ${DIFFERENCES_LISTED_MAX}`,
  );
  return rows.map((r) => ({
    check: "carried",
    payer: r.payer,
    day: r.day,
    detail: `partition ${r.kafka_partition} is carried on ${r.day} but has no totals row for the payer`,
  }));
}

async function earnedByDay(db: Queryable): Promise<Difference[]> {
  const { rows } = await db.query<Record<string, string>>(
    `WITH r AS (SELECT l.payer, (e.created_on AT TIME ZONE 'UTC')::date AS day, sum(l.points) AS earned
                  FROM lots l JOIN entries e ON e.user_id = l.user_id AND e.entry_id = l.entry_id
                 GROUP BY 1, 2),
          f AS (SELECT payer, period AS day, sum(earned) AS earned FROM report_figures
                 WHERE span = 'day' GROUP BY 1, 2 HAVING sum(earned) <> 0)
     SELECT coalesce(f.payer, r.payer) AS payer, to_char(coalesce(f.day, r.day), 'YYYY-MM-DD') AS day,
            f.earned AS f_earned, r.earned AS r_earned
       FROM f FULL JOIN r ON f.payer = r.payer AND f.day = r.day
      WHERE coalesce(f.earned, 0) <> coalesce(r.earned, 0)
      ORDER BY 1, 2 LIMIT ${DIFFERENCES_LISTED_MAX}`,
  );
  return rows.map((r) => ({
    check: "earned_by_day",
    payer: r.payer!,
    day: r.day!,
    detail: `${r.day}: ${fieldDiffs(r, ["earned"])}`,
  }));
}

async function lotsVsFigures(db: Queryable): Promise<Difference[]> {
  const fields = ["earned", "adjusted", "expired", "earn_reversed", "net_spent", "held"];
  const { rows } = await db.query<Record<string, string>>(
    `WITH r AS (SELECT payer, sum(points) AS earned, sum(adjusted) AS adjusted, sum(expired) AS expired,
                       sum(reversed) AS earn_reversed, sum(held) AS held,
                       sum(points - remaining - adjusted - held - expired - reversed) AS net_spent
                  FROM lots GROUP BY payer),
          f AS (SELECT payer, sum(earned) AS earned, sum(adjusted) AS adjusted, sum(expired) AS expired,
                       sum(earn_reversed) AS earn_reversed, sum(held) AS held,
                       sum(spent - spend_reversed) AS net_spent
                  FROM report_figures WHERE span = 'year' GROUP BY payer)
     SELECT coalesce(f.payer, r.payer) AS payer,
            ${fields.map((c) => `f.${c} AS f_${c}, r.${c} AS r_${c}`).join(", ")}
       FROM f FULL JOIN r ON f.payer = r.payer
      WHERE (${fields.map((c) => `coalesce(f.${c}, 0)`).join(", ")}) IS DISTINCT FROM (${fields.map((c) => `coalesce(r.${c}, 0)`).join(", ")})
      ORDER BY 1 LIMIT ${DIFFERENCES_LISTED_MAX}`,
  );
  return rows.map((r) => ({
    check: "lots",
    payer: r.payer!,
    detail: `all time vs lots: ${fieldDiffs(r, fields)}`,
  }));
}

async function closings(db: Queryable, now: Date): Promise<Difference[]> {
  const { rows } = await db.query<Record<string, string>>(
    `WITH u AS (${UNRECORDED}),
          f AS (SELECT payer, sum(${NET}) AS closing, sum(held) AS held FROM report_figures
                 WHERE span = 'year' GROUP BY payer),
          b AS (SELECT payer, sum(available) AS available, sum(held) AS held FROM payer_balances GROUP BY payer),
          r AS (SELECT coalesce(f.payer, b.payer) AS payer,
                       coalesce(f.closing, 0) - coalesce(u.points, 0) AS f_closing,
                       coalesce(b.available, 0) - coalesce(u.points, 0) + coalesce(b.held, 0) AS r_closing,
                       coalesce(f.held, 0) AS f_held, coalesce(b.held, 0) AS r_held
                  FROM f FULL JOIN b ON f.payer = b.payer LEFT JOIN u ON u.payer = coalesce(f.payer, b.payer))
     SELECT * FROM r WHERE f_closing <> r_closing OR f_held <> r_held
     UNION ALL
     SELECT NULL, sum(f_closing), sum(r_closing), sum(f_held), sum(r_held) FROM r
      HAVING sum(f_closing) <> sum(r_closing)`,
    [now],
  );
  return rows.map((r) =>
    r.payer === null
      ? {
          check: "total",
          detail: `sum of closings ${r.f_closing} <> members' balances + held ${r.r_closing}`,
        }
      : {
          check: "closing",
          payer: r.payer!,
          detail: `closing now: ${fieldDiffs(r, ["closing", "held"])} (recomputed = balances + held)`,
        },
  );
}

async function outstanding(db: Queryable): Promise<Difference[]> {
  const { rows } = await db.query<Record<string, string>>(
    `WITH r AS (SELECT user_id, payer, sum(remaining + held) AS outstanding FROM lots GROUP BY 1, 2)
     SELECT coalesce(b.user_id, r.user_id) AS user_id, coalesce(b.payer, r.payer) AS payer,
            b.outstanding AS f_outstanding, r.outstanding AS r_outstanding
       FROM payer_balances b FULL JOIN r ON b.user_id = r.user_id AND b.payer = r.payer
      WHERE coalesce(b.outstanding, 0) <> coalesce(r.outstanding, 0)
      ORDER BY 2, 1 LIMIT ${DIFFERENCES_LISTED_MAX}`,
  );
  return rows.map((r) => ({
    check: "outstanding",
    payer: r.payer!,
    detail: `member ${r.user_id}: ${fieldDiffs(r, ["outstanding"])}`,
  }));
}

/** Every difference between the maintained figures and the raw tables (empty = reconciled). */
export async function reconcile(db: Queryable, now: Date = new Date()): Promise<Difference[]> {
  return [
    ...(await figuresVsMovements(db)),
    ...(await totalsVsMovements(db)),
    ...(await carriedComplete(db)),
    ...(await earnedByDay(db)),
    ...(await lotsVsFigures(db)),
    ...(await closings(db, now)),
    ...(await outstanding(db)),
    ...(await holders(db)),
  ];
}

/** Per payer: the kept holder count (migration 015) is the members with outstanding > 0. */
async function holders(db: Queryable): Promise<Difference[]> {
  const { rows } = await db.query<{ payer: string; kept: string | null; counted: string | null }>(
    `WITH k AS (SELECT payer, sum(holders) AS kept FROM report_holders GROUP BY payer),
          c AS (SELECT payer, count(*) AS counted FROM payer_balances WHERE outstanding > 0 GROUP BY payer)
     SELECT coalesce(k.payer, c.payer) AS payer, k.kept, c.counted FROM k FULL JOIN c USING (payer)
      WHERE coalesce(k.kept, 0) <> coalesce(c.counted, 0)
      ORDER BY 1 LIMIT ${DIFFERENCES_LISTED_MAX}`,
  );
  return rows.map((r) => ({
    check: "holders",
    payer: r.payer,
    detail: `holders kept=${r.kept ?? 0} counted=${r.counted ?? 0}`,
  }));
}

export function describeDifference(d: Difference): string {
  const where = [d.payer !== undefined ? `payer ${d.payer}` : "", d.day !== undefined ? `day ${d.day}` : ""]
    .filter(Boolean)
    .join(" ");
  return `${d.check}${where ? ` [${where}]` : ""}: ${d.detail}`;
}
