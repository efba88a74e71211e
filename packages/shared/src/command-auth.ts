import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Message, Producer, ProducerBatch, ProducerRecord } from "./kafka";

/**
 * Proof that a `ledger.commands` message comes from the gateway or the ingest (contract 3, "Kafka
 * is not an open door"): an HMAC-SHA256 over the message's raw value bytes, in the header
 * `x-command-auth: v1=<key id>:<hex>`, keyed with a secret only those services and the ledger hold.
 * COMMAND_SIGNING_KEYS is a comma list of `id:secret`; the first key signs, every key verifies, so
 * a key is rotated by configuration: add the new key behind the old everywhere, then move it
 * first, then drop the old one once no command signed with it can still be in the topic.
 */
export const COMMAND_AUTH_HEADER = "x-command-auth";
const SCHEME = "v1";
const SECRET_CHARS_MIN = 32;
const KEYS_MAX = 8;

export interface CommandSigningKey {
  id: string;
  secret: string;
}

export const CommandSigningKeys = z
  .string()
  .min(1)
  .transform((v) => v.split(",").map((part) => part.trim()))
  .pipe(
    z
      .array(
        z
          .string()
          .regex(
            new RegExp(`^[A-Za-z0-9._-]{1,32}:[^,\\s]{${SECRET_CHARS_MIN},}$`),
            `each key is id:secret (id: 1-32 of [A-Za-z0-9._-], secret: ${SECRET_CHARS_MIN}+ characters)`,
          )
          .transform((part): CommandSigningKey => {
            const colon = part.indexOf(":");
            return { id: part.slice(0, colon), secret: part.slice(colon + 1) };
          }),
      )
      .min(1)
      .max(KEYS_MAX)
      .refine((keys) => new Set(keys.map((k) => k.id)).size === keys.length, "key ids must be unique"),
  );

function mac(secret: string, value: Buffer | string): Buffer {
  return createHmac("sha256", secret).update(value).digest();
}

/** The header value for a command whose value is exactly `value`, signed with the first key. */
export function signCommand(keys: readonly CommandSigningKey[], value: Buffer | string): string {
  const key = keys[0];
  if (!key) throw new Error("no command signing key configured");
  return `${SCHEME}=${key.id}:${mac(key.secret, value).toString("hex")}`;
}

/** x-error-code of a command dead-lettered because it is not authenticated. */
export type CommandAuthCode = "unauthenticated_command";

export type CommandAuthResult =
  | { ok: true; keyId: string }
  | { ok: false; code: CommandAuthCode; reason: string };

const HEADER_PATTERN = /^v1=([A-Za-z0-9._-]{1,32}):([0-9a-f]{64})$/;

/** Checks the x-command-auth header of a consumed message against every configured key. */
export function verifyCommand(
  keys: readonly CommandSigningKey[],
  value: Buffer | null,
  header: Buffer | string | (Buffer | string)[] | undefined,
): CommandAuthResult {
  const refuse = (reason: string): CommandAuthResult => ({
    ok: false,
    code: "unauthenticated_command",
    reason,
  });
  if (header === undefined) return refuse(`no ${COMMAND_AUTH_HEADER} header`);
  if (Array.isArray(header)) return refuse(`more than one ${COMMAND_AUTH_HEADER} header`);
  const match = HEADER_PATTERN.exec(header.toString());
  if (!match) return refuse(`${COMMAND_AUTH_HEADER} is not v1=<key id>:<64 hex digits>`);
  const [, keyId, hex] = match as unknown as [string, string, string];
  const key = keys.find((k) => k.id === keyId);
  if (!key) return refuse(`unknown signing key "${keyId}"`);
  const expected = mac(key.secret, value ?? Buffer.alloc(0));
  if (!timingSafeEqual(expected, Buffer.from(hex, "hex")))
    return refuse("signature does not match the value");
  return { ok: true, keyId };
}

/**
 * The producer as the gateway and the ingest use it: every message sent to `commandsTopic` gets
 * its x-command-auth header here, after the value is final, so no call site can forget it. The
 * header (~80 bytes) is not counted by the callers' byte-bounded splitting; SEND_BYTES_MAX leaves
 * half the broker's limit for that.
 */
export function signingProducer(
  producer: Producer,
  keys: readonly CommandSigningKey[],
  commandsTopic: string,
): Producer {
  const sign = (topic: string, messages: Message[]): Message[] =>
    topic !== commandsTopic
      ? messages
      : messages.map((m) => ({
          ...m,
          headers: { ...m.headers, [COMMAND_AUTH_HEADER]: signCommand(keys, m.value ?? "") },
        }));
  return {
    ...producer,
    send: (record: ProducerRecord) =>
      producer.send({ ...record, messages: sign(record.topic, record.messages) }),
    sendBatch: (batch: ProducerBatch) =>
      producer.sendBatch({
        ...batch,
        topicMessages: batch.topicMessages?.map((t) => ({ ...t, messages: sign(t.topic, t.messages) })),
      }),
  };
}
