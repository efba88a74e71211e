/**
 * Retention: the bookkeeping that makes commands exactly-once (command records, command requests,
 * idempotency keys, partner event claims) would grow forever. The pruner deletes rows older than
 * the retention window, oldest first, in bounded batches, each its own short transaction, so it
 * never holds locks the hot path waits on for long.
 *
 * Why the window is safe: Kafka can redeliver a command only while the topic still holds it
 * (ledger.commands keeps 7 days, `KAFKA_TOPIC_RETENTION_DAYS`), and the config refuses a window
 * that is not longer than that; clients may replay an Idempotency-Key for the whole window. The
 * ledger itself (entries, lots, allocations, accounts, payer balances) is never pruned.
 */
import type { Pool } from "@points/shared/db";
import type { Logger } from "@points/shared/logger";

/** The tables the pruner may touch, each with the column its age is read from. Nothing else. */
export const PRUNED_TABLES = Object.freeze([
  "commands",
  "command_requests",
  "idempotency_keys",
  "partner_events",
]);
export type PrunedTable = (typeof PRUNED_TABLES)[number];

/** Rows deleted per statement: one short transaction, a few milliseconds of Postgres time. */
export const PRUNE_BATCH_ROWS = 1_000;
/** Batches per table per round: bounds one round's work; the next round continues. */
export const PRUNE_BATCHES_PER_ROUND_MAX = 100;
/** Several ledger instances may run; one advisory lock lets one of them prune at a time. */
const PRUNER_LOCK_KEY = 0x70_72_75_6e; // "prun"

export interface PruneOptions {
  /** Rows created before this instant are deleted. */
  before: Date;
  batchRows?: number;
  batchesPerRoundMax?: number;
}

export type PruneCounts = Record<PrunedTable, number>;

/** One round: deletes what is due in every pruned table, in bounded batches; null if another pruner runs. */
export async function pruneOnce(pool: Pool, options: PruneOptions): Promise<PruneCounts | null> {
  const lock = await pool.connect();
  try {
    const { rows } = await lock.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [
      PRUNER_LOCK_KEY,
    ]);
    if (!rows[0]?.ok) return null;
    try {
      const counts = {} as PruneCounts;
      for (const table of PRUNED_TABLES) counts[table] = await pruneTable(pool, table, options);
      return counts;
    } finally {
      await lock.query("SELECT pg_advisory_unlock($1)", [PRUNER_LOCK_KEY]);
    }
  } finally {
    lock.release();
  }
}

async function pruneTable(pool: Pool, table: PrunedTable, options: PruneOptions): Promise<number> {
  const batchRows = options.batchRows ?? PRUNE_BATCH_ROWS;
  const batchesMax = options.batchesPerRoundMax ?? PRUNE_BATCHES_PER_ROUND_MAX;
  let deleted = 0;
  for (let batch = 0; batch < batchesMax; batch++) {
    // ctid ranges keep each statement's row count bounded without needing a unique key per table.
    const result = await pool.query(
      `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(
         SELECT ctid FROM ${table} WHERE created_at < $1 ORDER BY created_at LIMIT $2))`,
      [options.before, batchRows],
    );
    deleted += result.rowCount ?? 0;
    if ((result.rowCount ?? 0) < batchRows) break;
    await new Promise((resolve) => setImmediate(resolve)); // let the consumer's work in between
  }
  return deleted;
}

export interface Pruner {
  stop: () => Promise<void>;
}

/** Runs `pruneOnce` every `intervalMs`, never two rounds at once; failures are logged and retried next round. */
export function startPruner(
  pool: Pool,
  log: Logger,
  settings: { retentionDays: number; intervalMs: number },
  onRound: (counts: PruneCounts) => void = () => {},
): Pruner {
  let running: Promise<void> = Promise.resolve();
  const round = async () => {
    const before = new Date(Date.now() - settings.retentionDays * 86_400_000);
    try {
      const counts = await pruneOnce(pool, { before });
      if (counts) {
        onRound(counts);
        log.info({ before: before.toISOString(), deleted: counts }, "retention round done");
      }
    } catch (err) {
      log.warn({ err: String(err) }, "retention round failed; the next round retries");
    }
  };
  const timer = setInterval(() => {
    running = running.then(round);
  }, settings.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
