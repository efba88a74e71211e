import { randomUUID } from "node:crypto";
import type {
  EarnCommand,
  HoldCaptureCommand,
  HoldPlaceCommand,
  HoldVoidCommand,
  LedgerCommand,
  ReverseCommand,
  SpendCommand,
  UseItemCommand,
} from "@points/shared";

/** Builders for ledger commands in tests (what the gateway or ingest would produce). */
const base = (userId: string) => ({
  v: 1 as const,
  command_id: randomUUID(),
  user_id: userId,
  actor: { role: "admin" as const, id: "admin" },
  request_hash: "h",
  sent_at: Date.now(),
});

export function earnCommand(
  userId: string,
  payer: string,
  points: number,
  timestamp: string,
  extra: Partial<EarnCommand> = {},
): EarnCommand {
  return {
    ...base(userId),
    type: "earn",
    payer,
    points,
    timestamp,
    authority_id: "admin",
    render: "transaction",
    ...extra,
  };
}

export function spendCommand(
  userId: string,
  points: number,
  extra: Partial<SpendCommand> = {},
): SpendCommand {
  return { ...base(userId), type: "spend", points, authority_id: "admin", render: "spend", ...extra };
}

export function useItemCommand(
  userId: string,
  entryId: string,
  extra: Partial<UseItemCommand> = {},
): UseItemCommand {
  return { ...base(userId), type: "use_item", entry_id: entryId, ...extra };
}

export function withId<T extends LedgerCommand>(cmd: T, commandId: string, requestHash = "h"): T {
  return { ...cmd, command_id: commandId, request_hash: requestHash };
}

export function reverseCommand(
  userId: string,
  entryId: string,
  extra: Partial<ReverseCommand> = {},
): ReverseCommand {
  return { ...base(userId), type: "reverse", entry_id: entryId, authority_id: "admin", ...extra };
}

export function holdPlaceCommand(
  userId: string,
  points: number,
  ttlS = 900,
  extra: Partial<HoldPlaceCommand> = {},
): HoldPlaceCommand {
  return {
    ...base(userId),
    type: "hold_place",
    hold_id: randomUUID(),
    points,
    ttl_s: ttlS,
    authority_id: "admin",
    ...extra,
  };
}

export function holdCaptureCommand(userId: string, holdId: string, points?: number): HoldCaptureCommand {
  return {
    ...base(userId),
    type: "hold_capture",
    hold_id: holdId,
    authority_id: "admin",
    ...(points !== undefined ? { points } : {}),
  };
}

export function holdVoidCommand(userId: string, holdId: string): HoldVoidCommand {
  return { ...base(userId), type: "hold_void", hold_id: holdId, authority_id: "admin" };
}
