import { z } from "zod";
import { CommandBase } from "./command";
import { HoldId, HoldTtlSeconds, PositivePoints, Reason } from "./fields";

/**
 * POST /v1/users/{userId}/holds (contract 6.3). The gateway fills in hold_id (a new uuid) and
 * ttl_s (default HOLD_TTL_S_DEFAULT), so the command says everything the ledger needs.
 */
export const HoldPlaceCommand = CommandBase.extend({
  type: z.literal("hold_place"),
  hold_id: HoldId,
  points: PositivePoints,
  ttl_s: HoldTtlSeconds,
  reason: Reason.optional(),
  authority_id: z.string().min(1).max(100),
});
export type HoldPlaceCommand = z.infer<typeof HoldPlaceCommand>;
