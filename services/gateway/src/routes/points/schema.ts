/** The shapes of the Fetch-style points API: what its routes accept and answer. */

import {
  ExpiresAt,
  PartnerId,
  PositivePoints,
  Reason,
  SignedPoints,
  Timestamp,
  UserId,
} from "@points/shared";
import { z } from "zod";

export const TransactionBody = z.strictObject({
  payer: PartnerId,
  points: SignedPoints,
  timestamp: Timestamp,
  expires_at: ExpiresAt.nullable().optional().meta({
    description:
      "Earns only: when these points expire (later than timestamp); null = never; absent = timestamp + the payer's points_validity_days",
  }),
});
export const SpendBody = z.strictObject({ points: PositivePoints, reason: Reason.optional() });
export const UserParams = z.object({ userId: UserId });

export const Allocation = z.object({ payer: z.string(), points: z.number().int() });
export const Item = z
  .object({ name: z.string(), used: z.boolean(), data: z.unknown().optional() })
  .meta({ id: "Item" });
export const UserEntry = z
  .object({
    entry_id: z.string().uuid(),
    authority_id: z.string(),
    user_id: z.string(),
    created_on: z.number().int(),
    amount: z.number().int(),
    reason: z.string().nullable(),
    type: z.enum(["earn", "adjust", "spend", "use_item", "expire", "reversal"]),
    payer: z.string().optional(),
    timestamp: z.string().optional(),
    expires_at: z
      .string()
      .nullable()
      .optional()
      .meta({ description: "Earns: when the lot expires; null = never" }),
    reversed: z
      .number()
      .int()
      .optional()
      .meta({ description: "Points reversed so far (reversible entries)" }),
    reverses: z.string().uuid().optional().meta({ description: "Reversals: the entry reversed" }),
    hold_id: z.string().uuid().optional().meta({ description: "Spends that capture a hold" }),
    item: Item.optional(),
    allocations: z.array(Allocation).optional(),
  })
  .meta({ id: "UserEntry" });
export const TransactionAnswer = z.object({
  entry_id: z.string(),
  payer: z.string(),
  points: z.number().int(),
  timestamp: z.string(),
  expires_at: z
    .string()
    .nullable()
    .meta({ description: "When these points expire; null = never (and for negatives)" }),
});
export const Balance = z.record(z.string(), z.number().int());
export const BalanceQuery = z.object({
  as_of: Timestamp.optional().meta({
    description:
      "The balance at that instant (not in the future): every change applied by then, expired and held points left out",
  }),
});
