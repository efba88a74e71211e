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
  /** Listed entries: earn, adjust, spend, use_item, expire, reversal. */
  type: z.string().optional(),
  payer: z.string().optional(),
  timestamp: z.string().optional(),
  /** Earns: when the points expire (ISO 8601), null = never. */
  expires_at: z.string().nullable().optional(),
  /** Points reversed so far (reversed entries). */
  reversed: z.number().int().optional(),
  /** Reversals: the entry reversed. */
  reverses: z.string().optional(),
  /** Spends that captured a hold. */
  hold_id: z.string().optional(),
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
  /** When the points expire, null = never (optional: servers before the points lifecycle omit it). */
  expires_at: z.string().nullable().optional(),
});
export type Transaction = z.infer<typeof Transaction>;

/** A reservation of points (contract 6.3): held, then captured, voided or expired. */
export const Hold = z.object({
  hold_id: z.string(),
  user_id: z.string(),
  points: z.number().int(),
  status: z.enum(["held", "captured", "voided", "expired"]),
  /** Points taken per payer (negative), oldest first. */
  allocations: z.array(Allocation),
  expires_at: z.string(),
  created_on: z.string(),
});
export type Hold = z.infer<typeof Hold>;

export const ExpiringPoints = z.object({
  payer: z.string(),
  points: z.number().int(),
  expires_at: z.string(),
});
export type ExpiringPoints = z.infer<typeof ExpiringPoints>;

const Figures = {
  earned: z.number().int(),
  adjusted: z.number().int(),
  spent: z.number().int(),
  spend_reversed: z.number().int(),
  earn_reversed: z.number().int(),
  expired: z.number().int(),
  closing: z.number().int(),
};
/** closing = opening + earned - adjusted - spent + spend_reversed - earn_reversed - expired. */
export const PayerReportRow = z.object({
  payer: z.string(),
  opening: z.number().int(),
  ...Figures,
  held: z.number().int(),
});
export type PayerReportRow = z.infer<typeof PayerReportRow>;
export const PayerReport = z.object({ from: z.string(), to: z.string(), payers: z.array(PayerReportRow) });
export type PayerReport = z.infer<typeof PayerReport>;
export const PayerDay = z.object({ day: z.string(), ...Figures });
export type PayerDay = z.infer<typeof PayerDay>;
export const MemberOutstanding = z.object({ user_id: z.string(), outstanding: z.number().int() });
export type MemberOutstanding = z.infer<typeof MemberOutstanding>;
export const MembersPage = z.object({
  count: z.number().int(),
  next: z.string().nullable(),
  previous: z.string().nullable(),
  results: z.array(MemberOutstanding),
});
export type MembersPage = z.infer<typeof MembersPage>;

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
  /** Earns only: when the points expire (later than timestamp); null = never; absent = the partner's validity. */
  expires_at: z.iso
    .datetime({ offset: true, error: "must be an ISO 8601 date-time with a zone" })
    .nullable()
    .optional(),
});
export type PartnerEvent = z.infer<typeof PartnerEvent>;
