import { describe, expect, it } from "vitest";
import { type ModelCommand, replayUser } from "./model";

/**
 * The checker's replay on its own (no stack): a member's history with expiry, a hold left to
 * expire, and a reversal whose points go back to a lot that expired meanwhile, numbered as the
 * ledger numbers its changes.
 */
const T0 = Date.UTC(2026, 0, 1);
const s = (seconds: number) => T0 + seconds * 1_000;

const history: ModelCommand[] = [
  {
    commandId: "earn-a",
    op: "earn",
    status: "applied",
    now: s(0),
    seq: 1,
    payer: "A",
    points: 100,
    timestamp: "2024-01-01T00:00:00Z",
    expiresAt: new Date(s(10)).toISOString(),
    ownEntryId: "e-a",
  },
  {
    commandId: "earn-b",
    op: "earn",
    status: "applied",
    now: s(1),
    seq: 2,
    payer: "B",
    points: 50,
    timestamp: "2024-02-01T00:00:00Z",
    ownEntryId: "e-b",
  },
  { commandId: "spend", op: "spend", status: "applied", now: s(2), seq: 3, points: 30, ownEntryId: "e-s" },
  {
    commandId: "hold",
    op: "hold_place",
    status: "applied",
    now: s(3),
    seq: 4,
    points: 40,
    ttlS: 5,
    holdId: "h",
  },
  { commandId: "hold-expire:u:h", op: "hold_expire", status: "applied", now: s(9), seq: 5, holdId: "h" },
  // A's lot expired at s(10): recorded first (seq 6), then the reversal (7), then what it gave back to A expires again (8).
  {
    commandId: "return",
    op: "reverse",
    status: "applied",
    now: s(12),
    seq: 8,
    entryId: "e-s",
    ownEntryId: "e-r",
  },
  // Nothing left to expire: no change, no seq.
  { commandId: "expire:u:x", op: "expire_due", status: "applied", now: s(20), seq: 8, dueAt: s(20) },
];

describe("chaos model replay", () => {
  it("numbers every change as the ledger does and ends with the core's lots and holds", () => {
    const replay = replayUser("u", history);
    expect(replay.problems).toEqual([]);
    expect(replay.seq).toBe(8);
    const types = (id: string) => replay.steps.get(id)?.map((st) => `${st.entryType ?? "hold"}@${st.seq}`);
    expect(types("hold")).toEqual(["hold@4"]);
    expect(types("hold-expire:u:h")).toEqual(["hold@5"]);
    expect(types("return")).toEqual(["expire@6", "reversal@7", "expire@8"]);
    expect(types("expire:u:x")).toEqual([]);
    const a = replay.lots.get(1n)!;
    expect([a.remaining, a.held ?? 0n, a.expired ?? 0n]).toEqual([0n, 0n, 100n]);
    expect(replay.lots.get(2n)!.remaining).toBe(50n);
    expect(replay.holdStatus.get("h")).toBe("expired");
    expect(replay.book.total).toBe(50n);
  });

  it("reports an applied command the core rejects, and a seq the ledger numbered differently", () => {
    const replay = replayUser("u", [
      { commandId: "spend", op: "spend", status: "applied", now: s(0), seq: 1, points: 10 },
      { ...history[1]!, seq: 3 },
    ]);
    expect(replay.problems).toHaveLength(2);
    expect(replay.problems[0]).toContain("the model rejects it (not_enough_funds)");
    expect(replay.problems[1]).toContain("stored last seq 3, model 1");
  });
});
