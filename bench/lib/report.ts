/** The benchmark's Markdown table and a small SVG chart of each figure against its target. */
export interface Row {
  scenario: string;
  value: number;
  unit: string;
  target: number | null;
  lowerIsBetter?: boolean;
  p99: number | null;
  p99Target: number | null;
  note?: string;
}

const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(2));

export function meets(r: Row): boolean | null {
  if (r.target === null) return null;
  const valueOk = r.lowerIsBetter ? r.value <= r.target : r.value >= r.target;
  const p99Ok = r.p99Target === null || r.p99 === null || r.p99 <= r.p99Target;
  return valueOk && p99Ok;
}

export function renderTable(
  rows: Row[],
  machine: { redisGetPerS: number; pgbenchTps: number; runs: number; durationS: number },
): string {
  const lines = [
    `${machine.redisGetPerS === 0 ? "Machine limits not measured in this run (--only without limits)." : `Machine limits measured in the same session: redis-benchmark GET ${machine.redisGetPerS.toLocaleString("en-US")} req/s, pgbench -N ${machine.pgbenchTps.toLocaleString("en-US")} tps.`} Each figure is the median of ${machine.runs} runs (${machine.durationS} s each for HTTP).`,
    "",
    "| scenario | result | p99 | target | met |",
    "|---|---|---|---|---|",
  ];
  for (const r of rows) {
    const target =
      r.target === null
        ? "-"
        : `${r.lowerIsBetter ? "<=" : ">="} ${fmt(r.target)} ${r.unit}${r.p99Target ? `, p99 <= ${r.p99Target} ms` : ""}`;
    const m = meets(r);
    lines.push(
      `| ${r.scenario} | ${fmt(r.value)} ${r.unit}${r.note ? ` (${r.note})` : ""} | ${r.p99 === null ? "-" : `${fmt(r.p99)} ms`} | ${target} | ${m === null ? "-" : m ? "yes" : "no"} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** One bar per figure with a target: achieved / target (higher is better), 1.0 marked. */
export function renderChart(rows: Row[]): string {
  const bars = rows.filter((r) => r.target !== null);
  const width = 760;
  const barH = 22;
  const left = 300;
  const scale = (width - left - 40) / 2; // 2.0 = full width
  const height = bars.length * (barH + 8) + 50;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    "<title>Points ledger benchmark: achieved / target</title>",
    `<text x="10" y="18" font-weight="bold">Achieved / target (1.0 = target met; capped at 2)</text>`,
  ];
  bars.forEach((r, i) => {
    const ratio = Math.min(2, r.lowerIsBetter ? r.target! / Math.max(r.value, 1e-9) : r.value / r.target!);
    const y = 30 + i * (barH + 8);
    const color = meets(r) ? "#2a9d4b" : "#d1495b";
    parts.push(
      `<text x="10" y="${y + 15}">${escapeXml(r.scenario)}</text>`,
      `<rect x="${left}" y="${y}" width="${Math.max(1, ratio * scale)}" height="${barH}" fill="${color}"/>`,
      `<text x="${left + ratio * scale + 4}" y="${y + 15}">${ratio.toFixed(2)}</text>`,
    );
  });
  parts.push(
    `<line x1="${left + scale}" y1="26" x2="${left + scale}" y2="${height - 10}" stroke="#333" stroke-dasharray="4 3"/>`,
    "</svg>",
  );
  return `${parts.join("\n")}\n`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]!);
}
