import { COMMAND_VERSION, type EarnCommand } from "@points/shared";
import { messageBytes, SEND_BYTES_MAX } from "@points/shared/kafka";
import type { IHeaders, KafkaMessage, Message, Producer, TopicMessages } from "kafkajs";
import type { AcceptedEvent, DlqCode } from "./verify-partner-event";

/**
 * Writes a chunk's results: earn commands to `ledger.commands` (keyed by user) and dead letters to
 * `partner.transactions.dlq` (as received), in as few produce requests as possible, each fully
 * acknowledged (acks -1) before the caller commits the source offsets.
 *
 * Sends are split by bytes (SEND_BYTES_MAX, see shared/kafka.ts), so a chunk whose events all
 * belong to one user cannot become an unsendable (stalling) request.
 */
const ERROR_MESSAGE_CHARS_MAX = 1_000;
/** Headers this service adds to a dead letter; stale copies (a replayed dead letter) are dropped. */
const DLQ_HEADERS = [
  "x-error-code",
  "x-error-message",
  "x-original-partition",
  "x-original-offset",
  "x-truncated-key-bytes",
  "x-truncated-value-bytes",
  "x-dropped-headers",
];

export function earnCommand(accepted: AcceptedEvent, now = Date.now()): EarnCommand {
  const { partnerId, event } = accepted;
  return {
    v: COMMAND_VERSION,
    type: "earn",
    command_id: accepted.commandId,
    user_id: event.user_id,
    actor: { role: "partner", id: partnerId },
    request_hash: accepted.requestHash,
    sent_at: now,
    payer: partnerId,
    points: event.points,
    timestamp: event.timestamp,
    authority_id: partnerId,
    ...(event.reason !== undefined ? { reason: event.reason } : {}),
    render: "transaction",
    event_id: event.event_id,
  };
}

export function commandMessage(command: EarnCommand): Message {
  return { key: command.user_id, value: JSON.stringify(command) };
}

/**
 * A dead letter is bounded, since what arrived compressed can be far larger than the broker's
 * 1 MiB uncompressed, and a dead letter that can never be written would stall the partition: the
 * value is cut to DLQ_PART_BYTES_MAX, the partner's headers are kept only up to
 * DLQ_HEADERS_BYTES_MAX (x-dropped-headers counts the rest), and the key is cut to
 * DLQ_KEY_BYTES_MAX: no user id is longer than 50 characters, and the producer hashes the key
 * with kafkajs's murmur2, which takes time quadratic in its length (256 KiB: 20 s of blocked
 * event loop). x-truncated-key-bytes / x-truncated-value-bytes give the original sizes.
 */
export const DLQ_PART_BYTES_MAX = 256 * 1024;
export const DLQ_HEADERS_BYTES_MAX = 64 * 1024;
export const DLQ_KEY_BYTES_MAX = 1024;

export function deadLetter(source: KafkaMessage, partition: number, code: DlqCode, message: string): Message {
  const headers: IHeaders = {};
  let headerBytes = 0;
  let dropped = 0;
  for (const [name, value] of Object.entries(source.headers ?? {})) {
    if (value === undefined || DLQ_HEADERS.includes(name)) continue;
    const bytes = [value].flat().reduce((n, v) => n + Buffer.byteLength(v), Buffer.byteLength(name));
    if (headerBytes + bytes > DLQ_HEADERS_BYTES_MAX) {
      dropped++;
      continue;
    }
    headerBytes += bytes;
    headers[name] = value;
  }
  if (dropped > 0) headers["x-dropped-headers"] = String(dropped);
  headers["x-error-code"] = code;
  headers["x-error-message"] = message.slice(0, ERROR_MESSAGE_CHARS_MAX);
  headers["x-original-partition"] = String(partition);
  headers["x-original-offset"] = source.offset;
  const key = cut(source.key, DLQ_KEY_BYTES_MAX, "x-truncated-key-bytes", headers);
  const value = cut(source.value, DLQ_PART_BYTES_MAX, "x-truncated-value-bytes", headers);
  return { key, value, headers };
}

function cut(part: Buffer | null, max: number, header: string, headers: IHeaders): Buffer | null {
  if (!part || part.length <= max) return part;
  headers[header] = String(part.length);
  return part.subarray(0, max);
}

export class IngestPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly commandsTopic: string,
    private readonly dlqTopic: string,
  ) {}

  /** Resolves once Kafka acknowledged every message; order within each topic is kept. */
  async publish(commands: Message[], deadLetters: Message[]): Promise<void> {
    for (const group of splitByBytes(commands, deadLetters)) {
      const topicMessages: TopicMessages[] = [];
      if (group.commands.length > 0)
        topicMessages.push({ topic: this.commandsTopic, messages: group.commands });
      if (group.dlq.length > 0) topicMessages.push({ topic: this.dlqTopic, messages: group.dlq });
      await this.producer.sendBatch({ acks: -1, topicMessages });
    }
  }
}

interface SendGroup {
  commands: Message[];
  dlq: Message[];
  bytes: number;
}

function splitByBytes(commands: Message[], deadLetters: Message[]): SendGroup[] {
  const groups: SendGroup[] = [];
  let current: SendGroup = { commands: [], dlq: [], bytes: 0 };
  const add = (message: Message, into: "commands" | "dlq") => {
    const bytes = messageBytes(message);
    if (current.bytes > 0 && current.bytes + bytes > SEND_BYTES_MAX) {
      groups.push(current);
      current = { commands: [], dlq: [], bytes: 0 };
    }
    current[into].push(message);
    current.bytes += bytes;
  };
  for (const m of commands) add(m, "commands");
  for (const m of deadLetters) add(m, "dlq");
  if (current.bytes > 0) groups.push(current);
  return groups;
}
