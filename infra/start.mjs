#!/usr/bin/env node
// `npm start`: the whole stack on this machine. Installs dependencies on a fresh clone, then
// hands over to dev-stack.ts (TypeScript, run through tsx) which brings up Postgres, Redis and a
// real Kafka broker, migrates, and runs gateway, ledger and ingest with prefixed logs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!existsSync(join(root, "node_modules", "tsx")) || !existsSync(join(root, "node_modules", "kafkajs"))) {
  console.log("[start] installing dependencies (first run)...");
  // npm install rather than npm ci: see .ci/run (lockfiles without other platforms' optional packages).
  const npm = spawnSync("npm", ["install", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (npm.status !== 0) process.exit(npm.status ?? 1);
}
const { register } = await import("tsx/esm/api");
register();
await import(pathToFileURL(join(root, "infra/dev-stack.ts")).href);
