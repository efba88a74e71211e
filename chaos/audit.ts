import type { Pool } from "@points/shared/db";

/**
 * Audit queries over the ledger tables, independent of the client model: the non-negativity
 * constraints exist, nothing is negative now, nothing was ever negative in the recorded history
 * (running sums in the user's applied order), and every lot change is explained by allocations.
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
  ["payer_balances", "available >= 0"],
  ["payer_balances", "adjusted >= 0"],
  ["accounts", "total >= 0"],
];

const AUDITS: { kind: string; sql: string }[] = [
  {
    kind: "negative-now",
    sql: `SELECT 'lot' AS what, user_id, arrival::text AS at FROM lots
            WHERE remaining < 0 OR adjusted < 0 OR remaining + adjusted > points
          UNION ALL SELECT 'payer', user_id, payer FROM payer_balances WHERE available < 0 OR adjusted < 0
          UNION ALL SELECT 'account', user_id, total::text FROM accounts WHERE total < 0`,
  },
  {
    kind: "lot-unexplained",
    sql: `SELECT l.user_id, l.arrival, l.points, l.remaining, l.adjusted, coalesce(s.r, 0) AS sum_remaining_delta,
                 coalesce(s.a, 0) AS sum_adjusted_delta
            FROM lots l
            LEFT JOIN (SELECT user_id, arrival, sum(remaining_delta) AS r, sum(adjusted_delta) AS a
                         FROM allocations GROUP BY user_id, arrival) s USING (user_id, arrival)
           WHERE l.remaining <> l.points + coalesce(s.r, 0) OR l.adjusted <> coalesce(s.a, 0)`,
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
    kind: "lot-without-earn",
    sql: `SELECT l.user_id, l.arrival FROM lots l
            LEFT JOIN entries e ON e.user_id = l.user_id AND e.entry_id = l.entry_id
           WHERE e.user_id IS NULL OR e.type <> 'earn' OR e.payer <> l.payer OR e.amount <> l.points OR e.ts <> l.ts`,
  },
  {
    kind: "negative-in-history-lot",
    sql: `WITH steps AS (
            SELECT a.user_id, a.arrival, e.seq, l.points,
                   l.points + sum(a.remaining_delta) OVER w AS remaining,
                   sum(a.adjusted_delta) OVER w AS adjusted
              FROM allocations a
              JOIN entries e ON e.user_id = a.user_id AND e.entry_id = a.entry_id
              JOIN lots l ON l.user_id = a.user_id AND l.arrival = a.arrival
            WINDOW w AS (PARTITION BY a.user_id, a.arrival ORDER BY e.seq))
          SELECT user_id, arrival, seq, remaining, adjusted FROM steps
           WHERE remaining < 0 OR adjusted < 0 OR remaining + adjusted > points`,
  },
  {
    kind: "negative-in-history-balance",
    sql: `WITH changes AS (
            SELECT l.user_id, l.payer, e.seq, l.points AS delta
              FROM lots l JOIN entries e ON e.user_id = l.user_id AND e.entry_id = l.entry_id
            UNION ALL
            SELECT a.user_id, a.payer, e.seq, a.remaining_delta
              FROM allocations a JOIN entries e ON e.user_id = a.user_id AND e.entry_id = a.entry_id),
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
    kind: "entry-allocations-unbalanced",
    sql: `SELECT e.user_id, e.entry_id, e.type, e.amount, coalesce(sum(a.remaining_delta), 0) AS remaining_delta,
                 coalesce(sum(a.adjusted_delta), 0) AS adjusted_delta
            FROM entries e LEFT JOIN allocations a ON a.user_id = e.user_id AND a.entry_id = e.entry_id
           GROUP BY e.user_id, e.entry_id, e.type, e.amount
          HAVING NOT (
            (e.type = 'spend' AND coalesce(sum(a.remaining_delta), 0) = e.amount AND coalesce(sum(a.adjusted_delta), 0) = 0)
            OR (e.type = 'adjust' AND coalesce(sum(a.remaining_delta), 0) = e.amount
                AND coalesce(sum(a.adjusted_delta), 0) = -e.amount)
            OR (e.type IN ('earn', 'use_item') AND coalesce(sum(a.remaining_delta), 0) = 0
                AND coalesce(sum(a.adjusted_delta), 0) = 0))`,
  },
  {
    kind: "totals-disagree",
    sql: `WITH lp AS (SELECT user_id, payer, sum(remaining) AS r, sum(adjusted) AS a FROM lots GROUP BY user_id, payer),
               pb AS (SELECT user_id, sum(available) AS s FROM payer_balances GROUP BY user_id)
          SELECT 'payer' AS what, user_id, payer FROM payer_balances p FULL JOIN lp USING (user_id, payer)
           WHERE coalesce(p.available, 0) <> coalesce(lp.r, 0) OR coalesce(p.adjusted, 0) <> coalesce(lp.a, 0)
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
