import { defineProject } from "vitest/config";

export default defineProject({
  test: { name: "@points/testing", include: ["src/**/*.test.ts"] },
});
