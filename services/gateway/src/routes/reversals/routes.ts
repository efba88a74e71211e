/**
 * Reversals (contract 6.2): a return gives a spend's points back to the lots they came from; a
 * cancellation takes an earn back. Through the ledger like every change; the ledger decides
 * what is reversible (409 not_reversible, reversal_exceeds_entry, payer_points_insufficient) and
 * whether the entry is the member's (404). A partner may reverse only entries it created.
 */

import { Router } from "express";
import type { GatewayContext } from "../../context";
import { AsyncHeaders, CommandAccepted, json } from "../../openapi";
import { mount, route } from "../../route";
import { submitCommand } from "../../submit";
import { UserEntry } from "../points/schema";
import { ReversalBody, ReversalParams } from "./schema";

export function reversalRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [
    route({
      method: "post",
      path: "/v1/users/{userId}/entries/{entry_id}/reversals",
      summary:
        "Reverse an entry: a spend's points go back to their lots (last taken first); an earn is taken back (its lot first, then the payer's oldest)",
      tags: ["lifecycle"],
      permission: "entries.reverse",
      params: ReversalParams,
      headers: AsyncHeaders,
      body: ReversalBody,
      responses: { 201: json(UserEntry, "The reversal entry"), 202: CommandAccepted },
      errors: [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
      handle: async (req, res, { params, body }) => {
        const p = req.principal!;
        await submitCommand(ctx, req, res, {
          type: "reverse",
          user_id: params.userId,
          entry_id: params.entry_id,
          ...(body?.points !== undefined ? { points: body.points } : {}),
          ...(body?.reason !== undefined ? { reason: body.reason } : {}),
          authority_id: p.id,
          ...(p.role === "partner" ? { only_authority: p.id } : {}),
        });
      },
    }),
  ]);
}
