-- The lots indexes serve the ledger's walks in "oldest first" order, which must agree with
-- compareLots of @points/core (by ts, then arrival). Said where an operator reads the schema.
COMMENT ON INDEX lots_live IS 'Spends walk live lots oldest first: (ts, arrival) mirrors compareLots of @points/core';
COMMENT ON INDEX lots_live_payer IS 'Negatives walk one payer''s live lots oldest first: (ts, arrival) mirrors compareLots of @points/core';
COMMENT ON INDEX lots_adjusted IS 'Earns take negatives over from a payer''s adjusted lots newest first: compareLots of @points/core, reversed';
