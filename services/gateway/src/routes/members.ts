import { UserId } from "@points/shared";
import { Router } from "express";
import { z } from "zod";
import { issueToken } from "../auth";
import type { GatewayContext } from "../context";
import { httpError, parseOr400 } from "../http-errors";
import { json, registry, withErrors } from "../openapi";
import { authorize, guard } from "../permissions";

/**
 * The member register (minimal: create one, read one, issue a token). The full register
 * (list, bulk upsert, update, delete, OPTIONS) is issue #4.
 */
const today = () => new Date().toISOString().slice(0, 10);
export const MemberBody = z.strictObject({
  loyalty_id: UserId,
  cardno: z.string().max(20).nullable().optional(),
  discount: z
    .union([z.string(), z.number()])
    .transform(String)
    .pipe(z.string().regex(/^-?\d{1,16}(\.\d{1,4})?$/, "decimal with up to 16 integer and 4 fraction digits"))
    .nullable()
    .optional(),
  client_name: z.string().min(1).max(200),
  client_birthday: z.iso.date("must be YYYY-MM-DD").refine((d) => d <= today(), "must not be in the future"),
  is_male: z.boolean().nullable().optional(),
});
const Params = z.object({ loyalty_id: UserId });

export function memberRoutes(ctx: GatewayContext): Router {
  const router = Router();

  router.post("/v1/members", guard("members.upsert"), async (req, res) => {
    const m = parseOr400(MemberBody, req.body);
    const { rows } = await ctx.pool.query<{ inserted: boolean }>(
      `INSERT INTO members (loyalty_id, cardno, discount, client_name, client_birthday, is_male)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (loyalty_id) DO UPDATE SET cardno = excluded.cardno, discount = excluded.discount,
         client_name = excluded.client_name, client_birthday = excluded.client_birthday,
         is_male = excluded.is_male, updated_at = now()
       RETURNING (xmax = 0) AS inserted`,
      [
        m.loyalty_id,
        m.cardno ?? null,
        m.discount ?? null,
        m.client_name,
        m.client_birthday,
        m.is_male ?? null,
      ],
    );
    const inserted = rows[0]?.inserted === true;
    res.status(201).json({ inserted: inserted ? 1 : 0, updated: inserted ? 0 : 1 });
  });

  router.get("/v1/members/:loyalty_id", async (req, res) => {
    const { loyalty_id } = parseOr400(Params, req.params, "path");
    authorize(req, "members.read", { userId: loyalty_id });
    const { rows } = await ctx.pool.query(
      "SELECT loyalty_id, cardno, discount, client_name, to_char(client_birthday, 'YYYY-MM-DD') AS client_birthday, is_male FROM members WHERE loyalty_id = $1",
      [loyalty_id],
    );
    if (!rows[0]) throw httpError("not_found", `member ${loyalty_id} not found`);
    res.json(rows[0]);
  });

  router.post("/v1/members/:loyalty_id/tokens", guard("members.manage"), async (req, res) => {
    const { loyalty_id } = parseOr400(Params, req.params, "path");
    const { rowCount } = await ctx.pool.query("SELECT 1 FROM members WHERE loyalty_id = $1", [loyalty_id]);
    if (rowCount === 0) throw httpError("not_found", `member ${loyalty_id} not found`);
    const token = await issueToken(ctx.pool, "member", loyalty_id);
    await ctx.invalidateTokens();
    res.status(201).json({ token });
  });

  return router;
}

registry.registerPath({
  method: "post",
  path: "/v1/members",
  summary: "Create or update a member (upsert by loyalty_id)",
  tags: ["members"],
  request: { body: { content: { "application/json": { schema: MemberBody } } } },
  responses: withErrors(
    { 201: json(z.object({ inserted: z.number(), updated: z.number() }), "Upserted") },
    [400, 401, 403, 413, 415],
  ),
});
registry.registerPath({
  method: "post",
  path: "/v1/members/{loyalty_id}/tokens",
  summary: "Issue a member token (admin); replaces the member's previous token",
  tags: ["members"],
  request: { params: Params },
  responses: withErrors({ 201: json(z.object({ token: z.string() }), "New token") }, [401, 403, 404]),
});
