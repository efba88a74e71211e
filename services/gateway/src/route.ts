/**
 * A route declared once, as data: method, path (OpenAPI syntax, the only place it is written),
 * the zod schemas of its params, query and body, who may call it, and its answers. mount() builds
 * both the express handler (parse, authorise, handle) and the route's OpenAPI entry from it, so
 * the document cannot drift from what is served.
 */

import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import type { Request, Response, Router } from "express";
import type { z } from "zod";
import { parseOr400 } from "./http-errors";
import { registry, withErrors } from "./openapi";
import { type Action, authorize, guard, type Target } from "./permissions";

type Method = "get" | "post" | "put" | "patch" | "delete";
type Schema = z.ZodType;
type Parsed<S> = S extends z.ZodType ? z.infer<S> : undefined;

export interface Input<P, Q, B> {
  params: Parsed<P>;
  query: Parsed<Q>;
  body: Parsed<B>;
}

export interface RouteSpec<
  P extends Schema | undefined,
  Q extends Schema | undefined,
  B extends Schema | undefined,
> {
  method: Method;
  /** e.g. "/v1/partners/{id}/tokens" */
  path: string;
  summary: string;
  tags: string[];
  /**
   * An action alone is checked before any input is parsed; with a target, right after the path
   * params are parsed (routes whose permission depends on the body check it in handle).
   */
  permission?: Action | { action: Action; target: (params: Parsed<P>) => Target };
  params?: P;
  /** Request headers, for the document only (handlers read them themselves). */
  headers?: z.ZodObject;
  query?: Q;
  body?: B;
  /** Success answers (status -> json(...)); the error statuses get the one envelope. */
  responses: RouteConfig["responses"];
  errors: number[];
  handle: (req: Request, res: Response, input: Input<P, Q, B>) => Promise<unknown> | unknown;
}

/** Declares a route: typed input from the schemas given. */
export function route<
  P extends Schema | undefined = undefined,
  Q extends Schema | undefined = undefined,
  B extends Schema | undefined = undefined,
>(spec: RouteSpec<P, Q, B>): RouteSpec<P, Q, B> {
  return spec;
}

/** "/v1/partners/{id}" -> "/v1/partners/:id" */
export const expressPath = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");

// biome-ignore lint/suspicious/noExplicitAny: a list of routes of any input types
type AnyRoute = RouteSpec<any, any, any>;

/** Mounts each route on the router and registers it in the OpenAPI document. */
export function mount(router: Router, routes: AnyRoute[]): Router {
  for (const spec of routes) {
    registry.registerPath({
      method: spec.method,
      path: spec.path,
      summary: spec.summary,
      tags: spec.tags,
      request: {
        ...(spec.params ? { params: spec.params } : {}),
        ...(spec.headers ? { headers: spec.headers } : {}),
        ...(spec.query ? { query: spec.query } : {}),
        ...(spec.body ? { body: { content: { "application/json": { schema: spec.body } } } } : {}),
      },
      responses: withErrors(spec.responses, spec.errors),
    });
    const permission = spec.permission;
    const checks = typeof permission === "string" ? [guard(permission)] : [];
    router[spec.method](expressPath(spec.path), ...checks, async (req: Request, res: Response) => {
      const params = spec.params ? parseOr400(spec.params, req.params, "path") : undefined;
      if (typeof permission === "object") authorize(req, permission.action, permission.target(params));
      const input = {
        params,
        query: spec.query ? parseOr400(spec.query, req.query, "query") : undefined,
        body: spec.body ? parseOr400(spec.body, req.body) : undefined,
      };
      await spec.handle(req, res, input);
    });
  }
  return router;
}
