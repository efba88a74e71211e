#!/usr/bin/env node
// Lists the heaviest frames (self time) of a V8 .cpuprofile:
//   node bench/cpuprofile-top.mjs FILE [N]            heaviest frames by self time
//   node bench/cpuprofile-top.mjs FILE N FUNCTION     where FUNCTION's time comes from (callers)
import { readFileSync } from "node:fs";

const [file, count = "25", callersOf] = process.argv.slice(2);
if (!file) throw new Error("usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N] [FUNCTION]");
const profile = JSON.parse(readFileSync(file, "utf8"));
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map();
for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);
const CALLER_FRAMES = 8;

const label = (id) => {
  const frame = nodes.get(id).callFrame;
  return `${frame.functionName || "(anonymous)"} ${frame.url.split("/").pop()}:${frame.lineNumber}`;
};
const keyOf = (id) => {
  if (!callersOf) return label(id);
  if (!label(id).startsWith(`${callersOf} `)) return null;
  const chain = [];
  for (let p = parents.get(id); p !== undefined && chain.length < CALLER_FRAMES; p = parents.get(p)) {
    chain.push(label(p));
  }
  return chain.join(" < ");
};

const selfMs = new Map();
profile.samples.forEach((id, i) => {
  const key = keyOf(id);
  if (key !== null) selfMs.set(key, (selfMs.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
});
const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
for (const [key, ms] of [...selfMs].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
  console.log(`${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${key}`);
}
