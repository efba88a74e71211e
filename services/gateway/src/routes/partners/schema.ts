/** The shapes of the partner routes: what they accept and answer. */

import { isStorableText, PartnerId } from "@points/shared";
import { z } from "zod";

const RESERVED_IDS = new Set(["admin", "member"]);

export const CreatePartnerBody = z.strictObject({
  id: PartnerId.refine((id) => !RESERVED_IDS.has(id.toLowerCase()), "is reserved"),
  name: z
    .string()
    .min(1)
    .max(200)
    .refine(isStorableText, "must be valid Unicode text without NUL characters")
    .optional(),
});
export type CreatePartnerBody = z.infer<typeof CreatePartnerBody>;

export const PartnerParams = z.object({ id: PartnerId });
export const Partner = z.object({ id: z.string(), name: z.string(), created_at: z.string() });
export type Partner = z.infer<typeof Partner>;
export const CreatedPartner = z.object({
  id: z.string(),
  name: z.string(),
  token: z.string(),
  signing_secret: z.string(),
});
