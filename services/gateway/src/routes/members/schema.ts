/**
 * The member register's wire formats: what clients may send (create, replace, patch, list
 * query) and what they get back. Limits mirror the CHECKs of the members table, counted the way
 * Postgres counts (code points), so a value that passes here is never refused by the database.
 */

import { isStorableText, UserId } from "@points/shared";
import { z } from "zod";
import { PageQuery } from "../../pagination";

export const LOYALTY_ID_CHARS_MAX = 50;
export const CARDNO_CHARS_MAX = 20;
export const CLIENT_NAME_CHARS_MAX = 200;
export const DISCOUNT_INTEGER_DIGITS_MAX = 16;
export const DISCOUNT_FRACTION_DIGITS = 4;
/** A double holds any decimal of this many significant digits exactly (DBL_DIG). */
const JSON_NUMBER_DIGITS_EXACT = 15;
export const BULK_MEMBERS_MAX = 10_000;
/** The bulk upsert's body limit (1 MiB elsewhere): 10,000 members of every field at its longest. */
export const MEMBERS_BODY_BYTES_MAX = 16 * 1024 * 1024;
export const SEARCH_CHARS_MAX = 200;
/**
 * A birthday is "in the future" only once that date has begun nowhere on Earth: the earliest
 * zone is UTC+14, so a member born today in Kiribati is not refused by a server on UTC.
 */
const EARLIEST_ZONE_OFFSET_MS = 14 * 60 * 60 * 1000;
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

const codePoints = (s: string) => [...s].length;
const required = (type: string) => ({
  error: (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : `must be ${type}`),
});

/** Text as Postgres stores it: NUL is impossible there, and other control characters are typos. */
const text = (min: number, max: number) =>
  z
    .string(required("a string"))
    .refine(isStorableText, "must be valid Unicode text without NUL characters")
    .refine((s) => !CONTROL_CHARS.test(s), "must not contain control characters")
    .refine(
      (s) => codePoints(s) >= min,
      min === 1 ? "must not be empty" : `must be at least ${min} characters`,
    )
    .refine((s) => codePoints(s) <= max, `must be at most ${max} characters`)
    .meta({ minLength: min, maxLength: max });

const DECIMAL = new RegExp(
  `^-?\\d{1,${DISCOUNT_INTEGER_DIGITS_MAX}}(\\.\\d{1,${DISCOUNT_FRACTION_DIGITS}})?$`,
);
const significantDigits = (s: string) => s.replace(/[-.]/g, "").replace(/^0+/, "").length;

/**
 * numeric(20,4). A string is taken digit for digit; a JSON number only when it has few enough
 * digits to have survived JSON parsing unchanged (else the client must send a string).
 */
export const Discount = z
  .union([z.string(), z.number()], { error: "must be a decimal string or a number" })
  .refine(
    (v) => typeof v === "string" || significantDigits(String(v)) <= JSON_NUMBER_DIGITS_EXACT,
    `as a JSON number at most ${JSON_NUMBER_DIGITS_EXACT} significant digits; send a string for more`,
  )
  .transform(String)
  .pipe(
    z
      .string()
      .regex(
        DECIMAL,
        `must be a decimal with up to ${DISCOUNT_INTEGER_DIGITS_MAX} integer and ${DISCOUNT_FRACTION_DIGITS} fraction digits`,
      ),
  );

export const latestToday = () => new Date(Date.now() + EARLIEST_ZONE_OFFSET_MS).toISOString().slice(0, 10);
export const Birthday = z.iso
  .date({ error: (i) => (i.input === undefined ? "is required" : "must be a date as YYYY-MM-DD") })
  .pipe(
    z
      .string()
      .refine((d) => d >= "0001-01-01", "must be in year 0001 or later")
      .refine((d) => d <= latestToday(), "must not be in the future"),
  );

const memberFields = {
  loyalty_id: z.string(required("a string")).min(1, "must not be empty").pipe(UserId).meta({
    minLength: 1,
    maxLength: LOYALTY_ID_CHARS_MAX,
    description: "unique; the userId of the points API. No control characters, '/', '?' or '#'",
  }),
  cardno: text(0, CARDNO_CHARS_MAX).nullable().optional(),
  discount: Discount.nullable()
    .optional()
    .meta({
      description: `decimal, up to ${DISCOUNT_INTEGER_DIGITS_MAX} integer and ${DISCOUNT_FRACTION_DIGITS} fraction digits`,
    }),
  client_name: text(1, CLIENT_NAME_CHARS_MAX),
  client_birthday: Birthday.meta({ description: "YYYY-MM-DD, not in the future" }),
  is_male: z.boolean(required("true, false or null")).nullable().optional(),
  // Read-only: accepted and ignored, so a client can send back what it read.
  url: z.unknown().optional().meta({ readOnly: true }),
};

/** POST item and PUT body: every writable field; optional ones left out become null. */
const objectOnly = {
  error: (i: { code?: string }) => (i.code === "invalid_type" ? "must be a member object" : undefined),
};
export const MemberInput = z.strictObject(memberFields, objectOnly).meta({ id: "MemberInput" });
export type MemberInput = z.infer<typeof MemberInput>;
/** PATCH body: any subset; required fields may be changed but not cleared. */
export const MemberPatch = z.strictObject(memberFields, objectOnly).partial().meta({ id: "MemberPatch" });
export type MemberPatch = z.infer<typeof MemberPatch>;

export const Member = z
  .object({
    loyalty_id: z.string(),
    cardno: z.string().nullable(),
    discount: z.string().nullable().meta({
      description: 'numeric(20,4), always with 4 fraction digits as stored, e.g. "12.5000"',
    }),
    client_name: z.string(),
    client_birthday: z.string().meta({ description: "YYYY-MM-DD" }),
    is_male: z.boolean().nullable(),
    url: z.string().meta({ description: "absolute URL of this member" }),
  })
  .meta({ id: "Member" });
export type Member = z.infer<typeof Member>;

/** POST body as documented: one member or an array (parse.ts parses it, with per-item errors). */
export const UpsertBody = z.union([MemberInput, z.array(MemberInput).max(BULK_MEMBERS_MAX)]);
export type UpsertBody = z.infer<typeof UpsertBody>;

export const UpsertResult = z
  .object({
    inserted: z.number().int().meta({ description: "members created" }),
    updated: z.number().int().meta({ description: "existing members matched by loyalty_id and replaced" }),
  })
  .meta({ id: "MemberUpsertResult" });

export const ORDER_FIELDS = ["loyalty_id", "cardno", "client_name", "client_birthday"] as const;
export type OrderField = (typeof ORDER_FIELDS)[number];
const ORDERINGS = [...ORDER_FIELDS, ...ORDER_FIELDS.map((f) => `-${f}` as const)] as const;

export const ListQuery = PageQuery.extend({
  search: z
    .string()
    .max(SEARCH_CHARS_MAX)
    .refine(isStorableText, "must be valid Unicode text without NUL characters")
    .optional()
    .meta({ description: "case-insensitive substring of client_name or cardno" }),
  ordering: z.enum(ORDERINGS).default("loyalty_id").meta({
    description:
      "sort field, '-' for descending; ties go by loyalty_id in the same direction, so '-x' is the exact reverse of 'x'. Members without cardno come last ascending, first descending.",
  }),
  is_male: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional(),
});
export type ListQuery = z.infer<typeof ListQuery>;

export const MemberParams = z.object({ loyalty_id: UserId });
