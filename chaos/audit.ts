import type { Pool } from "@points/shared/db";

/**
 * Audit queries over the ledger tables, independent of the client model: the non-negativity
 * constraints exist, nothing is negative now, nothing was ever negative in the recorded history
 * (running sums in the user's applied order), and every lot change is explained by allocations
 * and hold steps (contract 6: held, expired and reversed parts included).
 */
export interface Finding {
  kind: string;
  detail: string;
}

const SAMPLE = 20;

/** The CHECK constraints that make a negative lot, payer balance or total impossible to store. */
const REQUIRED_CHECKS: [table: string, expression: string][] = [
  ["lots", "points > 0"],
  ["lots", "remaining >= 0"],
  ["lots", "adjusted >= 0"],
  ["lots", "(remaining + adjusted) <= points"],
  ["lots", "held >= 0"],
  ["lots", "expired >= 0"],
  ["lots", "reversed >= 0"],
  ["payer_balances", "available >= 0"],
  ["payer_balances", "adjusted >= 0"],
  ["accounts", "total >= 0"],
];

/**
 * Every change of a lot's parts, with the seq that made it: allocation rows (of entries) and hold
 * steps (hold_allocations: 0 = place, 1 = close). A hold step has no entry; its seq is that of its
 * `held` movements (source = the hold), or, for a capture's release, the capture's spend entry's.
 */
const DELTAS = `hold_seq AS (
    SELECT h.user_id, h.hold_id, s.step,
           CASE WHEN s.step = 0
                  THEN (SELECT min(m.seq) FROM movements m WHERE m.user_id = h.user_id AND m.source = h.hold_id)
                WHEN h.status = 'captured'
                  THEN (SELECT e.seq FROM entries e WHERE e.user_id = h.user_id AND e.entry_id = h.capture_entry_id)
                ELSE (SELECT max(m.seq) FROM movements m WHERE m.user_id = h.user_id AND m.source = h.hold_id)
           END AS seq
      FROM holds h CROSS JOIN (VALUES (0), (1)) AS s(step)),
  deltas AS (
    SELECT a.user_id, a.arrival, a.payer, e.seq, a.remaining_delta, a.adjusted_delta, a.held_delta,
           a.expired_delta, a.reversed_delta
      FROM allocations a JOIN entries e ON e.user_id = a.user_id AND e.entry_id = a.entry_id
    UNION ALL
    SELECT ha.user_id, ha.arrival, ha.payer, hs.seq, ha.remaining_delta, ha.adjusted_delta, ha.held_delta, 0, 0
      FROM hold_allocations ha JOIN hold_seq hs USING (user_id, hold_id, step))`;

const PARTS_OVER_POINTS = "remaining + adjusted + held + expired + reversed > points";

