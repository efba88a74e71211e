/**
 * Wallet API for partner applications ("authorities"): entries, wallets, inventory, use item.
 * Changes go through the ledger like every points change; reads come from Postgres, narrowed
 * to what the caller may see (scopeOf).
 */

import { renderEntry, stringifyJson } from "@points/shared";
import { type EntryRow, entryFromRow } from "@points/shared/db";
import { type Request, Router } from "express";
import type { Principal } from "../../auth";
import type { GatewayContext } from "../../context";
import { requireEarnExpiry } from "../../earn-expiry";
import { httpError, parseOr400 } from "../../http-errors";
import { authorize, principalOf, scopeOf } from "../../permissions";
import { submitCommand } from "../../submit";
import { requirePartner } from "../partners/store";
import { pageLinkHeader, readQuery } from "./query";
import {
  CreateEntryBody,
  InventoryQuery,
  LIST_PARAMS,
  UseItemBody,
  UseItemParams,
  WalletsQuery,
} from "./schema";
import { inventoryPage, itemOwner, walletTotals } from "./store";
import "./openapi";

export function walletRoutes(ctx: GatewayContext): Router {
  const router = Router();

  router.post("/v1/entries", async (req, res) => {
    const body = parseOr400(CreateEntryBody, req.body);
    const p = authorize(req, "wallet.entries", { userId: body.user_id });
    const command = body.amount > 0 ? await earnCommand(ctx, p, body) : spendCommand(p, body);
    await submitCommand(ctx, req, res, command);
  });

  router.post("/v1/inventory/:entry_id/use", async (req, res) => {
    const { entry_id } = parseOr400(UseItemParams, req.params, "path");
    parseOr400(UseItemBody, req.body);
    const scope = scopeOf(principalOf(req));
    // Kafka is keyed by user, so the entry's owner is looked up before the command is sent.
    // An item the caller may not see is "not found", so its existence does not leak.
    const owner = await itemOwner(ctx.pool, entry_id);
    const visible =
      owner !== null &&
      (scope.authorityId === undefined || owner.authority_id === scope.authorityId) &&
      (scope.userId === undefined || owner.user_id === scope.userId);
    if (!visible) throw httpError("not_found", `no item entry ${entry_id} for this caller`);
    authorize(req, "items.use", { userId: owner.user_id });
    await submitCommand(ctx, req, res, {
      type: "use_item",
      user_id: owner.user_id,
      entry_id,
      ...(scope.authorityId !== undefined ? { only_authority: scope.authorityId } : {}),
    });
  });

  router.get("/v1/wallets", async (req, res) => {
    const query = parseOr400(WalletsQuery, readQuery(req, LIST_PARAMS), "query");
    const { principal, scope } = principalScope(req);
    const userIds = [...new Set(query.user_ids)];
    if (scope.userId !== undefined) requireOwnUsers(principal, userIds);
    const authorityIds = narrowAuthorities(scope.authorityId, query.authority_ids);
    const totals = await walletTotals(ctx.pool, userIds, authorityIds);
    res.type("application/json").send(stringifyJson(totals));
  });

  router.get("/v1/inventory", async (req, res) => {
    const raw = readQuery(req, LIST_PARAMS);
    const query = parseOr400(InventoryQuery, raw, "query");
    const { principal, scope } = principalScope(req);
    if (scope.userId !== undefined && query.user_ids) requireOwnUsers(principal, query.user_ids);
    const rows = await inventoryPage(ctx.pool, {
      entryIds: query.entry_ids,
      userIds: scope.userId !== undefined ? [scope.userId] : query.user_ids,
      authorityIds: narrowAuthorities(scope.authorityId, query.authority_ids),
      used: query.used === "any" ? undefined : query.used === "true",
      // One row more than a page tells whether a next page exists, without a count over all items.
      limit: query.page_size + 1,
      offset: (query.page - 1) * query.page_size,
    });
    const link = pageLinkHeader(req, raw, query, rows.length > query.page_size, ctx.config.PUBLIC_URL);
    if (link) res.setHeader("Link", link);
    res.json(rows.slice(0, query.page_size).map(renderInventoryItem));
  });

  return router;
}

type EntryCommand = Parameters<typeof submitCommand>[3];

/** A positive entry: an earn paid by the calling partner (or the partner the admin names), now. */
async function earnCommand(ctx: GatewayContext, p: Principal, body: CreateEntryBody): Promise<EntryCommand> {
  if (p.role === "partner" && body.payer !== undefined && body.payer !== p.id) {
    throw httpError("forbidden", "a partner's entries are paid by the partner itself");
  }
  if (p.role === "admin" && body.payer === undefined) {
    throw httpError("validation_failed", "the request is not valid", {
      fields: { payer: ["is required when the admin gives points"] },
    });
  }
  const payer = body.payer ?? p.id;
  const timestamp = new Date().toISOString();
  requireEarnExpiry(body.amount, timestamp, body.expires_at);
  await requirePartner(ctx.pool, payer);
  return {
    type: "earn",
    user_id: body.user_id,
    payer,
    points: body.amount,
    timestamp,
    ...(body.expires_at !== undefined ? { expires_at: body.expires_at } : {}),
    authority_id: p.id,
    reason: body.reason,
    ...(body.item ? { item: body.item } : {}),
    render: "entry",
  };
}

/** A negative entry: a spend of |amount|, oldest points first, across every payer. */
function spendCommand(p: Principal, body: CreateEntryBody): EntryCommand {
  if (body.payer !== undefined) {
    throw httpError("validation_failed", "the request is not valid", {
      fields: { payer: ["applies only to a positive amount; a spend takes the oldest points of any payer"] },
    });
  }
  requireEarnExpiry(body.amount, "", body.expires_at);
  return {
    type: "spend",
    user_id: body.user_id,
    points: -body.amount,
    authority_id: p.id,
    reason: body.reason,
    ...(body.item ? { item: body.item } : {}),
    render: "entry",
  };
}

/** Reads are open to every authenticated caller; what each sees is narrowed by its scope. */
function principalScope(req: Request) {
  const principal = authorize(req, "wallet.read");
  return { principal, scope: scopeOf(principal) };
}

/** A member may read only its own wallet; naming anyone else is refused, not silently dropped. */
function requireOwnUsers(p: Principal, userIds: string[]): void {
  if (userIds.some((id) => id !== p.id)) {
    throw httpError("forbidden", "members may only read their own account");
  }
}

/** A partner sees only its own entries: any authority filter it gives is narrowed to itself. */
function narrowAuthorities(own: string | undefined, requested: string[] | undefined): string[] | undefined {
  if (own === undefined) return requested;
  return requested === undefined ? [own] : requested.filter((id) => id === own);
}

/** The inventory view of an item entry, rendered by the same code as the ledger's answers. */
function renderInventoryItem(row: EntryRow) {
  const { entry_id, authority_id, user_id, item } = renderEntry(entryFromRow(row));
  return { entry_id, authority_id, user_id, item };
}
