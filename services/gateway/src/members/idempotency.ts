import { inTransaction, type PoolClient } from "@points/shared/db";
import type { Request, Response } from "express";
import { principalName } from "../auth";
import type { GatewayContext } from "../context";
import { httpError } from "../http-errors";
import { principalOf } from "../permissions";
import { idempotencyKeyOf, requestHash } from "../submit";

/**
 * Idempotency-Key for writes that do not go through the ledger. The key row and the answer are
 * written in the same transaction as the change itself, so either both exist or neither does:
 * a replay after a crash or restart finds the answer, or redoes a write that never happened.
 * Refusals (4xx) roll back with the change and are not kept; retrying them answers the same.
 */

export interface StoredResponse {
  status: number;
  body: unknown;
}

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
      const stored = await claimKey(db, actor, key, hash, userId);
      if (stored) return { response: stored, replayed: true };
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

/**
 * Null when the key is new (now held by this transaction). A concurrent request with the same
 * key waits on the primary key until this one commits or rolls back, then sees its outcome.
 */
async function claimKey(
  db: PoolClient,
  actor: string,
  key: string,
  hash: string,
  userId: string | null,
): Promise<StoredResponse | null> {
  const claimed = await db.query(
    `INSERT INTO idempotency_keys (actor, key, request_hash, user_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (actor, key) DO NOTHING`,
    [actor, key, hash, userId],
  );
  if (claimed.rowCount === 1) return null;
  const { rows } = await db.query<{ request_hash: string; response: StoredResponse | null }>(
    "SELECT request_hash, response FROM idempotency_keys WHERE actor = $1 AND key = $2",
    [actor, key],
  );
  const row = rows[0];
  // No stored response: the key belongs to a points command (answered by the ledger).
  if (!row || row.request_hash !== hash || row.response === null) {
    throw httpError(
      "idempotency_key_reused",
      "this Idempotency-Key was already used with a different request",
    );
  }
  return row.response;
}

/** Sends a write's answer; a replay says so (as Stripe does), with the first answer unchanged. */
export function sendWrite(res: Response, { response, replayed }: WriteResult): void {
  if (replayed) res.setHeader("Idempotent-Replayed", "true");
  if (response.body === null) res.status(response.status).end();
  else res.status(response.status).json(response.body);
}
