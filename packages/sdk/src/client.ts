import { readFile } from "node:fs/promises";
import { z } from "zod";
import { Transport, type TransportOptions } from "./http.js";
import { type SignedPartnerEvent, signPartnerEvent } from "./kafka.js";
import {
  Allocation,
  Balance,
  ClientConfig,
  Entry,
  ExpiringPoints,
  Health,
  Hold,
  InventoryItem,
  MembersPage,
  PayerDay,
  PayerReport,
  Transaction,
  UpsertResult,
  WalletTotal,
} from "./schemas.js";

/**
 * The client for partner applications ("authorities"): the wallet API (entries, wallets,
 * inventory, use item), the Fetch-style points API, and event signing for the Kafka path.
 * Request bodies and answers use the wire's field names (snake_case); SDK-only options are
 * camelCase. A failed call rejects with WalletAPIError (or one of its subclasses); only misuse
 * (a bad config file, addTransaction without a payer) is a plain Error.
 */
export interface WalletClientOptions extends Omit<TransportOptions, "baseUrl" | "token"> {
  baseUrl: string;
  token: string;
  /** Your partner id (or `admin`): the default payer of addTransaction and the x-partner-id of signed events. */
  authorityId?: string;
}

export interface MutationOptions {
  /** Repeat a call with the same key to get its first answer back; generated when absent. */
  idempotencyKey?: string;
}

export interface CreateEntryInput {
  user_id: string;
  /** > 0 gives points (paid by you), < 0 spends |amount| oldest-first; never 0. */
  amount: number;
  reason: string;
  item?: { name: string; data?: unknown };
  /** Admin tokens only: the partner paying a positive entry. */
  payer?: string;
  /** Positive entries only: when the points expire; null = never; absent = the payer's validity. */
  expires_at?: string | null;
}

export interface WalletsQuery {
  user_ids: readonly string[];
  authority_ids?: readonly string[];
}

export interface InventoryQuery {
  entry_ids?: readonly string[];
  user_ids?: readonly string[];
  authority_ids?: readonly string[];
  /** Default false: unused items only. */
  used?: boolean | "any";
  page?: number;
  /** Default 50, at most 1,000. */
  page_size?: number;
}

export interface TransactionInput {
  /** > 0 earns; < 0 takes from that payer's points (409 payer_points_insufficient if short). */
  points: number;
  /** ISO 8601 with a zone, or a Date; default now. Spends take the oldest points by this time. */
  timestamp?: string | Date;
  /** Default: this client's authority id (a partner may only pay for itself). */
  payer?: string;
  /** Earns only: when the points expire (later than timestamp); null = never; absent = the payer's validity. */
  expires_at?: string | Date | null;
}

export interface HoldInput {
  reason?: string;
  /** Seconds until the ledger voids the hold (status expired): 1..604800, default 900. */
  ttl_s?: number;
}

/** UTC days, YYYY-MM-DD; `to` inclusive. Defaults: the first day with an entry .. today. */
export interface PeriodQuery {
  from?: string;
  to?: string;
}

export interface MemberInput {
  loyalty_id: string;
  client_name: string;
  /** YYYY-MM-DD */
  client_birthday: string;
  cardno?: string;
  discount?: string;
  is_male?: boolean;
}

/** Ids per wallets request: the gateway's limit. */
export const WALLET_USERS_PER_REQUEST_MAX = 1_000;
/** Encoded id characters per URL: well under Node's default 16 KiB limit for the request head. */
export const URL_IDS_CHARS_MAX = 8_000;
const PAGE_SIZE_DEFAULT = 50;

export class WalletClient {
  readonly authorityId: string | undefined;
  private readonly http: Transport;

  constructor(options: WalletClientOptions) {
    this.authorityId = options.authorityId;
    this.http = new Transport(options);
  }

  /** A client from an authority config file: {"base_url", "authority_id", "token"} (see README). */
  static async loadFromConfig(
    path: string,
    options: Omit<WalletClientOptions, "baseUrl" | "token" | "authorityId"> = {},
  ): Promise<WalletClient> {
    const config = parseConfig(path, await readFile(path, "utf8"));
    return new WalletClient({
      ...options,
      baseUrl: config.base_url,
      token: config.token,
      authorityId: config.authority_id,
    });
  }

  /** POST /v1/entries: give (amount > 0) or spend (amount < 0) points, optionally with an item. */
  createEntry(input: CreateEntryInput, options: MutationOptions = {}): Promise<Entry> {
    return this.post("/v1/entries", input, Entry, options);
  }

  /** GET /v1/wallets: one total per distinct user, in order; long lists are split into several requests. */
  async getWallets(query: WalletsQuery): Promise<WalletTotal[]> {
    const authorities = query.authority_ids ? `&authority_ids=${encodeIds(query.authority_ids)}` : "";
    const totals: WalletTotal[] = [];
    for (const chunk of chunkIds([...new Set(query.user_ids)], URL_IDS_CHARS_MAX - authorities.length)) {
      const path = `/v1/wallets?user_ids=${encodeIds(chunk)}${authorities}`;
      totals.push(...(await this.get(path, z.array(WalletTotal))));
    }
    return totals;
  }

