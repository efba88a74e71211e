/**
 * The pace of a batch's in-memory work. One event loop serves every partition this ledger owns
 * and the Kafka client's heartbeats, so no piece of one batch may hold it for long: a spend
 * across 60,000 lots once blocked it for seconds and the group dropped the ledger (issue 12,
 * bug 1). Work is counted in lots (each command counts as one more); once a turn's worth is
 * done, the event loop gets a turn (setImmediate) and the Kafka group a heartbeat. Long walks of
 * the core are generators (Steps, @points/core) that the pace runs step by step.
 *
 * The batch's transaction stays open across turns; the users' rows stay locked, so this is still
 * the one writer of those users, and nothing else touches the batch's books meanwhile.
 */
import type { Steps } from "@points/core";

/**
 * Lots walked, recorded or read between two turns of the event loop: a few milliseconds of work
 * at the few microseconds one lot costs (the core's walk, the bookkeeping, a loaded row).
 */
export const LOTS_PER_TURN_MAX = 1_024;

/** Keeps the Kafka group membership alive during a long batch (the consumer's heartbeat). */
export type Heartbeat = () => Promise<void>;

export class Pace {
  private lots = 0;

  constructor(
    private readonly heartbeat: Heartbeat = async () => {},
    private readonly lotsPerTurn = LOTS_PER_TURN_MAX,
  ) {}

  /** Counts work done without a turn (a command, a short walk run at once). */
  add(lots: number): void {
    this.lots += lots;
  }

  /** Gives the event loop a turn when a turn's worth of work was done since the last. */
  async turnIfDue(): Promise<void> {
    if (this.lots < this.lotsPerTurn) return;
    this.lots = 0;
    await nextTurn(this.heartbeat);
  }

  /** Runs a walk step by step, with turns between steps as they fall due. */
  async run<T>(steps: Steps<T>): Promise<T> {
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      this.add(step.value);
      await this.turnIfDue();
    }
  }

  /** Runs a walk at once (a short one, or one on a path that cannot wait), counting its work. */
  finish<T>(steps: Steps<T>): T {
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      this.add(step.value);
    }
  }
}

/** One turn of the event loop, then a heartbeat. */
export async function nextTurn(heartbeat: Heartbeat = async () => {}): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  // A refused heartbeat (the group is rebalancing) is not this batch's failure: the offset
  // commit after it notices, and the next owner of the partition redelivers.
  await heartbeat().catch(() => {});
}

/** Calls `each` on every item, at most LOTS_PER_TURN_MAX items per turn of the event loop. */
export async function forEachInTurns<T>(
  items: readonly T[],
  each: (item: T) => void,
  heartbeat?: Heartbeat,
): Promise<void> {
  for (let start = 0; start < items.length; start += LOTS_PER_TURN_MAX) {
    if (start > 0) await nextTurn(heartbeat);
    const end = Math.min(start + LOTS_PER_TURN_MAX, items.length);
    for (let i = start; i < end; i++) each(items[i]!);
  }
}
