-- Points lifecycle (contract section 6): expiry, reversals, holds, balance at an instant.
-- Draft for the ledger integration (docs/lifecycle-design.md). Every ledger table's primary key
-- starts with user_id (design decision 2: Citus distributes by user_id); no row is shared
-- between users, so no transaction needs two users.

-- 6.1: per-partner validity; a change applies to points earned after it.
ALTER TABLE partners
  ADD COLUMN points_validity_days integer CHECK (points_validity_days BETWEEN 1 AND 36500);

-- A lot's lifecycle parts. spent = points - remaining - adjusted - held - expired - reversed.
-- expires_at is already max(expires_at asked, applied instant); NULL = never.
ALTER TABLE lots
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN held       bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
  ADD COLUMN expired    bigint NOT NULL DEFAULT 0 CHECK (expired >= 0),
  ADD COLUMN reversed   bigint NOT NULL DEFAULT 0 CHECK (reversed >= 0),
  ADD CONSTRAINT lots_parts_within_points CHECK (remaining + adjusted + held + expired + reversed <= points);
-- A book now also needs lots with held points (not only remaining/adjusted).
CREATE INDEX lots_held ON lots (user_id, ts, arrival) WHERE held > 0;
-- GET /expiring and a user's next expiry: the user's unspent lots by expiry.
CREATE INDEX lots_expiring ON lots (user_id, expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;

-- Scheduling (who sends expire_due / hold_expire commands): one row per member, kept by the
-- ledger in the same transaction as the member's changes (from the core's book: the earliest
-- expires_at of a lot with remaining > 0, and of an open hold). The scheduler of each ledger
-- instance reads only the Kafka partitions it owns: WHERE kafka_partition = ANY($owned) AND
-- next_due <= now() ORDER BY next_due LIMIT n. Cost follows the members due, not the lots.
ALTER TABLE accounts
  ADD COLUMN kafka_partition  integer,
  ADD COLUMN next_expiry      timestamptz,
  ADD COLUMN next_hold_expiry timestamptz,
  -- Book.expiredThrough: expiry recorded for every lot with expires_at <= this.
  ADD COLUMN expired_through  timestamptz,
  ADD COLUMN next_due         timestamptz GENERATED ALWAYS AS (LEAST(next_expiry, next_hold_expiry)) STORED;
CREATE INDEX accounts_due ON accounts (kafka_partition, next_due) WHERE next_due IS NOT NULL;

ALTER TABLE payer_balances
  ADD COLUMN held          bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
  -- When the payer was first seen (its first lot's applied instant): balance as_of leaves
  -- later payers out.
  ADD COLUMN first_seen_at timestamptz;

-- Entries: the new types, what a reversal reverses, how much of an entry has been reversed,
-- the hold a capture spent, and an earn's expiry.
ALTER TABLE entries DROP CONSTRAINT entries_type_check;
ALTER TABLE entries
  ADD CONSTRAINT entries_type_check CHECK (type IN ('earn', 'adjust', 'spend', 'use_item', 'expire', 'reversal')),
  ADD COLUMN reverses   uuid,
  ADD COLUMN reversed   bigint NOT NULL DEFAULT 0 CHECK (reversed >= 0),
  ADD COLUMN hold_id    uuid,
  ADD COLUMN expires_at timestamptz,
  ADD CONSTRAINT entries_reverses_only_reversals CHECK ((type = 'reversal') = (reverses IS NOT NULL)),
  ADD CONSTRAINT entries_reversed_within_amount CHECK (reversed <= abs(amount));
CREATE INDEX entries_reverses ON entries (user_id, reverses) WHERE reverses IS NOT NULL;

-- Allocations explain every change of a lot's parts (decision 4). `reversed` on a spend's
-- allocation is how much of that take reversals gave back (the core's SpendTake.reversed).
ALTER TABLE allocations
  ADD COLUMN held_delta     bigint NOT NULL DEFAULT 0,
  ADD COLUMN expired_delta  bigint NOT NULL DEFAULT 0,
  ADD COLUMN reversed_delta bigint NOT NULL DEFAULT 0,
  ADD COLUMN reversed       bigint NOT NULL DEFAULT 0 CHECK (reversed >= 0);

-- 6.3 holds. `allocations` as answered ([{payer, points}] negative, per payer).
CREATE TABLE holds (
  user_id          text NOT NULL,
  hold_id          uuid NOT NULL,
  points           bigint NOT NULL CHECK (points > 0),
  status           text NOT NULL CHECK (status IN ('held', 'captured', 'voided', 'expired')),
  authority_id     text NOT NULL,
  reason           text,
  allocations      jsonb NOT NULL,
  created_on       timestamptz NOT NULL,
  expires_at       timestamptz NOT NULL,
  closed_on        timestamptz,
  captured         bigint CHECK (captured > 0 AND captured <= points),
  capture_entry_id uuid,
  command_id       text NOT NULL,
  PRIMARY KEY (user_id, hold_id),
  CHECK ((status = 'held') = (closed_on IS NULL)),
  CHECK ((status = 'captured') = (capture_entry_id IS NOT NULL))
);
CREATE INDEX holds_user_status ON holds (user_id, status, created_on DESC, hold_id);

-- What a hold took from each lot (the core's HoldTake, oldest first) and what its close gave
-- back: step 0 = place, 1 = close (void, expiry, or a capture's release; a capture's spent part
-- is the spend entry's allocations).
CREATE TABLE hold_allocations (
  user_id         text NOT NULL,
  hold_id         uuid NOT NULL,
  step            smallint NOT NULL CHECK (step IN (0, 1)),
  arrival         bigint NOT NULL,
  payer           text NOT NULL,
  ts              timestamptz NOT NULL,
  remaining_delta bigint NOT NULL,
  held_delta      bigint NOT NULL,
  -- A release may move a payer's deductions onto the lot it gave points back to (rule 3).
  adjusted_delta  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, hold_id, step, arrival)
);

-- 6.4 and 7: the core's movements, per entry (or hold step) and payer, at the instant each
-- counts (an expiry at the instant the points expired). Balance as_of = the current exact
-- balance minus the movements after the instant (or a snapshot plus those after it), so its cost
-- follows the member's changes since the instant, not the whole history.
CREATE TABLE movements (
  user_id  text NOT NULL,
  -- The member's version (accounts.seq) of the change that wrote it: a hold placed and voided
  -- within the same millisecond moves the same (source, payer, category, at) twice.
  seq      bigint NOT NULL,
  source   uuid NOT NULL,  -- entry_id, or hold_id for held movements of a place/void/expiry
  payer    text NOT NULL,
  category text NOT NULL CHECK (category IN ('earned', 'adjusted', 'spent', 'spend_reversed',
                                             'earn_reversed', 'expired', 'held')),
  at       timestamptz NOT NULL,
  points   bigint NOT NULL CHECK (points <> 0),
  PRIMARY KEY (user_id, seq, source, payer, category, at)
);
CREATE INDEX movements_user_at ON movements (user_id, at);

-- Exact balances at an instant (the core's balancesAt), written by the ledger before the first
-- change of a member on each UTC day, so as_of far back starts from the nearest snapshot.
CREATE TABLE balance_snapshots (
  user_id  text NOT NULL,
  at       timestamptz NOT NULL,
  balances jsonb NOT NULL,  -- [{payer, points}] in first-seen order
  PRIMARY KEY (user_id, at)
);
