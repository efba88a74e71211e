-- Stored answers are replayed to clients: json keeps the bytes the ledger wrote (key order
-- included); jsonb would normalise them, so a replay would differ from the first answer.
ALTER TABLE commands ALTER COLUMN response TYPE json USING response::json;
ALTER TABLE idempotency_keys ALTER COLUMN response TYPE json USING response::json;
