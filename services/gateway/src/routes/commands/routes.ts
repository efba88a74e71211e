/** GET /v1/commands/{id}: the outcome of a command answered with 202. Callers see their own. */

import { isStorableText } from "@points/shared";
import { Router } from "express";
import { z } from "zod";
import { principalName } from "../../auth";
import type { GatewayContext } from "../../context";
import { httpError } from "../../http-errors";
import { json } from "../../openapi";
import { principalOf } from "../../permissions";
import { mount, route } from "../../route";

const CommandParams = z.object({
  id: z.string().min(1).max(128).refine(isStorableText, "must be valid Unicode text without NUL characters"),
});
const CommandStatus = z.object({
  id: z.string(),
  status: z
    .enum(["pending", "applied", "rejected", "failed"])
    .describe(
      "pending until the ledger decides (the gateway sends it again meanwhile); failed: only in records of gateways before 2026-12-01 (the send failed; nothing was applied)",
    ),
  response: z.object({ status: z.number().int(), body: z.unknown() }).optional(),
});

export function commandRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [
    route({
      method: "get",
      path: "/v1/commands/{id}",
      summary: "Status of a command accepted with 202, with the response once decided",
      tags: ["commands"],
      permission: { action: "commands.read", target: () => ({}) },
      params: CommandParams,
      responses: { 200: json(CommandStatus, "Command status") },
      errors: [400, 401, 404],
      handle: async (req, res, { params: { id } }) => {
        const p = principalOf(req);
        const owner = p.role === "admin" ? null : principalName(p);
        const decided = await ctx.bus.storedOutcome(null, id);
        if (decided && (owner === null || decided.actor === owner)) {
          return res.json({ id, status: decided.status, response: decided.response });
        }
        const { rows } = await ctx.pool.query<{ actor: string; status: "pending" | "failed" }>(
          "SELECT actor, status FROM command_requests WHERE command_id = $1",
          [id],
        );
        const row = rows[0];
        if (row && (owner === null || row.actor === owner)) return res.json({ id, status: row.status });
        throw httpError("not_found", `command ${id} not found`);
      },
    }),
  ]);
}
