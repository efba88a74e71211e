/**
 * Sends commands to `ledger.commands` and waits for their outcomes. Produces are coalesced:
 * every command queued in the same event-loop turn goes out in one `send` (kafkajs has no
 * linger). Outcomes come back on this instance's Redis reply channel; if none arrives in time,
 * Postgres (the ledger's commands table) is asked once before answering 202.
 */

import {
  type AnyLedgerCommand as AnyCommand,
  type LedgerOutcome,
  LedgerOutcome as OutcomeSchema,
  TimeoutError,
  withTimeout,
} from "@points/shared";
import type { Pool } from "@points/shared/db";

/** What clients' requests become: every command but the ledger scheduler's own. */
export type AnyLedgerCommand = Extract<AnyCommand, { actor: unknown }>;

import type { Producer } from "@points/shared/kafka";
import { sendAll } from "@points/shared/kafka";
import type { Redis } from "ioredis";
import { httpError } from "./http-errors";

const PRODUCE_TIMEOUT_MS = 5_000;
const PRODUCE_BATCH_MAX = 1_000;

type Waiter = (outcome: LedgerOutcome) => void;

/**
 * What became of a produce: "sent" (Kafka acknowledged it) or "unknown" (the send did not finish
 * in time, or failed after it may have reached the broker; the outbox sends it again until the
 * ledger decides it). A send that certainly never left (the producer is not connected) throws
 * 503 instead.
 */
export type Produced = "sent" | "unknown";

export class CommandBus {
  // Several requests may wait for one command (concurrent retries with one Idempotency-Key).
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly outcomeListeners: ((outcome: LedgerOutcome) => void)[] = [];
  private queue: { command: AnyLedgerCommand; done: (result: Produced | Error) => void }[] = [];
  private flushScheduled = false;

  constructor(
    private readonly producer: Producer,
    private readonly pool: Pool,
    private readonly commandsTopic: string,
    readonly gatewayId: string,
  ) {}

  /** Subscribes this instance's reply channel on a dedicated Redis connection. */
  async listen(subscriber: Redis, channel: string): Promise<void> {
    subscriber.on("message", (from: string, message: string) => from === channel && this.onReply(message));
    await subscriber.subscribe(channel);
  }

  /**
   * Called with every outcome this gateway receives, before its waiters answer: the balance near
   * cache forgets the member there, so the client that made the change reads it next.
   */
  onOutcome(listener: (outcome: LedgerOutcome) => void): void {
    this.outcomeListeners.push(listener);
  }

  private onReply(message: string): void {
    let parsed: LedgerOutcome;
    try {
      parsed = OutcomeSchema.parse(JSON.parse(message));
    } catch {
      return; // not ours to judge; the ledger logs what it sent
    }
    for (const listener of this.outcomeListeners) listener(parsed);
    for (const waiter of this.waiters.get(parsed.command_id) ?? []) waiter(parsed);
  }

  /**
   * Produces the command and waits up to waitMs for its outcome. Returns null when the ledger
   * has not answered in time or the send's outcome is unknown (the caller answers 202). Throws
   * 503 when the command certainly was not accepted.
   */
  async send(command: AnyLedgerCommand, waitMs: number): Promise<LedgerOutcome | null> {
    let timer: NodeJS.Timeout | undefined;
    let waiter: Waiter | undefined;
    const outcome = new Promise<LedgerOutcome | null>((resolve) => {
      waiter = resolve;
      timer = setTimeout(() => resolve(null), waitMs);
    });
    const id = command.command_id;
    const waiting = this.waiters.get(id) ?? new Set<Waiter>();
    waiting.add(waiter!);
    this.waiters.set(id, waiting);
    try {
      if ((await this.produce(command)) === "unknown") return null;
      const result = await outcome;
      return result ?? (await this.storedOutcome(command.user_id, id));
    } finally {
      clearTimeout(timer);
      waiting.delete(waiter!);
      if (waiting.size === 0 && this.waiters.get(id) === waiting) this.waiters.delete(id);
    }
  }

  /** Produces without waiting for the outcome (Prefer: respond-async). */
  produce(command: AnyLedgerCommand): Promise<Produced> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, done: (r) => (r instanceof Error ? reject(r) : resolve(r)) });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, PRODUCE_BATCH_MAX);
      const messages = batch.map(({ command }) => ({ key: command.user_id, value: JSON.stringify(command) }));
      const sending = sendAll(this.producer, this.commandsTopic, messages);
      const result = await withTimeout(sending, PRODUCE_TIMEOUT_MS).then(
        () => "sent" as const,
        (err: unknown) => (err instanceof TimeoutError ? ("unknown" as const) : err),
      );
      if (result === "sent") {
        for (const item of batch) item.done("sent");
      } else if (result !== "unknown" && neverLeft(result)) {
        const refused = httpError(
          "unavailable",
          "the command log (Kafka) is unavailable; nothing was applied",
        );
        for (const item of batch) item.done(refused);
      } else {
        // The send may still land (kafkajs retries) or may have landed before it failed (a
        // produce timed out, then a retry was refused): nobody can say "never applied". The
        // clients get 202 and the outbox (command-outbox.ts) sends it again until decided.
        if (result === "unknown") sending.catch(() => {});
        for (const item of batch) item.done("unknown");
      }
    }
  }

  /** The ledger's recorded outcome, if it has decided the command. */
  async storedOutcome(userId: string | null, commandId: string): Promise<LedgerOutcome | null> {
    const { rows } = await this.pool.query<{
      user_id: string;
      type: string;
      status: "applied" | "rejected";
      response: LedgerOutcome["response"];
      seq: string | null;
      actor: string;
      created_at: Date;
    }>(
      `SELECT user_id, type, status, response, seq, actor, created_at FROM commands
        WHERE command_id = $1 AND ($2::text IS NULL OR user_id = $2) LIMIT 1`,
      [commandId, userId],
    );
    const r = rows[0];
    if (!r) return null;
    return {
      v: 1,
      command_id: commandId,
      user_id: r.user_id,
      type: r.type,
      status: r.status,
      response: r.response,
      ...(r.seq !== null ? { seq: Number(r.seq) } : {}),
      actor: r.actor,
      applied_at: r.created_at.toISOString(),
    };
  }
}

/** kafkajs refuses before sending anything when the producer is not connected. */
function neverLeft(err: unknown): boolean {
  return err instanceof Error && /producer is disconnected/.test(err.message);
}
