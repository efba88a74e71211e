import {
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  type LogEntry,
  logLevel,
  type Message,
  Partitioners,
  type Producer,
} from "kafkajs";
import type { CommonConfig } from "./config";
import type { Logger } from "./logger";

/** Kafka client set-up shared by every service, with the settings kafkajs needs to behave. */
export const KAFKA_SESSION_TIMEOUT_MS = 10_000; // kafkajs needs >= 6000 with a KRaft broker
export const KAFKA_HEARTBEAT_MS = 1_000;

/** A principal's SASL credentials (contract 3: the broker refuses anonymous clients). */
export type KafkaSasl = { username: string; password: string } & (
  | { mechanism: "scram-sha-512" }
  | { mechanism: "scram-sha-256" }
  | { mechanism: "plain" }
);

/** The service's own principal from its config; both variables or neither. */
export function kafkaSasl(
  config: Pick<CommonConfig, "KAFKA_SASL_USERNAME" | "KAFKA_SASL_PASSWORD" | "KAFKA_SASL_MECHANISM">,
): KafkaSasl | undefined {
  const { KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password } = config;
  if (username === undefined && password === undefined) return undefined;
  if (username === undefined || password === undefined) {
    throw new Error("KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD must be set together");
  }
  return { mechanism: config.KAFKA_SASL_MECHANISM, username, password } as KafkaSasl;
}

export function createKafka(clientId: string, brokers: string[], log?: Logger, sasl?: KafkaSasl): Kafka {
  return new Kafka({
    clientId,
    brokers,
    ...(sasl ? { sasl } : {}),
    logLevel: log ? logLevel.INFO : logLevel.NOTHING,
    ...(log ? { logCreator: () => (entry: LogEntry) => forward(log, entry) } : {}),
    retry: { initialRetryTime: 100, retries: 8 },
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
  });
}

/** Idempotent producer with Java-compatible key hashing, so a user id maps to the same partition from every client. */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  });
}

/**
 * kafkajs logs through the service's pino logger. Broker connection errors are expected while
 * Kafka restarts and are retried, so they are warnings, not errors.
 */
function forward(log: Logger, { level, log: entry }: LogEntry): void {
  const { message, ...fields } = entry;
  const data = { kafka: fields.logger ?? "kafkajs", broker: fields.broker, error: fields.error };
  if (level === logLevel.ERROR && !/Connection error|ECONNREFUSED/.test(`${message} ${fields.error ?? ""}`)) {
    log.error(data, message);
  } else if (level <= logLevel.WARN) {
    log.warn(data, message);
  } else {
    log.debug(data, message);
  }
}

/**
 * kafkajs puts everything for one partition into one record batch, and the broker refuses a
 * batch over max.message.bytes (1 MiB by default): a send that large would fail, be retried,
 * and stall its partition forever. Every multi-message send is split below this size.
 */
export const SEND_BYTES_MAX = 512 * 1024;
const RECORD_OVERHEAD_BYTES = 64;

export function messageBytes(message: Message): number {
  let bytes = RECORD_OVERHEAD_BYTES + byteLength(message.key) + byteLength(message.value);
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) bytes += name.length + byteLength(v as Buffer | string | undefined);
  }
  return bytes;
}

function byteLength(value: Buffer | string | null | undefined): number {
  if (value === null || value === undefined) return 0;
  return typeof value === "string" ? Buffer.byteLength(value) : value.length;
}

