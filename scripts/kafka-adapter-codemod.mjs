#!/usr/bin/env node
// One Kafka adapter (issue 17): rewrites every `from "kafkajs"` import in the repository to the
// project's adapter, `@points/shared/kafka` (a relative `./kafka` inside packages/shared/src), and
// checks that each imported name is exported by the adapter. Run from the repository root:
//
//   node scripts/kafka-adapter-codemod.mjs          # rewrite, then `npx biome check --write` on the changed files
//   node scripts/kafka-adapter-codemod.mjs --check  # list what would change; exit 1 if anything would
//
// Left alone on purpose: the adapter itself; infra/kafka/broker.mjs (plain JavaScript run by
// `npm start` and the test setup before the workspace is built, so it cannot import TypeScript);
// packages/core (the pure core imports no I/O at all; its purity test only names "kafkajs" in a
// string).
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";

const ROOT = process.cwd();
const ADAPTER = "packages/shared/src/kafka.ts";
const ADAPTER_SPECIFIER = "@points/shared/kafka";
const EXEMPT = [ADAPTER, "infra/kafka/broker.mjs"];
const EXEMPT_PREFIXES = ["packages/core/"];
const SOURCE = /\.(ts|mts|cts|tsx|mjs|js)$/;
// A static import or re-export whose specifier is exactly "kafkajs" (its clause can span lines).
const IMPORT = /((?:^|\n)\s*(?:import|export)\b[^;"']*?\bfrom\s*)(["'])kafkajs\2/g;
const DEFAULT_IMPORT = /import\s+[A-Za-z_$][\w$]*\s*(?:,|\s+from)[^;]*["']kafkajs["']/;
const OTHER_USE = /(?:import|require|mock)\s*\(\s*["']kafkajs["']/;

const check = process.argv.includes("--check");
const files = execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" })
  .split("\n")
  .filter((f) => SOURCE.test(f) && !EXEMPT.includes(f) && !EXEMPT_PREFIXES.some((p) => f.startsWith(p)));

const exported = adapterExports(readFileSync(join(ROOT, ADAPTER), "utf8"));
const changed = [];
const problems = [];
for (const file of files) {
  const text = readFileSync(join(ROOT, file), "utf8");
  if (!text.includes("kafkajs")) continue;
  if (DEFAULT_IMPORT.test(text))
    problems.push(`${file}: default import of kafkajs; import named exports instead`);
  if (OTHER_USE.test(text))
    problems.push(`${file}: dynamic import, require or mock of kafkajs; rewrite by hand`);
  const specifier = file.startsWith("packages/shared/src/")
    ? `./${relative(dirname(file), ADAPTER).replace(/\.ts$/, "")}`.replace(/^\.\/\.\.\//, "../")
    : ADAPTER_SPECIFIER;
  let out = text;
  for (const match of text.matchAll(IMPORT)) {
    for (const name of importedNames(match[1])) {
      if (!exported.has(name))
        problems.push(`${file}: "${name}" is not exported by ${ADAPTER}; add it there`);
    }
  }
  out = out.replace(IMPORT, (_m, head, quote) => `${head}${quote}${specifier}${quote}`);
  if (out !== text) {
    changed.push(file);
    if (!check) writeFileSync(join(ROOT, file), out);
  }
}

for (const p of problems) process.stderr.write(`codemod: ${p}\n`);
process.stdout.write(
  `${check ? "would rewrite" : "rewrote"} ${changed.length} file(s)\n${changed.join("\n")}\n`,
);
if (!check && changed.length > 0) {
  // Import order and merging with an existing import of the adapter: biome's own fix.
  execFileSync("npx", ["biome", "check", "--write", ...changed], { cwd: ROOT, stdio: "inherit" });
}
process.exit(problems.length > 0 || (check && changed.length > 0) ? 1 : 0);

/** Names in an import/export clause: `{ type A, B as C }` gives A and B. */
function importedNames(clause) {
  const braces = /\{([^}]*)\}/.exec(clause);
  if (!braces) return [];
  return braces[1]
    .split(",")
    .map((s) =>
      s
        .trim()
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/)[0]
        .trim(),
    )
    .filter(Boolean);
}

/** Names the adapter exports: declarations and `export { ... }` / `export type { ... }` lists. */
function adapterExports(source) {
  const names = new Set();
  for (const m of source.matchAll(
    /export\s+(?:declare\s+)?(?:async\s+)?(?:function|const|let|class|type|interface|enum)\s+([\w$]+)/g,
  )) {
    names.add(m[1]);
  }
  for (const m of source.matchAll(/export\s+(?:type\s+)?\{([^}]*)\}/g)) {
    for (const part of m[1].split(",")) {
      const name = part
        .trim()
        .replace(/^type\s+/, "")
        .split(/\s+as\s+/)
        .pop()
        .trim();
      if (name) names.add(name);
    }
  }
  return names;
}
