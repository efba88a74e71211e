-- Accounting reports (contract 7, issue 15; design.md decision 7): maintained figures, written
-- by the ledger in the same transaction as each change, summed at read time.

-- The payer figures: per Kafka partition (the one writer of its members), payer and period, the
-- sums of the movements (migration 008) counted in that period by their `at` (an expiry at the
-- instant the points expired, also when recorded later: a late expiry updates a past period's
-- row of the same partition, still written only by that partition's writer). `held` is the net
-- change of points in open holds. Each movement is added to three rows: its UTC day, month and
-- year, so a year's report sums at most a few dozen rows per (partition, payer), not 365.
-- Keyed by partition, not by user: a row per user would make a report over 1M members a scan.
-- Under Citus: distributed by kafka_partition (or kept on the coordinator); no row is shared
-- between two writers, so no transaction needs two writers.
CREATE TABLE report_figures (
  kafka_partition integer NOT NULL,
  payer           text NOT NULL,
  span            text NOT NULL CHECK (span IN ('day', 'month', 'year')),
  period          date NOT NULL,  -- the span's first day (UTC)
  earned          bigint NOT NULL DEFAULT 0,
  adjusted        bigint NOT NULL DEFAULT 0,
  spent           bigint NOT NULL DEFAULT 0,
  spend_reversed  bigint NOT NULL DEFAULT 0,
  earn_reversed   bigint NOT NULL DEFAULT 0,
  expired         bigint NOT NULL DEFAULT 0,
  held            bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (kafka_partition, payer, span, period),
  CHECK (period = date_trunc(span, period::timestamp)::date)
) WITH (fillfactor = 50);
-- Reads: every payer's rows of some periods. The sums are not in any index and pages keep free
-- room (fillfactor), so the ledger's many updates of today's rows are HOT (no index writes).
CREATE INDEX report_figures_read ON report_figures (span, period, payer);

-- The members report: a member's outstanding points of a payer (unspent, held included),
-- kept by the member's writer with the payer balance itself. Most first, then user_id (bytes).
ALTER TABLE payer_balances
  ADD COLUMN outstanding bigint GENERATED ALWAYS AS (available + held) STORED;
CREATE INDEX payer_balances_outstanding ON payer_balances (payer, outstanding DESC, user_id COLLATE "C")
  WHERE outstanding > 0;

-- Due but not yet recorded expiry (at most ~60 s of it while the ledger runs): reports take it
-- out at read time, so they never count points past their expiry. A range scan of what is due.
CREATE INDEX lots_unrecorded_expiry ON lots (expires_at, payer) WHERE remaining > 0 AND expires_at IS NOT NULL;

-- Members report as_of in the past: the movements of a payer after the instant.
CREATE INDEX movements_payer_at ON movements (payer, at);
