/** Health, metrics, the OpenAPI document and its docs page: public, never rate limited. */

import { withTimeout } from "@points/shared";
import { type NextFunction, type Request, type Response, Router } from "express";
import swaggerUi from "swagger-ui-express";
import { z } from "zod";
import type { GatewayContext } from "../../context";
import { httpError } from "../../http-errors";
import { buildDocument, json, registry } from "../../openapi";
import { mount, route } from "../../route";

const HEALTH_CHECK_TIMEOUT_MS = 1_500;
const TAGS = ["operations"];

export function opsRoutes(ctx: GatewayContext): Router {
  let document: ReturnType<typeof buildDocument> | undefined;
  const router = mount(Router(), [
    route({
      method: "get",
      path: "/health",
      summary: "Health of the gateway and its dependencies",
      tags: TAGS,
      public: true,
      responses: {
        200: json(z.object({ status: z.literal("ok"), checks: Checks }), "All dependencies answer"),
        503: json(z.object({ status: z.string(), checks: Checks }), "A dependency is down"),
      },
      errors: [],
      handle: async (_req, res) => {
        const checks = await healthChecks(ctx);
        const ok = Object.values(checks).every((c) => c === "ok");
        res.status(ok ? 200 : 503).json({ status: ok ? "ok" : "unavailable", checks });
      },
    }),
    route({
      method: "get",
      path: "/metrics",
      summary: "Prometheus metrics",
      tags: TAGS,
      public: true,
      responses: { 200: { description: "Prometheus text format" } },
      errors: [],
      handle: async (_req, res) => {
        res.type(ctx.metrics.contentType).send(await ctx.metrics.metrics());
      },
    }),
    route({
      method: "get",
      path: "/openapi.json",
      summary: "This document",
      tags: TAGS,
      public: true,
      responses: { 200: { description: "OpenAPI 3.1" } },
      errors: [],
      handle: (_req, res) => {
        document ??= buildDocument(ctx.config.PUBLIC_URL);
        res.json(document);
      },
    }),
  ]);
  router.use(
    "/docs",
    refuseDotSegments,
    swaggerUi.serve,
    swaggerUi.setup(undefined, { swaggerOptions: { url: "/openapi.json" } }),
  );
  return router;
}

const Checks = z.record(z.string(), z.string());

/** Each dependency's probe, bounded in time: name -> "ok" or why it is down. */
async function healthChecks(ctx: GatewayContext): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  await Promise.all(
    Object.entries(ctx.health).map(async ([name, probe]) => {
      checks[name] = await withTimeout(probe(), HEALTH_CHECK_TIMEOUT_MS).then(
        () => "ok",
        (err) => `down: ${err instanceof Error ? err.message : String(err)}`,
      );
    }),
  );
  return checks;
}

/** `.` or `..` as a path segment, also percent-encoded. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/** /docs/../.. names no docs asset: a JSON 404 (only the docs page itself is not JSON). */
function refuseDotSegments(req: Request, _res: Response, next: NextFunction): void {
  const path = req.originalUrl.split("?")[0] ?? "";
  if (DOT_SEGMENT.test(path)) throw httpError("not_found", "no docs page at this path");
  next();
}

/**
 * /docs is not a route() declaration: it is swagger-ui-express's tree of static files (the page,
 * its scripts and styles, a 301 to the trailing slash), served by its own middleware, so its
 * document entry is written here by hand.
 */
registry.registerPath({
  method: "get",
  path: "/docs",
  summary: "Interactive API docs",
  tags: ["operations"],
  security: [],
  responses: {
    200: { description: "HTML" },
    301: { description: "Redirect to the docs page with a trailing slash" },
    401: {
      description:
        "unauthenticated: a path that resolves outside /docs (dot segments resolved by the client) is not public",
    },
    404: { description: "not_found (JSON error envelope): a path that still holds dot segments (`.`, `..`)" },
  },
});
