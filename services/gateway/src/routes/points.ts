/** The Fetch-style points API: transactions, spend, balance, entries. */

import {
  BALANCE_CACHE_TTL_S,
  BALANCE_SET_LUA,
  decodeCachedBalance,
  earnTimestampProblem,
  PartnerId,
  PositivePoints,
  Reason,
  redisKeys,
  renderUserEntry,
  SignedPoints,
  Timestamp,
  UserId,
} from "@points/shared";
import { ENTRY_COLUMNS, type EntryRow, entryFromRow } from "@points/shared/db";
import { type Request, Router } from "express";
import { z } from "zod";
import type { GatewayContext } from "../context";
import { httpError, parseOr400 } from "../http-errors";
import { AsyncHeaders, CommandAccepted, json, registry, withErrors } from "../openapi";
import { PageQuery, pageEnvelope, pageLinks } from "../pagination";
import { authorize } from "../permissions";
import { submitCommand } from "../submit";
import { requirePartner } from "./partners/store";

export const TransactionBody = z.strictObject({
  payer: PartnerId,
  points: SignedPoints,
  timestamp: Timestamp,
});
export const SpendBody = z.strictObject({ points: PositivePoints, reason: Reason.optional() });
const UserParams = z.object({ userId: UserId });

export function pointsRoutes(ctx: GatewayContext): Router {
  const router = Router();
  const keys = redisKeys(ctx.config.REDIS_KEY_PREFIX);
  ctx.redis.defineCommand("setBalance", { numberOfKeys: 1, lua: BALANCE_SET_LUA });

  router.post("/v1/users/:userId/transactions", async (req, res) => {
    const { userId } = parseOr400(UserParams, req.params, "path");
    const body = parseOr400(TransactionBody, req.body);
    const ahead = earnTimestampProblem(body.timestamp, Date.now());
    if (ahead !== null) {
      throw httpError("validation_failed", "invalid request body", { fields: { timestamp: [ahead] } });
    }
    const p = authorize(req, "points.transaction", { userId, payer: body.payer });
    await requirePartner(ctx.pool, body.payer);
    await submitCommand(ctx, req, res, {
      type: "earn",
      user_id: userId,
      payer: body.payer,
      points: body.points,
      timestamp: body.timestamp,
      authority_id: p.id,
      render: "transaction",
    });
  });

  router.post("/v1/users/:userId/spend", async (req, res) => {
    const { userId } = parseOr400(UserParams, req.params, "path");
    const body = parseOr400(SpendBody, req.body);
    const p = authorize(req, "points.spend", { userId });
    await submitCommand(ctx, req, res, {
      type: "spend",
      user_id: userId,
      points: body.points,
      ...(body.reason !== undefined ? { reason: body.reason } : {}),
      authority_id: p.role === "member" ? "member" : p.id,
      render: "spend",
    });
  });

  router.get("/v1/users/:userId/balance", async (req, res) => {
    const { userId } = parseOr400(UserParams, req.params, "path");
    authorize(req, "points.read", { userId });
    res.type("application/json").send(await readBalance(ctx, keys.balance(userId), userId));
  });

  router.get("/v1/users/:userId/entries", async (req, res) => {
    const { userId } = parseOr400(UserParams, req.params, "path");
    authorize(req, "points.read", { userId });
    const page = parseOr400(PageQuery, req.query, "query");
    res.json(await listEntries(ctx, req, userId, page));
  });

  return router;
}

/** Redis first; on a miss (or Redis down) one consistent Postgres read, then fill the cache. */
async function readBalance(ctx: GatewayContext, key: string, userId: string): Promise<string> {
  const cached = await ctx.redis.get(key).catch(() => null);
  const hit = cached ? decodeCachedBalance(cached) : null;
  if (hit) return hit.json;
  const { rows } = await ctx.pool.query<{ seq: string; body: string }>(
    `SELECT coalesce(a.seq, 0) AS seq,
            (SELECT '{' || coalesce(string_agg(to_json(p.payer)::text || ':' || p.available, ',' ORDER BY p.first_seen), '') || '}'
               FROM payer_balances p WHERE p.user_id = m.loyalty_id) AS body
       FROM members m LEFT JOIN accounts a ON a.user_id = m.loyalty_id
      WHERE m.loyalty_id = $1`,
    [userId],
  );
  const row = rows[0];
  if (!row) throw httpError("not_found", `member ${userId} not found`);
  const fill = (ctx.redis as unknown as { setBalance: (...a: unknown[]) => Promise<number> }).setBalance;
  await fill.call(ctx.redis, key, row.seq, row.body, BALANCE_CACHE_TTL_S).catch(() => {});
  return row.body;
}

