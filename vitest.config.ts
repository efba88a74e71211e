import { defineConfig } from "vitest/config";

// One vitest run for the whole monorepo: one globalSetup brings up real Kafka, Postgres and Redis
// once, and every project (package) shares it. Each test file then gets its own database, topic
// prefix and consumer group, so files run in parallel without seeing each other.
export default defineConfig({
  test: {
    globalSetup: ["./packages/testing/src/global-setup.ts"],
    projects: ["packages/*", "services/*", "chaos"],
  },
});
