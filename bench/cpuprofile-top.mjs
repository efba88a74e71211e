#!/usr/bin/env node
// Lists the heaviest frames (self time) of a V8 .cpuprofile: node bench/cpuprofile-top.mjs FILE [N]
import { readFileSync } from "node:fs";

const [file, count = "25"] = process.argv.slice(2);
if (!file) throw new Error("usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]");
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const selfMs = new Map();
profile.samples.forEach((id, i) => {
  const frame = nodes.get(id).callFrame;
  const key = `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}:${frame.lineNumber}`;
  selfMs.set(key, (selfMs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
});
const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${key}`);
}