const AUDITS: { kind: string; sql: string }[] = [
  {
    kind: "negative-now",
    sql: `SELECT 'lot' AS what, user_id, arrival::text AS at FROM lots
            WHERE remaining < 0 OR adjusted < 0 OR held < 0 OR expired < 0 OR reversed < 0 OR ${PARTS_OVER_POINTS}
          UNION ALL SELECT 'payer', user_id, payer FROM payer_balances WHERE available < 0 OR adjusted < 0 OR held < 0
          UNION ALL SELECT 'account', user_id, total::text FROM accounts WHERE total < 0`,
  },
  {
    kind: "lot-unexplained",
    sql: `WITH ${DELTAS},
          s AS (SELECT user_id, arrival, sum(remaining_delta) AS r, sum(adjusted_delta) AS a, sum(held_delta) AS h,
                       sum(expired_delta) AS x, sum(reversed_delta) AS v
                  FROM deltas GROUP BY user_id, arrival)
          SELECT l.user_id, l.arrival, l.points, l.remaining, l.adjusted, l.held, l.expired, l.reversed,
                 s.r AS sum_remaining_delta, s.a AS sum_adjusted_delta, s.h AS sum_held_delta,
                 s.x AS sum_expired_delta, s.v AS sum_reversed_delta
            FROM lots l LEFT JOIN s USING (user_id, arrival)
           WHERE l.remaining <> l.points + coalesce(s.r, 0) OR l.adjusted <> coalesce(s.a, 0)
              OR l.held <> coalesce(s.h, 0) OR l.expired <> coalesce(s.x, 0) OR l.reversed <> coalesce(s.v, 0)`,
  },
  {
    kind: "allocation-orphan",
    sql: `SELECT a.user_id, a.entry_id, a.arrival, l.user_id IS NULL AS no_lot, e.user_id IS NULL AS no_entry,
                 l.payer IS DISTINCT FROM a.payer AS payer_mismatch, e.seq < c.seq AS before_lot
            FROM allocations a
            LEFT JOIN lots l ON l.user_id = a.user_id AND l.arrival = a.arrival
            LEFT JOIN entries e ON e.user_id = a.user_id AND e.entry_id = a.entry_id
            LEFT JOIN entries c ON c.user_id = l.user_id AND c.entry_id = l.entry_id
           WHERE l.user_id IS NULL OR e.user_id IS NULL OR l.payer <> a.payer OR e.seq < c.seq`,
  },
  {
    kind: "hold-step-orphan",
    sql: `WITH ${DELTAS}
          SELECT hs.user_id, hs.hold_id, hs.step FROM hold_seq hs
            JOIN holds h USING (user_id, hold_id)
           WHERE hs.seq IS NULL AND (hs.step = 0 OR h.status <> 'held')`,
  },
  {
    kind: "lot-without-earn",
    sql: `SELECT l.user_id, l.arrival FROM lots l
            LEFT JOIN entries e ON e.user_id = l.user_id AND e.entry_id = l.entry_id
           WHERE e.user_id IS NULL OR e.type <> 'earn' OR e.payer <> l.payer OR e.amount <> l.points OR e.ts <> l.ts`,
  },
  {
    kind: "negative-in-history-lot",
    sql: `WITH ${DELTAS},
          steps AS (
            SELECT d.user_id, d.arrival, d.seq, l.points,
                   l.points + sum(d.remaining_delta) OVER w AS remaining,
                   sum(d.adjusted_delta) OVER w AS adjusted, sum(d.held_delta) OVER w AS held,
                   sum(d.expired_delta) OVER w AS expired, sum(d.reversed_delta) OVER w AS reversed
              FROM deltas d JOIN lots l ON l.user_id = d.user_id AND l.arrival = d.arrival
            WINDOW w AS (PARTITION BY d.user_id, d.arrival ORDER BY d.seq))
          SELECT user_id, arrival, seq, remaining, adjusted, held, expired, reversed FROM steps
           WHERE remaining < 0 OR adjusted < 0 OR held < 0 OR expired < 0 OR reversed < 0
              OR ${PARTS_OVER_POINTS}`,
  },
  {
    kind: "negative-in-history-balance",
    sql: `WITH ${DELTAS},
          changes AS (
            SELECT l.user_id, l.payer, e.seq, l.points AS delta
              FROM lots l JOIN entries e ON e.user_id = l.user_id AND e.entry_id = l.entry_id
            UNION ALL
            SELECT user_id, payer, seq, remaining_delta FROM deltas),
          per_payer AS (
            SELECT user_id, payer, seq, sum(sum(delta)) OVER (PARTITION BY user_id, payer ORDER BY seq) AS balance
              FROM changes GROUP BY user_id, payer, seq),
          per_user AS (
            SELECT user_id, seq, sum(sum(delta)) OVER (PARTITION BY user_id ORDER BY seq) AS balance
              FROM changes GROUP BY user_id, seq)
          SELECT 'payer' AS what, user_id, payer, seq, balance FROM per_payer WHERE balance < 0
          UNION ALL SELECT 'user', user_id, NULL, seq, balance FROM per_user WHERE balance < 0`,
  },
  {
    // spend (a capture's from held points), negative, earn (moves only), expiry, and reversals:
    // of a spend (+points back to remaining), of an earn (-points, into reversed).
    kind: "entry-allocations-unbalanced",
    sql: `SELECT e.user_id, e.entry_id, e.type, e.amount, coalesce(sum(a.remaining_delta), 0) AS remaining_delta,
                 coalesce(sum(a.adjusted_delta), 0) AS adjusted_delta, coalesce(sum(a.held_delta), 0) AS held_delta,
                 coalesce(sum(a.expired_delta), 0) AS expired_delta, coalesce(sum(a.reversed_delta), 0) AS reversed_delta
            FROM entries e LEFT JOIN allocations a ON a.user_id = e.user_id AND a.entry_id = e.entry_id
           GROUP BY e.user_id, e.entry_id, e.type, e.amount
          HAVING NOT (
            (e.type = 'spend' AND coalesce(sum(a.remaining_delta + a.held_delta), 0) = e.amount
                AND coalesce(sum(a.adjusted_delta), 0) = 0)
            OR (e.type = 'adjust' AND coalesce(sum(a.remaining_delta), 0) = e.amount
                AND coalesce(sum(a.adjusted_delta), 0) = -e.amount)
            OR (e.type IN ('earn', 'use_item') AND coalesce(sum(a.remaining_delta), 0) = 0
                AND coalesce(sum(a.adjusted_delta), 0) = 0)
            OR (e.type = 'expire' AND coalesce(sum(a.remaining_delta), 0) = e.amount
                AND coalesce(sum(a.expired_delta), 0) = -e.amount AND coalesce(sum(a.adjusted_delta), 0) = 0)
            OR (e.type = 'reversal' AND coalesce(sum(a.remaining_delta), 0) = e.amount
                AND coalesce(sum(a.adjusted_delta), 0) = 0
                AND coalesce(sum(a.reversed_delta), 0) = greatest(-e.amount, 0)))`,
  },
  {
    kind: "totals-disagree",
    sql: `WITH lp AS (SELECT user_id, payer, sum(remaining) AS r, sum(adjusted) AS a, sum(held) AS h
                      FROM lots GROUP BY user_id, payer),
               pb AS (SELECT user_id, sum(available) AS s FROM payer_balances GROUP BY user_id)
          SELECT 'payer' AS what, user_id, payer FROM payer_balances p FULL JOIN lp USING (user_id, payer)
           WHERE coalesce(p.available, 0) <> coalesce(lp.r, 0) OR coalesce(p.adjusted, 0) <> coalesce(lp.a, 0)
              OR coalesce(p.held, 0) <> coalesce(lp.h, 0)
          UNION ALL
          SELECT 'account', user_id, NULL FROM accounts a FULL JOIN pb USING (user_id)
           WHERE coalesce(a.total, 0) <> coalesce(pb.s, 0)`,
  },
];

export async function auditLedgerTables(pool: Pool): Promise<Finding[]> {
  const findings: Finding[] = [];
  const { rows } = await pool.query<{ tbl: string; def: string }>(
    `SELECT conrelid::regclass::text AS tbl, pg_get_constraintdef(oid) AS def
       FROM pg_constraint WHERE contype = 'c' AND convalidated`,
  );
  for (const [table, expression] of REQUIRED_CHECKS) {
    if (!rows.some((r) => r.tbl === table && r.def.includes(expression))) {
      findings.push({ kind: "constraint-missing", detail: `${table}: CHECK (${expression})` });
    }
  }
  for (const audit of AUDITS) {
    const result = await pool.query(`SELECT * FROM (${audit.sql}) found LIMIT ${SAMPLE}`);
    for (const row of result.rows) findings.push({ kind: audit.kind, detail: JSON.stringify(row) });
  }
  return findings;
}
