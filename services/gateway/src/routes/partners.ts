/** Partners (payers and wallet authorities): created by the admin, each with a token and an HMAC secret. */

import { randomBytes } from "node:crypto";
import { isStorableText, PartnerId } from "@points/shared";
import { inTransaction } from "@points/shared/db";
import { Router } from "express";
import { z } from "zod";
import { issueToken } from "../auth";
import type { GatewayContext } from "../context";
import { httpError, parseOr400 } from "../http-errors";
import { json, registry, withErrors } from "../openapi";
import { PageQuery, pageEnvelope, pageLinks } from "../pagination";
import { guard } from "../permissions";

const RESERVED_IDS = new Set(["admin", "member"]);
export const CreatePartnerBody = z.strictObject({
  id: PartnerId.refine((id) => !RESERVED_IDS.has(id.toLowerCase()), "is reserved"),
  name: z
    .string()
    .min(1)
    .max(200)
    .refine(isStorableText, "must be valid Unicode text without NUL characters")
    .optional(),
});
const PartnerParams = z.object({ id: PartnerId });
const KNOWN_PARTNERS_MAX = 100_000;

export function partnerRoutes(ctx: GatewayContext): Router {
  const router = Router();

  router.post("/v1/partners", guard("partners.manage"), async (req, res) => {
    const body = parseOr400(CreatePartnerBody, req.body);
    const secret = randomBytes(32).toString("base64url");
    const token = await inTransaction(ctx.pool, async (db) => {
      const created = await db.query(
        "INSERT INTO partners (id, name, signing_secret) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
        [body.id, body.name ?? body.id, secret],
      );
      if (created.rowCount === 0) throw httpError("already_exists", `partner ${body.id} already exists`);
      return issueToken(db, "partner", body.id);
    });
    res.status(201).json({ id: body.id, name: body.name ?? body.id, token, signing_secret: secret });
  });

  router.get("/v1/partners", guard("partners.manage"), async (req, res) => {
    const page = parseOr400(PageQuery, req.query, "query");
    const { rows } = await ctx.pool.query<{
      total: string;
      id: string | null;
      name: string;
      created_at: Date;
    }>(
      `SELECT (SELECT count(*) FROM partners) AS total, p.*
         FROM (SELECT 1) one
         LEFT JOIN LATERAL (SELECT id, name, created_at FROM partners ORDER BY id LIMIT $1 OFFSET $2) p ON true`,
      [page.page_size, (page.page - 1) * page.page_size],
    );
    const results = rows
      .filter((r) => r.id !== null)
      .map((r) => ({ id: r.id, name: r.name, created_at: r.created_at.toISOString() }));
    res.json({ ...pageLinks(req, page, Number(rows[0]?.total ?? 0), ctx.config.PUBLIC_URL), results });
  });

  router.post("/v1/partners/:id/tokens", guard("partners.manage"), async (req, res) => {
    const { id } = parseOr400(PartnerParams, req.params, "path");
    await requirePartner(ctx, id);
    const token = await issueToken(ctx.pool, "partner", id);
    await ctx.invalidateTokens();
    res.status(201).json({ token });
  });

  return router;
}

const knownPartners = new Set<string>();

/** 404 unless the partner exists. Partners are never deleted, so a positive answer is cached. */
export async function requirePartner(ctx: GatewayContext, id: string): Promise<void> {
  if (knownPartners.has(id)) return;
  const { rowCount } = await ctx.pool.query("SELECT 1 FROM partners WHERE id = $1", [id]);
  if (rowCount === 0) throw httpError("not_found", `partner ${id} not found`);
  if (knownPartners.size >= KNOWN_PARTNERS_MAX) knownPartners.clear();
  knownPartners.add(id);
}

const Partner = z.object({ id: z.string(), name: z.string(), created_at: z.string() });
registry.registerPath({
  method: "post",
  path: "/v1/partners",
  summary: "Create a partner (admin); its token and signing secret are shown once",
  tags: ["partners"],
  request: { body: { content: { "application/json": { schema: CreatePartnerBody } } } },
  responses: withErrors(
    {
      201: json(
        z.object({ id: z.string(), name: z.string(), token: z.string(), signing_secret: z.string() }),
        "Created",
      ),
    },
    [400, 401, 403, 409, 413, 415],
  ),
});
registry.registerPath({
  method: "get",
  path: "/v1/partners",
  summary: "List partners (admin), a page at a time, ordered by id",
  tags: ["partners"],
  request: { query: PageQuery },
  responses: withErrors({ 200: json(pageEnvelope(Partner), "A page of partners") }, [400, 401, 403]),
});
registry.registerPath({
  method: "post",
  path: "/v1/partners/{id}/tokens",
  summary: "Rotate a partner's token (admin); the old token stops working",
  tags: ["partners"],
  request: { params: PartnerParams },
  responses: withErrors({ 201: json(z.object({ token: z.string() }), "New token") }, [400, 401, 403, 404]),
});