  /** GET /v1/inventory: one page of items (oldest first); see inventoryPages for all. */
  getInventory(query: InventoryQuery = {}): Promise<InventoryItem[]> {
    return this.get(`/v1/inventory${inventorySearch(query)}`, z.array(InventoryItem));
  }

  /** Every page of an inventory query, one array per page. */
  async *inventoryPages(query: InventoryQuery = {}): AsyncGenerator<InventoryItem[]> {
    const pageSize = query.page_size ?? PAGE_SIZE_DEFAULT;
    for (let page = query.page ?? 1; ; page++) {
      const items = await this.getInventory({ ...query, page, page_size: pageSize });
      if (items.length > 0) yield items;
      if (items.length < pageSize) return;
    }
  }

  /** POST /v1/inventory/{entry_id}/use: the item's entry with item.used = true. */
  useItem(entryId: string, options: MutationOptions = {}): Promise<Entry> {
    return this.post(`/v1/inventory/${encodeURIComponent(entryId)}/use`, undefined, Entry, options);
  }

  /** GET /health: `ok` is false (not an exception) when a dependency is down. */
  async checkServiceHealth(): Promise<Health> {
    const health = await this.http.request({
      method: "GET",
      path: "/health",
      schema: Health,
      answerStatuses: [503],
    });
    return { ...health, ok: health.status === "ok" };
  }

  /** POST /v1/users/{userId}/transactions: a Fetch-style transaction with its own timestamp. */
  async addTransaction(
    userId: string,
    input: TransactionInput,
    options: MutationOptions = {},
  ): Promise<Transaction> {
    const payer = input.payer ?? this.authorityId;
    if (payer === undefined)
      throw new TypeError("addTransaction needs a payer (no authorityId is configured)");
    const timestamp = input.timestamp ?? new Date();
    const expiresAt = input.expires_at instanceof Date ? input.expires_at.toISOString() : input.expires_at;
    const body = {
      payer,
      points: input.points,
      timestamp: timestamp instanceof Date ? timestamp.toISOString() : timestamp,
      ...(expiresAt !== undefined ? { expires_at: expiresAt } : {}),
    };
    return this.post(`${userPath(userId)}/transactions`, body, Transaction, options);
  }

  /** POST /v1/users/{userId}/spend: the points taken per payer (negative), oldest first. */
  spend(
    userId: string,
    points: number,
    options: MutationOptions & { reason?: string } = {},
  ): Promise<Allocation[]> {
    const body = options.reason === undefined ? { points } : { points, reason: options.reason };
    return this.post(`${userPath(userId)}/spend`, body, z.array(Allocation), options);
  }

  /** GET /v1/users/{userId}/balance: points per payer (admin and member tokens; partners get 403). */
  getBalance(userId: string): Promise<Balance> {
    return this.get(`${userPath(userId)}/balance`, Balance);
  }

  /**
   * POST /v1/users/{userId}/entries/{entryId}/reversals: a return (a spend's points go back to
   * their lots) or a cancellation (an earn is taken back). Default: all the entry has left.
   */
  reverse(
    userId: string,
    entryId: string,
    input: { points?: number; reason?: string } = {},
    options: MutationOptions = {},
  ): Promise<Entry> {
    return this.post(
      `${userPath(userId)}/entries/${encodeURIComponent(entryId)}/reversals`,
      input,
      Entry,
      options,
    );
  }

  /** POST /v1/users/{userId}/holds: reserve points (oldest first) until captured, voided or ttl_s passes. */
  hold(userId: string, points: number, input: HoldInput = {}, options: MutationOptions = {}): Promise<Hold> {
    return this.post(`${userPath(userId)}/holds`, { points, ...input }, Hold, options);
  }

  /** POST .../holds/{holdId}/capture: spend the held points (default all); the spend Entry, with hold_id. */
  capture(userId: string, holdId: string, points?: number, options: MutationOptions = {}): Promise<Entry> {
    const body = points === undefined ? {} : { points };
    return this.post(`${holdPath(userId, holdId)}/capture`, body, Entry, options);
  }

  /** POST .../holds/{holdId}/void: every held point goes back; the hold, status voided. */
  void(userId: string, holdId: string, options: MutationOptions = {}): Promise<Hold> {
    return this.post(`${holdPath(userId, holdId)}/void`, undefined, Hold, options);
  }

  /** GET .../holds/{holdId} */
  getHold(userId: string, holdId: string): Promise<Hold> {
    return this.get(holdPath(userId, holdId), Hold);
  }

  /** GET .../holds?status=: the member's holds, newest first. */
  listHolds(userId: string, status?: Hold["status"]): Promise<Hold[]> {
    const query = status === undefined ? "" : `?status=${status}`;
    return this.get(`${userPath(userId)}/holds${query}`, z.array(Hold));
  }

