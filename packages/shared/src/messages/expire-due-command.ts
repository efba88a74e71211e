import { z } from "zod";
import { Timestamp } from "./fields";
import { SystemCommandBase } from "./system-command";

/**
 * Record every expiry of the user due at or before `due_at` (contract 6.1). The ledger applies it
 * with now = max(due_at, its clock), so a command that waited in Kafka records at least what it
 * names. command_id: expireDueCommandId(user, due_at).
 */
export const ExpireDueCommand = SystemCommandBase.extend({
  type: z.literal("expire_due"),
  due_at: Timestamp,
});
export type ExpireDueCommand = z.infer<typeof ExpireDueCommand>;

export function expireDueCommandId(userId: string, dueAtIso: string): string {
  return `expire:${userId}:${dueAtIso}`;
}
