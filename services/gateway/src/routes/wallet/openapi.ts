/** The wallet API's routes in the OpenAPI document, from the schemas that validate them. */

import { z } from "zod";
import { AsyncHeaders, CommandAccepted, json, registry, withErrors } from "../../openapi";
import {
  CreateEntryBody,
  InventoryItem,
  InventoryQueryDoc,
  UseItemParams,
  WalletEntry,
  WalletsQueryDoc,
  WalletTotal,
} from "./schema";

const IDEMPOTENCY_NOTE =
  "Idempotency-Key: a repeat with the same key and body returns the first answer and changes nothing; " +
  "the same key with another body is 422.";
const SCOPE_NOTE =
  "A partner only ever sees its own entries (authority_ids is narrowed to its own id); " +
  "a member only its own user (naming another user is 403).";

registry.registerPath({
  method: "post",
  path: "/v1/entries",
  summary: "Give or take points with a reason, optionally with a reward item (admin, partner)",
  description:
    "amount > 0 earns points paid by the calling partner (an admin names the payer), timestamped now; " +
    "amount < 0 spends |amount| oldest-first across all payers and lists the points taken in `allocations` " +
    `(409 not_enough_funds when the balance is short; nothing changes). ${IDEMPOTENCY_NOTE}`,
  tags: ["wallet"],
  request: {
    headers: AsyncHeaders,
    body: { content: { "application/json": { schema: CreateEntryBody } } },
  },
  responses: withErrors(
    { 201: json(WalletEntry, "The entry as applied"), 202: CommandAccepted },
    [400, 401, 403, 404, 409, 413, 415, 422, 429, 503],
  ),
});

registry.registerPath({
  method: "get",
  path: "/v1/wallets",
  summary: "Point totals for up to 1,000 users",
  description:
    "One row per distinct requested user, in request order (0 when nothing matches, also for an unknown user). " +
    "Without authority_ids the total is the user's balance; with authority_ids it is the net of the entries " +
    `those authorities created: earned minus spent through them, which may be negative. ${SCOPE_NOTE}`,
  tags: ["wallet"],
  request: { query: WalletsQueryDoc },
  responses: withErrors({ 200: json(z.array(WalletTotal), "Totals") }, [400, 401, 403, 429]),
});

registry.registerPath({
  method: "get",
  path: "/v1/inventory",
  summary: "Reward items, filtered by entry, user, authority and used state",
  description:
    "Items of entries matching every given filter, oldest first. Paged with page/page_size; the answer is an " +
    'array, and a `Link` header carries rel="next" / rel="prev" URLs when there are more. ' +
    SCOPE_NOTE,
  tags: ["wallet"],
  request: { query: InventoryQueryDoc },
  responses: withErrors(
    {
      200: {
        ...json(z.array(InventoryItem), "A page of items"),
        headers: z.object({ link: z.string().optional().meta({ description: "RFC 8288 next/prev links" }) }),
      },
    },
    [400, 401, 403, 429],
  ),
});

registry.registerPath({
  method: "post",
  path: "/v1/inventory/{entry_id}/use",
  summary: "Mark an item used (admin; partner: its own items; member: its own)",
  description:
    "Ordered with the user's other changes (a ledger command). 404 when the entry has no item or is not " +
    `visible to the caller; a second use is 409 item_already_used. ${IDEMPOTENCY_NOTE}`,
  tags: ["wallet"],
  request: { params: UseItemParams, headers: AsyncHeaders },
  responses: withErrors(
    { 200: json(WalletEntry, "The item's entry, with item.used = true"), 202: CommandAccepted },
    [400, 401, 403, 404, 409, 415, 422, 429, 503],
  ),
});
