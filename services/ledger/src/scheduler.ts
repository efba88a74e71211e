/**
 * The expiry scheduler (contract 6.1 and 6.3; docs/lifecycle-design.md section 3). Every
 * EXPIRY_SCAN_INTERVAL_MS each ledger instance looks, for the Kafka partitions it owns, for members
 * with something due (accounts.next_due: the earliest expiry of unspent points or of an open hold)
 * and applies `expire_due` and `hold_expire` commands for them, at most EXPIRY_SCAN_MEMBERS_MAX
 * members per step, stepping again at once while steps come back full (catch-up after downtime).
 *
 * The commands are applied through the ledger's own batch path (GroupCommitter -> applyBatch), not
 * produced to ledger.commands: the ledger is the one writer of every member, the batch locks the
 * member's account row (FOR UPDATE, the same lock any Kafka batch of that member takes) and checks
 * the commands table under it, so a command id is applied once however often it is scheduled
 * (a restart mid-scan, a rebalance, two instances for a moment). The ids are deterministic:
 * expire:<user>:<next_expiry> and hold-expire:<user>:<hold_id>. This keeps contract 3's ACL as it
 * is (only the gateway and ingest write ledger.commands) and needs no signing key in the ledger.
 * Outcomes (with the expire entries) are published on ledger.events like every other command's.
 * Nothing is kept in memory: after a restart the first scan finds what fell due meanwhile.
 */
import {
  type AnyLedgerCommand,
  expireDueCommandId,
  holdExpireCommandId,
  SYSTEM_COMMAND_VERSION,
} from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Logger } from "@points/shared/logger";
import type { BatchResult } from "./apply-batch";

/** Well inside the contract's 60 s bound, with room for a full catch-up step. */
export const EXPIRY_SCAN_INTERVAL_MS = 5_000;
/** Members per step: one batch of the ledger, so a backlog drains in bounded transactions. */
export const EXPIRY_SCAN_MEMBERS_MAX = 500;

export type ApplyCommands = (commands: AnyLedgerCommand[]) => Promise<BatchResult>;

export interface SchedulerOptions {
  intervalMs?: number;
  membersMax?: number;
}

export class ExpiryScheduler {
  /** Partitions this instance owns; null until the consumer group assigns them. */
  private owned: number[] | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly membersMax: number;

  constructor(
    private readonly pool: Pool,
    private readonly apply: ApplyCommands,
    private readonly log: Logger,
    options: SchedulerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? EXPIRY_SCAN_INTERVAL_MS;
    this.membersMax = options.membersMax ?? EXPIRY_SCAN_MEMBERS_MAX;
  }

  /** The consumer group's assignment of ledger.commands to this instance. */
  setOwned(partitions: number[]): void {
    this.owned = [...partitions];
    this.kick();
  }

  start(): void {
    this.stopped = false;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs a scan now (unless one runs), then every interval. */
  private kick(): void {
    if (this.stopped || this.running) return;
    clearTimeout(this.timer);
    this.running = this.drain()
      .catch((err) => this.log.warn({ err: String(err) }, "expiry scan failed; the next one retries"))
      .finally(() => {
        this.running = undefined;
        if (!this.stopped) this.timer = setTimeout(() => this.kick(), this.intervalMs);
      });
  }

  /** Steps until a step finds fewer than a full batch (the backlog is drained). */
  private async drain(): Promise<void> {
    while (!this.stopped && (await this.step(new Date())) >= this.membersMax) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** One step: the commands for up to membersMax members due at `now`; returns the members seen. */
  async step(now: Date): Promise<number> {
    if (this.owned === null || this.owned.length === 0) return 0;
    const due = await this.pool.query<{ user_id: string; next_due: Date }>(
      `SELECT user_id, next_due FROM accounts
        WHERE (kafka_partition = ANY($1::int[]) OR kafka_partition IS NULL) AND next_due <= $2
        ORDER BY next_due LIMIT $3`,
      [this.owned, now, this.membersMax],
    );
    if (due.rows.length === 0) return 0;
    const sentAt = now.getTime();
    const base = { v: SYSTEM_COMMAND_VERSION, origin: "ledger-scheduler", sent_at: sentAt } as const;
    // Every due member gets an expire_due, also when only a hold is due: applied on the whole
    // book, it makes both stored bounds exact, so a member is never scanned again for nothing.
    const commands: AnyLedgerCommand[] = due.rows.map((r) => ({
      ...base,
      type: "expire_due",
      command_id: expireDueCommandId(r.user_id, r.next_due.toISOString()),
      user_id: r.user_id,
      due_at: r.next_due.toISOString(),
    }));
    const holds = await this.pool.query<{ user_id: string; hold_id: string; expires_at: Date }>(
      `SELECT user_id, hold_id, expires_at FROM holds
        WHERE user_id = ANY($1::text[]) AND status = 'held' AND expires_at <= $2
        ORDER BY user_id, expires_at`,
      [due.rows.map((r) => r.user_id), now],
    );
    for (const h of holds.rows) {
      commands.push({
        ...base,
        type: "hold_expire",
        command_id: holdExpireCommandId(h.user_id, h.hold_id),
        user_id: h.user_id,
        hold_id: h.hold_id,
        due_at: h.expires_at.toISOString(),
      });
    }
    await this.apply(commands);
    return due.rows.length;
  }
}
