import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./infra";

/** Each service refuses to start on bad configuration, with a message naming the variable. */
describe.each([
  ["ledger", { DATABASE_URL: "not-a-url" }, "DATABASE_URL"],
  ["ingest", { KAFKA_BROKERS: "no-port-here" }, "KAFKA_BROKERS"],
  ["gateway", { ADMIN_TOKEN: "" }, "ADMIN_TOKEN"],
  ["gateway", { ADMIN_TOKEN: "long-enough-admin-token", REDIS_URL: "http://x" }, "REDIS_URL"],
])("%s with bad configuration", (service, env, name) => {
  it(`exits with status 2 and names ${name}`, () => {
    const run = spawnSync(
      process.execPath,
      ["--import", "tsx", join(REPO_ROOT, `services/${service}/src/main.ts`)],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, ...env },
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(`${service}: invalid configuration`);
    expect(run.stderr).toContain(name);
  });
});
