/** Reads of the holds table (written by the ledger, migration 008). */

import type { Pool } from "@points/shared/db";
import { httpError } from "../../http-errors";
import type { Hold } from "./schema";

/** A member's holds listed at once, newest first; bounded so a list is one index range scan. */
export const HOLDS_LIST_MAX = 1_000;

interface HoldRow {
  hold_id: string;
  user_id: string;
  points: string;
  status: Hold["status"];
  allocations: Hold["allocations"];
  expires_at: Date;
  created_on: Date;
}

const HOLD_COLUMNS = "hold_id, user_id, points, status, allocations, expires_at, created_on";

/** The wire shape of a hold, as the ledger answers it when it places or closes one. */
export function renderHold(r: HoldRow): Hold {
  return {
    hold_id: r.hold_id,
    user_id: r.user_id,
    points: Number(r.points),
    status: r.status,
    allocations: r.allocations,
    expires_at: r.expires_at.toISOString(),
    created_on: r.created_on.toISOString(),
  };
}

/** One hold of the member; 404 when the member has no such hold. */
export async function readHold(pool: Pool, userId: string, holdId: string): Promise<Hold> {
  const { rows } = await pool.query<HoldRow>(
    `SELECT ${HOLD_COLUMNS} FROM holds WHERE user_id = $1 AND hold_id = $2`,
    [userId, holdId],
  );
  if (!rows[0]) throw httpError("not_found", `hold ${holdId} not found`);
  return renderHold(rows[0]);
}

/** The member's holds (optionally of one status), newest first; 404 for an unknown member. */
export async function listHolds(
  pool: Pool,
  userId: string,
  status: Hold["status"] | undefined,
): Promise<Hold[]> {
  const { rows } = await pool.query<HoldRow & { member: boolean }>(
    `SELECT m.loyalty_id IS NOT NULL AS member, h.*
       FROM (SELECT 1) one
       LEFT JOIN members m ON m.loyalty_id = $1
       LEFT JOIN LATERAL (SELECT ${HOLD_COLUMNS} FROM holds
                           WHERE user_id = $1 AND ($2::text IS NULL OR status = $2)
                           ORDER BY created_on DESC, hold_id LIMIT $3) h ON true`,
    [userId, status ?? null, HOLDS_LIST_MAX],
  );
  if (!rows[0]?.member) throw httpError("not_found", `member ${userId} not found`);
  return rows.filter((r) => r.hold_id !== null).map(renderHold);
}