async function listEntries(ctx: GatewayContext, req: Request, userId: string, page: PageQuery) {
  const { rows } = await ctx.pool.query<EntryRow & { total: string; member: boolean }>(
    `SELECT m.loyalty_id IS NOT NULL AS member, c.total, e.*
       FROM (SELECT 1) one
       LEFT JOIN members m ON m.loyalty_id = $1
       LEFT JOIN LATERAL (SELECT count(*) AS total FROM entries WHERE user_id = $1) c ON true
       LEFT JOIN LATERAL (SELECT ${ENTRY_COLUMNS} FROM entries WHERE user_id = $1
                           ORDER BY seq DESC, entry_id LIMIT $2 OFFSET $3) e ON true`,
    [userId, page.page_size, (page.page - 1) * page.page_size],
  );
  if (!rows[0]?.member) throw httpError("not_found", `member ${userId} not found`);
  const results = rows.filter((r) => r.entry_id !== null).map((r) => renderUserEntry(entryFromRow(r)));
  return { ...pageLinks(req, page, Number(rows[0].total), ctx.config.PUBLIC_URL), results };
}

// --- OpenAPI ---
const Allocation = z.object({ payer: z.string(), points: z.number().int() });
const UserEntry = z
  .object({
    entry_id: z.string().uuid(),
    authority_id: z.string(),
    user_id: z.string(),
    created_on: z.number().int(),
    amount: z.number().int(),
    reason: z.string().nullable(),
    type: z.enum(["earn", "adjust", "spend", "use_item"]),
    payer: z.string().optional(),
    timestamp: z.string().optional(),
    item: z.object({ name: z.string(), used: z.boolean(), data: z.unknown().optional() }).optional(),
    allocations: z.array(Allocation).optional(),
  })
  .meta({ id: "UserEntry" });
const params = z.object({ userId: UserId });

registry.registerPath({
  method: "post",
  path: "/v1/users/{userId}/transactions",
  summary: "Add a transaction (earn, or a negative transaction taking from that payer)",
  tags: ["points"],
  request: {
    params,
    headers: AsyncHeaders,
    body: { content: { "application/json": { schema: TransactionBody } } },
  },
  responses: withErrors(
    {
      201: json(
        z.object({
          entry_id: z.string(),
          payer: z.string(),
          points: z.number().int(),
          timestamp: z.string(),
        }),
        "Applied",
      ),
      202: CommandAccepted,
    },
    [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
  ),
});
registry.registerPath({
  method: "post",
  path: "/v1/users/{userId}/spend",
  summary: "Spend points, oldest first; answers the points taken per payer",
  tags: ["points"],
  request: {
    params,
    headers: AsyncHeaders,
    body: { content: { "application/json": { schema: SpendBody } } },
  },
  responses: withErrors(
    { 200: json(z.array(Allocation), "Points taken per payer"), 202: CommandAccepted },
    [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
  ),
});
registry.registerPath({
  method: "get",
  path: "/v1/users/{userId}/balance",
  summary: "Points per payer (every payer the user ever had, zeros included)",
  tags: ["points"],
  request: { params },
  responses: withErrors(
    { 200: json(z.record(z.string(), z.number().int()), "Balance per payer") },
    [400, 401, 403, 404, 429],
  ),
});
registry.registerPath({
  method: "get",
  path: "/v1/users/{userId}/entries",
  summary: "The user's entries, newest first",
  tags: ["points"],
  request: { params, query: PageQuery },
  responses: withErrors(
    { 200: json(pageEnvelope(UserEntry), "A page of entries") },
    [400, 401, 403, 404, 429],
  ),
});
