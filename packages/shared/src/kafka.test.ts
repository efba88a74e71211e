import { describe, expect, it } from "vitest";
import { chunkByBytes, messageBytes, onOneBroker } from "./kafka";

describe("chunkByBytes", () => {
  const msg = (size: number) => ({ key: "k", value: "x".repeat(size) });

  it("keeps order and splits before a group would pass the limit", () => {
    const messages = [msg(400), msg(400), msg(400), msg(100)];
    const groups = chunkByBytes(messages, 1_000);
    expect(groups.map((g) => g.length)).toEqual([2, 2]);
    expect(groups.flat()).toEqual(messages);
    for (const g of groups) expect(g.reduce((s, m) => s + messageBytes(m), 0)).toBeLessThanOrEqual(1_000);
  });

  it("sends a single message larger than the limit alone", () => {
    expect(chunkByBytes([msg(10), msg(5_000), msg(10)], 1_000).map((g) => g.length)).toEqual([1, 1, 1]);
  });

  it("counts multi-byte characters and headers", () => {
    expect(messageBytes({ key: "é", value: "€", headers: { h: "ab" } })).toBe(64 + 2 + 3 + 1 + 2);
    expect(chunkByBytes([])).toEqual([]);
  });
});

describe("onOneBroker (sendAll may put every partition in one request)", () => {
  const part = (partitionId: number, leader: number, replicas: number[]) => ({
    partitionId,
    leader,
    replicas,
    isr: replicas,
    partitionErrorCode: 0,
  });
  it.each([
    ["one broker, replication 1", [part(0, 1, [1]), part(1, 1, [1]), part(2, 1, [1])], true],
    ["two leaders", [part(0, 1, [1]), part(1, 2, [2])], false],
    ["one leader, replicas on other brokers", [part(0, 1, [1, 2, 3]), part(1, 1, [1, 2, 3])], false],
    ["one leader, one partition replicated elsewhere", [part(0, 1, [1]), part(1, 1, [2])], false],
    ["no partitions known", [], false],
  ])("%s -> %s", (_name, partitions, expected) => {
    expect(onOneBroker(partitions)).toBe(expected);
  });
});
