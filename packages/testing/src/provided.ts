import type { KafkaCredentials } from "./infra";

/** What globalSetup hands to test files through vitest provide/inject. */
declare module "vitest" {
  export interface ProvidedContext {
    infra: {
      postgresAdminUrl: string;
      templateDatabase: string;
      redisUrl: string;
      kafkaBrokers: string;
      /** Every Kafka principal's SCRAM credentials (the launcher's; see infra/kafka/broker.mjs). */
      kafkaCredentials: KafkaCredentials;
      /** COMMAND_SIGNING_KEYS for this run's gateway, ingest and ledger. */
      commandSigningKeys: string;
      runId: string;
      mode: "containers" | "local";
    };
  }
}
