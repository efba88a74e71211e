/**
 * The member register: plain CRUD in Postgres, served by the gateway directly (no Kafka). Each
 * route is one declaration (route.ts) from which express and the OpenAPI document are built;
 * the wire shapes live in schema.ts, the SQL in store.ts, the register's own refusal shapes in
 * parse.ts and the OPTIONS field metadata in metadata.ts.
 */

import { redisKeys } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
import { type Request, type Response, Router } from "express";
import { z } from "zod";
import { issueToken } from "../../auth";
import type { GatewayContext } from "../../context";
import { httpError } from "../../http-errors";
import { IdempotencyHeaders, json } from "../../openapi";
import { baseUrl, pageEnvelope, pageLinks } from "../../pagination";
import { principalOf } from "../../permissions";
import { mount, route } from "../../route";
import { sendWrite, writeOnce } from "./idempotency";
import { OptionsResponse, optionsBody } from "./metadata";
import { parseMember, parseUpsertBody } from "./parse";
import {
  BULK_MEMBERS_MAX,
  ListQuery,
  MEMBERS_BODY_BYTES_MAX,
  Member,
  MemberInput,
  MemberParams,
  MemberPatch,
  UpsertBody,
  UpsertResult,
} from "./schema";
import {
  deleteMember,
  getMember,
  listMembers,
  type MemberRow,
  membersCreatedByOthers,
  updateMember,
  upsertMembers,
} from "./store";

const LIST = "/v1/members";
const ONE = "/v1/members/{loyalty_id}";
const TAGS = ["members"];
const DISCOUNT_NOTE =
  'discount is numeric(20,4): send a string ("12.5") or a JSON number with at most 15 significant digits; ' +
  'it is returned as a string with its stored scale of 4 ("12.5000").';
const WRITE_NOTE =
  "Idempotency-Key: a repeat with the same key and body returns the first answer (header Idempotent-Replayed: true); " +
  "the same key with another request is 422. Refusals (4xx) are not recorded.";
const FIELD_RULES = "Field rules; Allow header lists methods";

export function memberRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [
    ...listRoutes(ctx),
    ...readRoutes(ctx),
    ...changeRoutes(ctx),
    ...removeAndTokenRoutes(ctx),
  ]);
}

/** /v1/members: list, upsert (one or bulk), field metadata. */
function listRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "get",
      path: LIST,
      summary: "List members (admin)",
      description:
        "Page-number pagination (page_size default 50, max 1000) with absolute next/previous links. " +
        "search matches a case-insensitive substring of client_name or cardno (trigram-indexed). " +
        "Empty query parameters count as absent.",
      tags: TAGS,
      permission: "members.manage",
      query: ListQuery,
      readQuery: (req) => withoutEmpty(req.query),
      responses: { 200: json(pageEnvelope(Member), "A page of members") },
      errors: [400, 401, 403, 429],
      handle: async (req, res, { query }) => {
        const { count, rows } = await listMembers(ctx.pool, query);
        const links = pageLinks(req, query, count, ctx.config.PUBLIC_URL);
        res.json({ ...links, results: rows.map((row) => present(ctx, req, row)) });
      },
    }),
    route({
      method: "post",
      path: LIST,
      summary: `Create or replace members by loyalty_id: one object or an array of up to ${BULK_MEMBERS_MAX} (admin, partner)`,
      description:
        "An upsert replaces the whole member: optional fields left out become null. " +
        "updated counts existing members matched by loyalty_id, changed or not. " +
        "If any item is invalid (or repeats an earlier item's loyalty_id) the answer is 400 with error.items " +
        "aligned with the input ({} for valid items) and nothing is written. An empty array writes nothing. " +
        `${DISCOUNT_NOTE} ${WRITE_NOTE}`,
      tags: TAGS,
      permission: "members.upsert",
      headers: IdempotencyHeaders,
      body: UpsertBody,
      parseBody: parseUpsertBody,
      bodyBytesMax: MEMBERS_BODY_BYTES_MAX,
      responses: { 201: json(UpsertResult, "Upserted") },
      errors: [400, 401, 403, 413, 415, 422, 429],
      handle: async (req, res, { body }) => {
        const members = Array.isArray(body) ? body : [body];
        const single = Array.isArray(body) ? null : body.loyalty_id;
        const p = principalOf(req);
        const partner = p.role === "partner" ? p.id : null;
        const result = await writeOnce(ctx, req, single, async (db) => {
          const inserted = await upsertMembers(db, members, partner);
          // Thrown inside the transaction: a refused upsert writes nothing.
          if (partner !== null) await refuseOthersMembers(db, members, partner, single !== null);
          return { status: 201, body: inserted };
        });
        sendWrite(res, result);
      },
    }),
    route({
      method: "options",
      path: LIST,
      summary: "Field metadata for creating members (POST)",
      tags: TAGS,
      responses: { 200: json(OptionsResponse, FIELD_RULES) },
      errors: [400, 401],
      handle: (_req, res) => res.json(optionsBody("Member List", "POST")),
    }),
  ];
}

