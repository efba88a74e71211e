import { LedgerCommand } from "@points/shared";
import type { IHeaders, KafkaMessage } from "@points/shared/kafka";
import { describe, expect, it } from "vitest";
import { earnCommand } from "./publisher";
import {
  type DlqCode,
  eventCommandId,
  eventHash,
  signPartnerEvent,
  VALUE_BYTES_MAX,
  verifyPartnerEvent,
} from "./verify-partner-event";

/** The pure verification table: every dead-letter code it decides, and what an accepted event becomes. */
const SECRET = "partner-secret";
const secrets = new Map([["ACME", Buffer.from(SECRET)]]);
const lookup = (id: string) => secrets.get(id);
const EVENT = { event_id: "e-1", user_id: "u1", points: 5, timestamp: "2024-05-01T12:00:00+02:00" };

function message(value: string | null, headers: IHeaders, key: string | null = "u1"): KafkaMessage {
  return {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    headers,
    offset: "0",
    timestamp: "0",
    attributes: 0,
  };
}

function signed(value: string, key: string | null = "u1", partnerId = "ACME", secret = SECRET): KafkaMessage {
  return message(value, { "x-partner-id": partnerId, "x-signature": signPartnerEvent(secret, value) }, key);
}

const json = (fields: Record<string, unknown>) => JSON.stringify({ ...EVENT, ...fields });
const sig = (value: string) => signPartnerEvent(SECRET, value);

