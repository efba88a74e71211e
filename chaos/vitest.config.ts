import { defineProject } from "vitest/config";

/**
 * The short chaos run, as its own project: it brings up private Postgres, Redis and Kafka and
 * restarts them, so it needs more time than the other projects' tests.
 */
export default defineProject({
  test: { name: "chaos", include: ["*.test.ts"], testTimeout: 300_000, hookTimeout: 300_000 },
});
