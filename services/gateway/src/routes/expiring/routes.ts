/** Points that will expire (contract 6.1), read through the pure core's expiring(). */

import { UserId } from "@points/shared";
import { Router } from "express";
import { z } from "zod";
import type { GatewayContext } from "../../context";
import { httpError } from "../../http-errors";
import { json } from "../../openapi";
import { mount, route } from "../../route";
import { EXPIRING_AHEAD_MS_DEFAULT, EXPIRING_AHEAD_MS_MAX, ExpiringQuery, ExpiringRow } from "./schema";
import { expiringPoints } from "./store";

/** Ten calendar years; checked on the dates, so leap days do not matter. */
function tenYearsAhead(now: number): number {
  const d = new Date(now);
  d.setUTCFullYear(d.getUTCFullYear() + 10);
  return Math.min(d.getTime(), now + EXPIRING_AHEAD_MS_MAX);
}

export function expiringRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [
    route({
      method: "get",
      path: "/v1/users/{userId}/expiring",
      summary: "Unspent points that will expire by `before`, one row per payer and instant, soonest first",
      tags: ["lifecycle"],
      permission: { action: "points.read", target: (p: { userId: string }) => ({ userId: p.userId }) },
      params: z.object({ userId: UserId }),
      query: ExpiringQuery,
      responses: { 200: json(z.array(ExpiringRow), "Points expiring by then") },
      errors: [400, 401, 403, 404, 429],
      handle: async (_req, res, { params: { userId }, query }) => {
        const now = Date.now();
        const before =
          query.before === undefined ? now + EXPIRING_AHEAD_MS_DEFAULT : Date.parse(query.before);
        if (before > tenYearsAhead(now)) {
          throw httpError("validation_failed", "invalid query", {
            fields: { before: ["must be at most 10 years ahead"] },
          });
        }
        res.json(await expiringPoints(ctx.pool, userId, now, before));
      },
    }),
  ]);
}
