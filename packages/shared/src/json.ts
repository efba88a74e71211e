import { randomBytes } from "node:crypto";

/**
 * JSON.stringify that writes bigint as an exact JSON number. Totals are 64-bit and may pass
 * 2^53, where a JS number would silently round; Node 20 has no JSON.rawJSON, so unsafe values
 * go through a per-process random marker that no client string can guess.
 */
const MARKER = `__bigint_${randomBytes(12).toString("hex")}_`;
const MARKER_RE = new RegExp(`"${MARKER}(-?\\d+)"`, "g");

export function stringifyJson(value: unknown): string {
  let sawUnsafe = false;
  const text = JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== "bigint") return v;
    if (v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)) return Number(v);
    sawUnsafe = true;
    return `${MARKER}${v.toString()}`;
  });
  return sawUnsafe ? text.replace(MARKER_RE, "$1") : text;
}

/**
 * A balance answer `{"<payer>": points, ...}` in the given order. Built by hand because a JS
 * object would move integer-like payer ids ("123") to the front, and totals may pass 2^53.
 */
export function balanceJson(pairs: readonly { payer: string; points: bigint }[]): string {
  return `{${pairs.map((p) => `${JSON.stringify(p.payer)}:${p.points.toString()}`).join(",")}}`;
}
