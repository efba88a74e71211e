import { z } from "zod";
import { CommandBase } from "./command";
import { HoldId } from "./fields";

/** POST .../holds/{hold_id}/void (contract 6.3): answers with the hold, status "voided". */
export const HoldVoidCommand = CommandBase.extend({
  type: z.literal("hold_void"),
  hold_id: HoldId,
  authority_id: z.string().min(1).max(100),
});
export type HoldVoidCommand = z.infer<typeof HoldVoidCommand>;
