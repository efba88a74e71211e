-- Repair accounts.next_expiry written too late (2026-12-01 fix in the core's placeNegativesAgain):
-- a deduction moving off a newer expiring lot onto older points (a spend reversal, a hold
-- release, a back-dated earn) gave that lot unspent points again without lowering the book's
-- next-expiry bound. The ledger then stored a bound later than the lot's expires_at (or none),
-- so the scheduler sent no expire_due in time and the gateway kept a cached balance past it.
-- Sets the bound to the earliest expiry of the member's unspent lots where it is later; an early
-- bound is harmless (an early expire_due records nothing and makes it exact). Reads the
-- lots_expiring index; touches only the affected members' rows; both tables share user_id.
UPDATE accounts a
SET next_expiry = due.first_expiry
FROM (
  SELECT user_id, min(expires_at) AS first_expiry
  FROM lots
  WHERE remaining > 0 AND expires_at IS NOT NULL
  GROUP BY user_id
) due
WHERE a.user_id = due.user_id
  AND (a.next_expiry IS NULL OR a.next_expiry > due.first_expiry);