/** Splits messages, in order, into groups of at most SEND_BYTES_MAX (a single larger message stays alone). */
export function chunkByBytes(messages: Message[], max = SEND_BYTES_MAX): Message[][] {
  const groups: Message[][] = [];
  let current: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = messageBytes(message);
    if (current.length > 0 && bytes + size > max) {
      groups.push(current);
      current = [];
      bytes = 0;
    }
    current.push(message);
    bytes += size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Sends messages to one topic in byte-bounded requests, in order, each fully acknowledged. */
export async function sendAll(producer: Producer, topic: string, messages: Message[]): Promise<void> {
  for (const group of chunkByBytes(messages)) await producer.send({ topic, acks: -1, messages: group });
}

/**
 * The group moved on (broker restart, expired session, rebalance) while a batch was in hand.
 * kafkajs wraps these as non-retriable when they leave eachBatch and then crashes the consumer
 * for good, leaving a live process that consumes nothing; callers end the batch instead. Whoever
 * owns the partition next redelivers from the last committed offset, which command ids make
 * harmless.
 */
const GROUP_MEMBERSHIP_ERRORS = new Set([
  "UNKNOWN_MEMBER_ID",
  "REBALANCE_IN_PROGRESS",
  "ILLEGAL_GENERATION",
  "NOT_COORDINATOR_FOR_GROUP",
  "COORDINATOR_NOT_AVAILABLE",
]);

export function isGroupMembershipError(err: unknown): boolean {
  const e = err as { type?: string; cause?: { type?: string } } | null;
  return GROUP_MEMBERSHIP_ERRORS.has(e?.type ?? e?.cause?.type ?? "");
}

/** A consumer crash kafkajs will not restart leaves a process that consumes nothing: exit so the process manager starts a fresh one. */
export function exitOnFatalCrash(consumer: Consumer, log: Logger): void {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart) return;
    log.fatal({ err: String(payload.error) }, "consumer crashed for good; exiting");
    process.exit(1);
  });
}

/**
 * The loop both consumers run over a fetched batch: chunks in offset order; each chunk is
 * processed (retried with backoff while the partition is still ours), then its offset resolved
 * and committed, then a heartbeat. A commit refused because the group moved on ends the batch
 * quietly (see isGroupMembershipError); the next owner of the partition redelivers the rest.
 */
export async function consumeInChunks(
  payload: EachBatchPayload,
  options: {
    chunkMessagesMax: number;
    log: Logger;
    process: (chunk: KafkaMessage[]) => Promise<void>;
    commit: (lastOffset: string) => Promise<void>;
    /** Called once per failed attempt (a metric). */
    onRetry: () => void;
    /** Errors no retry can fix (a programmer error): not retried; they end the batch (see below). */
    isFatal?: (err: unknown) => boolean;
  },
): Promise<void> {
  const { batch } = payload;
  for (let start = 0; start < batch.messages.length; start += options.chunkMessagesMax) {
    if (!payload.isRunning() || payload.isStale()) return;
    const chunk = batch.messages.slice(start, start + options.chunkMessagesMax);
    await processWithRetry(payload, options, chunk);
    const last = chunk[chunk.length - 1]!;
    payload.resolveOffset(last.offset);
    try {
      await options.commit(last.offset);
    } catch (err) {
      if (!isGroupMembershipError(err)) throw err;
      options.log.warn(
        { err: String(err), partition: batch.partition },
        "offset commit refused: the group moved on",
      );
      return;
    }
    await payload.heartbeat();
  }
}

const RETRY_DELAY_MS_MIN = 100;
const RETRY_DELAY_MS_MAX = 5_000;

/**
 * Postgres or Kafka being down pauses the partition (with backoff) instead of skipping messages.
 * Gives up when the consumer stops or the partition moved to another member (stale batch), and
 * at once on a fatal error: retrying a programmer error would stall the partition forever,
 * quietly. Rethrown, it makes kafkajs restart the consumer (and exitOnFatalCrash end the process
 * when kafkajs will not): loud, like TigerBeetle's crash on a failed assertion. Consumers isolate
 * what they can before that (the ledger records a command it cannot apply as rejected).
 */
async function processWithRetry(
  payload: EachBatchPayload,
  options: {
    log: Logger;
    process: (chunk: KafkaMessage[]) => Promise<void>;
    onRetry: () => void;
    isFatal?: (err: unknown) => boolean;
  },
  chunk: KafkaMessage[],
): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await options.process(chunk);
    } catch (err) {
      if (!payload.isRunning() || payload.isStale()) throw err;
      if (options.isFatal?.(err)) {
        options.log.fatal(
          { err: String(err), partition: payload.batch.partition },
          "chunk failed on a bug; not retried",
        );
        throw err;
      }
      const delay = Math.min(RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN * 2 ** attempt);
      options.log.error(
        { err: String(err), attempt, delay, partition: payload.batch.partition },
        "chunk failed; retrying",
      );
      options.onRetry();
      await new Promise((r) => setTimeout(r, delay));
      await payload.heartbeat();
    }
  }
}
