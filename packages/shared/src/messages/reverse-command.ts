import { z } from "zod";
import { CommandBase } from "./command";
import { EntryId, PositivePoints, Reason } from "./fields";

/**
 * POST /v1/users/{userId}/entries/{entry_id}/reversals (contract 6.2). `points` absent: all the
 * entry has left to reverse. Answers with the reversal Entry (201).
 */
export const ReverseCommand = CommandBase.extend({
  type: z.literal("reverse"),
  entry_id: EntryId,
  points: PositivePoints.optional(),
  reason: Reason.optional(),
  authority_id: z.string().min(1).max(100),
  /** When set, the entry must have been created by this authority (partner callers). */
  only_authority: z.string().min(1).max(100).optional(),
});
export type ReverseCommand = z.infer<typeof ReverseCommand>;
