/** What globalSetup hands to test files through vitest provide/inject. */
declare module "vitest" {
  export interface ProvidedContext {
    infra: {
      postgresAdminUrl: string;
      templateDatabase: string;
      redisUrl: string;
      kafkaBrokers: string;
      runId: string;
      mode: "containers" | "local";
    };
  }
}

export {};
