/** The shapes of the reversal route (contract 6.2). */

import { EntryId, PositivePoints, Reason, UserId } from "@points/shared";
import { z } from "zod";

export const ReversalParams = z.object({ userId: UserId, entry_id: EntryId });
export const ReversalBody = z
  .strictObject({
    points: PositivePoints.optional().meta({
      description: "Default: all the entry has left to reverse (expired points are never reversible)",
    }),
    reason: Reason.optional(),
  })
  .optional();
