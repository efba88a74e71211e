// After `tsc -p tsconfig.build.json`: writes dist/package.json and dist/README.md, so that
// `npm publish dist` ships compiled JavaScript and declarations. In the monorepo the package
// points at its TypeScript sources (package.json "exports"), which tsx and vitest run directly.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const { scripts: _scripts, devDependencies: _dev, files: _files, ...published } = source;
const dist = {
  ...published,
  main: "./index.js",
  types: "./index.d.ts",
  exports: { ".": { types: "./index.d.ts", default: "./index.js" } },
};
writeFileSync(join(root, "dist", "package.json"), `${JSON.stringify(dist, null, 2)}\n`);
copyFileSync(join(root, "README.md"), join(root, "dist", "README.md"));
