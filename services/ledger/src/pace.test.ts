/**
 * The pace gives the event loop its turns during a long walk (issue 12, bug 1): other work (a
 * timer, another partition's batch, the Kafka client) runs between steps, and the group gets a
 * heartbeat at each turn. No timings are asserted: only that turns happen where they must.
 */
import type { Steps } from "@points/core";
import { describe, expect, it } from "vitest";
import { forEachInTurns, LOTS_PER_TURN_MAX, Pace } from "./pace";

/** A walk of `steps` steps of `lots` each, counting the event-loop callbacks seen meanwhile. */
function* walk(steps: number, lots: number, seen: () => number, log: number[]): Steps<string> {
  for (let i = 0; i < steps; i++) {
    log.push(seen());
    yield lots;
  }
  return "done";
}

/** Counts setImmediate callbacks that ran, rescheduling itself until stopped. */
function loopTurns() {
  let turns = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    turns += 1;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { turns: () => turns, stop: () => (stopped = true) };
}

describe("Pace", () => {
  it("gives the event loop a turn and the group a heartbeat after every turn's worth of lots", async () => {
    let heartbeats = 0;
    const pace = new Pace(async () => {
      heartbeats += 1;
    });
    const loop = loopTurns();
    const seen: number[] = [];
    const result = await pace.run(walk(8, LOTS_PER_TURN_MAX, loop.turns, seen));
    loop.stop();
    expect(result).toBe("done");
    expect(heartbeats).toBe(8);
    // Each step after the first saw the event loop turn since the one before.
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThan(seen[i - 1]!);
  });

  it("runs small walks without a turn, and turns once their sum reaches a turn's worth", async () => {
    let heartbeats = 0;
    const pace = new Pace(async () => {
      heartbeats += 1;
    });
    const quarter = LOTS_PER_TURN_MAX / 4;
    for (let i = 0; i < 3; i++) await pace.run(walk(1, quarter, () => 0, []));
    expect(heartbeats).toBe(0);
    expect(pace.finish(walk(1, quarter, () => 0, []))).toBe("done");
    await pace.turnIfDue();
    expect(heartbeats).toBe(1);
  });

  it("keeps going when a heartbeat is refused (the group is rebalancing)", async () => {
    const pace = new Pace(async () => {
      throw new Error("The group is rebalancing");
    });
    await expect(pace.run(walk(3, LOTS_PER_TURN_MAX, () => 0, []))).resolves.toBe("done");
  });
});

describe("forEachInTurns", () => {
  it("visits every item in order, turning the event loop between runs of LOTS_PER_TURN_MAX", async () => {
    const items = Array.from({ length: 3 * LOTS_PER_TURN_MAX + 5 }, (_, i) => i);
    const loop = loopTurns();
    const visited: number[] = [];
    const turnsAt: number[] = [];
    await forEachInTurns(items, (i) => {
      visited.push(i);
      if (i % LOTS_PER_TURN_MAX === 0) turnsAt.push(loop.turns());
    });
    loop.stop();
    expect(visited).toEqual(items);
    for (let i = 1; i < turnsAt.length; i++) expect(turnsAt[i]).toBeGreaterThan(turnsAt[i - 1]!);
  });
});
