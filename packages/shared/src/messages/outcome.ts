import { z } from "zod";
import { ERROR_STATUS, type ErrorCode } from "../errors";
import { EntryEvent, HoldEvent } from "./entry-event";

/**
 * `ledger.events` and the gateway's reply channel: the outcome of every command, applied or
 * rejected, with the HTTP answer already rendered so every path (sync reply, 202 + poll,
 * idempotent replay) returns byte-for-byte the same thing.
 */
export const HttpResponse = z.object({ status: z.number().int(), body: z.unknown() });
export type HttpResponse = z.infer<typeof HttpResponse>;

const errorCodes = Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]];

export const LedgerOutcome = z.object({
  v: z.literal(1),
  command_id: z.string(),
  user_id: z.string(),
  type: z.string(),
  status: z.enum(["applied", "rejected"]),
  code: z.enum(errorCodes).optional(),
  response: HttpResponse,
  /** The user's version after this command (applied only). */
  seq: z.number().int().optional(),
  actor: z.string(),
  event_id: z.string().optional(),
  applied_at: z.string(),
  /**
   * Lifecycle: the entries this command wrote, in order (e.g. an `expire` recorded first, then
   * the command's own entry, then an `expire` for points given back to expired lots), and the
   * hold it touched. Optional: earlier outcomes have neither.
   */
  entries: z.array(EntryEvent).optional(),
  hold: HoldEvent.optional(),
});
export type LedgerOutcome = z.infer<typeof LedgerOutcome>;

export const CommandStatus = z.object({
  id: z.string(),
  status: z.enum(["pending", "applied", "rejected"]),
  response: HttpResponse.optional(),
});
