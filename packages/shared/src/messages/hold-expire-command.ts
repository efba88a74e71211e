import { z } from "zod";
import { HoldId, Timestamp } from "./fields";
import { SystemCommandBase } from "./system-command";

/** Void a hold whose ttl ran out (contract 6.3, status "expired"). command_id: holdExpireCommandId. */
export const HoldExpireCommand = SystemCommandBase.extend({
  type: z.literal("hold_expire"),
  hold_id: HoldId,
  due_at: Timestamp,
});
export type HoldExpireCommand = z.infer<typeof HoldExpireCommand>;

export function holdExpireCommandId(userId: string, holdId: string): string {
  return `hold-expire:${userId}:${holdId}`;
}
