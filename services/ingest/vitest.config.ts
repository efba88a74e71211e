import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@points/ingest", include: ["src/**/*.test.ts"] },
});
