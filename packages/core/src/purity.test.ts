import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// The core must stay pure (design.md, habit 1). These tests prove the guard itself works: the
// package declares no runtime dependencies, and biome's lint refuses an I/O import in its sources.
const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "../../..");

let probes = 0;

/** Lints `source` as if it were a file of packages/core/src (biome's overrides go by path). */
function lintAsCoreSource(source: string) {
  const probe = join(here, `lint-probe-${process.pid}-${probes++}.ts`);
  writeFileSync(probe, source);
  try {
    return spawnSync(join(root, "node_modules/.bin/biome"), ["lint", probe], { cwd: root, encoding: "utf8" });
  } finally {
    rmSync(probe, { force: true });
  }
}

describe("packages/core purity", () => {
  it("declares no runtime dependencies", () => {
    const pkg = JSON.parse(readFileSync(join(here, "../package.json"), "utf8"));
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(pkg.peerDependencies ?? {}).toEqual({});
  });

  it.each([
    'import pg from "pg";\nexport const x = pg;\n',
    'import { readFileSync } from "node:fs";\nexport const x = readFileSync;\n',
    'import { Kafka } from "kafkajs";\nexport const x = Kafka;\n',
    'import { logger } from "@points/shared/logger";\nexport const x = logger;\n',
  ])("lint refuses an I/O import: %s", (source) => {
    const run = lintAsCoreSource(source);
    expect(run.status).not.toBe(0);
    expect(`${run.stdout}${run.stderr}`).toContain("noRestrictedImports");
  });

  it("lint accepts a pure module", () => {
    const run = lintAsCoreSource('import { assert } from "./assert";\nexport const x = assert;\n');
    expect(run.stderr).not.toContain("noRestrictedImports");
    expect(run.status).toBe(0);
  });
});
