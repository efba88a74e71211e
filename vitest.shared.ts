/** Test settings every project (package) uses; root options are not inherited by projects. */
export const projectTestDefaults = {
  include: ["src/**/*.test.ts"],
  // Integration tests join Kafka consumer groups and wait for a real ledger: seconds, not ms.
  testTimeout: 120_000,
  hookTimeout: 120_000,
};
