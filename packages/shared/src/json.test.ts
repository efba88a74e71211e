import { describe, expect, it } from "vitest";
import { balanceJson, stringifyJson } from "./json";

describe("stringifyJson", () => {
  it.each([
    [{ a: 1n }, '{"a":1}'],
    [{ a: 9007199254740993n }, '{"a":9007199254740993}'],
    [{ a: -(2n ** 63n) }, '{"a":-9223372036854775808}'],
    [[2n ** 63n - 1n, "x"], '[9223372036854775807,"x"]'],
    [{ s: "__bigint_1" }, '{"s":"__bigint_1"}'],
  ])("writes %o exactly", (value, expected) => {
    expect(stringifyJson(value)).toBe(expected);
  });
});

describe("balanceJson", () => {
  it("keeps payer order, including integer-like ids, and exact big totals", () => {
    const json = balanceJson([
      { payer: "B", points: 1n },
      { payer: "123", points: 2n ** 62n },
      { payer: 'A"q', points: 0n },
    ]);
    expect(json).toBe('{"B":1,"123":4611686018427387904,"A\\"q":0}');
    expect(Object.keys(JSON.parse(json))).toContain('A"q');
  });
});
