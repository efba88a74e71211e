import { createHmac } from "node:crypto";
import { z } from "zod";
import { PartnerEvent } from "./schemas.js";

/**
 * The Kafka path for partner systems (contract section 3): events on `partner.transactions`,
 * keyed by user id, with `x-partner-id` and `x-signature: sha256=<hex HMAC-SHA256 of the raw
 * value bytes>` keyed with the partner's signing_secret. The signature covers the exact bytes
 * sent, so a value is serialised once and those bytes are both signed and produced.
 */
export const PARTNER_TRANSACTIONS_TOPIC = "partner.transactions";
/** Messages per produce request: keeps a request well under Kafka's default 1 MiB limit. */
export const PARTNER_EVENTS_PER_SEND_MAX = 500;

export interface PartnerEventHeaders {
  "x-partner-id"?: string;
  "x-signature": string;
}

export interface SignedPartnerEvent {
  /** The bytes that were signed: produce exactly these. */
  value: Buffer;
  headers: PartnerEventHeaders;
}

/** Signs a message value (a string is signed as its UTF-8 bytes). */
export function signPartnerEvent(
  secret: string,
  value: string | Uint8Array,
  partnerId?: string,
): SignedPartnerEvent {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  const signature = `sha256=${createHmac("sha256", secret).update(bytes).digest("hex")}`;
  return {
    value: bytes,
    headers:
      partnerId === undefined
        ? { "x-signature": signature }
        : { "x-partner-id": partnerId, "x-signature": signature },
  };
}

/**
 * The broker authenticates every client (contract 3): a partner connects with the partner
 * principal's SASL/SCRAM credentials, as issued by the operator (`npm start` writes them to
 * `.cache/kafka-partner.json` in exactly this shape). That principal may only write
 * `partner.transactions`.
 */
export const PartnerKafkaConfig = z.object({
  brokers: z.array(z.string().min(1)).min(1),
  mechanism: z.literal("scram-sha-512"),
  username: z.string().min(1),
  password: z.string().min(1),
  /** TLS to the broker, when the deployment offers it. */
  ssl: z.boolean().optional(),
});
export type PartnerKafkaConfig = z.infer<typeof PartnerKafkaConfig>;

/**
 * Client options for a Kafka client from a partner Kafka config (parsed, so a wrong file fails
 * here with the field named): spread them into `new Kafka({ clientId, ...options })` of kafkajs.
 */
export function partnerKafkaOptions(config: unknown): {
  brokers: string[];
  sasl: { mechanism: "scram-sha-512"; username: string; password: string };
  ssl?: boolean;
} {
  const parsed = PartnerKafkaConfig.safeParse(config);
  if (!parsed.success) throw new Error(`partner Kafka config is not valid: ${parsed.error.message}`);
  const { brokers, mechanism, username, password, ssl } = parsed.data;
  return { brokers, sasl: { mechanism, username, password }, ...(ssl !== undefined ? { ssl } : {}) };
}

/**
 * The one method this helper needs from a producer. A kafkajs Producer fits as it is, so the
 * SDK does not depend on kafkajs; create it with Partitioners.DefaultPartitioner (Java-compatible
 * key hashing) so a user's events land in the same partition as every other client's.
 */
export interface PartnerEventProducer {
  send(record: {
    topic: string;
    acks?: number;
    messages: { key: string; value: Buffer; headers: Record<string, string> }[];
  }): Promise<unknown>;
}

export interface ProduceOptions {
  partnerId: string;
  secret: string;
  /** Default `partner.transactions`; a deployment with a topic prefix passes the full name. */
  topic?: string;
}

/**
 * Validates, signs and produces events, keyed by user id, waiting for all in-sync replicas
 * (acks -1) so a resolved promise means Kafka has them. Throws on the first invalid event before
 * anything is sent.
 */
export async function producePartnerEvents(
  producer: PartnerEventProducer,
  events: readonly PartnerEvent[],
  options: ProduceOptions,
): Promise<void> {
  const messages = events.map((event, index) => {
    const parsed = PartnerEvent.safeParse(event);
    if (!parsed.success) throw new Error(`partner event ${index} is not valid: ${parsed.error.message}`);
    const signed = signPartnerEvent(options.secret, JSON.stringify(parsed.data), options.partnerId);
    const headers = { "x-partner-id": options.partnerId, "x-signature": signed.headers["x-signature"] };
    return { key: parsed.data.user_id, value: signed.value, headers };
  });
  const topic = options.topic ?? PARTNER_TRANSACTIONS_TOPIC;
  for (let start = 0; start < messages.length; start += PARTNER_EVENTS_PER_SEND_MAX) {
    await producer.send({
      topic,
      acks: -1,
      messages: messages.slice(start, start + PARTNER_EVENTS_PER_SEND_MAX),
    });
  }
}
