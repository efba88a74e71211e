import { describe, expect, it } from "vitest";
import { EarnCommand, LedgerCommand } from "./command";
import { EntryEvent } from "./entry-event";
import { ExpireDueCommand, expireDueCommandId } from "./expire-due-command";
import { expiresAtProblem } from "./fields";
import { HoldCaptureCommand } from "./hold-capture-command";
import { HoldExpireCommand, holdExpireCommandId } from "./hold-expire-command";
import { HoldPlaceCommand } from "./hold-place-command";
import { HoldVoidCommand } from "./hold-void-command";
import { AnyLedgerCommand, LifecycleCommand } from "./lifecycle-command";
import { LedgerOutcome } from "./outcome";
import { ReverseCommand } from "./reverse-command";

const HOLD = "3f2b8a44-9c1e-4d7a-8a55-0d6f1e2b3c4d";
const ENTRY = "8a1c2d3e-4f50-4617-8829-3a4b5c6d7e8f";
const base = {
  v: 1,
  command_id: "c1",
  user_id: "u1",
  actor: { role: "partner", id: "p1" },
  request_hash: "h",
  sent_at: 1,
} as const;
const system = { v: 1, user_id: "u1", origin: "ledger-scheduler", sent_at: 1 } as const;
const earn = {
  ...base,
  type: "earn",
  payer: "DANNON",
  points: 10,
  timestamp: "2026-01-01T00:00:00Z",
  authority_id: "p1",
  render: "transaction",
} as const;

describe("lifecycle messages", () => {
  it.each([
    ["reverse", ReverseCommand, { ...base, type: "reverse", entry_id: ENTRY, authority_id: "p1" }],
    [
      "reverse with points",
      ReverseCommand,
      { ...base, type: "reverse", entry_id: ENTRY, points: 5, authority_id: "p1" },
    ],
    [
      "hold place",
      HoldPlaceCommand,
      { ...base, type: "hold_place", hold_id: HOLD, points: 5, ttl_s: 900, authority_id: "p1" },
    ],
    [
      "hold capture",
      HoldCaptureCommand,
      { ...base, type: "hold_capture", hold_id: HOLD, authority_id: "p1" },
    ],
    ["hold void", HoldVoidCommand, { ...base, type: "hold_void", hold_id: HOLD, authority_id: "p1" }],
    [
      "expire due",
      ExpireDueCommand,
      { ...system, command_id: "x", type: "expire_due", due_at: "2026-01-01T00:00:00Z" },
    ],
    [
      "hold expire",
      HoldExpireCommand,
      { ...system, command_id: "x", type: "hold_expire", hold_id: HOLD, due_at: "2026-01-01T00:00:00Z" },
    ],
  ] as const)("%s parses, alone and in the unions", (_label, schema, value) => {
    expect(schema.safeParse(value).success).toBe(true);
    expect(LifecycleCommand.safeParse(value).success).toBe(true);
    expect(AnyLedgerCommand.safeParse(value).success).toBe(true);
    // Until the ledger handles them, the ledger's own union refuses them (dead-letter, not misread).
    expect(LedgerCommand.safeParse(value).success).toBe(false);
  });

  it.each([
    [
      "hold ttl 0",
      HoldPlaceCommand,
      { ...base, type: "hold_place", hold_id: HOLD, points: 5, ttl_s: 0, authority_id: "p1" },
    ],
    [
      "hold ttl past a week",
      HoldPlaceCommand,
      { ...base, type: "hold_place", hold_id: HOLD, points: 5, ttl_s: 604_801, authority_id: "p1" },
    ],
    ["hold id not a uuid", HoldVoidCommand, { ...base, type: "hold_void", hold_id: "h", authority_id: "p1" }],
    [
      "reverse 0 points",
      ReverseCommand,
      { ...base, type: "reverse", entry_id: ENTRY, points: 0, authority_id: "p1" },
    ],
    [
      "expire without zone",
      ExpireDueCommand,
      { ...system, command_id: "x", type: "expire_due", due_at: "2026-01-01T00:00:00" },
    ],
  ] as const)("%s is refused", (_label, schema, value) => {
    expect(schema.safeParse(value).success).toBe(false);
  });

  it("earn commands take expires_at (or null), and earlier earn commands still parse", () => {
    expect(EarnCommand.parse(earn).expires_at).toBeUndefined();
    expect(EarnCommand.parse({ ...earn, expires_at: null }).expires_at).toBeNull();
    expect(EarnCommand.parse({ ...earn, expires_at: "2026-02-01T01:00:00+01:00" }).expires_at).toBe(
      "2026-02-01T00:00:00.000Z",
    );
    expect(LedgerCommand.safeParse(earn).success).toBe(true);
  });

  it("expires_at must be later than the timestamp", () => {
    expect(expiresAtProblem("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")).toBe(
      "must be later than timestamp",
    );
    expect(expiresAtProblem("2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z")).toBeNull();
    expect(expiresAtProblem("2026-01-01T00:00:00Z", null)).toBeNull();
  });

  it("deterministic command ids for the scheduler's commands", () => {
    expect(expireDueCommandId("u1", "2026-01-01T00:00:00.000Z")).toBe("expire:u1:2026-01-01T00:00:00.000Z");
    expect(holdExpireCommandId("u1", HOLD)).toBe(`hold-expire:u1:${HOLD}`);
  });

  it("outcomes carry lifecycle entries; earlier outcomes still parse", () => {
    const outcome = {
      v: 1,
      command_id: "c",
      user_id: "u1",
      type: "spend",
      status: "applied",
      response: { status: 200, body: [] },
      actor: "p1",
      applied_at: "2026-01-01T00:00:00Z",
    };
    expect(LedgerOutcome.safeParse(outcome).success).toBe(true);
    const expireEntry = {
      entry_id: ENTRY,
      type: "expire",
      payer: null,
      amount: -10,
      allocations: [{ payer: "DANNON", points: -10 }],
      movements: [{ payer: "DANNON", category: "expired", points: 10, at: "2025-12-31T00:00:00Z" }],
    };
    const capture = { entry_id: ENTRY, type: "spend", payer: null, amount: -5, hold_id: HOLD };
    const reversal = { entry_id: ENTRY, type: "reversal", payer: null, amount: 5, reverses: ENTRY };
    for (const entry of [expireEntry, capture, reversal])
      expect(EntryEvent.safeParse(entry).success).toBe(true);
    expect(LedgerOutcome.safeParse({ ...outcome, entries: [expireEntry, capture, reversal] }).success).toBe(
      true,
    );
    expect(EntryEvent.safeParse({ ...expireEntry, type: "refund" }).success).toBe(false);
  });
});
