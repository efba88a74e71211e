/**
 * Wallet API for partner applications ("authorities"): entries, wallets, inventory, use item.
 * Changes go through the ledger like every points change; reads come from Postgres, narrowed
 * to what the caller may see (scopeOf).
 */

import { renderEntry, stringifyJson } from "@points/shared";
import { type EntryRow, entryFromRow } from "@points/shared/db";
import { Router } from "express";
import { z } from "zod";
import type { Principal } from "../../auth";
import type { GatewayContext } from "../../context";
import { requireEarnExpiry } from "../../earn-expiry";
import { httpError } from "../../http-errors";
import { AsyncHeaders, CommandAccepted, json } from "../../openapi";
import { authorize, principalOf, scopeOf } from "../../permissions";
import { mount, route } from "../../route";
import { submitCommand } from "../../submit";
import { requirePartner } from "../partners/store";
import { pageLinkHeader, readQuery } from "./query";
import {
  CreateEntryBody,
  InventoryItem,
  InventoryQuery,
  InventoryQueryDoc,
  LIST_PARAMS,
  UseItemBody,
  UseItemParams,
  WalletEntry,
  WalletsQuery,
  WalletsQueryDoc,
  WalletTotal,
} from "./schema";
import { inventoryPage, itemOwner, walletTotals } from "./store";

const TAGS = ["wallet"];
const IDEMPOTENCY_NOTE =
  "Idempotency-Key: a repeat with the same key and body returns the first answer and changes nothing; " +
  "the same key with another body is 422.";
const SCOPE_NOTE =
  "A partner only ever sees its own entries (authority_ids is narrowed to its own id); " +
  "a member only its own user (naming another user is 403).";

export function walletRoutes(ctx: GatewayContext): Router {
  return mount(Router(), [...writeRoutes(ctx), ...readRoutes(ctx)]);
}

/** Changes: an entry (earn or spend), an item used. Both go through the ledger. */
function writeRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "post",
      path: "/v1/entries",
      summary: "Give or take points with a reason, optionally with a reward item (admin, partner)",
      description:
        "amount > 0 earns points paid by the calling partner (an admin names the payer), timestamped now; " +
        "amount < 0 spends |amount| oldest-first across all payers and lists the points taken in `allocations` " +
        `(409 not_enough_funds when the balance is short; nothing changes). ${IDEMPOTENCY_NOTE}`,
      tags: TAGS,
      headers: AsyncHeaders,
      body: CreateEntryBody,
      responses: { 201: json(WalletEntry, "The entry as applied"), 202: CommandAccepted },
      errors: [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
      handle: async (req, res, { body }) => {
        const p = authorize(req, "wallet.entries", { userId: body.user_id });
        const command = body.amount > 0 ? await earnCommand(ctx, p, body) : spendCommand(p, body);
        await submitCommand(ctx, req, res, command);
      },
    }),
    route({
      method: "post",
      path: "/v1/inventory/{entry_id}/use",
      summary: "Mark an item used (admin; partner: its own items; member: its own)",
      description:
        "Ordered with the user's other changes (a ledger command). 404 when the entry has no item or is not " +
        `visible to the caller; a second use is 409 item_already_used. ${IDEMPOTENCY_NOTE}`,
      tags: TAGS,
      params: UseItemParams,
      headers: AsyncHeaders,
      body: UseItemBody,
      responses: { 200: json(WalletEntry, "The item's entry, with item.used = true"), 202: CommandAccepted },
      errors: [400, 401, 403, 404, 409, 415, 422, 429, 503],
      handle: async (req, res, { params: { entry_id } }) => {
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
      },
    }),
  ];
}

/**
 * Reads are open to every authenticated caller; what each sees is narrowed by its scope. Their
 * list parameters are read from the raw URL (query.ts), so the document shows them as the
 * comma-separated text they are on the wire.
 */
function readRoutes(ctx: GatewayContext) {
  return [
    route({
      method: "get",
      path: "/v1/wallets",
      summary: "Point totals for up to 1,000 users",
      description:
        "One row per distinct requested user, in request order (0 when nothing matches, also for an unknown user). " +
        "Without authority_ids the total is the user's balance; with authority_ids it is the net of the entries " +
        `those authorities created: earned minus spent through them, which may be negative. ${SCOPE_NOTE}`,
      tags: TAGS,
      permission: "wallet.read",
      query: WalletsQuery,
      readQuery: (req) => readQuery(req, LIST_PARAMS),
      queryDoc: WalletsQueryDoc,
      responses: { 200: json(z.array(WalletTotal), "Totals") },
      errors: [400, 401, 403, 429],
      handle: async (req, res, { query }) => {
        const principal = principalOf(req);
        const scope = scopeOf(principal);
        const userIds = [...new Set(query.user_ids)];
        if (scope.userId !== undefined) requireOwnUsers(principal, userIds);
        const authorityIds = narrowAuthorities(scope.authorityId, query.authority_ids);
        const totals = await walletTotals(ctx.pool, userIds, authorityIds);
        res.type("application/json").send(stringifyJson(totals));
      },
    }),
    route({
      method: "get",
      path: "/v1/inventory",
      summary: "Reward items, filtered by entry, user, authority and used state",
      description:
        "Items of entries matching every given filter, oldest first. Paged with page/page_size; the answer is an " +
        'array, and a `Link` header carries rel="next" / rel="prev" URLs when there are more. ' +
        SCOPE_NOTE,
      tags: TAGS,
      permission: "wallet.read",
      query: InventoryQuery,
      readQuery: (req) => readQuery(req, LIST_PARAMS),
      queryDoc: InventoryQueryDoc,
      responses: {
        200: {
          ...json(z.array(InventoryItem), "A page of items"),
          headers: z.object({
            link: z.string().optional().meta({ description: "RFC 8288 next/prev links" }),
          }),
        },
      },
      errors: [400, 401, 403, 429],
      handle: async (req, res, { query }) => {
        const principal = principalOf(req);
        const scope = scopeOf(principal);
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
        const raw = readQuery(req, LIST_PARAMS);
        const hasNext = rows.length > query.page_size;
        const link = pageLinkHeader(req, raw, query, hasNext, ctx.config.PUBLIC_URL);
        if (link) res.setHeader("Link", link);
        res.json(rows.slice(0, query.page_size).map(renderInventoryItem));
      },
    }),
  ];
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
