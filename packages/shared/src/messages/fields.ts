import { z } from "zod";

/** Field rules shared by HTTP bodies, Kafka commands and partner events. */
export const POINTS_MAX = Number.MAX_SAFE_INTEGER; // 9007199254740991, contract rule 6
export const REASON_CHARS_MAX = 500;
export const ITEM_NAME_CHARS_MAX = 200;
export const ITEM_DATA_BYTES_MAX = 16 * 1024;
export const ITEM_DATA_DEPTH_MAX = 32;

/**
 * Text Postgres can store and every client can decode: no NUL (text and json columns refuse it)
 * and no lone UTF-16 surrogate (not valid Unicode). Checked at the boundary, because a value the
 * database refuses inside the ledger's batch transaction would fail the whole batch.
 */
export function isStorableText(s: string): boolean {
  return !s.includes("\u0000") && s.isWellFormed();
}
const STORABLE_MESSAGE = "must be valid Unicode text without NUL characters";
const storableText = () => z.string().refine(isStorableText, STORABLE_MESSAGE);

// "." and ".." would be path segments: a URL naming them resolves elsewhere.
const notDotSegment = (s: string) => s !== "." && s !== "..";
const DOT_SEGMENT_MESSAGE = "must not be '.' or '..'";
export const UserId = storableText()
  .min(1)
  .max(50)
  .regex(/^[^\u0000-\u001f\u007f/?#]+$/, "must not contain control characters, '/', '?' or '#'")
  .refine(notDotSegment, DOT_SEGMENT_MESSAGE);
export const PartnerId = storableText()
  .min(1)
  .max(100)
  .regex(/^[^\u0000-\u001f\u007f/?#,]+$/, "must not contain control characters, '/', '?', '#' or ','")
  .refine(notDotSegment, DOT_SEGMENT_MESSAGE);

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

/**
 * How far ahead of the server's clock an earn may be dated: a payer whose lots were dated far in
 * the future would have every other payer's points spent first (contract section 2, Points).
 */
export const EARN_AHEAD_MS_MAX = 5 * 60 * 1000;

/** The problem with an earn's timestamp (an ISO string) read at nowMs, or null. */
export function earnTimestampProblem(timestamp: string, nowMs: number): string | null {
  return Date.parse(timestamp) > nowMs + EARN_AHEAD_MS_MAX
    ? `must be at most ${EARN_AHEAD_MS_MAX / 60_000} minutes ahead of the server's clock`
    : null;
}

export const Reason = storableText().max(REASON_CHARS_MAX);

/**
 * Points lifecycle (contract section 6). `expires_at` on an earn: ISO 8601 with a zone, later
 * than the earn's timestamp (checked with expiresAtProblem where both are known); null = never.
 */
export const ExpiresAt = Timestamp;
export function expiresAtProblem(timestamp: string, expiresAt: string | null | undefined): string | null {
  if (expiresAt === undefined || expiresAt === null) return null;
  return Date.parse(expiresAt) > Date.parse(timestamp) ? null : "must be later than timestamp";
}
export const HOLD_TTL_S_MIN = 1;
export const HOLD_TTL_S_MAX = 604_800;
export const HOLD_TTL_S_DEFAULT = 900;
export const HoldTtlSeconds = z.number().int("must be an integer").min(HOLD_TTL_S_MIN).max(HOLD_TTL_S_MAX);
/** Made by the gateway when the hold is asked for, so a retried command names the same hold. */
export const HoldId = z.uuid();

/**
 * Item data is any JSON (bodies arrive parsed), bounded in depth (walked without recursion, so
 * 10,000 nested arrays cannot overflow the stack), with storable keys and strings, then in size.
 */
export function itemDataProblem(value: unknown): string | null {
  const stack: { v: unknown; depth: number }[] = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (depth > ITEM_DATA_DEPTH_MAX) return `must be at most ${ITEM_DATA_DEPTH_MAX} levels deep`;
    if (typeof v === "string" && !isStorableText(v)) return STORABLE_MESSAGE;
    // JSON.parse reads 1e400 as Infinity, which JSON.stringify would silently store as null.
    if (typeof v === "number" && !Number.isFinite(v)) return "numbers must be finite (at most about 1.8e308)";
    if (v === null || typeof v !== "object") continue;
    for (const [k, child] of Object.entries(v)) {
      if (!isStorableText(k)) return STORABLE_MESSAGE;
      stack.push({ v: child, depth: depth + 1 });
    }
  }
  if (JSON.stringify(value).length > ITEM_DATA_BYTES_MAX)
    return `must be at most ${ITEM_DATA_BYTES_MAX} bytes as JSON`;
  return null;
}

export const ItemInput = z.strictObject({
  name: storableText().min(1).max(ITEM_NAME_CHARS_MAX),
  data: z
    .unknown()
    .superRefine((v, ctx) => {
      const problem = v === undefined ? null : itemDataProblem(v);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    })
    .optional(),
});
export type ItemInput = z.infer<typeof ItemInput>;

export const EntryId = z.uuid();
