import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@points/ledger", include: ["src/**/*.test.ts"] },
});
