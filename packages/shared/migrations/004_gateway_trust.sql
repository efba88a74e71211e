-- A command whose send to Kafka timed out is answered 202; when the send finally fails the
-- gateway records it here as 'failed' (it never reached the ledger; nothing was applied).
ALTER TABLE command_requests
  ADD COLUMN status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'failed'));

-- Who created a member: a partner's upsert may replace only the members it created. NULL is
-- the admin (and every member created before this column existed).
ALTER TABLE members ADD COLUMN created_by text;
