/**
 * Where every request enters: the GET balance fast path (balance-fast-path.ts) for the hot read,
 * else the express app. The app's order: metrics, public routes, authentication, rate limit, JSON
 * body rules, the routes, then the one error handler.
 */

import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import express, { type NextFunction, type Request, type Response } from "express";
import { Histogram } from "prom-client";
import { balanceFastPath, type Observe } from "./balance-fast-path";
import type { GatewayContext } from "./context";
import { errorHandler, HttpError, httpError } from "./http-errors";
import { RateLimiter, rateLimit, rateLimited } from "./rate-limit";
import { declaredBodyBytesMax, declaresOptions } from "./route";
import { commandRoutes } from "./routes/commands/routes";
import { consoleRoutes } from "./routes/console/routes";
import { deadLetterRoutes } from "./routes/dead-letters/routes";
import { expiringRoutes } from "./routes/expiring/routes";
import { holdRoutes } from "./routes/holds/routes";
import { memberRoutes } from "./routes/members/routes";
import { opsRoutes } from "./routes/ops/routes";
import { partnerRoutes } from "./routes/partners/routes";
import { pointsRoutes } from "./routes/points/routes";
import { reportRoutes } from "./routes/reports/routes";
import { reversalRoutes } from "./routes/reversals/routes";
import { walletRoutes } from "./routes/wallet/routes";

export const BODY_BYTES_MAX = 1024 * 1024;
const PUBLIC_PATHS = /^\/(health|metrics|openapi\.json|docs)(\/|$)/;

export function createApp(ctx: GatewayContext): RequestListener {
  const limiter = new RateLimiter(ctx.config.RATE_LIMIT_PER_SECOND, ctx.config.RATE_LIMIT_BURST);
  const observe = requestHistogram(ctx);
  const app = expressApp(ctx, limiter, observe);
  const fast = balanceFastPath(ctx, limiter, observe);
  return (req: IncomingMessage, res: ServerResponse) => {
    const fastAnswer = fast(req, res);
    if (fastAnswer === false) app(req, res);
    else if (fastAnswer !== true) void fastAnswer.then((answered) => answered || app(req, res));
  };
}

function expressApp(ctx: GatewayContext, limiter: RateLimiter, observe: Observe): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.set("query parser", "simple");
  app.use(requestMetrics(observe));
  app.use(opsRoutes(ctx));
  app.use(consoleRoutes());
  app.use(
    authenticate(ctx, new RateLimiter(ctx.config.AUTH_LOOKUPS_PER_SECOND, ctx.config.AUTH_LOOKUPS_BURST)),
  );
  app.use(rateLimit(limiter));
  app.use(jsonOnly);
  app.use(jsonBodies());
  app.use(optionsOnlyWhereDeclared);
  app.use(partnerRoutes(ctx));
  app.use(memberRoutes(ctx));
  app.use(pointsRoutes(ctx));
  app.use(reversalRoutes(ctx));
  app.use(holdRoutes(ctx));
  app.use(expiringRoutes(ctx));
  app.use(reportRoutes(ctx));
  app.use(walletRoutes(ctx));
  app.use(commandRoutes(ctx));
  app.use(deadLetterRoutes(ctx));
  app.use((req: Request) => {
    throw httpError("not_found", `no route for ${req.method} ${req.path}`);
  });
  app.use(errorHandler(ctx.log));
  return app;
}

function authenticate(ctx: GatewayContext, lookups: RateLimiter) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    if (PUBLIC_PATHS.test(req.path)) return next();
    // A token not in the cache costs a Postgres lookup: those are limited per client address,
    // so a stream of made-up tokens cannot turn into a stream of queries.
    const limitLookups = () => {
      const retryAfterS = lookups.takeKey(req.socket.remoteAddress ?? "unknown");
      if (retryAfterS !== null) throw rateLimited("too many unknown tokens from this address", retryAfterS);
    };
    const principal = await ctx.auth.authenticate(req.get("authorization"), limitLookups).catch((err) => {
      if (err instanceof HttpError) throw err;
      throw httpError("unavailable", "cannot check credentials right now");
    });
    if (!principal) throw httpError("unauthenticated", "a valid bearer token is required");
    req.principal = principal;
    next();
  };
}

/** 1 MiB, or the larger limit a route declares (the bulk member upsert). */
function jsonBodies() {
  const normal = express.json({ limit: BODY_BYTES_MAX });
  const larger = new Map<number, ReturnType<typeof express.json>>();
  return (req: Request, res: Response, next: NextFunction) => {
    const bytes = declaredBodyBytesMax(req.method, req.path);
    if (bytes === undefined) return normal(req, res, next);
    if (!larger.has(bytes)) larger.set(bytes, express.json({ limit: bytes }));
    larger.get(bytes)!(req, res, next);
  };
}

/**
 * OPTIONS is answered only where a route declares it (the member register's field metadata).
 * Elsewhere express would answer it itself with a text/plain Allow list; here it is the same
 * JSON 404 as any other method a path does not have.
 */
function optionsOnlyWhereDeclared(req: Request, _res: Response, next: NextFunction) {
  if (req.method === "OPTIONS" && !declaresOptions(req.path)) {
    throw httpError("not_found", `no route for OPTIONS ${req.path}`);
  }
  next();
}

/** Bodies must be JSON: anything else is 415, before a byte is parsed. */
function jsonOnly(req: Request, _res: Response, next: NextFunction) {
  const hasBody = Number(req.get("content-length") ?? 0) > 0 || req.get("transfer-encoding") !== undefined;
  if (hasBody && !req.is("application/json")) {
    throw httpError("unsupported_media_type", "request bodies must be application/json");
  }
  next();
}

function requestHistogram(ctx: GatewayContext): Observe {
  const histogram = new Histogram({
    name: "gateway_request_seconds",
    help: "HTTP requests by route and status",
    labelNames: ["method", "route", "status"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [ctx.metrics],
  });
  return (method, route, status, seconds) => histogram.observe({ method, route, status }, seconds);
}

function requestMetrics(observe: Observe) {
  return (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    res.on("finish", () => {
      const route = (req.route?.path as string | undefined) ?? "unmatched";
      observe(req.method, route, res.statusCode, (performance.now() - started) / 1000);
    });
    next();
  };
}
