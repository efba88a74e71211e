import { EntryId, ExpiresAt, ItemInput, PartnerId, Reason, SignedPoints, UserId } from "@points/shared";
import { z } from "zod";
import { PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, PageQuery } from "../../pagination";
import { Allocation, Item } from "../points/schema";

/**
 * Requests and answers of the wallet API (contract section 2, "Wallet API"). The request schemas
 * validate; the answer schemas document (OpenAPI) what the ledger's renderEntry and the reads send.
 */

/** Ids per list parameter. 1,000 keeps one read to one bounded index scan per user. */
export const USER_IDS_MAX = 1_000;
export const ENTRY_IDS_MAX = 1_000;
export const AUTHORITY_IDS_MAX = 100;
export const LIST_PARAMS = ["user_ids", "authority_ids", "entry_ids"] as const;

export const CreateEntryBody = z.strictObject({
  user_id: UserId,
  amount: SignedPoints.meta({
    description: "> 0 earns (paid by the calling partner); < 0 spends |amount| oldest-first; never 0",
  }),
  reason: Reason,
  item: ItemInput.optional().meta({ description: "A reward item created with the entry, unused" }),
  payer: PartnerId.optional().meta({
    description:
      "The paying partner of a positive entry: required for the admin; a partner may only name itself",
  }),
  expires_at: ExpiresAt.nullable().optional().meta({
    description:
      "Positive entries only: when these points expire (later than now); null = never; absent = now + the payer's points_validity_days",
  }),
});
export type CreateEntryBody = z.infer<typeof CreateEntryBody>;

export const UseItemParams = z.object({ entry_id: EntryId });
/** POST .../use carries no body; an empty object is tolerated for clients that always send one. */
export const UseItemBody = z.strictObject({}).optional();

const idList = <T extends z.ZodType>(id: T, max: number) =>
  z.array(id).min(1, "must list at least one id").max(max, `must list at most ${max} ids`);

export const WalletsQuery = z.strictObject({
  user_ids: idList(UserId, USER_IDS_MAX),
  authority_ids: idList(PartnerId, AUTHORITY_IDS_MAX).optional(),
});
export type WalletsQuery = z.infer<typeof WalletsQuery>;

export const InventoryQuery = z.strictObject({
  entry_ids: idList(EntryId, ENTRY_IDS_MAX).optional(),
  user_ids: idList(UserId, USER_IDS_MAX).optional(),
  authority_ids: idList(PartnerId, AUTHORITY_IDS_MAX).optional(),
  used: z.enum(["true", "false", "any"]).default("false"),
  ...PageQuery.shape,
});
export type InventoryQuery = z.infer<typeof InventoryQuery>;

// --- Answers ---

export const WalletEntry = z
  .object({
    entry_id: z.uuid(),
    authority_id: z.string().meta({ description: "The partner that created the entry, or `admin`" }),
    user_id: z.string(),
    created_on: z.number().int().meta({ description: "Unix time in seconds" }),
    amount: z.number().int(),
    reason: z.string().nullable(),
    item: Item.optional(),
    expires_at: z
      .string()
      .nullable()
      .optional()
      .meta({ description: "Earns: when the lot expires; null = never" }),
    reversed: z.number().int().optional().meta({ description: "Points reversed so far" }),
    allocations: z
      .array(Allocation)
      .optional()
      .meta({ description: "Spends only: points taken per payer (negative), in first-touched order" }),
  })
  .meta({ id: "WalletEntry" });

export const WalletTotal = z
  .object({
    user_id: z.string(),
    total: z
      .number()
      .int()
      .meta({
        description:
          "Without authority_ids: the user's balance. With authority_ids: the net of the entries those " +
          "authorities created (earned minus spent through them), which may be negative.",
      }),
  })
  .meta({ id: "WalletTotal" });

export const InventoryItem = z
  .object({ entry_id: z.uuid(), authority_id: z.string(), user_id: z.string(), item: Item })
  .meta({ id: "InventoryItem" });

// --- Query strings as the OpenAPI document shows them (comma lists are strings on the wire) ---
const commaList = (what: string, max: number) =>
  z.string().meta({
    description: `Comma-separated ${what}, at most ${max}; send a comma inside an id as %2C. Repeating the parameter appends.`,
  });
export const WalletsQueryDoc = z.object({
  user_ids: commaList("user ids", USER_IDS_MAX),
  authority_ids: commaList("authority (partner) ids", AUTHORITY_IDS_MAX).optional(),
});
export const InventoryQueryDoc = z.object({
  entry_ids: commaList("entry ids", ENTRY_IDS_MAX).optional(),
  user_ids: commaList("user ids", USER_IDS_MAX).optional(),
  authority_ids: commaList("authority (partner) ids", AUTHORITY_IDS_MAX).optional(),
  used: z.enum(["true", "false", "any"]).optional().meta({ description: "Default `false` (unused items)" }),
  page: z.number().int().min(1).optional().meta({ description: "Default 1" }),
  page_size: z
    .number()
    .int()
    .min(1)
    .max(PAGE_SIZE_MAX)
    .optional()
    .meta({ description: `Default ${PAGE_SIZE_DEFAULT}` }),
});
