/**
 * The accounting reports' answers (contract 7, 8), in one place: the gateway validates and
 * documents them with these schemas, and the console reads them with the types (a type-only
 * import, so nothing of this module enters the console's bundle).
 */

import { z } from "zod";

const Points = z.number().int();

/** A period's movements, in the order the report's columns list them. */
const movements = {
  earned: Points,
  adjusted: Points.meta({ description: "Negative transactions" }),
  spent: Points.meta({ description: "Spends and hold captures" }),
  spend_reversed: Points,
  earn_reversed: Points,
  expired: Points.meta({ description: "Counted at the instant the points expired" }),
};

export const ReportRow = z
  .object({
    payer: z.string(),
    opening: Points.meta({ description: "Unspent, unexpired points (held included) at the start of `from`" }),
    ...movements,
    closing: Points.meta({
      description:
        "= opening + earned - adjusted - spent + spend_reversed - earn_reversed - expired (end of `to`, or now)",
    }),
    held: Points.meta({ description: "How many of `closing` sit in open holds" }),
  })
  .meta({ id: "PayerReportRow" });
export type ReportRow = z.infer<typeof ReportRow>;

export const PayerReport = z
  .object({ from: z.string(), to: z.string(), payers: z.array(ReportRow) })
  .meta({ id: "PayerReport" });
export type PayerReport = z.infer<typeof PayerReport>;

export const MemberOutstanding = z
  .object({ user_id: z.string(), outstanding: Points })
  .meta({ id: "MemberOutstanding" });
export type MemberOutstanding = z.infer<typeof MemberOutstanding>;

export const DailyRow = z.object({ day: z.string(), ...movements, closing: Points }).meta({ id: "PayerDay" });
export type DailyRow = z.infer<typeof DailyRow>;
