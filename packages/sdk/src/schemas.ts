import { z } from "zod";

/**
 * What the SDK reads from the wire, as zod schemas (contract section 2). Answers are parsed with
 * these before a caller sees them. Objects are not strict: a server that adds a field must not
 * break clients already deployed.
 */

/** Largest point amount the contract allows (2^53 - 1): beyond it a JS number is not exact. */
export const POINTS_MAX = Number.MAX_SAFE_INTEGER;

export const ClientConfig = z.object({
  base_url: z.url({ protocol: /^https?$/, error: "must be an http:// or https:// URL" }),
  authority_id: z.string().min(1).max(100),
  token: z.string().min(1).max(512),
});
export type ClientConfig = z.infer<typeof ClientConfig>;

export const Allocation = z.object({ payer: z.string(), points: z.number().int() });
export type Allocation = z.infer<typeof Allocation>;

export const Item = z.object({ name: z.string(), used: z.boolean(), data: z.unknown().optional() });
export type Item = z.infer<typeof Item>;

export const Entry = z.object({
  entry_id: z.string(),
  authority_id: z.string(),
  user_id: z.string(),
  /** Unix time in seconds. */
  created_on: z.number().int(),
  amount: z.number().int(),
  reason: z.string().nullable(),
  item: Item.optional(),
  /** Spends only: points taken per payer (negative numbers), in first-touched order. */
  allocations: z.array(Allocation).optional(),
});
export type Entry = z.infer<typeof Entry>;

export const WalletTotal = z.object({ user_id: z.string(), total: z.number().int() });
export type WalletTotal = z.infer<typeof WalletTotal>;

export const InventoryItem = z.object({
  entry_id: z.string(),
  authority_id: z.string(),
  user_id: z.string(),
  item: Item,
});
export type InventoryItem = z.infer<typeof InventoryItem>;

export const Transaction = z.object({
  entry_id: z.string(),
  payer: z.string(),
  points: z.number().int(),
  timestamp: z.string(),
});
export type Transaction = z.infer<typeof Transaction>;

/** Points per payer, every payer the user ever had (zeros included). */
export const Balance = z.record(z.string(), z.number().int());
export type Balance = z.infer<typeof Balance>;

export const Health = z.object({ status: z.string(), checks: z.record(z.string(), z.string()) });
export type Health = z.infer<typeof Health> & { ok: boolean };

export const UpsertResult = z.object({ inserted: z.number().int(), updated: z.number().int() });
export type UpsertResult = z.infer<typeof UpsertResult>;

export const CommandStatus = z.object({
  id: z.string(),
  /** failed: the command never reached the ledger (its send to Kafka failed); nothing was applied. */
  status: z.enum(["pending", "applied", "rejected", "failed"]),
  response: z.object({ status: z.number().int(), body: z.unknown() }).optional(),
});
export type CommandStatus = z.infer<typeof CommandStatus>;

export const ErrorEnvelope = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    fields: z.record(z.string(), z.array(z.string())).optional(),
    items: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
});

/**
 * A partner event on `partner.transactions` (contract section 3). Checked before it is sent:
 * on the Kafka path a bad event is only seen later, in the dead-letter topic.
 */
export const PartnerEvent = z.strictObject({
  /** Your own id for the event: the ledger applies an event id once, however often it is sent. */
  event_id: z.string().min(1).max(200),
  user_id: z.string().min(1).max(50),
  points: z
    .number()
    .int()
    .min(-POINTS_MAX)
    .max(POINTS_MAX)
    .refine((n) => n !== 0, "must not be 0"),
  timestamp: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time with a zone" }),
  reason: z.string().max(500).optional(),
});
export type PartnerEvent = z.infer<typeof PartnerEvent>;
