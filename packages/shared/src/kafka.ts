import {
  type Consumer,
  type EachBatchPayload,
  Kafka,
  type KafkaMessage,
  type LogEntry,
  logLevel,
  type Message,
  type PartitionerArgs,
  Partitioners,
  type Producer,
} from "kafkajs";

export type {
  Admin,
  IHeaders,
  ITopicConfig,
  ProducerBatch,
  ProducerRecord,
  RecordMetadata,
  TopicMessages,
} from "kafkajs";
/**
 * The project's one Kafka adapter (issue 17): the rest of the code imports the client's types
 * and factories from here, never from "kafkajs" (biome's noRestrictedImports enforces it), so
 * the client library can be measured against or replaced behind one file.
 */
export { CompressionTypes, Kafka, logLevel, Partitioners } from "kafkajs";
export type { Consumer, EachBatchPayload, KafkaMessage, LogEntry, Message, Producer };

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

/** kafkajs's own retries per operation; `retries` may be lowered (tests that expect a refusal). */
export const KAFKA_CLIENT_RETRIES = 8;

export function createKafka(
  clientId: string,
  brokers: string[],
  log?: Logger,
  sasl?: KafkaSasl,
  options: { retries?: number } = {},
): Kafka {
  return new Kafka({
    clientId,
    brokers,
    // A fresh object with only the three fields: kafkajs stores its SCRAM authenticator, bound to
    // the password it first saw, on the sasl object it is given, so a copy of a used object made
    // with another password would still log in with the first one.
    ...(sasl
      ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } as KafkaSasl }
      : {}),
    logLevel: log ? logLevel.INFO : logLevel.NOTHING,
    ...(log ? { logCreator: () => (entry: LogEntry) => forward(log, entry) } : {}),
    retry: { initialRetryTime: 100, retries: options.retries ?? KAFKA_CLIENT_RETRIES },
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
  });
}

/** Idempotent producer with Java-compatible key hashing, so a user id maps to the same partition from every client. */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    createPartitioner: recordingPartitioner,
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

/**
 * Why every send is split per partition: kafkajs 2.2.4 can report a send as acknowledged while
 * part of it was never written, on a cluster (tulios/kafkajs#1303; found by the chaos run with
 * --brokers 3). A send to partitions led by several brokers remembers which brokers answered; when
 * one broker dies and its partitions move to a broker that already answered, the retry sends that
 * broker nothing and the send resolves. A send that holds a single partition cannot hit this.
 * The partition is chosen by kafkajs's own Java-compatible partitioner, with the partition count
 * the producer's partitioner last saw for the topic (see recordingPartitioner).
 *
 * The exception is a topic on one broker (every partition's replicas are that one broker: a
 * single-broker deployment, `npm start`, the tests). No partition of it can move to another
 * broker, so a send cannot be multi-broker and one request may carry every partition. That saves
 * a round trip per partition: with the idempotent producer's one request in flight per broker,
 * per-partition sends to one broker are serialized.
 */
const partitionCounts = new Map<string, number>();
const oneBrokerTopics = new Map<string, boolean>();
const choosePartition = Partitioners.DefaultPartitioner();

/** The Java-compatible partitioner, remembering each topic's partition count and brokers for sendAll. */
export function recordingPartitioner(): (args: PartitionerArgs) => number {
  const partitioner = Partitioners.DefaultPartitioner();
  return (args) => {
    partitionCounts.set(args.topic, args.partitionMetadata.length);
    oneBrokerTopics.set(args.topic, onOneBroker(args.partitionMetadata));
    return partitioner(args);
  };
}

/** True when every partition is led by, and only replicated on, one and the same broker. */
export function onOneBroker(partitions: PartitionerArgs["partitionMetadata"]): boolean {
  const broker = partitions[0]?.leader;
  if (broker === undefined) return false;
  return partitions.every((p) => p.leader === broker && p.replicas.length === 1 && p.replicas[0] === broker);
}

/**
 * Sends messages to one topic, fully acknowledged (acks=all): one request stream per partition
 * (on a one-broker topic, one stream for all), in order within each partition, byte-bounded requests. The producer must use
 * recordingPartitioner (createProducer does); until it has seen the topic once, the first message
 * goes alone, which teaches it the partition count.
 */
export async function sendAll(producer: Producer, topic: string, messages: Message[]): Promise<void> {
  let rest = messages;
  if (!partitionCounts.has(topic) && rest.length > 0) {
    await producer.send({ topic, acks: -1, messages: rest.slice(0, 1) });
    rest = rest.slice(1);
  }
  const count = partitionCounts.get(topic);
  if (count === undefined || oneBrokerTopics.get(topic) === true) {
    for (const group of chunkByBytes(rest)) await producer.send({ topic, acks: -1, messages: group });
    return;
  }
  await sendPerPartition(producer, topic, rest, count);
}

