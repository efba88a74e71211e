import type { LedgerCommand } from "@points/shared";
import type { Pool } from "@points/shared/db";
import { applyBatch, type BatchResult } from "./apply-batch";
import { commandKey } from "./keys";
import type { Heartbeat } from "./prefetch";

/**
 * Group commit across partitions. Each partition's batch handler hands its commands here; while
 * one Postgres transaction runs, the batches that arrive meanwhile wait and then go together in
 * the next one. Partitions hold disjoint users, so one transaction over several partitions'
 * batches decides exactly what separate transactions would, with one commit (and one fsync)
 * instead of many: what keeps small synchronous batches from being bound by commit latency.
 *
 * A committed group is then published once (one Redis pipeline, one Kafka produce for all its
 * partitions: per-partition produces cost the ledger and the broker a request each), while the
 * next group's transaction already runs. A batch's promise settles only after its group is
 * published, so a partition's offset never moves past an unpublished outcome.
 */
export const GROUP_COMMANDS_MAX = 4_000;
/**
 * Groups in flight at once, each in its own transaction on its own connection. Groups hold
 * disjoint partitions, hence disjoint users and rows, so they never wait on each other's locks;
 * two let Postgres use a second core while a large backlog drains.
 */
export const GROUPS_IN_FLIGHT_MAX = 2;

/** Command id -> the gateway waiting for its outcome. */
export type ReplyTo = ReadonlyMap<string, string>;
export type Publish = (result: BatchResult, replyTo: ReplyTo) => Promise<void>;

interface Waiting {
  commands: LedgerCommand[];
  replyTo: ReplyTo;
  heartbeat?: Heartbeat;
  resolve: (result: BatchResult) => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter {
  private readonly queue: Waiting[] = [];
  private running = 0;

  constructor(
    private readonly pool: Pool,
    private readonly publish: Publish = async () => {},
  ) {}

  /**
   * Applies and publishes a batch; resolves with its outcomes once both are done. `heartbeat`
   * keeps the batch's consumer in its group while a long group transaction runs.
   */
  apply(
    commands: LedgerCommand[],
    replyTo: ReplyTo = new Map(),
    heartbeat?: Heartbeat,
  ): Promise<BatchResult> {
    // A chunk of only invalid messages: nothing to apply or publish, no transaction.
    if (commands.length === 0) return Promise.resolve({ outcomes: [], balances: [] });
    return new Promise((resolve, reject) => {
      this.queue.push({ commands, replyTo, heartbeat, resolve, reject });
      if (this.running < GROUPS_IN_FLIGHT_MAX) {
        this.running += 1;
        // Let batches handed over in the same turn (a fetch's other partitions) join this group.
        setImmediate(() => void this.run());
      }
    });
  }

  /**
   * For a batch Postgres refused over its data (a value it cannot store): apply each command on
   * its own, outside any group, and reject the ones it still refuses, so one poisonous command
   * cannot stall its partition forever.
   */
  async applyIsolating(commands: LedgerCommand[], replyTo: ReplyTo = new Map()): Promise<BatchResult> {
    const results: BatchResult[] = [];
    for (const command of commands) {
      try {
        results.push(await applyBatch(this.pool, [command]));
      } catch (err) {
        if (!isUnstorableDataError(err)) throw err;
        results.push(
          await applyBatch(this.pool, [command], {
            unstorable: new Set([commandKey(command.user_id, command.command_id)]),
          }),
        );
      }
    }
    const result = {
      outcomes: results.flatMap((r) => r.outcomes),
      balances: results.flatMap((r) => r.balances),
    };
    await this.publish(result, replyTo);
    return result;
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.takeGroup();
      try {
        const result = await applyBatch(
          this.pool,
          group.flatMap((w) => w.commands),
          {
            heartbeat: groupHeartbeat(group),
          },
        );
        // Not awaited: the next group's transaction overlaps this group's publish.
        this.publish(result, mergeReplyTo(group)).then(
          () => splitResult(result, group),
          (err) => rejectAll(group, err),
        );
      } catch (err) {
        rejectAll(group, err);
      }
    }
    this.running -= 1;
  }

  private takeGroup(): Waiting[] {
    let size = 0;
    let count = 0;
    while (
      count < this.queue.length &&
      (count === 0 || size + this.queue[count]!.commands.length <= GROUP_COMMANDS_MAX)
    ) {
      size += this.queue[count]!.commands.length;
      count += 1;
    }
    return this.queue.splice(0, count);
  }
}

/** One consumer serves every partition of a group: any of its batches' heartbeats will do. */
function groupHeartbeat(group: Waiting[]): Heartbeat | undefined {
  return group.find((w) => w.heartbeat)?.heartbeat;
}

/** Each partition retries on its own (and may join a later group). */
function rejectAll(group: Waiting[], err: unknown): void {
  for (const w of group) w.reject(err);
}

function mergeReplyTo(group: Waiting[]): ReplyTo {
  if (group.length === 1) return group[0]!.replyTo;
  return new Map(group.flatMap((w) => [...w.replyTo]));
}

/** Outcomes come back in command order; balances go to the batch that holds the user. */
function splitResult(result: BatchResult, group: Waiting[]): void {
  let offset = 0;
  for (const w of group) {
    const users = new Set(w.commands.map((c) => c.user_id));
    w.resolve({
      outcomes: result.outcomes.slice(offset, offset + w.commands.length),
      balances: result.balances.filter((b) => users.has(b.userId)),
    });
    offset += w.commands.length;
  }
}

/**
 * Postgres refused the data itself (SQLSTATE class 22, data exception, e.g. a NUL in text; class
 * 54, program limit exceeded): retrying the same batch can never succeed.
 */
export function isUnstorableDataError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("54"));
}
