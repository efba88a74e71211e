/**
 * What the report routes need from the report figures (contract 7, 8), agreed between the
 * gateway's route layer and the reports work (COORDINATION.md): store.ts implements it over the
 * figures the ledger maintains. Days are UTC `YYYY-MM-DD`; `to` is inclusive.
 */

import type { DailyRow, ReportRow } from "@points/shared";
import type { Pool } from "@points/shared/db";

export interface ReportStore {
  /** The first UTC day with an entry, or null when there is none. */
  firstEntryDay(pool: Pool): Promise<string | null>;
  /** One row per payer that ever had a lot (only `payer` when given), ordered by payer. */
  payerReport(pool: Pool, q: { from: string; to: string; payer?: string; now: Date }): Promise<ReportRow[]>;
  /** Members holding the payer's points at asOf (unexpired, held included), most first, then user_id. */
  payerMembers(
    pool: Pool,
    q: { payer: string; asOf: Date; limit: number; offset: number },
  ): Promise<{ count: number; rows: { user_id: string; outstanding: number }[] }>;
  /** One row per UTC day of [from, to]. */
  payerDaily(pool: Pool, q: { payer: string; from: string; to: string }): Promise<DailyRow[]>;
}