/** /v1/members/{loyalty_id}: read (GET, HEAD), field metadata. */
function readRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "get",
      path: ONE,
      summary: "Read a member (admin, partner, the member itself)",
      head: "Whether a member exists (as GET, without a body)",
      tags: TAGS,
      permission: { action: "members.read", target: (p) => ({ userId: p.loyalty_id }) },
      params: MemberParams,
      responses: { 200: json(Member, "The member") },
      errors: [400, 401, 403, 404, 429],
      handle: async (req, res, { params: { loyalty_id } }) => {
        const row = await getMember(ctx.pool, loyalty_id);
        if (!row) throw notFound(loyalty_id);
        res.json(present(ctx, req, row));
      },
    }),
    route({
      method: "options",
      path: ONE,
      summary: "Field metadata for replacing a member (PUT)",
      tags: TAGS,
      params: MemberParams,
      responses: { 200: json(OptionsResponse, FIELD_RULES) },
      errors: [400, 401, 404],
      handle: (_req, res) => res.json(optionsBody("Member Instance", "PUT")),
    }),
  ];
}

/** What PUT and PATCH have in common: who may, the path, the key header, the answers. */
const CHANGE = {
  tags: TAGS,
  permission: "members.manage",
  params: MemberParams,
  headers: IdempotencyHeaders,
  responses: { 200: json(Member, "The member as stored") },
  errors: [400, 401, 403, 404, 409, 413, 415, 422, 429],
} as const;

/** /v1/members/{loyalty_id}: replace (PUT), change (PATCH). */
function changeRoutes(ctx: GatewayContext) {
  const change = changeMember(ctx);
  return [
    route({
      method: "put",
      path: ONE,
      summary: "Replace a member (admin); a new loyalty_id renames it",
      description:
        "Optional fields left out become null. Renaming is refused with 409 member_has_entries once the " +
        `member has ledger entries, and with 409 already_exists when the new id is taken. ${DISCOUNT_NOTE} ${WRITE_NOTE}`,
      ...CHANGE,
      body: MemberInput,
      parseBody: (raw) => parseMember(MemberInput, raw),
      handle: (req, res, { params: { loyalty_id }, body }) =>
        change(req, res, loyalty_id, {
          loyalty_id: body.loyalty_id,
          cardno: body.cardno ?? null,
          discount: body.discount ?? null,
          client_name: body.client_name,
          client_birthday: body.client_birthday,
          is_male: body.is_male ?? null,
        }),
    }),
    route({
      method: "patch",
      path: ONE,
      summary: "Change some fields of a member (admin)",
      description: `Fields left out keep their value; null clears an optional field. Renaming as for PUT. ${DISCOUNT_NOTE} ${WRITE_NOTE}`,
      ...CHANGE,
      body: MemberPatch,
      parseBody: (raw) => parseMember(MemberPatch, raw),
      handle: (req, res, { params: { loyalty_id }, body: { url: _readOnly, ...changes } }) =>
        change(req, res, loyalty_id, changes),
    }),
  ];
}

