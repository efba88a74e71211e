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
import type { AnyLedgerCommand } from "@points/shared";
import type { Pool } from "@points/shared/db";
import { applyBatch, type BatchResult } from "./apply-batch";
import { applyBisecting, applyOrBisect, isCommandFault, mergeResults } from "./isolate";
import type { Heartbeat } from "./prefetch";

const GROUP_COMMANDS_MAX = 4_000;
/**
 * Groups in flight at once, each in its own transaction on its own connection. Groups of Kafka
 * batches hold disjoint partitions, hence disjoint users and rows, so they never wait on each
 * other's locks; two let Postgres use a second core while a large backlog drains. A group of the
 * expiry scheduler's commands (scheduler.ts) may share members and partitions with one of them:
 * the account rows, locked in user id order, make one wait for the other per member, and the
 * report totals' lock (report-figures.ts, lockTotalsStatement) per partition.
 */
export const GROUPS_IN_FLIGHT_MAX = 2;

/** Command id -> the gateway waiting for its outcome. */
export type ReplyTo = ReadonlyMap<string, string>;
export type Publish = (result: BatchResult, replyTo: ReplyTo) => Promise<void>;

interface Waiting {
  commands: AnyLedgerCommand[];
  replyTo: ReplyTo;
  heartbeat?: Heartbeat;
  /** The Kafka partition the commands came from (none: the scheduler's). */
  partition?: number;
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
    commands: AnyLedgerCommand[],
    replyTo: ReplyTo = new Map(),
    heartbeat?: Heartbeat,
    partition?: number,
  ): Promise<BatchResult> {
    // A chunk of only invalid messages: nothing to apply or publish, no transaction.
    if (commands.length === 0) return Promise.resolve({ outcomes: [], balances: [], faults: [] });
    return new Promise((resolve, reject) => {
      this.queue.push({ commands, replyTo, heartbeat, partition, resolve, reject });
      if (this.running < GROUPS_IN_FLIGHT_MAX) {
        this.running += 1;
        // Let batches handed over in the same turn (a fetch's other partitions) join this group.
        setImmediate(() => void this.run());
      }
    });
  }

  private async run(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.takeGroup();
      try {
        const result = await this.applyGroup(group);
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

  /**
   * One transaction for the group. When a command of it is at fault (isolate.ts), each batch
   * (each partition's) goes alone, and only the one that fails again is bisected down to the
   * command at fault: the other partitions keep one transaction each, and the Kafka group gets
   * heartbeats throughout.
   */
  private async applyGroup(group: Waiting[]): Promise<BatchResult> {
    const heartbeat = groupHeartbeat(group);
    const commands = group.flatMap((w) => w.commands);
    const partitions = partitionsOf(group);
    try {
      return await applyBatch(this.pool, commands, { heartbeat, partitions });
    } catch (err) {
      if (!isCommandFault(err)) throw err;
      if (group.length === 1) return applyBisecting(this.pool, commands, err, heartbeat, partitions);
      const results: BatchResult[] = [];
      for (const w of group) results.push(await applyOrBisect(this.pool, w.commands, heartbeat, partitions));
      return mergeResults(results);
    }
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

/** Which partition each user's commands came from (accounts.kafka_partition, for the scheduler). */
function partitionsOf(group: Waiting[]): Map<string, number> {
  const partitions = new Map<string, number>();
  for (const w of group) {
    if (w.partition === undefined) continue;
    for (const c of w.commands) partitions.set(c.user_id, w.partition);
  }
  return partitions;
}

/** Each partition retries on its own (and may join a later group). */
function rejectAll(group: Waiting[], err: unknown): void {
  for (const w of group) w.reject(err);
}

function mergeReplyTo(group: Waiting[]): ReplyTo {
  if (group.length === 1) return group[0]!.replyTo;
  return new Map(group.flatMap((w) => [...w.replyTo]));
}

/** Outcomes come back in command order; balances and faults go to the batch that holds them. */
function splitResult(result: BatchResult, group: Waiting[]): void {
  let offset = 0;
  for (const w of group) {
    const users = new Set(w.commands.map((c) => c.user_id));
    const ids = new Set(w.commands.map((c) => c.command_id));
    w.resolve({
      outcomes: result.outcomes.slice(offset, offset + w.commands.length),
      balances: result.balances.filter((b) => users.has(b.userId)),
      faults: result.faults.filter((f) => ids.has(f.command_id)),
    });
    offset += w.commands.length;
  }
}
