-- The gateway's outbox (issue 18): a command answered 202 keeps its body, so a send that Kafka
-- never took (a produce timed out and was lost in a broker failover, a gateway stopped
-- mid-send) is sent again until the ledger decides it. The ledger de-duplicates by command_id,
-- so sending again is always safe; the record outlives every resend (retention is days longer).
ALTER TABLE command_requests
  -- The command exactly as first produced (JSON text); NULL for rows written before this column.
  ADD COLUMN command   text,
  -- When the resender next checks the command; NULL once decided, failed or given up.
  ADD COLUMN resend_at timestamptz,
  ADD COLUMN resends   integer NOT NULL DEFAULT 0 CHECK (resends >= 0);
CREATE INDEX command_requests_resend ON command_requests (resend_at) WHERE resend_at IS NOT NULL;
