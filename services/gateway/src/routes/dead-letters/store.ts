/**
 * Reads the bounded `dead_letters` table the ingest's and the ledger's dead-lettering write
 * (dead-letter-store.ts), newest first.
 */

import type { Pool } from "@points/shared/db";
import type { DeadLetter, DeadLettersQuery } from "./schema";

interface Row {
  source: "partner" | "ledger";
  partition: number;
  offset: string;
  partner_id: string | null;
  error_code: string;
  error_message: string;
  received_at: Date;
  value_excerpt: string;
}

export async function recentDeadLetters(pool: Pool, query: DeadLettersQuery): Promise<DeadLetter[]> {
  const { rows } = await pool.query<Row>(
    `SELECT source, "partition", "offset"::text AS "offset", partner_id, error_code, error_message,
            received_at, value_excerpt
       FROM dead_letters WHERE ($1::text IS NULL OR source = $1) ORDER BY id DESC LIMIT $2`,
    [query.source ?? null, query.limit],
  );
  return rows.map((r) => ({
    source: r.source,
    partition: r.partition,
    offset: r.offset,
    ...(r.partner_id === null ? {} : { partner_id: r.partner_id }),
    error_code: r.error_code,
    error_message: r.error_message,
    received_at: r.received_at.toISOString(),
    value_excerpt: r.value_excerpt,
  }));
}
