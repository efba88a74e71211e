/**
 * The permission matrix of contract section 5, in one place. Routes name an action and, where
 * the rule depends on it, the member or payer concerned; finer "own entries only" filtering of
 * reads is applied by the route with `scopeOf`.
 */

import { assertNever } from "@points/shared";
import type { NextFunction, Request, Response } from "express";
import type { Principal } from "./auth";
import { httpError } from "./http-errors";

export type Action =
  | "partners.manage"
  | "members.upsert"
  | "members.manage"
  | "members.read"
  | "points.transaction"
  | "points.spend"
  | "points.read"
  | "wallet.entries"
  | "wallet.read"
  | "items.use"
  | "commands.read"
  | "deadletters.read"
  | "entries.reverse"
  | "holds.manage"
  | "reports.payers"
  | "reports.members";

export interface Target {
  userId?: string;
  payer?: string;
}

/** null when allowed, else the reason. */
export function denial(p: Principal, action: Action, target: Target = {}): string | null {
  const ownUser = p.role === "member" && target.userId !== undefined && p.id === target.userId;
  switch (action) {
    case "partners.manage":
    case "members.manage":
    case "deadletters.read":
      return p.role === "admin" ? null : "only the admin token may do this";
    case "members.upsert":
    case "wallet.entries":
      return p.role === "member" ? "members may not do this" : null;
    case "members.read":
    case "points.spend":
    case "items.use":
    case "holds.manage":
      return p.role !== "member" || ownUser ? null : "members may only act on their own account";
    case "points.read":
      if (p.role === "partner") return "partners may not read balances or entries";
      return p.role === "admin" || ownUser ? null : "members may only read their own account";
    case "points.transaction":
      if (p.role === "member") return "members may not add transactions";
      return p.role === "admin" || target.payer === p.id
        ? null
        : "a partner may only add transactions it pays for";
    case "entries.reverse":
      // A partner reverses only entries it created: the ledger checks that (only_authority).
      return p.role === "member" ? "members may not reverse entries" : null;
    case "reports.payers":
    case "reports.members":
      if (p.role === "member") return "members may not read reports";
      return p.role === "admin" || target.payer === undefined || target.payer === p.id
        ? null
        : "a partner may only read its own figures";
    case "wallet.read":
    case "commands.read":
      return null; // everyone authenticated; results are scoped with scopeOf
    default:
      return assertNever(action);
  }
}

declare global {
  namespace Express {
    interface Request {
      principal?: Principal;
    }
  }
}

export function principalOf(req: Request): Principal {
  if (!req.principal) throw httpError("unauthenticated", "a bearer token is required");
  return req.principal;
}

/** Throws 403 unless the request's principal may do `action` on `target`. */
export function authorize(req: Request, action: Action, target: Target = {}): Principal {
  const p = principalOf(req);
  const reason = denial(p, action, target);
  if (reason) throw httpError("forbidden", reason);
  return p;
}

/** Middleware form for routes whose target comes from the path. */
export function guard(action: Action, target: (req: Request) => Target = () => ({})) {
  return (req: Request, _res: Response, next: NextFunction) => {
    authorize(req, action, target(req));
    next();
  };
}

/** What a principal may see of wallet data: everything, its own entries, or its own account. */
export function scopeOf(p: Principal): { authorityId?: string; userId?: string } {
  if (p.role === "partner") return { authorityId: p.id };
  if (p.role === "member") return { userId: p.id };
  return {};
}
