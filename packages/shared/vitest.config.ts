import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@points/shared", include: ["src/**/*.test.ts"] },
});
