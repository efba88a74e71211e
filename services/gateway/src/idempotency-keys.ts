import type { Pool, PoolClient } from "@points/shared/db";
import { httpError } from "./http-errors";

/**
 * The one claim of an Idempotency-Key, for both kinds of write: points commands (the ledger holds
 * the answer, found by command_id) and register writes (the answer is stored on the key row).
 * Keys are scoped to the caller; "the same request" is requestHash (submit.ts).
 */

export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface KeyClaim {
  actor: string;
  key: string;
  requestHash: string;
  userId: string | null;
  /** Points commands: the command id derived from the key. */
  commandId?: string;
}

/** Null when the key is new (now claimed); otherwise the first claim's stored response, if any. */
export async function claimIdempotencyKey(
  db: Pool | PoolClient,
  claim: KeyClaim,
): Promise<{ response: StoredResponse | null } | null> {
  const inserted = await db.query(
    `INSERT INTO idempotency_keys (actor, key, request_hash, command_id, user_id) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (actor, key) DO NOTHING`,
    [claim.actor, claim.key, claim.requestHash, claim.commandId ?? null, claim.userId],
  );
  if (inserted.rowCount === 1) return null;
  const { rows } = await db.query<{
    request_hash: string;
    command_id: string | null;
    response: StoredResponse | null;
  }>("SELECT request_hash, command_id, response FROM idempotency_keys WHERE actor = $1 AND key = $2", [
    claim.actor,
    claim.key,
  ]);
  const row = rows[0];
  // A key of the other kind (a command's key reused on a register write, or back) is another request too.
  const sameKind = (row?.command_id ?? null) === (claim.commandId ?? null);
  if (!row || row.request_hash !== claim.requestHash || !sameKind) {
    throw httpError(
      "idempotency_key_reused",
      "this Idempotency-Key was already used with a different request",
    );
  }
  return { response: row.response };
}
