import { DEAD_LETTER_SOURCES } from "@points/shared/dead-letter-store";
import { Router } from "express";
import { z } from "zod";
import type { GatewayContext } from "../../context";
import { parseOr400 } from "../../http-errors";
import { json, registry, withErrors } from "../../openapi";
import { guard } from "../../permissions";

/**
 * GET /v1/dead-letters (admin): what the ingest and the ledger could not use, newest first, read
 * from the bounded `dead_letters` table their dead-lettering writes (dead-letter-store.ts).
 */
export const DEAD_LETTERS_LIMIT_MAX = 500;
const DEAD_LETTERS_LIMIT_DEFAULT = 50;

const DeadLettersQuery = z.object({
  source: z.enum(DEAD_LETTER_SOURCES).optional(),
  limit: z.coerce.number().int().min(1).max(DEAD_LETTERS_LIMIT_MAX).default(DEAD_LETTERS_LIMIT_DEFAULT),
});

const DeadLetter = z.object({
  source: z.enum(DEAD_LETTER_SOURCES),
  partition: z.number().int(),
  offset: z.string().meta({ description: "Kafka offset in its partition (a 64-bit integer, as a string)" }),
  partner_id: z
    .string()
    .optional()
    .meta({ description: "x-partner-id of a partner message, when it had one" }),
  error_code: z.string(),
  error_message: z.string(),
  received_at: z.string().meta({ description: "When the service dead-lettered it (ISO 8601, UTC)" }),
  value_excerpt: z.string().meta({ description: "The first 2,048 characters of the value (UTF-8)" }),
});

interface Row {
  source: "partner" | "ledger";
  partition: number;
  offset: string;
  partner_id: string | null;
  error_code: string;
  error_message: string;
  received_at: Date;
  value_excerpt: string;
}

export function deadLetterRoutes(ctx: GatewayContext): Router {
  const router = Router();
  router.get("/v1/dead-letters", guard("deadletters.read"), async (req, res) => {
    const query = parseOr400(DeadLettersQuery, req.query, "query");
    const { rows } = await ctx.pool.query<Row>(
      `SELECT source, "partition", "offset"::text AS "offset", partner_id, error_code, error_message,
              received_at, value_excerpt
         FROM dead_letters WHERE ($1::text IS NULL OR source = $1) ORDER BY id DESC LIMIT $2`,
      [query.source ?? null, query.limit],
    );
    res.json(
      rows.map((r) => ({
        source: r.source,
        partition: r.partition,
        offset: r.offset,
        ...(r.partner_id === null ? {} : { partner_id: r.partner_id }),
        error_code: r.error_code,
        error_message: r.error_message,
        received_at: r.received_at.toISOString(),
        value_excerpt: r.value_excerpt,
      })),
    );
  });
  return router;
}

registry.registerPath({
  method: "get",
  path: "/v1/dead-letters",
  summary: "Recent messages the ingest (partner) and the ledger (ledger) dead-lettered, newest first (admin)",
  tags: ["operations"],
  request: { query: DeadLettersQuery },
  responses: withErrors({ 200: json(z.array(DeadLetter), "Dead letters") }, [400, 401, 403]),
});
