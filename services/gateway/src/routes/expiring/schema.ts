/** GET /v1/users/{userId}/expiring (contract 6.1): what it accepts and answers. */

import { Timestamp } from "@points/shared";
import { z } from "zod";

/** How far ahead `before` may look, and its default. */
export const EXPIRING_AHEAD_MS_MAX = 10 * 366 * 24 * 3600 * 1000;
export const EXPIRING_AHEAD_MS_DEFAULT = 30 * 24 * 3600 * 1000;

export const ExpiringQuery = z.object({
  before: Timestamp.optional().meta({ description: "Default now + 30 days; at most 10 years ahead" }),
});
export const ExpiringRow = z
  .object({ payer: z.string(), points: z.number().int(), expires_at: z.string() })
  .meta({ id: "ExpiringPoints" });
