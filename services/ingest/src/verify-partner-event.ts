import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import {
  earnTimestampProblem,
  expiresAtProblem,
  isStorableText,
  Reason,
  SignedPoints,
  Timestamp,
  UserId,
} from "@points/shared";
import type { IHeaders, KafkaMessage } from "@points/shared/kafka";
import { z } from "zod";

/**
 * The pure part of ingest: one `partner.transactions` message in, either an accepted partner event
 * (with its deterministic command id) or a dead-letter reason. No I/O; the partner's secret is
 * looked up through the function the caller passes.
 */
export const VALUE_BYTES_MAX = 64 * 1024;
export const EVENT_ID_CHARS_MAX = 200;
export const PARTNER_ID_HEADER = "x-partner-id";
export const SIGNATURE_HEADER = "x-signature";
const SIGNATURE_FORMAT = /^sha256=([0-9a-fA-F]{64})$/;

export const PartnerEvent = z.strictObject({
  event_id: z
    .string()
    .min(1)
    .max(EVENT_ID_CHARS_MAX)
    .refine(isStorableText, "must be valid Unicode text without NUL characters"),
  user_id: UserId,
  points: SignedPoints,
  timestamp: Timestamp,
  reason: Reason.optional(),
  /**
   * Contract 6.1, earns only: when the lot expires, later than `timestamp`; null = never;
   * absent = timestamp + the partner's points_validity_days (the ledger applies the default).
   */
  expires_at: Timestamp.nullable().optional(),
});
export type PartnerEvent = z.infer<typeof PartnerEvent>;

/** Stable codes in the `x-error-code` header of a dead-lettered message (documented in the README). */
export const DLQ_CODES = [
  "payload_too_large",
  "unknown_partner",
  "bad_signature",
  "invalid_json",
  "validation_failed",
  "key_mismatch",
  "event_id_reused",
  "timestamp_in_future",
] as const;
export type DlqCode = (typeof DLQ_CODES)[number];

export interface AcceptedEvent {
  partnerId: string;
  event: PartnerEvent;
  commandId: string;
  requestHash: string;
}

export type Verdict =
  | { ok: true; accepted: AcceptedEvent }
  | {
      ok: false;
      code: DlqCode;
      message: string;
      /** The partner's secret may have been added or rotated since the cache was filled. */
      secretMayBeStale?: true;
    };

export type SecretLookup = (partnerId: string) => Buffer | undefined;

/** nowMs: the server's clock, which an event's timestamp may lead by at most EARN_AHEAD_MS_MAX. */
export function verifyPartnerEvent(
  message: KafkaMessage,
  secretOf: SecretLookup,
  nowMs: number = Date.now(),
): Verdict {
  const value = message.value;
  if (!value || value.length === 0) return reject("invalid_json", "the message value is empty");
  if (value.length > VALUE_BYTES_MAX) {
    return reject("payload_too_large", `the value is ${value.length} bytes; at most ${VALUE_BYTES_MAX}`);
  }
  const headers = message.headers ?? {};
  const partnerId = headerText(headers, PARTNER_ID_HEADER);
  if (partnerId === undefined)
    return reject("unknown_partner", `one ${PARTNER_ID_HEADER} header is required`);
  const secret = secretOf(partnerId);
  if (!secret) return { ...reject("unknown_partner", `no partner ${partnerId}`), secretMayBeStale: true };
  const signature = headerText(headers, SIGNATURE_HEADER)?.match(SIGNATURE_FORMAT)?.[1];
  if (!signature)
    return reject("bad_signature", `one ${SIGNATURE_HEADER} header "sha256=<64 hex digits>" is required`);
  if (!signatureMatches(secret, value, signature)) {
    return { ...reject("bad_signature", "the signature does not match the value"), secretMayBeStale: true };
  }
  return parseEvent(partnerId, value, message.key, nowMs);
}

function parseEvent(partnerId: string, value: Buffer, key: Buffer | null, nowMs: number): Verdict {
  let json: unknown;
  try {
    json = JSON.parse(value.toString("utf8"));
  } catch {
    return reject("invalid_json", "the value is not JSON");
  }
  const parsed = PartnerEvent.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(value)"}: ${i.message}`);
    return reject("validation_failed", issues.join("; "));
  }
  const event = parsed.data;
  const ahead = earnTimestampProblem(event.timestamp, nowMs);
  if (ahead !== null) return reject("timestamp_in_future", `timestamp: ${ahead}`);
  const expiry = expiryProblem(event);
  if (expiry !== null) return reject("validation_failed", `expires_at: ${expiry}`);
  // The key decides the partition, and the ledger applies one user's changes in partition order.
  if (key?.toString("utf8") !== event.user_id) {
    return reject("key_mismatch", "the message key must be the event's user_id");
  }
  return {
    ok: true,
    accepted: {
      partnerId,
      event,
      commandId: eventCommandId(partnerId, event.event_id),
      requestHash: eventHash(event),
    },
  };
}

/** An expires_at only on an earn (points > 0), and later than the event's timestamp. */
function expiryProblem(event: PartnerEvent): string | null {
  if (event.expires_at === undefined) return null;
  if (event.points < 0) return "applies only to positive points (an earn)";
  return expiresAtProblem(event.timestamp, event.expires_at);
}

/** HMAC-SHA256 of the raw value bytes keyed with the partner's secret, compared in constant time. */
function signatureMatches(secret: Buffer, value: Buffer, signatureHex: string): boolean {
  const expected = createHmac("sha256", secret).update(value).digest();
  return timingSafeEqual(expected, Buffer.from(signatureHex, "hex"));
}

/** The header value, or undefined when it is absent or repeated (a repeated one is ambiguous). */
function headerText(headers: IHeaders, name: string): string | undefined {
  const raw = headers[name];
  const single = Array.isArray(raw) ? (raw.length === 1 ? raw[0] : undefined) : raw;
  if (single === undefined) return undefined;
  return Buffer.isBuffer(single) ? single.toString("utf8") : single;
}

/** Deterministic, so a re-sent event becomes the same ledger command and is applied once. */
export function eventCommandId(partnerId: string, eventId: string): string {
  return `ev_${sha256Hex(JSON.stringify([partnerId, eventId]))}`;
}

/**
 * Hash of the event as parsed (timestamps normalised), not of the raw bytes: a partner that re-sends
 * an event re-serialised (other key order, spacing, zone) sends the same event. `expires_at` is
 * part of the request: a re-sent event with another expiry (or null vs a date) is another request
 * and goes to the DLQ as a reused event id. It joins the hash only when present, so events without
 * it keep the hash they had before the lifecycle (claims made before an upgrade still match).
 */
export function eventHash(event: PartnerEvent): string {
  const { event_id, user_id, points, timestamp, reason, expires_at } = event;
  const fields: unknown[] = [event_id, user_id, points, timestamp, reason ?? null];
  if (expires_at !== undefined) fields.push(expires_at);
  return sha256Hex(JSON.stringify(fields));
}

/** What a partner computes for the `x-signature` header. */
export function signPartnerEvent(secret: string, value: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(value).digest("hex")}`;
}

function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

type Rejection = Extract<Verdict, { ok: false }>;

function reject(code: DlqCode, message: string): Rejection {
  return { ok: false, code, message };
}
