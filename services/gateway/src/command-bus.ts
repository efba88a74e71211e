import { type LedgerCommand, type LedgerOutcome, LedgerOutcome as OutcomeSchema } from "@points/shared";
import type { Pool } from "@points/shared/db";
import { sendAll } from "@points/shared/kafka";
import type { Redis } from "ioredis";
import type { Producer } from "kafkajs";
import { httpError } from "./http-errors";

/**
 * Sends commands to `ledger.commands` and waits for their outcomes. Produces are coalesced:
 * every command queued in the same event-loop turn goes out in one `send` (kafkajs has no
 * linger). Outcomes come back on this instance's Redis reply channel; if none arrives in time,
 * Postgres (the ledger's commands table) is asked once before answering 202.
 */
const PRODUCE_TIMEOUT_MS = 5_000;
const PRODUCE_BATCH_MAX = 1_000;

interface Waiter {
  resolve: (outcome: LedgerOutcome) => void;
}

export class CommandBus {
  private readonly waiters = new Map<string, Waiter>();
  private queue: { command: LedgerCommand; done: (err?: unknown) => void }[] = [];
  private flushScheduled = false;

  constructor(
    private readonly producer: Producer,
    private readonly pool: Pool,
    private readonly commandsTopic: string,
    readonly gatewayId: string,
  ) {}

  /** Subscribes this instance's reply channel on a dedicated Redis connection. */
  async listen(subscriber: Redis, channel: string): Promise<void> {
    subscriber.on("message", (_channel: string, message: string) => this.onReply(message));
    await subscriber.subscribe(channel);
  }

  private onReply(message: string): void {
    let parsed: LedgerOutcome;
    try {
      parsed = OutcomeSchema.parse(JSON.parse(message));
    } catch {
      return; // not ours to judge; the ledger logs what it sent
    }
    this.waiters.get(parsed.command_id)?.resolve(parsed);
  }

  /**
   * Produces the command and waits up to waitMs for its outcome. Returns null when the ledger
   * has not answered in time (the caller answers 202). Throws 503 when Kafka refuses it.
   */
  async send(command: LedgerCommand, waitMs: number): Promise<LedgerOutcome | null> {
    let timer: NodeJS.Timeout | undefined;
    const outcome = new Promise<LedgerOutcome | null>((resolve) => {
      this.waiters.set(command.command_id, { resolve });
      timer = setTimeout(() => resolve(null), waitMs);
    });
    try {
      await this.produce(command);
      const result = await outcome;
      return result ?? (await this.storedOutcome(command.user_id, command.command_id));
    } finally {
      clearTimeout(timer);
      this.waiters.delete(command.command_id);
    }
  }

  /** Produces without waiting for the outcome (Prefer: respond-async). */
  produce(command: LedgerCommand): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ command, done: (err) => (err ? reject(err) : resolve()) });
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
      try {
        const messages = batch.map(({ command }) => ({
          key: command.user_id,
          value: JSON.stringify(command),
        }));
        await withTimeout(sendAll(this.producer, this.commandsTopic, messages), PRODUCE_TIMEOUT_MS);
        for (const item of batch) item.done();
      } catch (err) {
        const unavailable = httpError(
          "unavailable",
          "the command log (Kafka) is unavailable; nothing was applied",
        );
        for (const item of batch) item.done(unavailable);
        void err;
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

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
