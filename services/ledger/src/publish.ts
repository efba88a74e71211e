import { BALANCE_CACHE_TTL_S, BALANCE_SET_LUA, type LedgerOutcome, redisKeys } from "@points/shared";
import type { Producer } from "@points/shared/kafka";
import { sendAll } from "@points/shared/kafka";
import type { Logger } from "@points/shared/logger";
import type { Redis } from "ioredis";
import type { BatchResult } from "./apply-batch";

/**
 * After Postgres commits a batch: outcomes go to `ledger.events` (durable, for partners and
 * auditors) and to the waiting gateways (Redis pub/sub), and the balance cache is updated with
 * versioned writes. Redis is only a cache: when it is down the batch still completes, and the
 * users whose cache could not be written are remembered and evicted once Redis answers again.
 */
export class OutcomePublisher {
  private readonly keys;
  private readonly staleUsers = new Set<string>();

  constructor(
    private readonly producer: Producer,
    private readonly redis: Redis,
    private readonly eventsTopic: string,
    redisKeyPrefix: string,
    private readonly log: Logger,
  ) {
    this.keys = redisKeys(redisKeyPrefix);
    this.redis.defineCommand("setBalance", { numberOfKeys: 1, lua: BALANCE_SET_LUA });
  }

  async publish(result: BatchResult, replyTo: ReadonlyMap<string, string>): Promise<void> {
    await Promise.all([this.toRedis(result, replyTo), this.toKafka(result.outcomes)]);
  }

  private async toKafka(outcomes: LedgerOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const messages = outcomes.map((o) => ({ key: o.user_id, value: JSON.stringify(o) }));
    await sendAll(this.producer, this.eventsTopic, messages);
  }

  private async toRedis(result: BatchResult, replyTo: ReadonlyMap<string, string>): Promise<void> {
    const pipeline = this.redis.pipeline();
    // Publishes overlap: forget only the stale users this pipeline evicts, a bounded number each.
    const evicting = takeFirst(this.staleUsers, STALE_EVICTIONS_PER_PUBLISH_MAX);
    for (const userId of evicting) pipeline.del(this.keys.balance(userId));
    for (const b of result.balances) {
      (pipeline as unknown as SetBalance).setBalance(
        this.keys.balance(b.userId),
        b.seq,
        b.body,
        BALANCE_CACHE_TTL_S,
      );
    }
    for (const o of result.outcomes) {
      const gateway = replyTo.get(o.command_id);
      if (gateway) pipeline.publish(this.keys.replyChannel(gateway), JSON.stringify(o));
    }
    try {
      const results = (await pipeline.exec()) ?? [];
      if (results.some(([err]) => err)) throw results.find(([err]) => err)?.[0];
      for (const userId of evicting) this.staleUsers.delete(userId);
    } catch (err) {
      let untracked = 0;
      for (const b of result.balances) {
        if (this.staleUsers.size < STALE_USERS_MAX) this.staleUsers.add(b.userId);
        else if (!this.staleUsers.has(b.userId)) untracked++;
      }
      this.log.warn(
        { err: String(err), stale: this.staleUsers.size, untracked },
        "redis unavailable; cache repaired later",
      );
    }
  }
}

/**
 * A long Redis outage must not grow memory or the next pipeline without bound. Past
 * STALE_USERS_MAX a user's stale entry is not tracked: it expires with the cache's TTL
 * (BALANCE_CACHE_TTL_S after its last successful write), the bound on how stale it can be read.
 */
const STALE_USERS_MAX = 100_000;
const STALE_EVICTIONS_PER_PUBLISH_MAX = 5_000;

function takeFirst(set: ReadonlySet<string>, n: number): string[] {
  const out: string[] = [];
  for (const v of set) {
    if (out.length >= n) break;
    out.push(v);
  }
  return out;
}

interface SetBalance {
  /** `body`: encodeCachedBalanceBody(json, next expiry), built by apply-batch.ts. */
  setBalance(key: string, seq: number, body: string, ttlSeconds: number): void;
}
