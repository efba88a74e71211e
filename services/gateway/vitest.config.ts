import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@points/gateway", include: ["src/**/*.test.ts"] },
});
