/** GET /v1/dead-letters (admin): what the ingest and the ledger could not use, newest first. */

import { Router } from "express";
import { z } from "zod";
import type { GatewayContext } from "../../context";
import { json } from "../../openapi";
import { mount, route } from "../../route";
import { DeadLetter, DeadLettersQuery } from "./schema";
import { recentDeadLetters } from "./store";

export function deadLetterRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [
    route({
      method: "get",
      path: "/v1/dead-letters",
      summary:
        "Recent messages the ingest (partner) and the ledger (ledger) dead-lettered, newest first (admin)",
      tags: ["operations"],
      permission: "deadletters.read",
      query: DeadLettersQuery,
      responses: { 200: json(z.array(DeadLetter), "Dead letters") },
      errors: [400, 401, 403],
      handle: async (_req, res, { query }) => {
        res.json(await recentDeadLetters(ctx.pool, query));
      },
    }),
  ]);
}
