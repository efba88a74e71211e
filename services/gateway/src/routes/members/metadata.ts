/**
 * Field metadata for OPTIONS (the shape Django REST framework clients already read), so form
 * builders and sync tools can discover the rules without reading the OpenAPI document.
 */

import {
  CARDNO_CHARS_MAX,
  CLIENT_NAME_CHARS_MAX,
  DISCOUNT_FRACTION_DIGITS,
  DISCOUNT_INTEGER_DIGITS_MAX,
  LOYALTY_ID_CHARS_MAX,
} from "./schema";

export interface FieldMetadata {
  type: "string" | "decimal" | "date" | "boolean" | "url";
  required: boolean;
  read_only: boolean;
  label: string;
  min_length?: number;
  max_length?: number;
  max_digits?: number;
  decimal_places?: number;
}

const writable = { read_only: false } as const;

export const MEMBER_FIELDS: Record<string, FieldMetadata> = {
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

export function optionsBody(name: string, action: "POST" | "PUT") {
  return {
    name,
    description: "The loyalty programme's member register",
    renders: ["application/json"],
    parses: ["application/json"],
    actions: { [action]: MEMBER_FIELDS },
  };
}
