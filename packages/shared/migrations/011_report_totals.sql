-- Accounting reports, faster reads (issue 15, Performance): running totals per (Kafka partition,
-- payer), so a report over any period reads two rows per (partition, payer) instead of summing
-- a few dozen day/month/year rows of report_figures (an all-payer year over 12 partitions and
-- 200 payers summed ~127,000 rows: seconds, not the target's 100 ms).
--
-- A row holds the totals of every movement of that partition's members for that payer counted on
-- or before `day` (UTC), one row per day on which there was one (the same days as the day rows of
-- report_figures). Totals at any day d = the row with the latest day <= d (none: zeros); a
-- period [from, to] = totals(to) - totals(from - 1); the opening = totals(from - 1).
-- Written by the same one writer per partition, in the same statement as report_figures: a
-- movement counted on a past day (an expiry recorded late) also rewrites that partition's later
-- rows for the payer (few: the days since). Under Citus: distributed by kafka_partition like
-- report_figures (no row is shared between writers).
CREATE TABLE report_totals (
  kafka_partition integer NOT NULL,
  payer           text NOT NULL,
  day             date NOT NULL,
  earned          bigint NOT NULL,
  adjusted        bigint NOT NULL,
  spent           bigint NOT NULL,
  spend_reversed  bigint NOT NULL,
  earn_reversed   bigint NOT NULL,
  expired         bigint NOT NULL,
  held            bigint NOT NULL,
  PRIMARY KEY (kafka_partition, payer, day)
) WITH (fillfactor = 50);
-- No other index: today's row is rewritten by every batch that moves it, and with free room in its
-- page and no index over the totals the update is HOT (no index write).

-- The totals of the figures kept so far: running sums of the day rows.
INSERT INTO report_totals (kafka_partition, payer, day, earned, adjusted, spent, spend_reversed,
                           earn_reversed, expired, held)
SELECT kafka_partition, payer, period,
       sum(earned) OVER w, sum(adjusted) OVER w, sum(spent) OVER w, sum(spend_reversed) OVER w,
       sum(earn_reversed) OVER w, sum(expired) OVER w, sum(held) OVER w
  FROM report_figures
 WHERE span = 'day'
WINDOW w AS (PARTITION BY kafka_partition, payer ORDER BY period);
