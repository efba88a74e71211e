import { z } from "zod";
import { CommandBase } from "./command";
import { HoldId, PositivePoints } from "./fields";

/** POST .../holds/{hold_id}/capture (contract 6.3): answers with the spend Entry (with hold_id). */
export const HoldCaptureCommand = CommandBase.extend({
  type: z.literal("hold_capture"),
  hold_id: HoldId,
  /** 1..held; absent = all. */
  points: PositivePoints.optional(),
  authority_id: z.string().min(1).max(100),
});
export type HoldCaptureCommand = z.infer<typeof HoldCaptureCommand>;
