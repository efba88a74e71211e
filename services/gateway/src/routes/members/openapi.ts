/** The register's routes in the OpenAPI document, described from the schemas that validate them. */

import { z } from "zod";
import { IdempotencyHeaders, json, registry, withErrors } from "../../openapi";
import { pageEnvelope } from "../../pagination";
import {
  BULK_MEMBERS_MAX,
  ListQuery,
  Member,
  MemberInput,
  MemberParams,
  MemberPatch,
  UpsertResult,
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
const OptionsResponse = z
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

const UpsertBody = z.union([MemberInput, z.array(MemberInput).max(BULK_MEMBERS_MAX)]);
const body = (schema: z.ZodType) => ({ content: { "application/json": { schema } } });
const params = MemberParams;
const DISCOUNT_NOTE =
  'discount is numeric(20,4): send a string ("12.5") or a JSON number with at most 15 significant digits; ' +
  'it is returned as a string with its stored scale of 4 ("12.5000").';
const WRITE_NOTE =
  "Idempotency-Key: a repeat with the same key and body returns the first answer (header Idempotent-Replayed: true); " +
  "the same key with another request is 422. Refusals (4xx) are not recorded.";

registry.registerPath({
  method: "get",
  path: "/v1/members",
  summary: "List members (admin)",
  description:
    "Page-number pagination (page_size default 50, max 1000) with absolute next/previous links. " +
    "search matches a case-insensitive substring of client_name or cardno (trigram-indexed). " +
    "Empty query parameters count as absent.",
  tags: ["members"],
  request: { query: ListQuery },
  responses: withErrors({ 200: json(pageEnvelope(Member), "A page of members") }, [400, 401, 403, 429]),
});
registry.registerPath({
  method: "post",
  path: "/v1/members",
  summary: `Create or replace members by loyalty_id: one object or an array of up to ${BULK_MEMBERS_MAX} (admin, partner)`,
  description:
    "An upsert replaces the whole member: optional fields left out become null. " +
    "updated counts existing members matched by loyalty_id, changed or not. " +
    "If any item is invalid (or repeats an earlier item's loyalty_id) the answer is 400 with error.items " +
    "aligned with the input ({} for valid items) and nothing is written. An empty array writes nothing. " +
    `${DISCOUNT_NOTE} ${WRITE_NOTE}`,
  tags: ["members"],
  request: { headers: IdempotencyHeaders, body: body(UpsertBody) },
  responses: withErrors({ 201: json(UpsertResult, "Upserted") }, [400, 401, 403, 413, 415, 422, 429]),
});
registry.registerPath({
  method: "options",
  path: "/v1/members",
  summary: "Field metadata for creating members (POST)",
  tags: ["members"],
  responses: withErrors(
    { 200: json(OptionsResponse, "Field rules; Allow header lists methods") },
    [400, 401],
  ),
});
registry.registerPath({
  method: "get",
  path: "/v1/members/{loyalty_id}",
  summary: "Read a member (admin, partner, the member itself)",
  tags: ["members"],
  request: { params },
  responses: withErrors({ 200: json(Member, "The member") }, [400, 401, 403, 404, 429]),
});
registry.registerPath({
  method: "head",
  path: "/v1/members/{loyalty_id}",
  summary: "Whether a member exists (as GET, without a body)",
  tags: ["members"],
  request: { params },
  responses: {
    200: { description: "Exists" },
    400: { description: "validation_failed" },
    401: { description: "unauthenticated" },
    403: { description: "forbidden" },
    404: { description: "not_found" },
  },
});
registry.registerPath({
  method: "put",
  path: "/v1/members/{loyalty_id}",
  summary: "Replace a member (admin); a new loyalty_id renames it",
  description:
    "Optional fields left out become null. Renaming is refused with 409 member_has_entries once the " +
    `member has ledger entries, and with 409 already_exists when the new id is taken. ${DISCOUNT_NOTE} ${WRITE_NOTE}`,
  tags: ["members"],
  request: { params, headers: IdempotencyHeaders, body: body(MemberInput) },
  responses: withErrors(
    { 200: json(Member, "The member as stored") },
    [400, 401, 403, 404, 409, 413, 415, 422, 429],
  ),
});
registry.registerPath({
  method: "patch",
  path: "/v1/members/{loyalty_id}",
  summary: "Change some fields of a member (admin)",
  description: `Fields left out keep their value; null clears an optional field. Renaming as for PUT. ${DISCOUNT_NOTE} ${WRITE_NOTE}`,
  tags: ["members"],
  request: { params, headers: IdempotencyHeaders, body: body(MemberPatch) },
  responses: withErrors(
    { 200: json(Member, "The member as stored") },
    [400, 401, 403, 404, 409, 413, 415, 422, 429],
  ),
});
registry.registerPath({
  method: "delete",
  path: "/v1/members/{loyalty_id}",
  summary: "Delete a member without ledger entries (admin); its token stops working",
  description: `409 member_has_entries once the member has ledger entries (enforced by a foreign key). ${WRITE_NOTE}`,
  tags: ["members"],
  request: { params, headers: IdempotencyHeaders },
  responses: withErrors({ 204: { description: "Deleted" } }, [400, 401, 403, 404, 409, 422, 429]),
});
registry.registerPath({
  method: "options",
  path: "/v1/members/{loyalty_id}",
  summary: "Field metadata for replacing a member (PUT)",
  tags: ["members"],
  request: { params },
  responses: withErrors(
    { 200: json(OptionsResponse, "Field rules; Allow header lists methods") },
    [400, 401, 404],
  ),
});
registry.registerPath({
  method: "post",
  path: "/v1/members/{loyalty_id}/tokens",
  summary: "Issue a member token (admin); replaces the member's previous token",
  description: "The token is shown once. Not idempotent by design: every call issues a new token.",
  tags: ["members"],
  request: { params },
  responses: withErrors(
    { 201: json(z.object({ token: z.string() }), "New token") },
    [400, 401, 403, 404, 429],
  ),
});
