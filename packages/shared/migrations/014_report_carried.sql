-- Accounting reports, faster reads (issue 15): each partition's writer, at its first batch of a
-- UTC day, carries every (partition, payer) running total forward to that day and records the
-- (partition, day) as carried. "Totals through day d" of a partition is then the rows from its
-- latest carried day at or before d up to d: one range of the `(kafka_partition, day)` index per
-- partition for all its payers, instead of an index probe per (partition, payer) (2,400 pairs x 3 probes for
-- 12 partitions and 200 payers). A partition with no carried day at or before d (figures kept
-- before this migration) is read with the probes, as before. The carried rows are ordinary
-- totals rows (the running totals through their day), so a late expiry rewrites them like any
-- later row. Written only by the partition's one writer; under Citus distributed like
-- report_totals (by kafka_partition).
CREATE TABLE report_carried (
  kafka_partition integer NOT NULL,
  day             date NOT NULL,
  PRIMARY KEY (kafka_partition, day)
);
-- Neither column changes in an update, so today's row is still updated HOT.
CREATE INDEX report_totals_partition_day ON report_totals (kafka_partition, day);
