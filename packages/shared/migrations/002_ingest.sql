-- Partner event ids the ingest service has forwarded (owned by ingest). The ledger dedupes commands
-- per (user_id, command_id), so on its own it cannot see one event_id re-sent for a different
-- user: that would be a second award. This table binds each (partner, event_id) to the first
-- content seen for it; a later message with the same id and other content is dead-lettered.
-- Keyed by partner, not user, on purpose: it exists to compare across users. Under Citus it is
-- distributed by partner_id. Rows can be pruned by created_at once partners may no longer re-send
-- that old an event (a re-send after pruning is then checked by the ledger only).
CREATE TABLE partner_events (
  partner_id   text NOT NULL,
  event_id     text NOT NULL CHECK (length(event_id) BETWEEN 1 AND 200),
  request_hash text NOT NULL,
  user_id      text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (partner_id, event_id)
);
