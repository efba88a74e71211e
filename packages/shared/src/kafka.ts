import { Kafka, type LogEntry, logLevel, Partitioners, type Producer } from "kafkajs";
import type { Logger } from "./logger";

/** Kafka client set-up shared by every service, with the settings kafkajs needs to behave. */
export const KAFKA_SESSION_TIMEOUT_MS = 10_000; // kafkajs needs >= 6000 with a KRaft broker
export const KAFKA_HEARTBEAT_MS = 1_000;

export function createKafka(clientId: string, brokers: string[], log?: Logger): Kafka {
  return new Kafka({
    clientId,
    brokers,
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
