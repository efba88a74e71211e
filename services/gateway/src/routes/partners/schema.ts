/** The shapes of the partner routes: what they accept and answer. */

import { isStorableText, PartnerId } from "@points/shared";
import { z } from "zod";

const RESERVED_IDS = new Set(["admin", "member"]);
/** Contract 6.1: how long a partner's points stay valid; null = they never expire. */
export const VALIDITY_DAYS_MAX = 36_500;
const PointsValidityDays = z
  .number()
  .int("must be an integer")
  .min(1)
  .max(VALIDITY_DAYS_MAX)
  .nullable()
  .meta({ description: "Days a point earned from this partner stays valid; null = never expires" });
const PartnerName = z
  .string()
  .min(1)
  .max(200)
  .refine(isStorableText, "must be valid Unicode text without NUL characters");

export const CreatePartnerBody = z.strictObject({
  id: PartnerId.refine((id) => !RESERVED_IDS.has(id.toLowerCase()), "is reserved"),
  name: PartnerName.optional(),
  points_validity_days: PointsValidityDays.optional(),
});
export type CreatePartnerBody = z.infer<typeof CreatePartnerBody>;

export const PartnerParams = z.object({ id: PartnerId });
export const ChangePartnerBody = z.strictObject({
  name: PartnerName.optional(),
  points_validity_days: PointsValidityDays.optional(),
});
export type ChangePartnerBody = z.infer<typeof ChangePartnerBody>;
export const ChangedPartner = z.object({
  id: z.string(),
  name: z.string(),
  points_validity_days: z.number().int().nullable(),
});
export const Partner = ChangedPartner.extend({ created_at: z.string() });
export type Partner = z.infer<typeof Partner>;
export const CreatedPartner = ChangedPartner.extend({ token: z.string(), signing_secret: z.string() });