  /** GET /v1/users/{userId}/expiring: points expiring by `before` (default now + 30 days). */
  expiring(userId: string, before?: string | Date): Promise<ExpiringPoints[]> {
    const query = before === undefined ? "" : `?before=${encodeURIComponent(isoOf(before))}`;
    return this.get(`${userPath(userId)}/expiring${query}`, z.array(ExpiringPoints));
  }

  /** GET /v1/users/{userId}/balance?as_of=: the balance at that (past) instant. */
  balanceAsOf(userId: string, asOf: string | Date): Promise<Balance> {
    return this.get(`${userPath(userId)}/balance?as_of=${encodeURIComponent(isoOf(asOf))}`, Balance);
  }

  /** GET /v1/reports/payers: per payer, the period's figures (a partner gets its own row). */
  payerReport(query: PeriodQuery = {}): Promise<PayerReport> {
    return this.get(`/v1/reports/payers${periodSearch(query)}`, PayerReport);
  }

  /** GET /v1/reports/payers/{payer}/members: who holds that payer's points, most first. */
  payerMembers(payer: string, query: { as_of?: string | Date; page?: number; page_size?: number } = {}) {
    const params = [
      query.as_of !== undefined && `as_of=${encodeURIComponent(isoOf(query.as_of))}`,
      query.page !== undefined && `page=${query.page}`,
      query.page_size !== undefined && `page_size=${query.page_size}`,
    ].filter((p): p is string => typeof p === "string");
    const search = params.length > 0 ? `?${params.join("&")}` : "";
    return this.get(`/v1/reports/payers/${encodeURIComponent(payer)}/members${search}`, MembersPage);
  }

  /** GET /v1/reports/payers/{payer}/daily: movements and closing per UTC day. */
  payerDaily(payer: string, query: PeriodQuery = {}): Promise<PayerDay[]> {
    return this.get(
      `/v1/reports/payers/${encodeURIComponent(payer)}/daily${periodSearch(query)}`,
      z.array(PayerDay),
    );
  }

  /** POST /v1/members: registers or updates members (a user must be a member to hold points). */
  upsertMembers(members: MemberInput | readonly MemberInput[], options: MutationOptions = {}) {
    return this.post("/v1/members", members, UpsertResult, options);
  }

  /** Signs a partner event value with your signing_secret, naming this client's authority. */
  signPartnerEvent(secret: string, value: string | Uint8Array): SignedPartnerEvent {
    return signPartnerEvent(secret, value, this.authorityId);
  }

  private get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    return this.http.request({ method: "GET", path, schema });
  }

  private post<T>(path: string, body: unknown, schema: z.ZodType<T>, options: MutationOptions): Promise<T> {
    return this.http.request({ method: "POST", path, body, schema, idempotencyKey: options.idempotencyKey });
  }
}

function parseConfig(path: string, text: string): ClientConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`client config ${path} is not JSON: ${(err as Error).message}`);
  }
  const parsed = ClientConfig.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(file)"}: ${i.message}`);
    throw new Error(`client config ${path} is not valid: ${problems.join("; ")}`);
  }
  return parsed.data;
}

/** Ids as one comma list; a comma inside an id is escaped (%2C) like every other reserved character. */
function encodeIds(ids: readonly string[]): string {
  return ids.map(encodeURIComponent).join(",");
}

/** Splits ids so that no request has too many, or too long a URL. */
function chunkIds(ids: string[], charsMax: number): string[][] {
  const chunks: string[][] = [];
  let current: string[] = [];
  let chars = 0;
  for (const id of ids) {
    const length = encodeURIComponent(id).length + 1;
    if (current.length > 0 && (current.length >= WALLET_USERS_PER_REQUEST_MAX || chars + length > charsMax)) {
      chunks.push(current);
      current = [];
      chars = 0;
    }
    current.push(id);
    chars += length;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

function inventorySearch(query: InventoryQuery): string {
  const params = [
    query.entry_ids && `entry_ids=${encodeIds(query.entry_ids)}`,
    query.user_ids && `user_ids=${encodeIds(query.user_ids)}`,
    query.authority_ids && `authority_ids=${encodeIds(query.authority_ids)}`,
    query.used !== undefined && `used=${query.used}`,
    query.page !== undefined && `page=${query.page}`,
    query.page_size !== undefined && `page_size=${query.page_size}`,
  ].filter((p): p is string => typeof p === "string");
  return params.length > 0 ? `?${params.join("&")}` : "";
}

function holdPath(userId: string, holdId: string): string {
  return `${userPath(userId)}/holds/${encodeURIComponent(holdId)}`;
}

function isoOf(instant: string | Date): string {
  return instant instanceof Date ? instant.toISOString() : instant;
}

function periodSearch(query: PeriodQuery): string {
  const params = [query.from && `from=${query.from}`, query.to && `to=${query.to}`].filter(Boolean);
  return params.length > 0 ? `?${params.join("&")}` : "";
}

function userPath(userId: string): string {
  return `/v1/users/${encodeURIComponent(userId)}`;
}
