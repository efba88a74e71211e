/**
 * The gateway's one error path: handlers throw HttpError (or let zod/body-parser errors through)
 * and errorHandler renders the contract's envelope. No stack trace ever reaches a client.
 */

import { type ApiErrorBody, type ErrorCode, httpStatusOf } from "@points/shared";
import type { NextFunction, Request, Response } from "express";
import type { z } from "zod";

export class HttpError extends Error {
  constructor(
    readonly body: ApiErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
  withHeaders(headers: Record<string, string>): HttpError {
    return new HttpError(this.body, { ...this.headers, ...headers });
  }
  get status(): number {
    return httpStatusOf(this.body.code);
  }
}

export function httpError(code: ErrorCode, message: string, extra: Partial<ApiErrorBody> = {}): HttpError {
  return new HttpError({ code, message, ...extra });
}

/**
 * Adds a message under a field name. Names come from the client (unknown keys), so "toString" or
 * "__proto__" must be plain keys: own-property checks, never the prototype chain.
 */
export function addField(fields: Record<string, string[]>, name: string, message: string): void {
  const existing = Object.hasOwn(fields, name) ? fields[name]! : [];
  Object.defineProperty(fields, name, {
    value: [...existing, message],
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** zod issues as the envelope's `fields`: field path -> messages. */
export function fieldsOf(error: z.ZodError, prefix = ""): Record<string, string[]> {
  const fields: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const name = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "body";
    addField(fields, name, issue.message);
  }
  return fields;
}

export function validationError(error: z.ZodError, where = ""): HttpError {
  return httpError("validation_failed", "the request is not valid", { fields: fieldsOf(error, where) });
}

/** Parses with zod or throws 400 with per-field messages. */
export function parseOr400<S extends z.ZodType>(schema: S, value: unknown, where = ""): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(result.error, where);
  return result.data;
}

export function sendError(res: Response, error: HttpError): void {
  for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
  res.status(error.status).json({ error: error.body });
}

interface BodyParserError {
  type?: string;
  status?: number;
}

/** Postgres unreachable, restarting or refusing connections: a dependency is down (503), not a bug. */
function databaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : "";
  return (
    ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03"].includes(code) ||
    code.startsWith("08") ||
    /Connection terminated|timeout exceeded when trying to connect/.test(message)
  );
}

export function toHttpError(err: unknown): HttpError | null {
  if (err instanceof HttpError) return err;
  if (databaseUnavailable(err))
    return httpError("unavailable", "the database is unavailable; retry with the same Idempotency-Key");
  const e = err as BodyParserError;
  if (e?.type === "entity.too.large") return httpError("payload_too_large", "request body is too large");
  if (e?.type === "entity.parse.failed")
    return httpError("validation_failed", "request body is not valid JSON");
  if (e?.type === "charset.unsupported" || e?.type === "encoding.unsupported") {
    return httpError("unsupported_media_type", "unsupported body encoding");
  }
  if (e?.status && e.status >= 400 && e.status < 500)
    return httpError("validation_failed", "malformed request");
  return null;
}

export function errorHandler(log: { error: (o: object, m: string) => void }) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const known = toHttpError(err);
    if (known) {
      sendError(res, known);
      return;
    }
    log.error(
      { err: err instanceof Error ? err.stack : String(err), method: req.method, path: req.path },
      "unhandled error",
    );
    sendError(res, httpError("internal", "internal error"));
  };
}

/**
 * An `as_of` query value (ISO instant, already validated) as epoch ms, `now` when absent; 400
 * when it is in the future (balances and reports answer for instants that have happened).
 */
export function asOfOr400(asOf: string | undefined, now: number): number {
  const ms = asOf === undefined ? now : Date.parse(asOf);
  if (ms > now) {
    throw httpError("validation_failed", "invalid query", {
      fields: { as_of: ["must not be in the future"] },
    });
  }
  return ms;
}
