-- Partners, tokens and the member register (owned by the gateway), and the ledger (owned by the
-- ledger service). Every ledger table carries user_id and keys on it first, so the schema can be
-- distributed by user (Citus) the same way Kafka partitions commands.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE partners (
  id             text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 100),
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- HMAC needs the secret itself, so unlike tokens it cannot be stored as a hash.
  signing_secret text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Bearer tokens, stored only as SHA-256 hashes. One live token per partner or member: issuing a
-- new one replaces the old.
CREATE TABLE tokens (
  token_hash bytea PRIMARY KEY,
  role       text NOT NULL CHECK (role IN ('partner', 'member')),
  subject    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (role, subject)
);

CREATE TABLE members (
  loyalty_id      text PRIMARY KEY CHECK (length(loyalty_id) BETWEEN 1 AND 50),
  cardno          text CHECK (length(cardno) <= 20),
  discount        numeric(20, 4),
  client_name     text NOT NULL CHECK (length(client_name) BETWEEN 1 AND 200),
  client_birthday date NOT NULL,
  is_male         boolean,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Substring search on name or card number stays index-backed at a million members.
CREATE INDEX members_client_name_trgm ON members USING gin (lower(client_name) gin_trgm_ops);
CREATE INDEX members_cardno_trgm ON members USING gin (lower(cardno) gin_trgm_ops);
CREATE INDEX members_client_name ON members (client_name, loyalty_id);
CREATE INDEX members_cardno ON members (cardno, loyalty_id);
CREATE INDEX members_client_birthday ON members (client_birthday, loyalty_id);

-- One row per user that ever had a ledger command applied: the user's version (seq, bumped by
-- every applied command; the Redis cache keys on it), the next lot arrival number, and the total.
CREATE TABLE accounts (
  user_id      text PRIMARY KEY REFERENCES members (loyalty_id) ON DELETE CASCADE ON UPDATE CASCADE,
  seq          bigint NOT NULL DEFAULT 0 CHECK (seq >= 0),
  next_arrival bigint NOT NULL DEFAULT 1 CHECK (next_arrival >= 1),
  total        bigint NOT NULL DEFAULT 0 CHECK (total >= 0)
);

CREATE TABLE payer_balances (
  user_id    text NOT NULL,
  payer      text NOT NULL,
  available  bigint NOT NULL CHECK (available >= 0),
  -- Sum of accepted negative transactions of this payer (they sit on its oldest points).
  adjusted   bigint NOT NULL CHECK (adjusted >= 0),
  first_seen bigint NOT NULL,
  PRIMARY KEY (user_id, payer)
);

-- Every applied change, append-only. Deleting or renaming a member with entries is refused by
-- this foreign key, not only by a check in the code.
CREATE TABLE entries (
  user_id      text NOT NULL REFERENCES members (loyalty_id) ON DELETE RESTRICT ON UPDATE RESTRICT,
  entry_id     uuid NOT NULL,
  seq          bigint NOT NULL,
  type         text NOT NULL CHECK (type IN ('earn', 'adjust', 'spend', 'use_item')),
  authority_id text NOT NULL,
  payer        text,
  amount       bigint NOT NULL,
  ts           timestamptz,
  created_on   timestamptz NOT NULL,
  reason       text,
  item_name    text,
  item_data    jsonb,
  item_used    boolean,
  command_id   text NOT NULL,
  -- For a spend: [{payer, points}] in first-touched order, as answered to the client.
  allocations  jsonb,
  PRIMARY KEY (user_id, entry_id),
  CHECK ((item_name IS NULL) = (item_used IS NULL))
);
CREATE INDEX entries_user_seq ON entries (user_id, seq DESC, entry_id);
CREATE UNIQUE INDEX entries_entry_id ON entries (entry_id);
CREATE INDEX entries_items ON entries (authority_id, user_id) WHERE item_name IS NOT NULL;

-- Lots: one per earn. remaining is what spends and negatives may still take; adjusted is what
-- negatives of the same payer took. Only these two columns ever change, and every change is an
-- allocations row.
CREATE TABLE lots (
  user_id   text NOT NULL,
  arrival   bigint NOT NULL,
  entry_id  uuid NOT NULL,
  payer     text NOT NULL,
  ts        timestamptz NOT NULL,
  points    bigint NOT NULL CHECK (points > 0),
  remaining bigint NOT NULL CHECK (remaining >= 0),
  adjusted  bigint NOT NULL CHECK (adjusted >= 0),
  CHECK (remaining + adjusted <= points),
  PRIMARY KEY (user_id, arrival)
);
-- Spends walk live lots oldest first; negatives walk one payer's; re-placement walks adjusted ones.
CREATE INDEX lots_live ON lots (user_id, ts, arrival) WHERE remaining > 0;
CREATE INDEX lots_live_payer ON lots (user_id, payer, ts, arrival) WHERE remaining > 0;
CREATE INDEX lots_adjusted ON lots (user_id, payer, ts, arrival) WHERE adjusted > 0;

CREATE TABLE allocations (
  user_id         text NOT NULL,
  entry_id        uuid NOT NULL,
  arrival         bigint NOT NULL,
  payer           text NOT NULL,
  remaining_delta bigint NOT NULL,
  adjusted_delta  bigint NOT NULL,
  PRIMARY KEY (user_id, entry_id, arrival)
);
CREATE INDEX allocations_lot ON allocations (user_id, arrival);

-- Every command the ledger decided, applied or rejected, with the answer it gave. A redelivered
-- command finds its row here and is answered again, never applied twice.
CREATE TABLE commands (
  user_id      text NOT NULL,
  command_id   text NOT NULL,
  request_hash text NOT NULL,
  type         text NOT NULL,
  status       text NOT NULL CHECK (status IN ('applied', 'rejected')),
  actor        text NOT NULL,
  response     jsonb NOT NULL,
  seq          bigint,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (user_id, command_id)
);
CREATE INDEX commands_command_id ON commands (command_id);

-- Commands the gateway answered 202 for, so GET /v1/commands/{id} can say "pending".
CREATE TABLE command_requests (
  command_id text PRIMARY KEY,
  user_id    text NOT NULL,
  actor      text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Idempotency-Key records, scoped to the caller. For points commands the command id derives from
-- the key, and the ledger's commands table holds the answer; response is used by routes that do
-- not go through the ledger (the member register).
CREATE TABLE idempotency_keys (
  actor        text NOT NULL,
  key          text NOT NULL,
  request_hash text NOT NULL,
  command_id   text,
  user_id      text,
  response     jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (actor, key)
);