/** One request stream per partition (sendAll on a topic spread over brokers). */
export async function sendPerPartition(
  producer: Producer,
  topic: string,
  rest: Message[],
  count: number,
): Promise<void> {
  const byPartition = new Map<number, Message[]>();
  const partitionMetadata = Array.from({ length: count }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    partitionErrorCode: 0,
    replicas: [0],
    isr: [0],
  }));
  for (const message of rest) {
    const partition = choosePartition({ topic, partitionMetadata, message });
    const list = byPartition.get(partition) ?? [];
    list.push({ ...message, partition });
    byPartition.set(partition, list);
  }
  await Promise.all(
    [...byPartition.values()].map(async (list) => {
      for (const group of chunkByBytes(list)) await producer.send({ topic, acks: -1, messages: group });
    }),
  );
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
export async function processWithRetry(
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

// --- Broker loss: retriable errors contained, the rest surfaced ----------------------------------

/**
 * Whether a kafkajs error is one a retry can fix: a broker down, a connection closed, a request
 * timed out, a leader moved. kafkajs wraps what it gave up on (KafkaJSNumberOfRetriesExceeded,
 * retriable false) around the error that made it give up, so the deepest cause decides. Errors
 * that are not kafkajs's own (a bug in our code) and kafkajs's non-retriable ones (a refused
 * login, an ACL, an invariant violation) are not.
 */
export function isRetriableKafkaError(err: unknown): boolean {
  let e = err as { name?: unknown; retriable?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; depth < CAUSE_DEPTH_MAX && e?.cause instanceof Error; depth++) {
    e = e.cause as typeof e;
  }
  return typeof e?.name === "string" && e.name.startsWith("KafkaJS") && e.retriable === true;
}
const CAUSE_DEPTH_MAX = 8;

const CONNECT_RETRY_MS_MIN = 250;
const CONNECT_RETRY_MS_MAX = 2_000;
/** Long enough for a killed broker's restart or a leader election; then start-up fails loudly. */
export const KAFKA_CONNECT_WAIT_MS_MAX = 120_000;

/**
 * Connects a kafkajs client, retrying while the error is retriable. Why: an idempotent
 * producer's connect asks one broker of the metadata for a producer id and gives up at once with
 * a bare KafkaJSConnectionError when that broker is the one just killed (kafkajs 2.2.4,
 * eosManager.initProducerId bails on anything but a protocol error), so a service starting during
 * a broker loss would fail. Non-retriable errors (a refused login) are thrown at once; after
 * waitMsMax the last error is thrown, and the service's start fails (crash-only, restarted).
 */
export async function connectWithRetry(
  what: string,
  connect: () => Promise<void>,
  log: Logger,
  options: { waitMsMax?: number; onRetry?: (err: unknown) => void } = {},
): Promise<void> {
  const deadline = Date.now() + (options.waitMsMax ?? KAFKA_CONNECT_WAIT_MS_MAX);
  for (let attempt = 0; ; attempt++) {
    try {
      return await connect();
    } catch (err) {
      if (!isRetriableKafkaError(err) || Date.now() >= deadline) throw err;
      const delay = Math.min(CONNECT_RETRY_MS_MAX, CONNECT_RETRY_MS_MIN * 2 ** attempt);
      log.warn({ err: String(err), attempt, delay }, `${what} cannot connect (Kafka); retrying`);
      options.onRetry?.(err);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

let rejectionsContained = 0;

/** How many retriable kafkajs rejections containKafkaRejections has absorbed in this process (a metric). */
export function kafkaRejectionsContained(): number {
  return rejectionsContained;
}

/**
 * Installs the process's unhandled-rejection policy (service processes only, from runService).
 * kafkajs 2.2.4 can leave a promise of its own rejected with nobody listening when a broker dies
 * under it (tulios/kafkajs#702, #796, #1686: a request timed out or a connection closed on a
 * path nothing awaits); Node's default then kills the process, for an error kafkajs retries on
 * the paths that matter (every send and commit we await is retried or reported to its caller).
 * A retriable kafkajs error is logged and counted; anything else is a bug: logged as fatal and
 * the process exits 1, as Node's default would (crash-only; the process manager restarts it).
 */
export function containKafkaRejections(log: Logger, exit: (code: number) => void = process.exit): () => void {
  const onRejection = (reason: unknown) => {
    if (isRetriableKafkaError(reason)) {
      rejectionsContained++;
      log.warn(
        { err: String(reason), cause: String((reason as { cause?: unknown })?.cause ?? "") },
        "kafkajs left a retriable error unhandled (broker loss); contained",
      );
      return;
    }
    log.fatal(
      { err: reason instanceof Error ? (reason.stack ?? String(reason)) : String(reason) },
      "unhandled rejection; exiting",
    );
    exit(1);
  };
  process.on("unhandledRejection", onRejection);
  return () => void process.off("unhandledRejection", onRejection);
}
