/** The dead-letter read's query and answer. */

import { DEAD_LETTER_SOURCES } from "@points/shared/dead-letter-store";
import { z } from "zod";

export const DEAD_LETTERS_LIMIT_MAX = 500;
const DEAD_LETTERS_LIMIT_DEFAULT = 50;

export const DeadLettersQuery = z.object({
  source: z.enum(DEAD_LETTER_SOURCES).optional(),
  limit: z.coerce.number().int().min(1).max(DEAD_LETTERS_LIMIT_MAX).default(DEAD_LETTERS_LIMIT_DEFAULT),
});
export type DeadLettersQuery = z.infer<typeof DeadLettersQuery>;

export const DeadLetter = z.object({
  source: z.enum(DEAD_LETTER_SOURCES),
  partition: z.number().int(),
  offset: z.string().meta({ description: "Kafka offset in its partition (a 64-bit integer, as a string)" }),
  partner_id: z
    .string()
    .optional()
    .meta({ description: "x-partner-id of a partner message, when it had one" }),
  error_code: z.string(),
  error_message: z.string(),
  received_at: z.string().meta({ description: "When the service dead-lettered it (ISO 8601, UTC)" }),
  value_excerpt: z.string().meta({ description: "The first 2,048 characters of the value (UTF-8)" }),
});
export type DeadLetter = z.infer<typeof DeadLetter>;
