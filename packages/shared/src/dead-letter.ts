import type { IHeaders, KafkaMessage, Message } from "./kafka";

/**
 * Dead letters: a bounded copy of a message a consumer cannot use, written to the topic's
 * `.dlq` twin with headers saying why (x-error-code, x-error-message) and where it came from
 * (x-original-partition, x-original-offset), so nothing that arrived is ever dropped silently.
 * Used by ingest (partner.transactions.dlq) and the ledger (ledger.commands.dlq).
 */
const ERROR_MESSAGE_CHARS_MAX = 1_000;
/** Headers a dead letter gets; stale copies (a replayed dead letter) are dropped. */
const DLQ_HEADERS = [
  "x-error-code",
  "x-error-message",
  "x-original-partition",
  "x-original-offset",
  "x-truncated-key-bytes",
  "x-truncated-value-bytes",
  "x-dropped-headers",
];

/**
 * A dead letter is bounded, since what arrived compressed can be far larger than the broker's
 * 1 MiB uncompressed, and a dead letter that can never be written would stall the partition: the
 * value is cut to DLQ_PART_BYTES_MAX, the producer's headers are kept only up to
 * DLQ_HEADERS_BYTES_MAX (x-dropped-headers counts the rest), and the key is cut to
 * DLQ_KEY_BYTES_MAX: no user id is longer than 50 characters, and the producer hashes the key
 * with kafkajs's murmur2, which takes time quadratic in its length (256 KiB: 20 s of blocked
 * event loop). x-truncated-key-bytes / x-truncated-value-bytes give the original sizes.
 */
export const DLQ_PART_BYTES_MAX = 256 * 1024;
export const DLQ_HEADERS_BYTES_MAX = 64 * 1024;
export const DLQ_KEY_BYTES_MAX = 1024;

export function deadLetter(source: KafkaMessage, partition: number, code: string, message: string): Message {
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
