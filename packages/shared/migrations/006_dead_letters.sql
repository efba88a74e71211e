-- What the ingest (partner.transactions) and the ledger (ledger.commands) dead-letter, kept
-- readable for operators (GET /v1/dead-letters, the console's Dead letters page). The full copy
-- stays on the .dlq topics; a row keeps a bounded excerpt of the value, and each source keeps only
-- its newest rows (DEAD_LETTERS_KEPT_PER_SOURCE in dead-letter-store.ts prunes the rest), so a
-- flood of bad messages cannot grow this table without bound. Operational data, not ledger data:
-- no user_id (a dead letter may have no valid user at all).
CREATE TABLE dead_letters (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL CHECK (source IN ('partner', 'ledger')),
  "partition"   integer NOT NULL,
  "offset"      bigint NOT NULL,
  partner_id    text CHECK (length(partner_id) <= 200),
  error_code    text NOT NULL CHECK (length(error_code) <= 100),
  error_message text NOT NULL CHECK (length(error_message) <= 1000),
  value_excerpt text NOT NULL CHECK (length(value_excerpt) <= 2048),
  received_at   timestamptz NOT NULL DEFAULT now(),
  -- A retried chunk may dead-letter the same message twice: one row per message.
  UNIQUE (source, "partition", "offset")
);
CREATE INDEX dead_letters_newest ON dead_letters (source, id DESC);
