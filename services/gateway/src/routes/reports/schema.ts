/** The shapes of the accounting report routes (contract 7, 8): what they accept and answer. */

import { PartnerId, ReportRow, Timestamp } from "@points/shared";
import { z } from "zod";
import { PageQuery } from "../../pagination";

/** Days one daily report may cover: ten years of chart points, one row each. */
export const DAILY_DAYS_MAX = 3_660;

const Day = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "must be a UTC day, YYYY-MM-DD")
  .refine((d) => {
    const t = Date.parse(`${d}T00:00:00Z`);
    return !Number.isNaN(t) && new Date(t).toISOString().slice(0, 10) === d;
  }, "must be a real calendar day");

export const PeriodQuery = z.object({
  from: Day.optional().meta({ description: "First UTC day (default: the first day with an entry)" }),
  to: Day.optional().meta({ description: "Last UTC day, inclusive (default: today; not after today)" }),
});
export const PayerParams = z.object({ payer: PartnerId });
export const MembersQuery = z.object({
  as_of: Timestamp.optional().meta({ description: "Default now; not in the future" }),
  ...PageQuery.shape,
});

/** The CSV's columns: the JSON row's fields, in their order. */
export const REPORT_COLUMNS = ReportRow.keyof().options;
