import { z } from "zod";

/** Field rules shared by HTTP bodies, Kafka commands and partner events. */
export const POINTS_MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991, contract rule 6
export const REASON_CHARS_MAX = 500;
export const ITEM_NAME_CHARS_MAX = 200;
export const ITEM_DATA_BYTES_MAX = 16 * 1024;

export const UserId = z
  .string()
  .min(1)
  .max(50)
  .regex(/^[^\u0000-\u001f\u007f/?#]+$/, "must not contain control characters, '/', '?' or '#'");
export const PartnerId = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[^\u0000-\u001f\u007f/?#,]+$/, "must not contain control characters, '/', '?', '#' or ','");

/** A non-zero integer within +-(2^53-1); negative means "take from this payer". */
export const SignedPoints = z
  .number()
  .int("must be an integer")
  .min(-POINTS_MAX)
  .max(POINTS_MAX)
  .refine((n) => n !== 0, "must not be 0");
export const PositivePoints = z.number().int("must be an integer").min(1).max(POINTS_MAX);

/** ISO 8601 with a zone; normalised to UTC with millisecond precision (finer digits are cut). */
export const Timestamp = z.iso
  .datetime({ offset: true, message: "must be an ISO 8601 date-time with a zone, e.g. 2022-10-31T10:00:00Z" })
  .transform((s) => new Date(s))
  .refine((d) => !Number.isNaN(d.getTime()) && d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, {
    message: "must be between years 0001 and 9999",
  })
  .transform((d) => d.toISOString());

export const Reason = z.string().max(REASON_CHARS_MAX);

const itemDataFits = (v: unknown) => v === undefined || JSON.stringify(v).length <= ITEM_DATA_BYTES_MAX;
export const ItemInput = z.strictObject({
  name: z.string().min(1).max(ITEM_NAME_CHARS_MAX),
  // Bodies arrive as parsed JSON, so any value here is JSON already; only its size is bounded.
  data: z.unknown().refine(itemDataFits, `must be at most ${ITEM_DATA_BYTES_MAX} bytes as JSON`).optional(),
});
export type ItemInput = z.infer<typeof ItemInput>;

export const EntryId = z.uuid();
