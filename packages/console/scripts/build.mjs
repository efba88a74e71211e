#!/usr/bin/env node
// Builds the console bundle (Vite) into dist/ and checks it against the size budget. Used by
// `npm run build` (turbo), `npm start` (infra/dev-stack.ts) and the console tests' global setup.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

export const CONSOLE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const DIST_DIR = join(CONSOLE_DIR, "dist");
/** The console's whole download, gzipped (issue 16): a support desk on a slow link still loads it. */
export const BUNDLE_GZIP_BYTES_MAX = 300 * 1024;

export async function buildConsole(log = console.log) {
  const started = performance.now();
  const { build } = await import("vite");
  await build({
    root: CONSOLE_DIR,
    configFile: join(CONSOLE_DIR, "vite.config.ts"),
    mode: "production",
    logLevel: "warn",
  });
  const size = bundleSize();
  log(
    `built the console in ${Math.round(performance.now() - started)} ms: ${kib(size.gzipBytes)} gzipped (${kib(size.rawBytes)} raw), budget ${kib(BUNDLE_GZIP_BYTES_MAX)}`,
  );
  if (size.gzipBytes > BUNDLE_GZIP_BYTES_MAX) {
    throw new Error(
      `console bundle is ${kib(size.gzipBytes)} gzipped, over the ${kib(BUNDLE_GZIP_BYTES_MAX)} budget`,
    );
  }
  return size;
}

/** Every file of dist/, gzipped one by one (as a browser downloads them). */
export function bundleSize(dir = DIST_DIR) {
  const files = [];
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const bytes = readFileSync(path);
        files.push({
          file: relative(dir, path),
          rawBytes: bytes.length,
          gzipBytes: gzipSync(bytes, { level: 9 }).length,
        });
      }
    }
  };
  walk(dir);
  const sum = (k) => files.reduce((n, f) => n + f[k], 0);
  return { files, rawBytes: sum("rawBytes"), gzipBytes: sum("gzipBytes") };
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} kB`;

if (import.meta.url === `file://${process.argv[1]}`) {
  // Vite makes a development build (unminified, debug code) under NODE_ENV=test or development,
  // as set by vitest: the console served in tests must be the one shipped.
  process.env.NODE_ENV = "production";
  buildConsole().catch((err) => {
    console.error(`[console] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
