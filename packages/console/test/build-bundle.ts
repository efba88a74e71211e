import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { CONSOLE_DIR } from "../scripts/build.mjs";

/**
 * vitest global setup of @points/console: builds the bundle the gateway serves, in a child process
 * (Vite 8 is this package's own dependency; vitest runs on its own Vite), so the browser tests
 * always run against the sources under test, also on a fresh clone.
 */
export default function setup(): void {
  const built = spawnSync(process.execPath, [join(CONSOLE_DIR, "scripts/build.mjs")], {
    cwd: CONSOLE_DIR,
    stdio: "inherit",
  });
  if (built.status !== 0)
    throw new Error(`building the console failed (exit ${built.status ?? built.signal})`);
}
