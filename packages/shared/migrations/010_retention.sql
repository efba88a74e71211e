-- Retention (README "Data kept bounded"): the pruner deletes bookkeeping rows by age, oldest
-- first, in bounded batches. These indexes make each batch an index range scan, not a table scan.
-- Entries, lots and allocations are the ledger itself and are never pruned.
CREATE INDEX IF NOT EXISTS commands_created_at ON commands (created_at);
CREATE INDEX IF NOT EXISTS command_requests_created_at ON command_requests (created_at);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);
CREATE INDEX IF NOT EXISTS partner_events_created_at ON partner_events (created_at);
