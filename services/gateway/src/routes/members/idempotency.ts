import { inTransaction, type PoolClient } from "@points/shared/db";
import type { Request, Response } from "express";
import { principalName } from "../../auth";
import type { GatewayContext } from "../../context";
import { httpError } from "../../http-errors";
import { claimIdempotencyKey, type StoredResponse } from "../../idempotency-keys";
import { principalOf } from "../../permissions";
import { idempotencyKeyOf, requestHash } from "../../submit";

/**
 * Idempotency-Key for writes that do not go through the ledger. The key row and the answer are
 * written in the same transaction as the change itself, so either both exist or neither does:
 * a replay after a crash or restart finds the answer, or redoes a write that never happened.
 * Refusals (4xx) roll back with the change and are not kept; retrying them answers the same.
 */

export type { StoredResponse };

export interface WriteResult {
  response: StoredResponse;
  replayed: boolean;
}

export async function writeOnce(
  ctx: GatewayContext,
  req: Request,
  userId: string | null,
  write: (db: PoolClient) => Promise<StoredResponse>,
): Promise<WriteResult> {
  const key = idempotencyKeyOf(req);
  const actor = principalName(principalOf(req));
  const hash = requestHash(req);
  for (let attempt = 1; ; attempt++) {
    try {
      return await writeOnceAttempt(ctx, actor, key, hash, userId, write);
    } catch (err) {
      // A member deleted or renamed while the ledger writes its entries can deadlock with the
      // ledger's locks; Postgres has rolled this attempt back, so it is safe to run again.
      if (!TRANSIENT_CODES.has((err as { code?: string }).code ?? "")) throw err;
      if (attempt >= TRANSIENT_ATTEMPTS_MAX) {
        throw httpError(
          "unavailable",
          "the database stayed busy with conflicting writes; nothing was written",
        );
      }
    }
  }
}

/** Deadlock detected, serialization failure: transient, the whole transaction may be retried. */
const TRANSIENT_CODES = new Set(["40P01", "40001"]);
const TRANSIENT_ATTEMPTS_MAX = 5;

function writeOnceAttempt(
  ctx: GatewayContext,
  actor: string,
  key: string | undefined,
  hash: string,
  userId: string | null,
  write: (db: PoolClient) => Promise<StoredResponse>,
): Promise<WriteResult> {
  return inTransaction(ctx.pool, async (db) => {
    if (key !== undefined) {
      const claimed = await claimIdempotencyKey(db, { actor, key, requestHash: hash, userId });
      // Claimed before by a committed write (a concurrent one holds the row lock until it ends).
      if (claimed?.response) return { response: claimed.response, replayed: true };
      if (claimed)
        throw httpError(
          "idempotency_key_reused",
          "this Idempotency-Key was already used with a different request",
        );
    }
    const response = await write(db);
    if (key !== undefined) {
      await db.query("UPDATE idempotency_keys SET response = $3 WHERE actor = $1 AND key = $2", [
        actor,
        key,
        response,
      ]);
    }
    return { response, replayed: false };
  });
}

/** Sends a write's answer; a replay says so (as Stripe does), with the first answer unchanged. */
export function sendWrite(res: Response, { response, replayed }: WriteResult): void {
  if (replayed) res.setHeader("Idempotent-Replayed", "true");
  if (response.body === null) res.status(response.status).end();
  else res.status(response.status).json(response.body);
}
