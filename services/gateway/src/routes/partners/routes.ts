/** Partners (payers and wallet authorities): created by the admin, each with a token and an HMAC secret. */

import { randomBytes } from "node:crypto";
import { Router } from "express";
import { z } from "zod";
import { issueToken } from "../../auth";
import type { GatewayContext } from "../../context";
import { json } from "../../openapi";
import { PageQuery, pageEnvelope, pageLinks } from "../../pagination";
import { mount, route } from "../../route";
import {
  ChangedPartner,
  ChangePartnerBody,
  CreatedPartner,
  CreatePartnerBody,
  Partner,
  PartnerParams,
} from "./schema";
import { changePartner, createPartner, listPartners, requirePartner } from "./store";

const SIGNING_SECRET_BYTES = 32;

export function partnerRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [
    route({
      method: "post",
      path: "/v1/partners",
      summary: "Create a partner (admin); its token and signing secret are shown once",
      tags: ["partners"],
      permission: "partners.manage",
      body: CreatePartnerBody,
      responses: { 201: json(CreatedPartner, "Created") },
      errors: [400, 401, 403, 409, 413, 415],
      handle: async (_req, res, { body }) => {
        const secret = randomBytes(SIGNING_SECRET_BYTES).toString("base64url");
        const token = await createPartner(ctx.pool, body, secret);
        res.status(201).json({
          id: body.id,
          name: body.name ?? body.id,
          points_validity_days: body.points_validity_days ?? null,
          token,
          signing_secret: secret,
        });
      },
    }),
    route({
      method: "get",
      path: "/v1/partners",
      summary: "List partners (admin), a page at a time, ordered by id",
      tags: ["partners"],
      permission: "partners.manage",
      query: PageQuery,
      responses: { 200: json(pageEnvelope(Partner), "A page of partners") },
      errors: [400, 401, 403],
      handle: async (req, res, { query }) => {
        const { count, rows } = await listPartners(ctx.pool, query);
        res.json({ ...pageLinks(req, query, count, ctx.config.PUBLIC_URL), results: rows });
      },
    }),
    route({
      method: "patch",
      path: "/v1/partners/{id}",
      summary:
        "Change a partner's name or points validity (admin); a validity change applies to points earned after it",
      tags: ["partners"],
      permission: "partners.manage",
      params: PartnerParams,
      body: ChangePartnerBody,
      responses: { 200: json(ChangedPartner, "Changed") },
      errors: [400, 401, 403, 404, 413, 415],
      handle: async (_req, res, { params, body }) => {
        res.json(await changePartner(ctx.pool, params.id, body));
      },
    }),
    route({
      method: "post",
      path: "/v1/partners/{id}/tokens",
      summary: "Rotate a partner's token (admin); the old token stops working",
      tags: ["partners"],
      permission: "partners.manage",
      params: PartnerParams,
      responses: { 201: json(z.object({ token: z.string() }), "New token") },
      errors: [400, 401, 403, 404],
      handle: async (_req, res, { params }) => {
        await requirePartner(ctx.pool, params.id);
        const token = await issueToken(ctx.pool, "partner", params.id);
        await ctx.invalidateTokens();
        res.status(201).json({ token });
      },
    }),
  ]);
}
