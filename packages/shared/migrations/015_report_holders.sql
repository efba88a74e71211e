-- The members report's count (issue 15): how many members hold a payer's points (outstanding > 0,
-- as payer_balances says), per Kafka partition, kept by that partition's one writer in the same
-- transaction as the balances (+1 when a member's outstanding of the payer rises from 0, -1 when
-- it falls to 0). The report sums a payer's rows (one per partition) instead of counting its
-- holders' index entries (~48,000 for a payer at 10M lots). A member counts in the partition its
-- batch came from (partition 0 for a batch applied without one, as its report figures do); only
-- the sum over partitions is a count, so a row may go below zero. Under Citus distributed by
-- kafka_partition like report_totals.
CREATE TABLE report_holders (
  payer           text NOT NULL,
  kafka_partition integer NOT NULL,
  holders         bigint NOT NULL,
  PRIMARY KEY (payer, kafka_partition)
);
INSERT INTO report_holders (payer, kafka_partition, holders)
SELECT pb.payer, coalesce(a.kafka_partition, 0), count(*)
  FROM payer_balances pb JOIN accounts a USING (user_id)
 WHERE pb.outstanding > 0
 GROUP BY 1, 2;
