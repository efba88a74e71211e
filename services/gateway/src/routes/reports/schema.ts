/** The shapes of the accounting report routes (contract 7, 8): what they accept and answer. */

import { PartnerId, Timestamp } from "@points/shared";
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

const Points = z.number().int();
export const ReportRow = z
  .object({
    payer: z.string(),
    opening: Points.meta({ description: "Unspent, unexpired points (held included) at the start of `from`" }),
    earned: Points,
    adjusted: Points.meta({ description: "Negative transactions" }),
    spent: Points.meta({ description: "Spends and hold captures" }),
    spend_reversed: Points,
    earn_reversed: Points,
    expired: Points.meta({ description: "Counted at the instant the points expired" }),
    closing: Points.meta({
      description:
        "= opening + earned - adjusted - spent + spend_reversed - earn_reversed - expired (end of `to`, or now)",
    }),
    held: Points.meta({ description: "How many of `closing` sit in open holds" }),
  })
  .meta({ id: "PayerReportRow" });
export const PayerReport = z
  .object({ from: z.string(), to: z.string(), payers: z.array(ReportRow) })
  .meta({ id: "PayerReport" });
export const MemberOutstanding = z
  .object({ user_id: z.string(), outstanding: Points })
  .meta({ id: "MemberOutstanding" });
export const DailyRow = z
  .object({
    day: z.string(),
    earned: Points,
    adjusted: Points,
    spent: Points,
    spend_reversed: Points,
    earn_reversed: Points,
    expired: Points,
    closing: Points,
  })
  .meta({ id: "PayerDay" });

export const REPORT_COLUMNS = [
  "payer",
  "opening",
  "earned",
  "adjusted",
  "spent",
  "spend_reversed",
  "earn_reversed",
  "expired",
  "closing",
  "held",
] as const;
