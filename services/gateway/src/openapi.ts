/**
 * The OpenAPI 3.1 document is generated from the same zod schemas that validate requests:
 * each route module registers its paths next to its handlers, so docs cannot drift from code.
 */

import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";

export const registry = new OpenAPIRegistry();

registry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });

export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string(),
      message: z.string(),
      fields: z.record(z.string(), z.array(z.string())).optional(),
      items: z.array(z.record(z.string(), z.unknown())).optional(),
    }),
  })
  .meta({ id: "Error" });

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "validation_failed",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  409: "rule violation (see the error code)",
  413: "payload_too_large",
  415: "unsupported_media_type",
  422: "idempotency_key_reused",
  429: "rate_limited (Retry-After header)",
  503: "unavailable: a dependency is down; the request was certainly not accepted (when the gateway cannot tell, it answers 202)",
};

type Responses = RouteConfig["responses"];

/** Adds the error responses a route can give, all with the one envelope. */
export function withErrors(responses: Responses, statuses: readonly number[]): Responses {
  const all: Responses = { ...responses };
  for (const s of statuses) {
    all[s] = {
      description: ERROR_DESCRIPTIONS[s] ?? "error",
      content: { "application/json": { schema: ErrorEnvelope } },
    };
  }
  return all;
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

export const IdempotencyHeaders = z.object({
  "idempotency-key": z.string().max(255).optional().meta({ description: "Replays return the first answer" }),
});
export const AsyncHeaders = IdempotencyHeaders.extend({
  prefer: z.string().optional().meta({ description: "`respond-async` answers 202 at once" }),
});

export const CommandAccepted = json(
  z.object({ id: z.string(), status: z.literal("pending") }),
  "Accepted, or its send to the command log did not finish in time (it may still be applied): poll the Location header (/v1/commands/{id}), which ends applied, rejected or failed",
);

export function buildDocument(serverUrl?: string) {
  const generator = new OpenApiGeneratorV31(registry.definitions);
  return withSharedErrors(
    generator.generateDocument({
      openapi: "3.1.0",
      info: {
        title: "Points ledger",
        version: "1.0.0",
        description:
          "Loyalty points per member and per payer. Spends take the oldest points first; no payer goes negative. " +
          'Errors are always {"error":{"code","message","fields"?,"items"?}}.',
      },
      servers: serverUrl ? [{ url: serverUrl }] : [],
      security: [{ bearer: [] }],
    }),
  );
}

type Document = ReturnType<OpenApiGeneratorV31["generateDocument"]>;
type Operation = { security?: unknown[]; responses?: Record<string, unknown> };

/**
 * Errors the middleware in front of every route can give, added to each secured operation
 * instead of repeated in each route: 401, 429 and 503 (authentication, the rate limit, Postgres
 * down while a token is checked) and 413 and 415 (the JSON body rules apply to any request that
 * carries a body, whatever its method).
 */
const SHARED_ERRORS = [401, 413, 415, 429, 503];

function withSharedErrors(doc: Document): Document {
  for (const item of Object.values(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      const secured = op?.security === undefined || op.security.length > 0;
      if (!op?.responses || !secured) continue;
      for (const status of SHARED_ERRORS) {
        const description = ERROR_DESCRIPTIONS[status] ?? "error";
        // A HEAD answer has no body to describe.
        op.responses[status] ??=
          method === "head"
            ? { description }
            : {
                description,
                content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
              };
      }
    }
  }
  return doc;
}
