import { z } from "zod";
import {
  EntryId,
  ExpiresAt,
  ItemInput,
  PartnerId,
  PositivePoints,
  Reason,
  SignedPoints,
  Timestamp,
  UserId,
} from "./fields";

/**
 * `ledger.commands`: what the gateway and ingest ask the ledger to do, keyed by user id.
 * Versioned so a newer producer can never be misread by an older ledger.
 */
export const COMMAND_VERSION = 1;

export const Actor = z.strictObject({
  role: z.enum(["admin", "partner", "member"]),
  id: z.string().min(1).max(100),
});
export type Actor = z.infer<typeof Actor>;

/** Every command a client's request becomes (gateway or ingest); the lifecycle commands extend it too. */
export const CommandBase = z.object({
  v: z.literal(COMMAND_VERSION),
  command_id: z.string().min(1).max(128),
  user_id: UserId,
  actor: Actor,
  /** Hash of what the client sent; the same command_id with another hash is a reused key. */
  request_hash: z.string().min(1).max(128),
  /** Gateway instance waiting for the outcome (Redis reply channel), if any. */
  reply_to: z.string().max(100).optional(),
  sent_at: z.number().int().nonnegative(),
});

/** How the outcome is rendered: the Fetch-style routes and the wallet API answer differently. */
export const Render = z.enum(["transaction", "spend", "entry"]);
export type Render = z.infer<typeof Render>;

export const EarnCommand = CommandBase.extend({
  type: z.literal("earn"),
  payer: PartnerId,
  /** Negative points are a negative transaction (contract rule 3). */
  points: SignedPoints,
  timestamp: Timestamp,
  authority_id: z.string().min(1).max(100),
  reason: Reason.optional(),
  item: ItemInput.optional(),
  render: Render,
  /** Partner's own event id (Kafka ingest), echoed in ledger.events for reconciliation. */
  event_id: z.string().min(1).max(200).optional(),
  /**
   * Contract 6.1, positive points only: absent = timestamp + the payer's points_validity_days
   * (the ledger looks it up), null = never. Optional so earlier commands still parse.
   */
  expires_at: ExpiresAt.nullable().optional(),
});
export type EarnCommand = z.infer<typeof EarnCommand>;

export const SpendCommand = CommandBase.extend({
  type: z.literal("spend"),
  points: PositivePoints,
  authority_id: z.string().min(1).max(100),
  reason: Reason.optional(),
  item: ItemInput.optional(),
  render: Render,
});
export type SpendCommand = z.infer<typeof SpendCommand>;

export const UseItemCommand = CommandBase.extend({
  type: z.literal("use_item"),
  entry_id: EntryId,
  /** When set, the item must belong to an entry created by this authority (partner callers). */
  only_authority: z.string().min(1).max(100).optional(),
});
export type UseItemCommand = z.infer<typeof UseItemCommand>;

export const LedgerCommand = z.discriminatedUnion("type", [EarnCommand, SpendCommand, UseItemCommand]);
export type LedgerCommand = z.infer<typeof LedgerCommand>;
