import { defineProject } from "vitest/config";
import { projectTestDefaults } from "../../vitest.shared";

export default defineProject({
  test: {
    name: "@points/console",
    ...projectTestDefaults,
    // Builds the bundle once before this package's tests, so a fresh clone's `npm test` serves
    // (and size-checks) the console built from the sources under test.
    globalSetup: ["./test/build-bundle.ts"],
  },
});
