/**
 * The outbox: every command answered 202 keeps its body in command_requests, and each gateway
 * sends again those the ledger has not decided after COMMAND_RESEND_AFTER_MS (then after twice
 * as long, up to a cap), until decided or COMMAND_RESEND_MAX_AGE_MS. So a 202 ends applied or
 * rejected even when Kafka lost the first send (a produce timed out across a broker failover, an
 * idempotent producer's sequence reset, a gateway stopped mid-send): the ledger de-duplicates by
 * command_id, so a resend of a command that did arrive changes nothing.
 *
 * Several gateways may run: a round claims its rows with FOR UPDATE SKIP LOCKED and moves their
 * resend_at on in the same statement, so two gateways do not send the same row in one round.
 */
import { assert } from "@points/shared";
import type { Pool } from "@points/shared/db";
import type { Logger } from "@points/shared/logger";
import type { AnyLedgerCommand } from "./command-bus";

/** Rows one round handles: one statement, one produce batch. The next round takes the rest. */
export const RESEND_ROUND_ROWS_MAX = 500;

export interface OutboxLimits {
  resendAfterMs: number;
  backoffMaxMs: number;
  maxAgeMs: number;
}

/** What a gateway keeps when it answers 202: the command as produced, checked again later. */
export async function recordPending(
  pool: Pool,
  command: AnyLedgerCommand,
  actor: string,
  resendAfterMs: number,
): Promise<void> {
  await pool.query(
    `INSERT INTO command_requests (command_id, user_id, actor, command, resend_at)
     VALUES ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000))
     ON CONFLICT DO NOTHING`,
    [command.command_id, command.user_id, actor, JSON.stringify(command), resendAfterMs],
  );
}

export interface ResendRound {
  /** Sent again: still undecided when checked. */
  resent: number;
  /** Found decided: no longer checked. */
  decided: number;
  /** Past the resend window and undecided: no longer sent, left "pending" for operators. */
  abandoned: string[];
}

/**
 * One round: claims due rows, clears those decided or too old, and sends the rest again through
 * `produce` (the command bus: signed, coalesced). A send that fails leaves the row due later.
 */
export async function resendDue(
  pool: Pool,
  produce: (command: AnyLedgerCommand) => Promise<unknown>,
  limits: OutboxLimits,
  rowsMax = RESEND_ROUND_ROWS_MAX,
): Promise<ResendRound> {
  const { rows } = await pool.query<{
    command_id: string;
    command: string;
    decided: boolean;
    abandoned: boolean;
  }>(
    `WITH due AS (
       SELECT r.command_id,
              EXISTS (SELECT 1 FROM commands c WHERE c.user_id = r.user_id AND c.command_id = r.command_id)
                AS decided,
              r.created_at < now() - make_interval(secs => $2::double precision / 1000) AS abandoned
         FROM command_requests r
        WHERE r.resend_at <= now() AND r.status = 'pending' AND r.command IS NOT NULL
        ORDER BY r.resend_at
        LIMIT $1
        FOR UPDATE OF r SKIP LOCKED)
     UPDATE command_requests r
        SET resend_at = CASE WHEN due.decided OR due.abandoned THEN NULL
              ELSE now() + make_interval(secs => least($3::double precision * power(2, least(r.resends, 20)),
                                                        $4::double precision) / 1000) END,
            resends = r.resends + CASE WHEN due.decided OR due.abandoned THEN 0 ELSE 1 END
       FROM due
      WHERE r.command_id = due.command_id
  RETURNING r.command_id, r.command, due.decided, due.abandoned`,
    [rowsMax, limits.maxAgeMs, limits.resendAfterMs, limits.backoffMaxMs],
  );
  const round: ResendRound = { resent: 0, decided: 0, abandoned: [] };
  const sends: Promise<unknown>[] = [];
  for (const row of rows) {
    if (row.decided) round.decided += 1;
    else if (row.abandoned) round.abandoned.push(row.command_id);
    else {
      const command = JSON.parse(row.command) as AnyLedgerCommand;
      assert(command.command_id === row.command_id, `outbox row ${row.command_id} holds another command`);
      sends.push(produce(command));
      round.resent += 1;
    }
  }
  // A refused send (Kafka down) is retried by a later round: the row is already due again.
  await Promise.allSettled(sends);
  return round;
}

export interface OutboxCounters {
  resent: (n: number) => void;
  abandoned: (n: number) => void;
}

/** Runs rounds every intervalMs until stopped; a round that fails (Postgres down) is logged. */
export function startResender(
  pool: Pool,
  produce: (command: AnyLedgerCommand) => Promise<unknown>,
  limits: OutboxLimits & { intervalMs: number },
  log: Logger,
  counters: OutboxCounters,
): { stop: () => Promise<void> } {
  let stopped = false;
  // One round at a time: a slow round (many rows, Kafka slow) skips ticks rather than queue them.
  let running: Promise<void> | null = null;
  const round = async () => {
    try {
      const done = await resendDue(pool, produce, limits);
      counters.resent(done.resent);
      counters.abandoned(done.abandoned.length);
      if (done.resent > 0) log.warn({ resent: done.resent }, "undecided commands sent again (outbox)");
      if (done.abandoned.length > 0)
        log.error(
          { commandIds: done.abandoned.slice(0, 20), count: done.abandoned.length },
          "undecided commands past the resend window: left pending",
        );
    } catch (err) {
      if (!stopped) log.warn({ err: String(err) }, "outbox round failed; the next round retries");
    }
  };
  const timer = setInterval(() => {
    if (running !== null) return;
    running = round().finally(() => {
      running = null;
    });
  }, limits.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
