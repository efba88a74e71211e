import { type CommandAuthCode, type CommandSigningKey, verifyCommand } from "@points/shared/command-auth";
import type { Pool } from "@points/shared/db";
import type { KafkaMessage } from "@points/shared/kafka";

/**
 * What the ledger refuses before applying anything (contract 3, "Kafka is not an open door"):
 * a command not signed by the gateway or the ingest, and an earn whose payer is not a registered
 * partner. Both are dead-lettered with a stable x-error-code and change nothing.
 */
export type GuardCode = CommandAuthCode | "unknown_payer";

/** Checked on the raw value bytes, before the value is even parsed. */
export function authenticateMessage(
  keys: readonly CommandSigningKey[],
  message: KafkaMessage,
): { ok: true } | { ok: false; code: CommandAuthCode; reason: string } {
  const result = verifyCommand(keys, message.value, message.headers?.["x-command-auth"]);
  return result.ok ? { ok: true } : result;
}

/**
 * Registered partner ids, as the gateway writes them to the shared `partners` table. Only hits
 * are cached (for PARTNER_CACHE_TTL_MS, so a removed partner stops being accepted): a partner
 * created a moment ago must never be refused because of an older miss, and misses are rare
 * (a bug or an attack), so they always ask Postgres.
 */
const PARTNER_CACHE_TTL_MS = 60_000;
const PARTNER_CACHE_ENTRIES_MAX = 100_000;

export class PartnerRegistry {
  private readonly known = new Map<string, number>(); // id -> expires at (ms)

  constructor(
    private readonly pool: Pool,
    private readonly now: () => number = Date.now,
  ) {}

  /** The ids of `ids` that are not registered partners. Throws when Postgres does (the chunk is retried). */
  async unknown(ids: Iterable<string>): Promise<Set<string>> {
    const now = this.now();
    const ask = [...new Set(ids)].filter((id) => (this.known.get(id) ?? 0) <= now);
    if (ask.length === 0) return new Set();
    const { rows } = await this.pool.query<{ id: string }>(
      "SELECT id FROM partners WHERE id = ANY($1::text[])",
      [ask],
    );
    if (this.known.size + rows.length > PARTNER_CACHE_ENTRIES_MAX) this.known.clear();
    for (const { id } of rows) this.known.set(id, now + PARTNER_CACHE_TTL_MS);
    const found = new Set(rows.map((r) => r.id));
    return new Set(ask.filter((id) => !found.has(id)));
  }
}
