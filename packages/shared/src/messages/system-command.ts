import { z } from "zod";
import { UserId } from "./fields";

/**
 * Commands the ledger gives itself for time-driven changes (design decision 6): produced by the
 * ledger's scheduler to `ledger.commands`, keyed by user like every command, so the one writer of
 * the user applies them in order. No actor and no request hash: no client asked for them.
 * Their command ids are deterministic, so a scheduler that runs twice (restart, rebalance, two
 * instances for a moment) produces the same command and the ledger applies it once.
 */
export const SYSTEM_COMMAND_VERSION = 1;

export const SystemCommandBase = z.object({
  v: z.literal(SYSTEM_COMMAND_VERSION),
  command_id: z.string().min(1).max(128),
  user_id: UserId,
  origin: z.literal("ledger-scheduler"),
  sent_at: z.number().int().nonnegative(),
});
