import { Kafka, logLevel, Partitioners, type Producer } from "kafkajs";

/** Kafka client set-up shared by every service, with the settings kafkajs needs to behave. */
export const KAFKA_SESSION_TIMEOUT_MS = 10_000; // kafkajs needs >= 6000 with a KRaft broker
export const KAFKA_HEARTBEAT_MS = 1_000;

export function createKafka(clientId: string, brokers: string[]): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
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
