/** The shapes of the Fetch-style points API: what its routes accept and answer. */

import { PartnerId, PositivePoints, Reason, SignedPoints, Timestamp, UserId } from "@points/shared";
import { z } from "zod";

export const TransactionBody = z.strictObject({
  payer: PartnerId,
  points: SignedPoints,
  timestamp: Timestamp,
});
export const SpendBody = z.strictObject({ points: PositivePoints, reason: Reason.optional() });
export const UserParams = z.object({ userId: UserId });

export const Allocation = z.object({ payer: z.string(), points: z.number().int() });
export const UserEntry = z
  .object({
    entry_id: z.string().uuid(),
    authority_id: z.string(),
    user_id: z.string(),
    created_on: z.number().int(),
    amount: z.number().int(),
    reason: z.string().nullable(),
    type: z.enum(["earn", "adjust", "spend", "use_item"]),
    payer: z.string().optional(),
    timestamp: z.string().optional(),
    item: z.object({ name: z.string(), used: z.boolean(), data: z.unknown().optional() }).optional(),
    allocations: z.array(Allocation).optional(),
  })
  .meta({ id: "UserEntry" });
export const TransactionAnswer = z.object({
  entry_id: z.string(),
  payer: z.string(),
  points: z.number().int(),
  timestamp: z.string(),
});
export const Balance = z.record(z.string(), z.number().int());
