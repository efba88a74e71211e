/**
 * A route declared once, as data: method, path (OpenAPI syntax, the only place it is written),
 * the zod schemas of its params, query and body, who may call it, and its answers. mount() builds
 * both the express handler (parse, authorise, handle) and the route's OpenAPI entry from it, so
 * the document cannot drift from what is served.
 */

import type { RouteConfig } from "@asteasolutions/zod-to-openapi";
import { assert } from "@points/shared";
import type { Request, Response, Router } from "express";
import type { z } from "zod";
import { parseOr400 } from "./http-errors";
import { registry, withErrors } from "./openapi";
import { type Action, authorize, guard, type Target } from "./permissions";

type Method = "get" | "post" | "put" | "patch" | "delete" | "options";
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
  description?: string;
  tags: string[];
  /** Answered without a token (the document says so); app.ts mounts these before authentication. */
  public?: true;
  /**
   * An action alone is checked before any input is parsed; with a target, right after the path
   * params are parsed (routes whose permission depends on the body check it in handle).
   */
  permission?: Action | { action: Action; target: (params: Parsed<P>) => Target };
  params?: P;
  /** Request headers, for the document only (handlers read them themselves). */
  headers?: z.ZodObject;
  query?: Q;
  /** What `query` parses (default req.query), e.g. comma lists read from the raw URL. */
  readQuery?: (req: Request) => unknown;
  /** The query as the document shows it, when its wire form is not what `query` parses. */
  queryDoc?: z.ZodObject;
  body?: B;
  /** A larger body limit than app.ts's default, for this route only (the bulk member upsert). */
  bodyBytesMax?: number;
  /**
   * Parses the body instead of `body` (which then only documents it), for a route whose
   * refusals have a shape of their own (the member register's per-field and per-item errors).
   */
  parseBody?: (raw: unknown) => Parsed<B>;
  /**
   * A GET also answered for HEAD (express runs the GET handler and drops the body): the summary
   * of the HEAD operation in the document.
   */
  head?: string;
  /** Success answers (status -> json(...)); the error statuses get the one envelope. */
  responses: RouteConfig["responses"];
  errors: readonly number[];
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
    document(spec);
    const permission = spec.permission;
    const checks = typeof permission === "string" ? [guard(permission)] : [];
    if (spec.method === "options") optionsPaths.push(pathPattern(spec.path));
    if (spec.bodyBytesMax !== undefined) {
      largeBodies.push({ method: spec.method, path: pathPattern(spec.path), bytes: spec.bodyBytesMax });
    }
    const allow = allowHeader(routes, spec.path);
    router[spec.method](expressPath(spec.path), ...checks, async (req: Request, res: Response) => {
      if (spec.method === "options") res.setHeader("Allow", allow);
      const params = spec.params ? parseOr400(spec.params, req.params, "path") : undefined;
      if (typeof permission === "object") authorize(req, permission.action, permission.target(params));
      const input = {
        params,
        query: spec.query ? parseOr400(spec.query, spec.readQuery?.(req) ?? req.query, "query") : undefined,
        body: parseBody(spec, req.body),
      };
      await spec.handle(req, res, input);
    });
  }
  return router;
}

const METHOD_ORDER = ["get", "head", "post", "put", "patch", "delete", "options"] as const;

/** The methods declared for a path, as an Allow header; express answers HEAD wherever GET is. */
function allowHeader(routes: AnyRoute[], path: string): string {
  const methods = new Set(routes.filter((r) => r.path === path).map((r) => r.method as string));
  if (methods.has("get")) methods.add("head");
  return METHOD_ORDER.filter((m) => methods.has(m))
    .map((m) => m.toUpperCase())
    .join(", ");
}

/**
 * Paths that declare OPTIONS. Elsewhere express would answer OPTIONS itself with a text/plain
 * Allow list; app.ts answers those with the JSON 404 of any method a path does not have.
 */
const optionsPaths: RegExp[] = [];
const pathPattern = (path: string) => new RegExp(`^${path.replace(/\{\w+\}/g, "[^/]+")}/?$`);
export const declaresOptions = (path: string) => optionsPaths.some((p) => p.test(path));

/** Routes with their own body limit: read by app.ts's JSON parser, which runs before any route. */
const largeBodies: { method: Method; path: RegExp; bytes: number }[] = [];
export function declaredBodyBytesMax(method: string, path: string): number | undefined {
  const m = method.toLowerCase();
  return largeBodies.find((b) => b.method === m && b.path.test(path))?.bytes;
}

function parseBody(spec: AnyRoute, raw: unknown): unknown {
  if (spec.parseBody) return spec.parseBody(raw);
  return spec.body ? parseOr400(spec.body, raw) : undefined;
}

/** The route's operation (and its HEAD twin) in the OpenAPI document. */
function document(spec: AnyRoute): void {
  const query = spec.queryDoc ?? spec.query;
  const operation = {
    path: spec.path,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    tags: spec.tags,
    ...(spec.public ? { security: [] } : {}),
  };
  registry.registerPath({
    ...operation,
    method: spec.method,
    request: {
      ...(spec.params ? { params: spec.params } : {}),
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(query ? { query } : {}),
      ...(spec.body ? { body: { content: { "application/json": { schema: spec.body } } } } : {}),
    },
    responses: withErrors(spec.responses, spec.errors),
  });
  if (spec.head === undefined) return;
  assert(spec.method === "get", "only a GET has a HEAD twin");
  registry.registerPath({
    ...operation,
    method: "head",
    summary: spec.head,
    ...(spec.params ? { request: { params: spec.params } } : {}),
    responses: withoutBodies(withErrors(spec.responses, spec.errors)),
  });
}

/** A HEAD answer has a status and headers, no body to describe. */
function withoutBodies(responses: RouteConfig["responses"]): RouteConfig["responses"] {
  return Object.fromEntries(
    Object.entries(responses).map(([status, r]) => [
      status,
      { description: "description" in r ? r.description : "" },
    ]),
  );
}
