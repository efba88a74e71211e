/**
 * Holds (contract 6.3): place, capture, void through the ledger like a spend (Idempotency-Key,
 * sync or 202); reads from Postgres. Admins and partners may hold any member's points, members
 * their own.
 */

import { randomUUID } from "node:crypto";
import { HOLD_TTL_S_DEFAULT } from "@points/shared";
import { Router } from "express";
import { z } from "zod";
import type { GatewayContext } from "../../context";
import { AsyncHeaders, CommandAccepted, json } from "../../openapi";
import { authorize, principalOf } from "../../permissions";
import { mount, route } from "../../route";
import { submitCommand } from "../../submit";
import { UserEntry } from "../points/schema";
import { CaptureBody, Hold, HoldParams, HoldsQuery, PlaceHoldBody, UserParams, VoidBody } from "./schema";
import { listHolds, readHold } from "./store";

const COMMAND_ERRORS = [400, 401, 403, 404, 409, 413, 415, 422, 429, 503];
const READ_ERRORS = [400, 401, 403, 404, 429];
const ownHolds = {
  action: "holds.manage" as const,
  target: (p: { userId: string }) => ({ userId: p.userId }),
};

/** The authority a hold's entries name: the partner or admin id, or "member" for a member's own. */
const authorityOf = (req: Parameters<typeof principalOf>[0]) => {
  const p = principalOf(req);
  return p.role === "member" ? "member" : p.id;
};

export function holdRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [...commandRoutes(ctx), ...readRoutes(ctx)]);
}

/** Place, capture and void: commands for the ledger. */
function commandRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "post",
      path: "/v1/users/{userId}/holds",
      summary:
        "Reserve points (oldest first, as a spend would take them) until captured, voided or ttl_s passes",
      tags: ["lifecycle"],
      permission: ownHolds,
      params: UserParams,
      headers: AsyncHeaders,
      body: PlaceHoldBody,
      responses: { 201: json(Hold, "Held"), 202: CommandAccepted },
      errors: COMMAND_ERRORS,
      handle: async (req, res, { params: { userId }, body }) => {
        authorize(req, "holds.manage", { userId });
        // The id is made here so a resent command names the same hold; with an Idempotency-Key
        // a replay answers the first outcome and this id is not used.
        await submitCommand(ctx, req, res, {
          type: "hold_place",
          user_id: userId,
          hold_id: randomUUID(),
          points: body.points,
          ttl_s: body.ttl_s ?? HOLD_TTL_S_DEFAULT,
          ...(body.reason !== undefined ? { reason: body.reason } : {}),
          authority_id: authorityOf(req),
        });
      },
    }),
    route({
      method: "post",
      path: "/v1/users/{userId}/holds/{hold_id}/capture",
      summary: "Spend held points (default all; the oldest held first); the rest go back to their lots",
      tags: ["lifecycle"],
      permission: ownHolds,
      params: HoldParams,
      headers: AsyncHeaders,
      body: CaptureBody,
      responses: { 200: json(UserEntry, "The spend entry, with hold_id"), 202: CommandAccepted },
      errors: COMMAND_ERRORS,
      handle: async (req, res, { params, body }) => {
        await submitCommand(ctx, req, res, {
          type: "hold_capture",
          user_id: params.userId,
          hold_id: params.hold_id,
          ...(body?.points !== undefined ? { points: body.points } : {}),
          authority_id: authorityOf(req),
        });
      },
    }),
    route({
      method: "post",
      path: "/v1/users/{userId}/holds/{hold_id}/void",
      summary: "Release a hold: all its points go back to their lots",
      tags: ["lifecycle"],
      permission: ownHolds,
      params: HoldParams,
      headers: AsyncHeaders,
      body: VoidBody,
      responses: { 200: json(Hold, "The hold, status voided"), 202: CommandAccepted },
      errors: COMMAND_ERRORS,
      handle: async (req, res, { params }) => {
        await submitCommand(ctx, req, res, {
          type: "hold_void",
          user_id: params.userId,
          hold_id: params.hold_id,
          authority_id: authorityOf(req),
        });
      },
    }),
  ];
}

/** One hold, or a member's holds: read from Postgres. */
function readRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "get",
      path: "/v1/users/{userId}/holds/{hold_id}",
      summary: "One hold",
      tags: ["lifecycle"],
      permission: ownHolds,
      params: HoldParams,
      responses: { 200: json(Hold, "The hold") },
      errors: READ_ERRORS,
      handle: async (_req, res, { params }) => {
        res.json(await readHold(ctx.pool, params.userId, params.hold_id));
      },
    }),
    route({
      method: "get",
      path: "/v1/users/{userId}/holds",
      summary: "The member's holds, newest first (at most 1000), optionally of one status",
      tags: ["lifecycle"],
      permission: ownHolds,
      params: UserParams,
      query: HoldsQuery,
      responses: { 200: json(z.array(Hold), "Holds") },
      errors: READ_ERRORS,
      handle: async (_req, res, { params, query }) => {
        res.json(await listHolds(ctx.pool, params.userId, query.status));
      },
    }),
  ];
}
