import { describe, expect, it } from "vitest";
import { CommitFrontier, fairChunks } from "./fair-schedule";

/** The fair schedule of a fetched batch: no partner waits behind another partner's flood. */
describe("fairChunks", () => {
  const flood = (n: number, partner = "FLOOD") => Array.from({ length: n }, () => partner);

  it("puts a quiet partner's messages behind a flood into the first chunk", () => {
    const partners = [...flood(5_000), "QUIET", "QUIET", "OTHER"];
    const plan = fairChunks(partners, 100);
    expect(plan.chunks[0]).toEqual(expect.arrayContaining([5_000, 5_001, 5_002]));
    expect(plan.deferred.get("FLOOD")).toBeGreaterThan(0);
    expect(plan.deferred.has("QUIET")).toBe(false);
  });

  it("schedules every message exactly once, keeps each partner's offset order, bounds chunks", () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 50; round++) {
      const size = Math.floor(random() * 400);
      const partners = Array.from({ length: size }, () =>
        random() < 0.7 ? "A" : `P${Math.floor(random() * 5)}`,
      );
      const chunkMax = 1 + Math.floor(random() * 40);
      const plan = fairChunks(partners, chunkMax);
      const order = plan.chunks.flat();
      expect([...order].sort((a, b) => a - b)).toEqual(partners.map((_, i) => i));
      for (const chunk of plan.chunks) expect(chunk.length).toBeLessThanOrEqual(chunkMax);
      for (const partner of new Set(partners)) {
        const mine = order.filter((i) => partners[i] === partner);
        expect(mine).toEqual([...mine].sort((a, b) => a - b));
      }
    }
  });

  it("gives each partner with messages left a share of every chunk", () => {
    const partners = [...flood(300, "A"), ...flood(300, "B"), ...flood(10, "C")];
    const plan = fairChunks(partners, 30);
    const first = plan.chunks[0]!.map((i) => partners[i]);
    expect(first.filter((p) => p === "A")).toHaveLength(10);
    expect(first.filter((p) => p === "B")).toHaveLength(10);
    expect(first.filter((p) => p === "C")).toHaveLength(10);
  });
});

describe("CommitFrontier", () => {
  it("only advances over positions that are all done", () => {
    const frontier = new CommitFrontier(6);
    expect(frontier.complete([1, 3])).toBe(0);
    expect(frontier.complete([0])).toBe(2);
    expect(frontier.complete([2, 5])).toBe(4);
    expect(frontier.complete([4])).toBe(6);
  });
});