/** /v1/members/{loyalty_id}: delete, issue a token. */
function removeAndTokenRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "delete",
      path: ONE,
      summary: "Delete a member without ledger entries (admin); its token stops working",
      description: `409 member_has_entries once the member has ledger entries (enforced by a foreign key). ${WRITE_NOTE}`,
      tags: TAGS,
      permission: "members.manage",
      params: MemberParams,
      headers: IdempotencyHeaders,
      responses: { 204: { description: "Deleted" } },
      errors: [400, 401, 403, 404, 409, 422, 429],
      handle: async (req, res, { params: { loyalty_id } }) => {
        const result = await writeOnce(ctx, req, loyalty_id, async (db) => {
          if (!(await deleteMember(db, loyalty_id))) throw notFound(loyalty_id);
          return { status: 204, body: null };
        });
        if (!result.replayed) await Promise.all([ctx.invalidateTokens(), forgetBalance(ctx, loyalty_id)]);
        sendWrite(res, result);
      },
    }),
    route({
      method: "post",
      path: `${ONE}/tokens`,
      summary: "Issue a member token (admin); replaces the member's previous token",
      description: "The token is shown once. Not idempotent by design: every call issues a new token.",
      tags: TAGS,
      permission: "members.manage",
      params: MemberParams,
      responses: { 201: json(z.object({ token: z.string() }), "New token") },
      errors: [400, 401, 403, 404, 429],
      handle: async (_req, res, { params: { loyalty_id } }) => {
        if (!(await getMember(ctx.pool, loyalty_id))) throw notFound(loyalty_id);
        const token = await issueToken(ctx.pool, "member", loyalty_id);
        await ctx.invalidateTokens();
        res.status(201).json({ token });
      },
    }),
  ];
}

/** PUT and PATCH: the given columns, a new loyalty_id included (which moves the member's token). */
function changeMember(ctx: GatewayContext) {
  return async (req: Request, res: Response, loyalty_id: string, changes: Partial<MemberRow>) => {
    const result = await writeOnce(ctx, req, loyalty_id, async (db) => {
      const row = await updateMember(db, loyalty_id, changes);
      if (!row) throw notFound(loyalty_id);
      return { status: 200, body: present(ctx, req, row) };
    });
    const renamed = changes.loyalty_id !== undefined && changes.loyalty_id !== loyalty_id;
    if (renamed && !result.replayed)
      await Promise.all([ctx.invalidateTokens(), forgetBalance(ctx, loyalty_id)]);
    sendWrite(res, result);
  };
}

/** A partner's upsert creates members and replaces only those it created (contract section 2). */
async function refuseOthersMembers(
  db: PoolClient,
  members: MemberInput[],
  partner: string,
  single: boolean,
): Promise<void> {
  const ids = members.map((m) => m.loyalty_id);
  const others = await membersCreatedByOthers(db, ids, partner);
  if (others.size === 0) return;
  const message = "was created by someone else; a partner may replace only members it created";
  const refused = `${others.size} of ${ids.length} members were created by someone else; nothing was written`;
  if (single) throw httpError("forbidden", refused, { fields: { loyalty_id: [message] } });
  const items = ids.map((id) => (others.has(id) ? { loyalty_id: [message] } : {}));
  throw httpError("forbidden", refused, { items });
}

const present = (ctx: GatewayContext, req: Request, row: MemberRow): Member => ({
  ...row,
  url: memberUrl(ctx, req, row),
});

function memberUrl(ctx: GatewayContext, req: Request, member: { loyalty_id: string }): string {
  return `${baseUrl(req, ctx.config.PUBLIC_URL)}/v1/members/${encodeURIComponent(member.loyalty_id)}`;
}

/**
 * A member without entries may still have a cached (empty) balance; once the id is gone, GET
 * balance must answer 404, not that cache entry. Redis being down only leaves the TTL to bound it
 * (and the near cache's entry age, balance-near-cache.ts).
 */
async function forgetBalance(ctx: GatewayContext, loyaltyId: string): Promise<void> {
  const key = redisKeys(ctx.config.REDIS_KEY_PREFIX).balance(loyaltyId);
  await ctx.redis.del(key).catch(() => {});
  // This gateway's memory copy too, after the DEL (a read racing it may have kept the old value),
  // so the writer reads its own write; other gateways hear it from Redis's invalidation.
  ctx.nearCache?.evict(key);
}

const notFound = (id: string) => httpError("not_found", `member ${id} not found`);

/** `?search=&ordering=` from a form means "no filter", not "invalid". */
function withoutEmpty(query: Request["query"]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ""));
}