describe("verifyPartnerEvent", () => {
  it.each<[string, KafkaMessage, DlqCode]>([
    ["an empty value", message(null, { "x-partner-id": "ACME" }), "invalid_json"],
    ["an oversize value", signed(json({ reason: "x".repeat(VALUE_BYTES_MAX) })), "payload_too_large"],
    ["no partner header", message(json({}), { "x-signature": sig(json({})) }), "unknown_partner"],
    [
      "a repeated partner header",
      message(json({}), { "x-partner-id": ["ACME", "ACME"], "x-signature": sig(json({})) }),
      "unknown_partner",
    ],
    ["an unknown partner", signed(json({}), "u1", "NOPE"), "unknown_partner"],
    ["no signature", message(json({}), { "x-partner-id": "ACME" }), "bad_signature"],
    [
      "a signature without sha256=",
      message(json({}), { "x-partner-id": "ACME", "x-signature": "abc" }),
      "bad_signature",
    ],
    ["a signature with another secret", signed(json({}), "u1", "ACME", "other"), "bad_signature"],
    [
      "a signature of other bytes",
      message(json({ points: 6 }), { "x-partner-id": "ACME", "x-signature": sig(json({})) }),
      "bad_signature",
    ],
    ["a value that is not JSON", signed("{nope"), "invalid_json"],
    ["points 0", signed(json({ points: 0 })), "validation_failed"],
    ["fractional points", signed(json({ points: 1.5 })), "validation_failed"],
    ["points beyond 2^53-1", signed(json({ points: 2 ** 53 })), "validation_failed"],
    ["a timestamp without a zone", signed(json({ timestamp: "2024-05-01T10:00:00" })), "validation_failed"],
    ["an event_id over 200 characters", signed(json({ event_id: "e".repeat(201) })), "validation_failed"],
    ["an unknown field", signed(json({ payer: "OTHER" })), "validation_failed"],
    [
      "an expires_at without a zone",
      signed(json({ expires_at: "2025-05-01T10:00:00" })),
      "validation_failed",
    ],
    [
      "an expires_at not later than the timestamp",
      signed(json({ expires_at: "2024-05-01T10:00:00Z" })),
      "validation_failed",
    ],
    [
      "an expires_at on negative points",
      signed(json({ points: -5, expires_at: "2025-05-01T10:00:00Z" })),
      "validation_failed",
    ],
    ["a JSON array", signed("[]"), "validation_failed"],
    ["no key", signed(json({}), null), "key_mismatch"],
    ["a key that is not the user id", signed(json({}), "u2"), "key_mismatch"],
    [
      "a timestamp in the year 9999",
      signed(json({ timestamp: "9999-12-31T23:59:59Z" })),
      "timestamp_in_future",
    ],
    [
      "a timestamp over 5 minutes ahead",
      signed(json({ timestamp: new Date(Date.now() + 6 * 60_000).toISOString() })),
      "timestamp_in_future",
    ],
  ])("dead-letters %s", (_name, m, code) => {
    const verdict = verifyPartnerEvent(m, lookup);
    expect(verdict).toMatchObject({ ok: false, code });
    if (!verdict.ok) expect(verdict.message.length).toBeGreaterThan(0);
  });

  it("accepts an optional expires_at (contract 6.1)", () => {
    const verdict = verifyPartnerEvent(signed(json({ expires_at: "2025-05-01T12:00:00+02:00" })), lookup);
    expect(verdict).toMatchObject({
      ok: true,
      accepted: { event: { expires_at: "2025-05-01T10:00:00.000Z" } },
    });
  });

  it("forwards expires_at on the earn command, null (never) included", () => {
    for (const expiresAt of ["2025-05-01T10:00:00.000Z", null]) {
      const verdict = verifyPartnerEvent(signed(json({ expires_at: expiresAt })), lookup);
      if (!verdict.ok) throw new Error(verdict.message);
      const command = earnCommand(verdict.accepted, 1_700_000_000_000);
      expect(command.expires_at).toBe(expiresAt);
      expect(LedgerCommand.parse(JSON.parse(JSON.stringify(command)))).toEqual(command);
    }
    const plain = verifyPartnerEvent(signed(json({})), lookup);
    if (!plain.ok) throw new Error(plain.message);
    expect("expires_at" in earnCommand(plain.accepted)).toBe(false);
  });

  it("hashes expires_at with the event: another expiry (or null) is another request", () => {
    const hashOf = (fields: Record<string, unknown>) => {
      const verdict = verifyPartnerEvent(signed(json(fields)), lookup);
      if (!verdict.ok) throw new Error(verdict.message);
      return verdict.accepted.requestHash;
    };
    const hashes = [
      hashOf({}),
      hashOf({ expires_at: "2025-05-01T10:00:00Z" }),
      hashOf({ expires_at: "2025-05-02T10:00:00Z" }),
      hashOf({ expires_at: null }),
    ];
    expect(new Set(hashes).size).toBe(4);
    // The same instant in another zone is the same request.
    expect(hashOf({ expires_at: "2025-05-01T12:00:00+02:00" })).toBe(hashes[1]);
  });

  it("accepts a timestamp up to 5 minutes ahead of the clock it is given", () => {
    const now = Date.parse("2024-05-01T10:00:00Z");
    const at = (ms: number) =>
      verifyPartnerEvent(signed(json({ timestamp: new Date(ms).toISOString() })), lookup, now);
    expect([at(now + 5 * 60_000).ok, at(now + 5 * 60_000 + 1).ok]).toEqual([true, false]);
  });

  it("marks only failures a fresh secret could change as possibly stale", () => {
    const unknown = verifyPartnerEvent(signed(json({}), "u1", "NEW"), lookup);
    const mismatch = verifyPartnerEvent(signed(json({}), "u1", "ACME", "rotated"), lookup);
    const malformed = verifyPartnerEvent(
      message(json({}), { "x-partner-id": "ACME", "x-signature": "x" }),
      lookup,
    );
    expect([unknown, mismatch, malformed].map((v) => !v.ok && v.secretMayBeStale === true)).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("accepts a signed event, normalises its timestamp and derives the command id", () => {
    const verdict = verifyPartnerEvent(signed(json({ reason: "order 7" })), lookup);
    expect(verdict).toEqual({
      ok: true,
      accepted: {
        partnerId: "ACME",
        event: { ...EVENT, timestamp: "2024-05-01T10:00:00.000Z", reason: "order 7" },
        commandId: eventCommandId("ACME", "e-1"),
        requestHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    });
  });

  it("turns an accepted event into an earn command the ledger accepts", () => {
    const longest = { event_id: "e".repeat(200), reason: "r".repeat(500), points: -(2 ** 53 - 1) };
    const verdict = verifyPartnerEvent(signed(json(longest)), lookup);
    if (!verdict.ok) throw new Error(verdict.message);
    const command = earnCommand(verdict.accepted, 1_700_000_000_000);
    expect(LedgerCommand.parse(JSON.parse(JSON.stringify(command)))).toEqual(command);
    expect(command).toMatchObject({
      type: "earn",
      payer: "ACME",
      authority_id: "ACME",
      actor: { role: "partner", id: "ACME" },
      render: "transaction",
      event_id: longest.event_id,
      command_id: verdict.accepted.commandId,
      request_hash: verdict.accepted.requestHash,
    });
  });

  it("gives a re-serialised event the same hash, and other content another", () => {
    const a = verifyPartnerEvent(signed(json({})), lookup);
    const reordered = `{"timestamp":"2024-05-01T10:00:00Z","points":5,"user_id":"u1","event_id":"e-1"}`;
    const b = verifyPartnerEvent(signed(reordered), lookup);
    const c = verifyPartnerEvent(signed(json({ points: 6 })), lookup);
    if (!a.ok || !b.ok || !c.ok) throw new Error("expected all three accepted");
    expect(b.accepted.requestHash).toBe(a.accepted.requestHash);
    expect(c.accepted.requestHash).not.toBe(a.accepted.requestHash);
    expect(eventHash(a.accepted.event)).toBe(a.accepted.requestHash);
  });

  it("derives command ids that do not collide across partners or id boundaries", () => {
    expect(eventCommandId("A", "B-1")).not.toBe(eventCommandId("A-B", "1"));
    expect(eventCommandId("A", "1")).not.toBe(eventCommandId("B", "1"));
    expect(eventCommandId("A", "1")).toMatch(/^ev_[0-9a-f]{64}$/);
  });
});
