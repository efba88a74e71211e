import type { CheckFigures, Quiescence, Violation } from "./check";
import type { FaultKind, FaultRecord } from "./faults";
import type { ExitRecord } from "./infra";
import type { Anomaly } from "./workload";

/** The figures of one run, and how they are printed. */
export interface ChaosReport {
  seed: number;
  users: number;
  ingest: boolean;
  loadSeconds: number;
  requests: {
    http: number;
    httpAttempts: number;
    httpAcknowledged: number;
    httpByFinalStatus: Record<string, number>;
    httpUnanswered: number;
    attemptsByStatus: Record<string, number>;
    replays: number;
    /** Of the final attempt of requests answered 200/201/409 (not 202). */
    latencyMs: { p50: number; p95: number; max: number };
    probes: number;
    events: number;
    eventsAcknowledged: number;
    eventSends: number;
    eventSendFailures: number;
    eventDuplicates: number;
  };
  faults: FaultRecord[];
  unexpectedExits: ExitRecord[];
  quiescence: Quiescence;
  figures: CheckFigures | null;
  violations: Violation[];
  anomalies: Anomaly[];
  /** Corruptions planted after the checks, and those the checks then failed to report. */
  selfCheck: { planted: string[]; missed: string[] } | null;
}

export interface KindSummary {
  kind: FaultKind;
  count: number;
  recovered: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
}

export function summarizeFaults(faults: FaultRecord[]): KindSummary[] {
  const byKind = new Map<FaultKind, FaultRecord[]>();
  for (const f of faults) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f]);
  return [...byKind].map(([kind, list]) => {
    const times = list.flatMap((f) => (f.recoveryMs === null ? [] : [f.recoveryMs])).sort((a, b) => a - b);
    return {
      kind,
      count: list.length,
      recovered: times.length,
      minMs: times[0] ?? Number.NaN,
      medianMs: times[Math.floor((times.length - 1) / 2)] ?? Number.NaN,
      maxMs: times[times.length - 1] ?? Number.NaN,
    };
  });
}

/** Violations (or anomalies) grouped by kind, with the first few examples of each. */
export function groupFindings(findings: { kind: string; detail: string }[], examples = 3) {
  const groups = new Map<string, string[]>();
  for (const f of findings) groups.set(f.kind, [...(groups.get(f.kind) ?? []), f.detail]);
  return [...groups].map(([kind, details]) => ({
    kind,
    count: details.length,
    examples: details.slice(0, examples),
  }));
}

const s = (ms: number) => (Number.isNaN(ms) ? "-" : `${(ms / 1_000).toFixed(1)} s`);

export function formatReport(r: ChaosReport): string {
  const q = r.requests;
  const lines = [
    "",
    "=== chaos bank run ===",
    `seed ${r.seed}, ${r.users} users, load ${r.loadSeconds.toFixed(0)} s, ingest ${r.ingest ? "on" : "off (no services/ingest/src/main.ts)"}`,
    `HTTP requests     ${q.http} (${q.httpAttempts} attempts, ${q.probes} recovery probes, ${q.replays} idempotent replays)`,
    `  acknowledged    ${q.httpAcknowledged} (final answers: ${fmtCounts(q.httpByFinalStatus)}); unanswered ${q.httpUnanswered}`,
    `  attempts        ${fmtCounts(q.attemptsByStatus)}`,
    `  latency         p50 ${q.latencyMs.p50} ms, p95 ${q.latencyMs.p95} ms, max ${q.latencyMs.max} ms (last attempt, synchronous answers)`,
    `partner events    ${q.events} (${q.eventsAcknowledged} acknowledged by Kafka, ${q.eventSends} sends, ${q.eventSendFailures} failed sends, ${q.eventDuplicates} deliberate duplicates)`,
    `faults            ${r.faults.length}`,
  ];
  for (const k of summarizeFaults(r.faults)) {
    lines.push(
      `  ${k.kind.padEnd(18)} x${String(k.count).padEnd(3)} recovered ${k.recovered}/${k.count}; recovery min ${s(k.minMs)}, median ${s(k.medianMs)}, max ${s(k.maxMs)}`,
    );
  }
  lines.push(
    `unplanned exits   ${r.unexpectedExits.length}${r.unexpectedExits.length ? ` (${r.unexpectedExits.map((e) => `${e.instance}:${e.signal ?? e.code}`).join(", ")})` : ""}`,
  );
  lines.push(
    `quiescence        ${r.quiescence.ok ? "reached" : "NOT reached"} in ${s(r.quiescence.ms)} (${r.quiescence.detail})`,
  );
  const tally = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ") || "none";
  if (r.figures) {
    const f = r.figures;
    lines.push(
      `checked           ${f.commands} commands (${f.applied} applied, ${f.rejected} rejected), ${f.entries} entries, ${f.lots} lots, ${f.allocations} allocations`,
      `                  ${f.usersReplayed} users replayed through the core, ${f.orderedCommands} acknowledged commands in real-time order, ${f.cacheKeysChecked} cache keys, ${f.httpBalancesChecked} API balances, ${f.asyncStatusesChecked} 202 statuses, ${f.failedSends} 202s whose send failed`,
      `lifecycle         entries ${tally(f.entriesByType)}; holds ${tally(f.holdsByStatus)}; ${f.movements} movements`,
    );
  }
  if (r.selfCheck) {
    const { planted, missed } = r.selfCheck;
    lines.push(
      `self-check        ${planted.length - missed.length}/${planted.length} planted corruptions reported (${planted.join(", ")})`,
    );
  }
  lines.push(`anomalies         ${r.anomalies.length}`);
  for (const g of groupFindings(r.anomalies)) {
    const when = new Map<string, number>();
    for (const a of r.anomalies.filter((a) => a.kind === g.kind)) {
      const tag = /^\[([^\]]+)\]/.exec(a.detail)?.[1] ?? "?";
      when.set(tag, (when.get(tag) ?? 0) + 1);
    }
    lines.push(`  ${g.kind} x${g.count} (${[...when].map(([t, n]) => `${t}: ${n}`).join(", ")})`);
    for (const e of g.examples) lines.push(`    ${e.slice(0, 300)}`);
  }
  lines.push(`violations        ${r.violations.length}`);
  for (const g of groupFindings(r.violations)) {
    lines.push(`  ${g.kind} x${g.count}`);
    for (const e of g.examples) lines.push(`    ${e.slice(0, 400)}`);
  }
  return lines.join("\n");
}

function fmtCounts(counts: Record<string, number>): string {
  return Object.entries(counts)
    .sort(([, a], [, b]) => b - a)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");
}
