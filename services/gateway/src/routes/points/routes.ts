/** The Fetch-style points API: transactions, spend, balance, entries. */

import { BALANCE_SET_LUA, earnTimestampProblem, redisKeys } from "@points/shared";
import { Router } from "express";
import { z } from "zod";
import { balanceAt } from "../../book-reads";
import type { GatewayContext } from "../../context";
import { requireEarnExpiry } from "../../earn-expiry";
import { asOfOr400, httpError } from "../../http-errors";
import { AsyncHeaders, CommandAccepted, json } from "../../openapi";
import { PageQuery, pageEnvelope } from "../../pagination";
import { authorize } from "../../permissions";
import { mount, route } from "../../route";
import { submitCommand } from "../../submit";
import { requirePartner } from "../partners/store";
import {
  Allocation,
  Balance,
  BalanceQuery,
  SpendBody,
  TransactionAnswer,
  TransactionBody,
  UserEntry,
  UserParams,
} from "./schema";
import { listEntries, readBalance } from "./store";

const COMMAND_ERRORS = [400, 401, 403, 404, 409, 413, 415, 422, 429, 503];
const READ_ERRORS = [400, 401, 403, 404, 429];

export function pointsRoutes(ctx: GatewayContext): Router {
  ctx.redis.defineCommand("setBalance", { numberOfKeys: 1, lua: BALANCE_SET_LUA });
  return mount(Router(), [...commandRoutes(ctx), ...readRoutes(ctx)]);
}

/** Earn (or a negative transaction) and spend: commands for the ledger. */
function commandRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "post",
      path: "/v1/users/{userId}/transactions",
      summary: "Add a transaction (earn, or a negative transaction taking from that payer)",
      tags: ["points"],
      params: UserParams,
      headers: AsyncHeaders,
      body: TransactionBody,
      responses: { 201: json(TransactionAnswer, "Applied"), 202: CommandAccepted },
      errors: COMMAND_ERRORS,
      handle: async (req, res, { params: { userId }, body }) => {
        const ahead = earnTimestampProblem(body.timestamp, Date.now());
        if (ahead !== null) {
          throw httpError("validation_failed", "invalid request body", { fields: { timestamp: [ahead] } });
        }
        requireEarnExpiry(body.points, body.timestamp, body.expires_at);
        const p = authorize(req, "points.transaction", { userId, payer: body.payer });
        await requirePartner(ctx.pool, body.payer);
        await submitCommand(ctx, req, res, {
          type: "earn",
          user_id: userId,
          payer: body.payer,
          points: body.points,
          timestamp: body.timestamp,
          ...(body.expires_at !== undefined ? { expires_at: body.expires_at } : {}),
          authority_id: p.id,
          render: "transaction",
        });
      },
    }),
    route({
      method: "post",
      path: "/v1/users/{userId}/spend",
      summary: "Spend points, oldest first; answers the points taken per payer",
      tags: ["points"],
      params: UserParams,
      headers: AsyncHeaders,
      body: SpendBody,
      responses: { 200: json(z.array(Allocation), "Points taken per payer"), 202: CommandAccepted },
      errors: COMMAND_ERRORS,
      handle: async (req, res, { params: { userId }, body }) => {
        const p = authorize(req, "points.spend", { userId });
        await submitCommand(ctx, req, res, {
          type: "spend",
          user_id: userId,
          points: body.points,
          ...(body.reason !== undefined ? { reason: body.reason } : {}),
          authority_id: p.role === "member" ? "member" : p.id,
          render: "spend",
        });
      },
    }),
  ];
}

const readsOwnPoints = {
  action: "points.read" as const,
  target: (p: { userId: string }) => ({ userId: p.userId }),
};

/** Balance (now or as of an instant) and entries. */
function readRoutes(ctx: GatewayContext) {
  const keys = redisKeys(ctx.config.REDIS_KEY_PREFIX);
  return [
    route({
      method: "get",
      path: "/v1/users/{userId}/balance",
      summary:
        "Points per payer (every payer the user ever had, zeros included); with as_of, the balance at that instant",
      tags: ["points"],
      permission: readsOwnPoints,
      params: UserParams,
      query: BalanceQuery,
      responses: { 200: json(Balance, "Balance per payer") },
      errors: READ_ERRORS,
      handle: async (_req, res, { params: { userId }, query }) => {
        if (query.as_of === undefined) {
          res.type("application/json").send(await readBalance(ctx, keys.balance(userId), userId));
          return;
        }
        const now = Date.now();
        const asOf = asOfOr400(query.as_of, now);
        res.type("application/json").send(await balanceAt(ctx.pool, userId, asOf, now));
      },
    }),
    route({
      method: "get",
      path: "/v1/users/{userId}/entries",
      summary: "The user's entries, newest first",
      tags: ["points"],
      permission: readsOwnPoints,
      params: UserParams,
      query: PageQuery,
      responses: { 200: json(pageEnvelope(UserEntry), "A page of entries") },
      errors: READ_ERRORS,
      handle: async (req, res, { params: { userId }, query }) => {
        res.json(await listEntries(ctx, req, userId, query));
      },
    }),
  ];
}
