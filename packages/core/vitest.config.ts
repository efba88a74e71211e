import { defineProject } from "vitest/config";
import { projectTestDefaults } from "../../vitest.shared";

export default defineProject({
  test: { name: "@points/core", ...projectTestDefaults },
});
