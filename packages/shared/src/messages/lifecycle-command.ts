import { z } from "zod";
import { LedgerCommand } from "./command";
import { ExpireDueCommand } from "./expire-due-command";
import { HoldCaptureCommand } from "./hold-capture-command";
import { HoldExpireCommand } from "./hold-expire-command";
import { HoldPlaceCommand } from "./hold-place-command";
import { HoldVoidCommand } from "./hold-void-command";
import { ReverseCommand } from "./reverse-command";

/**
 * The lifecycle commands on `ledger.commands`. Kept apart from LedgerCommand until the ledger
 * handles them: a ledger that parses with LedgerCommand dead-letters them (unknown type) rather
 * than misreading them. The integrator switches the consumer to AnyLedgerCommand.
 */
export const LifecycleCommand = z.discriminatedUnion("type", [
  ReverseCommand,
  HoldPlaceCommand,
  HoldCaptureCommand,
  HoldVoidCommand,
  ExpireDueCommand,
  HoldExpireCommand,
]);
export type LifecycleCommand = z.infer<typeof LifecycleCommand>;

export const AnyLedgerCommand = z.discriminatedUnion("type", [
  ...LedgerCommand.options,
  ...LifecycleCommand.options,
]);
export type AnyLedgerCommand = z.infer<typeof AnyLedgerCommand>;
