import { z } from "zod";
import { PartnerId } from "./fields";

/**
 * An entry as published in `ledger.events` outcomes (`entries`), with the lifecycle types:
 * `expire` (negative amount, allocations per payer), `reversal` (with `reverses`), a hold capture
 * as `spend` with `hold_id`. `movements` are the report figures the entry moved, per payer, with
 * the instant each counts at (an expiry at the instant the points expired, contract 6.1 and 7),
 * so consumers such as the reports can follow them without reading the ledger's tables.
 */
export const EntryEventType = z.enum(["earn", "adjust", "spend", "use_item", "expire", "reversal"]);
export type EntryEventType = z.infer<typeof EntryEventType>;

export const MovementCategory = z.enum([
  "earned",
  "adjusted",
  "spent",
  "spend_reversed",
  "earn_reversed",
  "expired",
  "held",
]);

const SafeInt = z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);
const Instant = z.iso.datetime({ offset: true });

export const EntryEvent = z.object({
  entry_id: z.uuid(),
  type: EntryEventType,
  payer: PartnerId.nullable(),
  amount: SafeInt,
  allocations: z.array(z.object({ payer: PartnerId, points: SafeInt })).optional(),
  /** Earns: when the lot expires (null = never). */
  expires_at: Instant.nullable().optional(),
  /** Reversals: the entry reversed. */
  reverses: z.uuid().optional(),
  /** Reversed entries, as changed by this command: points reversed so far. */
  reversed: SafeInt.nonnegative().optional(),
  /** Spends that capture a hold. */
  hold_id: z.uuid().optional(),
  movements: z
    .array(z.object({ payer: PartnerId, category: MovementCategory, points: SafeInt, at: Instant }))
    .optional(),
});
export type EntryEvent = z.infer<typeof EntryEvent>;

/** A hold as published when it is placed, captured, voided or expired (contract 6.3). */
export const HoldEvent = z.object({
  hold_id: z.uuid(),
  user_id: z.string(),
  points: SafeInt.positive(),
  status: z.enum(["held", "captured", "voided", "expired"]),
  allocations: z.array(z.object({ payer: PartnerId, points: SafeInt })),
  expires_at: Instant,
  created_on: Instant,
});
export type HoldEvent = z.infer<typeof HoldEvent>;
