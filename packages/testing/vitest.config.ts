import { defineProject } from "vitest/config";
import { projectTestDefaults } from "../../vitest.shared";

// The 3-broker cluster run (three more JVMs, a broker SIGKILLed under load, ~80 s) is a long run
// of its own, `npm run test:cluster`, like the full chaos run and the bench; `npm test` keeps one
// broker (the short chaos run in it already kills and restarts that broker).
const CLUSTER_TEST = "src/cluster.test.ts";

export default defineProject({
  test: {
    name: "@points/testing",
    ...projectTestDefaults,
    exclude: process.env.POINTS_CLUSTER_TEST === "1" ? [] : [CLUSTER_TEST],
  },
});
