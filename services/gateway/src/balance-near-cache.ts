/**
 * The gateway's in-memory copy of cached balances (a "near cache"), kept true by Redis itself:
 * server-assisted client-side caching (Redis `CLIENT TRACKING ... REDIRECT`). Redis remembers
 * which balance keys this gateway read and pushes an invalidation on a dedicated connection the
 * moment any writer changes one (the ledger after a commit, a gateway filling a miss or evicting a
 * deleted member, the cache repair, a TTL expiry). Why: a Redis round trip per GET balance cost
 * the hot read about half of what a bare `node:http` server does (issue 17); from memory the read
 * costs only its HTTP parsing, authorisation and rate bucket.
 *
 * What stays true (README, Performance):
 * - Nothing is served that Redis no longer holds once its invalidation has arrived; a GET whose
 *   key is invalidated while the GET is in flight is not kept (a pending marker per key).
 * - Read-your-writes for the writer: the command bus evicts the member's entry when this gateway
 *   receives an outcome, so the client that made a change reads it next. Other gateways drop
 *   their copy when Redis's invalidation reaches them (sub-millisecond on one network).
 * - If either connection drops, everything is forgotten and reads go to Redis until tracking is
 *   set up again on the new connections (invalidations sent meanwhile could have been lost).
 * - Entries are bounded in number (oldest inserted out first) and in age: an entry is refetched
 *   after NEAR_ENTRY_MAX_AGE_MS even if no invalidation came, the bound on any lost message.
 * - Staleness by expiry (contract 6.1) is decided at every read by decodeCachedBalance.
 */

import { type CachedBalance, decodeCachedBalance } from "@points/shared";
import type { Logger } from "@points/shared/logger";
import { Redis } from "ioredis";

/** How long an entry is answered from memory without asking Redis again, at most. */
export const NEAR_ENTRY_MAX_AGE_MS = 30_000;
const INVALIDATE_CHANNEL = "__redis__:invalidate";
const SETUP_RETRY_MS = 1_000;

interface Entry {
  value: string;
  storedAt: number;
}

export class BalanceNearCache {
  private readonly entries = new Map<string, Entry>();
  /** Key -> the token of the one GET whose answer may still be kept. */
  private readonly pending = new Map<string, number>();
  private nextToken = 0;
  /** Bumped whenever tracking may have lapsed: GETs started before cannot be kept. */
  private epoch = 0;
  private tracking = false;
  private stopped = false;
  /** CLIENT ID of the invalidation connection while it is subscribed; null after it closes. */
  private invalidationsId: string | null = null;
  private setupRunning: Promise<void> | null = null;

  private constructor(
    private readonly reader: Redis,
    private readonly invalidations: Redis,
    private readonly entriesMax: number,
    private readonly log: Logger,
  ) {}

  /**
   * Two connections of its own: the reader (tracked GETs) and the invalidation subscriber.
   * entriesMax 0 disables the memory copy (every read goes to Redis, as before). The connections
   * are named `<name>-near-reader` and `<name>-near-invalidations` (CLIENT LIST shows who is who).
   */
  static start(url: string, entriesMax: number, log: Logger, name = "gateway"): BalanceNearCache {
    const reader = new Redis(url, {
      connectionName: `${name}-near-reader`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 1_000,
      enableAutoPipelining: true,
    });
    // Not resubscribed by ioredis: after a reconnect the connection has a new id, and tracking
    // must be pointed at it before anything is kept again (setup below).
    const invalidations = new Redis(url, {
      connectionName: `${name}-near-invalidations`,
      autoResubscribe: false,
      disableClientInfo: true,
    });
    const cache = new BalanceNearCache(reader, invalidations, entriesMax, log);
    invalidations.on("close", () => {
      cache.invalidationsId = null;
    });
    for (const r of [reader, invalidations]) {
      r.on("error", () => {});
      r.on("close", () => cache.lapse());
      r.on("ready", () => cache.setup());
    }
    invalidations.on("messageBuffer", (channel: Buffer, keys: Buffer[] | null) => {
      if (String(channel) === INVALIDATE_CHANNEL) cache.onInvalidate(keys);
    });
    return cache;
  }

