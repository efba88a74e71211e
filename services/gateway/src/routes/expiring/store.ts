/** The expiring-points read: the member's expiring lots from Postgres, the rule from @points/core. */

import type { Pool } from "@points/shared/db";
import { expiringRows } from "../../book-reads";

export function expiringPoints(pool: Pool, userId: string, now: number, before: number) {
  return expiringRows(pool, userId, now, before);
}
