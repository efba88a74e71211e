/**
 * Field metadata for OPTIONS (the shape Django REST framework clients already read), so form
 * builders and sync tools can discover the rules without reading the OpenAPI document.
 */

import { z } from "zod";
import {
  CARDNO_CHARS_MAX,
  CLIENT_NAME_CHARS_MAX,
  DISCOUNT_FRACTION_DIGITS,
  DISCOUNT_INTEGER_DIGITS_MAX,
  LOYALTY_ID_CHARS_MAX,
} from "./schema";

const FieldMetadata = z.object({
  type: z.enum(["string", "decimal", "date", "boolean", "url"]),
  required: z.boolean(),
  read_only: z.boolean(),
  label: z.string(),
  min_length: z.number().int().optional(),
  max_length: z.number().int().optional(),
  max_digits: z.number().int().optional(),
  decimal_places: z.number().int().optional(),
});
type FieldMetadata = z.infer<typeof FieldMetadata>;

/** The OPTIONS answer, as the document describes it. */
export const OptionsResponse = z
  .object({
    name: z.string(),
    description: z.string(),
    renders: z.array(z.string()),
    parses: z.array(z.string()),
    actions: z.object({
      POST: z.record(z.string(), FieldMetadata).optional(),
      PUT: z.record(z.string(), FieldMetadata).optional(),
    }),
  })
  .meta({ id: "MemberFieldMetadata" });

const writable = { read_only: false } as const;

const MEMBER_FIELDS: Record<string, FieldMetadata> = {
  loyalty_id: {
    type: "string",
    required: true,
    ...writable,
    label: "Loyalty id",
    min_length: 1,
    max_length: LOYALTY_ID_CHARS_MAX,
  },
  cardno: {
    type: "string",
    required: false,
    ...writable,
    label: "Card number",
    max_length: CARDNO_CHARS_MAX,
  },
  discount: {
    type: "decimal",
    required: false,
    ...writable,
    label: "Discount",
    max_digits: DISCOUNT_INTEGER_DIGITS_MAX + DISCOUNT_FRACTION_DIGITS,
    decimal_places: DISCOUNT_FRACTION_DIGITS,
  },
  client_name: {
    type: "string",
    required: true,
    ...writable,
    label: "Client name",
    min_length: 1,
    max_length: CLIENT_NAME_CHARS_MAX,
  },
  client_birthday: { type: "date", required: true, ...writable, label: "Client birthday" },
  is_male: { type: "boolean", required: false, ...writable, label: "Is male" },
  url: { type: "url", required: false, read_only: true, label: "URL" },
};

export function optionsBody(name: string, action: "POST" | "PUT"): z.infer<typeof OptionsResponse> {
  return {
    name,
    description: "The loyalty programme's member register",
    renders: ["application/json"],
    parses: ["application/json"],
    actions: { [action]: MEMBER_FIELDS },
  };
}