  /** A fresh entry for the key, decoded for nowMs, or undefined (then ask fetch). */
  get(key: string, nowMs: number): CachedBalance | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    const hit =
      nowMs - entry.storedAt < NEAR_ENTRY_MAX_AGE_MS ? decodeCachedBalance(entry.value, nowMs) : null;
    if (hit === null) this.entries.delete(key);
    return hit ?? undefined;
  }

  /** Reads the key from Redis (tracked) and keeps the answer if nothing invalidated it meanwhile. */
  async fetch(key: string): Promise<string | null> {
    const keep = this.tracking && this.entriesMax > 0;
    const epoch = this.epoch;
    const token = ++this.nextToken;
    if (keep) this.pending.set(key, token);
    try {
      const value = await this.reader.get(key);
      if (keep && value !== null && this.epoch === epoch && this.pending.get(key) === token) {
        this.store(key, value);
      }
      return value;
    } finally {
      if (this.pending.get(key) === token) this.pending.delete(key);
    }
  }

  /** Forgets one key now (read-your-writes: called when this gateway learns of a change). */
  evict(key: string): void {
    this.entries.delete(key);
    this.pending.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }

  get isTracking(): boolean {
    return this.tracking;
  }

  stop(): void {
    this.stopped = true;
    this.tracking = false;
    this.reader.disconnect();
    this.invalidations.disconnect();
  }

  private store(key: string, value: string): void {
    this.entries.delete(key); // re-inserted last: Map order is insertion order, oldest first
    if (this.entries.size >= this.entriesMax) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, { value, storedAt: Date.now() });
  }

  /** null: Redis dropped every tracked key (FLUSHALL, or its tracking table overflowed). */
  private onInvalidate(keys: Buffer[] | null): void {
    if (keys === null) {
      this.forgetAll();
      return;
    }
    for (const key of keys) this.evict(String(key));
  }

  private lapse(): void {
    if (this.tracking && !this.stopped)
      this.log.warn("balance near cache: a Redis connection closed; reading Redis until tracking is back");
    this.tracking = false;
    this.forgetAll();
  }

  private forgetAll(): void {
    this.epoch++;
    this.entries.clear();
    this.pending.clear();
  }

  /** Points the reader's tracking at the invalidation connection; runs again after a reconnect. */
  private setup(): void {
    if (this.setupRunning || this.stopped || this.entriesMax === 0) return;
    this.setupRunning = this.trackOnce()
      .catch((err: unknown) => this.log.warn({ err: String(err) }, "balance near cache: tracking not set up"))
      .finally(() => {
        this.setupRunning = null;
        // A connection that came back while we were setting up: go again (after a pause, so a
        // Redis that refuses the commands is not asked in a tight loop).
        if (!this.tracking && this.bothReady()) setTimeout(() => this.setup(), SETUP_RETRY_MS).unref();
      });
  }

  private bothReady(): boolean {
    return !this.stopped && this.reader.status === "ready" && this.invalidations.status === "ready";
  }

  private async trackOnce(): Promise<void> {
    if (!this.bothReady()) return;
    this.lapse();
    if (this.invalidationsId === null) {
      // CLIENT ID first: in RESP2 a subscribed connection takes no other command.
      const id = String(await this.invalidations.client("ID"));
      await this.invalidations.subscribe(INVALIDATE_CHANNEL);
      this.invalidationsId = id;
    }
    await this.reader.client("TRACKING", "ON", "REDIRECT", this.invalidationsId);
    if (this.bothReady() && this.invalidationsId !== null) {
      this.forgetAll();
      this.tracking = true;
    }
  }
}
