/**
 * The member register: plain CRUD in Postgres, served by the gateway directly (no Kafka). The
 * routes parse, authorise and shape answers; SQL lives in members/store.ts, and the OpenAPI
 * description of every route in members/openapi.ts.
 */

import { redisKeys } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
import { type Request, type Response, Router } from "express";
import { issueToken } from "../../auth";
import type { GatewayContext } from "../../context";
import { httpError, parseOr400 } from "../../http-errors";
import { baseUrl, pageLinks } from "../../pagination";
import { authorize, guard, principalOf } from "../../permissions";
import { sendWrite, writeOnce } from "./idempotency";
import { optionsBody } from "./metadata";
import { parseMember, parseUpsertBody } from "./parse";
import { ListQuery, type Member, MemberInput, MemberParams, MemberPatch } from "./schema";
import {
  deleteMember,
  getMember,
  listMembers,
  type MemberRow,
  membersCreatedByOthers,
  updateMember,
  upsertMembers,
} from "./store";
import "./openapi";

const LIST_ALLOW = "GET, HEAD, POST, OPTIONS";
const ONE_ALLOW = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS";

export function memberRoutes(ctx: GatewayContext): Router {
  const router = Router();
  listRoutes(ctx, router);
  oneMemberRoutes(ctx, router);
  return router;
}

const presenter =
  (ctx: GatewayContext) =>
  (req: Request, row: MemberRow): Member => ({ ...row, url: memberUrl(ctx, req, row) });

/** /v1/members: list, upsert (one or bulk), field metadata. */
function listRoutes(ctx: GatewayContext, router: Router): void {
  const present = presenter(ctx);
  router.get("/v1/members", guard("members.manage"), async (req, res) => {
    const query = parseOr400(ListQuery, withoutEmpty(req.query), "query");
    const { count, rows } = await listMembers(ctx.pool, query);
    const links = pageLinks(req, query, count, ctx.config.PUBLIC_URL);
    res.json({ ...links, results: rows.map((row) => present(req, row)) });
  });

  router.post("/v1/members", guard("members.upsert"), async (req, res) => {
    const members = parseUpsertBody(req.body);
    const single = Array.isArray(req.body) ? null : members[0]!.loyalty_id;
    const p = principalOf(req);
    const partner = p.role === "partner" ? p.id : null;
    const result = await writeOnce(ctx, req, single, async (db) => {
      const body = await upsertMembers(db, members, partner);
      // Thrown inside the transaction: a refused upsert writes nothing.
      if (partner !== null) await refuseOthersMembers(db, members, partner, single !== null);
      return { status: 201, body };
    });
    sendWrite(res, result);
  });

  router.options("/v1/members", (_req, res) => {
    res.setHeader("Allow", LIST_ALLOW);
    res.json(optionsBody("Member List", "POST"));
  });
}

/** /v1/members/{loyalty_id}: read, replace, change, delete, field metadata, token. */
function oneMemberRoutes(ctx: GatewayContext, router: Router): void {
  const present = presenter(ctx);
  router.get("/v1/members/:loyalty_id", async (req, res) => {
    const { loyalty_id } = parseOr400(MemberParams, req.params, "path");
    authorize(req, "members.read", { userId: loyalty_id });
    const row = await getMember(ctx.pool, loyalty_id);
    if (!row) throw notFound(loyalty_id);
    res.json(present(req, row));
  });

  router.put("/v1/members/:loyalty_id", guard("members.manage"), async (req, res) => {
    const { loyalty_id } = parseOr400(MemberParams, req.params, "path");
    const body = parseMember(MemberInput, req.body);
    await change(req, res, loyalty_id, {
      loyalty_id: body.loyalty_id,
      cardno: body.cardno ?? null,
      discount: body.discount ?? null,
      client_name: body.client_name,
      client_birthday: body.client_birthday,
      is_male: body.is_male ?? null,
    });
  });

  router.patch("/v1/members/:loyalty_id", guard("members.manage"), async (req, res) => {
    const { loyalty_id } = parseOr400(MemberParams, req.params, "path");
    const { url: _readOnly, ...changes } = parseMember(MemberPatch, req.body);
    await change(req, res, loyalty_id, changes);
  });

  router.delete("/v1/members/:loyalty_id", guard("members.manage"), async (req, res) => {
    const { loyalty_id } = parseOr400(MemberParams, req.params, "path");
    const result = await writeOnce(ctx, req, loyalty_id, async (db) => {
      if (!(await deleteMember(db, loyalty_id))) throw notFound(loyalty_id);
      return { status: 204, body: null };
    });
    if (!result.replayed) await Promise.all([ctx.invalidateTokens(), forgetBalance(ctx, loyalty_id)]);
    sendWrite(res, result);
  });

  router.options("/v1/members/:loyalty_id", (_req, res) => {
    res.setHeader("Allow", ONE_ALLOW);
    res.json(optionsBody("Member Instance", "PUT"));
  });

  router.post("/v1/members/:loyalty_id/tokens", guard("members.manage"), async (req, res) => {
    const { loyalty_id } = parseOr400(MemberParams, req.params, "path");
    if (!(await getMember(ctx.pool, loyalty_id))) throw notFound(loyalty_id);
    const token = await issueToken(ctx.pool, "member", loyalty_id);
    await ctx.invalidateTokens();
    res.status(201).json({ token });
  });

  /** PUT and PATCH: the given columns, a new loyalty_id included (which moves the member's token). */
  async function change(req: Request, res: Response, loyalty_id: string, changes: Partial<MemberRow>) {
    const result = await writeOnce(ctx, req, loyalty_id, async (db) => {
      const row = await updateMember(db, loyalty_id, changes);
      if (!row) throw notFound(loyalty_id);
      return { status: 200, body: present(req, row) };
    });
    const renamed = changes.loyalty_id !== undefined && changes.loyalty_id !== loyalty_id;
    if (renamed && !result.replayed)
      await Promise.all([ctx.invalidateTokens(), forgetBalance(ctx, loyalty_id)]);
    sendWrite(res, result);
  }
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

export function memberUrl(ctx: GatewayContext, req: Request, member: { loyalty_id: string }): string {
  return `${baseUrl(req, ctx.config.PUBLIC_URL)}/v1/members/${encodeURIComponent(member.loyalty_id)}`;
}

/**
 * A member without entries may still have a cached (empty) balance; once the id is gone, GET
 * balance must answer 404, not that cache entry. Redis being down only leaves the TTL to bound it.
 */
async function forgetBalance(ctx: GatewayContext, loyaltyId: string): Promise<void> {
  await ctx.redis.del(redisKeys(ctx.config.REDIS_KEY_PREFIX).balance(loyaltyId)).catch(() => {});
}

const notFound = (id: string) => httpError("not_found", `member ${id} not found`);

/** `?search=&ordering=` from a form means "no filter", not "invalid". */
function withoutEmpty(query: Request["query"]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(query).filter(([, v]) => v !== ""));
}
