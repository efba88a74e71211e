/** The shapes of the hold routes (contract 6.3): what they accept and answer. */

import { HOLD_TTL_S_DEFAULT, HoldId, HoldTtlSeconds, PositivePoints, Reason, UserId } from "@points/shared";
import { z } from "zod";

export const HoldStatus = z.enum(["held", "captured", "voided", "expired"]);
export const UserParams = z.object({ userId: UserId });
export const HoldParams = z.object({ userId: UserId, hold_id: HoldId });

export const PlaceHoldBody = z.strictObject({
  points: PositivePoints,
  reason: Reason.optional(),
  ttl_s: HoldTtlSeconds.optional().meta({
    description: `Seconds until the ledger voids the hold (status expired); default ${HOLD_TTL_S_DEFAULT}`,
  }),
});
export const CaptureBody = z
  .strictObject({ points: PositivePoints.optional().meta({ description: "1..held; default all" }) })
  .optional();
/** POST .../void carries no body; an empty object is tolerated for clients that always send one. */
export const VoidBody = z.strictObject({}).optional();
export const HoldsQuery = z.object({ status: HoldStatus.optional() });

const Allocation = z.object({ payer: z.string(), points: z.number().int() });
export const Hold = z
  .object({
    hold_id: z.uuid(),
    user_id: z.string(),
    points: z.number().int(),
    status: HoldStatus,
    allocations: z.array(Allocation).meta({ description: "Points taken per payer (negative), oldest first" }),
    expires_at: z.string(),
    created_on: z.string(),
  })
  .meta({ id: "Hold" });
export type Hold = z.infer<typeof Hold>;
