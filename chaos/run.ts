import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createPool, type Pool } from "@points/shared/db";
import { acknowledged, type Quiescence, runChecks, waitForQuiescence } from "./check";
import {
  awaitRecovery,
  FAULT_KINDS,
  FaultInjector,
  type FaultKind,
  type FaultRecord,
  faultCycle,
  type ProbeContext,
  probeUsers,
} from "./faults";
import { type Log, runAllKillersSync, sleep } from "./infra";
import { type ChaosReport, formatReport } from "./report";
import { Rng } from "./rng";
import { missedPlants, plantCorruptions } from "./selfcheck";
import { ChaosStack, ingestAvailable } from "./stack";
import {
  httpWorker,
  KnownTargets,
  PARTNERS,
  type PartnerCredentials,
  partnerKafka,
  partnerWorker,
  Recorder,
  type WorkloadContext,
} from "./workload";

/**
 * The bank run under faults (`npm run chaos`): private infrastructure, the real services as
 * processes, concurrent clients, a fault schedule, then quiescence and the checks. runChaos() is
 * also what the short version in `npm test` (chaos.test.ts) calls.
 */
export interface ChaosOptions {
  durationS: number;
  users: number;
  faultsMin: number;
  seed: number;
  /** Concurrent HTTP clients. */
  concurrency: number;
  /** Concurrent partner Kafka producers (only with ingest). */
  producers: number;
  thinkMs: number;
  /** Kafka brokers: 1, or 3 for a cluster (replication factor 3, min.insync.replicas 2, broker faults). */
  brokers?: number;
  /** Run and fault the ingest service (ignored when services/ingest/src/main.ts does not exist). */
  ingest: boolean;
  /** A fixed fault list instead of seeded cycles (the short test). */
  faults?: FaultKind[];
  keepDir?: boolean;
  /**
   * End with the ledger-kill-redis-stalled fault at the moment the load stops (default on), so
   * what the crash interrupts is each user's last command: nothing later repairs it by accident.
   */
  tailFault?: boolean;
  /** After the checks, plant known corruptions and require the checks to report each. */
  selfCheck?: boolean;
  /**
   * The points lifecycle workload (contract 6; default on): short-lived lots, wallet spends,
   * reversals, holds captured, voided or left to expire.
   */
  lifecycle?: boolean;
  log?: Log;
}

const WARMUP_MS = 5_000;
const CLIENT_GRACE_MS = 120_000;
const QUIESCENCE_TIMEOUT_MS = 180_000;
const PROGRESS_EVERY_MS = 15_000;
const FAULT_GAP_MS: [number, number] = [1_000, 4_000];

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? ((m: string) => console.log(m));
  const ingest = options.ingest && ingestAvailable();
  const tag = randomBytes(3).toString("hex");
  const dir = mkdtempSync(join(tmpdir(), "points-chaos-"));
  chmodSync(dir, 0o755); // the postgres OS user must reach its data directory inside
  const brokers = options.brokers ?? 1;
  const stack = await ChaosStack.create({ dir, tag, ingest, brokers, log: (m) => log(`  ${m}`) });
  let pool: Pool | undefined;
  let report: ChaosReport | undefined;
  try {
    log(
      `chaos run ${tag} in ${dir} (seed ${options.seed}, ${brokers} Kafka broker${brokers > 1 ? "s" : ""})`,
    );
    await stack.startInfrastructure();
    await stack.startServices();
    pool = createPool(stack.databaseUrl, { max: 4, name: "chaos" });
    report = await runPhases(options, stack, pool, tag, log, ingest);
    return report;
  } finally {
    await stack.stop().catch((err) => log(`stop: ${String(err)}`));
    await pool?.end().catch(() => {});
    runAllKillersSync();
    tidy(dir, options, report, log);
  }
}

/** A clean run leaves nothing; otherwise the logs stay (and the data too with --keep). */
function tidy(dir: string, options: ChaosOptions, report: ChaosReport | undefined, log: Log): void {
  const notable = report === undefined || report.violations.length > 0 || report.unexpectedExits.length > 0;
  if (options.keepDir) {
    log(`logs and data kept in ${dir}`);
    return;
  }
  if (!notable) {
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const kafkaLogs = [1, 2, 3].map((n) => [`kafka/node-${n}/broker.log`, `logs/kafka-node-${n}.log`]);
  for (const [from, to] of [
    ["pg/server.log", "logs/postgres.log"],
    ["kafka/broker.log", "logs/kafka.log"],
    ...kafkaLogs,
  ]) {
    if (existsSync(join(dir, from!))) copyFileSync(join(dir, from!), join(dir, to!));
  }
  for (const data of ["pg", "kafka"]) rmSync(join(dir, data), { recursive: true, force: true });
  log(`logs kept in ${join(dir, "logs")}`);
}

async function runPhases(
  options: ChaosOptions,
  stack: ChaosStack,
  pool: Pool,
  tag: string,
  log: Log,
  ingest: boolean,
): Promise<ChaosReport> {
  const rng = new Rng(options.seed);
  const rec = new Recorder();
  const users = Array.from({ length: options.users }, (_, i) => `u${String(i).padStart(4, "0")}`);
  const probes = probeUsers(await commandPartitions(stack), tag);
  const partners = await createPartners(stack);
  await createMembers(pool, [...users, ...probes]);

  let loadStopped = false;
  let retryDeadline = Number.MAX_SAFE_INTEGER;
  const work: WorkloadContext = {
    gatewayUrl: stack.gatewayUrl,
    brokers: stack.kafka.brokers,
    partnerSasl: stack.kafka.sasl("partner"),
    partnerTopic: `${stack.topicPrefix}partner.transactions`,
    adminToken: stack.adminToken,
    partners,
    users,
    tag,
    thinkMs: options.thinkMs,
    rec,
    lifecycle: options.lifecycle !== false,
    // The load runs at least durationS: what expires before then expires while the system runs.
    shortLivedUntil: Date.now() + options.durationS * 1_000,
    known: new KnownTargets(),
    loadStopped: () => loadStopped,
    retryDeadline: () => retryDeadline,
  };
  const startedAt = Date.now();
  const workers = [
    ...Array.from({ length: options.concurrency }, (_, i) => httpWorker(work, rng.fork(), i)),
    ...(ingest
      ? Array.from({ length: options.producers }, (_, i) => partnerWorker(work, rng.fork(), i))
      : []),
  ];
  const progress = setInterval(() => log(progressLine(rec, startedAt)), PROGRESS_EVERY_MS);
  let faults: FaultRecord[] = [];
  try {
    const probeCtx: ProbeContext = { work, pool, probeUsers: probes, ingest, rng: rng.fork() };
    const injector = new FaultInjector(stack, rng.fork());
    const schedule = await runSchedule(options, stack, probeCtx, injector, rng, startedAt, log);
    faults = schedule.records;
    if (options.tailFault !== false && !schedule.stuck) {
      const stopLoad = () => {
        loadStopped = true;
      };
      faults.push(await tailFault(injector, probeCtx, startedAt, stopLoad, log));
    }
  } finally {
    loadStopped = true;
    retryDeadline = Date.now() + CLIENT_GRACE_MS;
    const loadSeconds = (Date.now() - startedAt) / 1_000;
    log(`load stopped after ${loadSeconds.toFixed(0)} s; waiting for in-flight requests`);
    await Promise.allSettled(workers);
    clearInterval(progress);
  }
  const loadSeconds = (Date.now() - startedAt) / 1_000;
  const report = await finish(options, stack, pool, rec, users, faults, loadSeconds, log, ingest);
  report.anomalies = report.anomalies.map((a) => ({
    ...a,
    detail: `[${faultAt(faults, startedAt, a.at)}] ${a.detail}`,
  }));
  return report;
}

async function finish(
  options: ChaosOptions,
  stack: ChaosStack,
  pool: Pool,
  rec: Recorder,
  users: string[],
  faults: FaultRecord[],
  loadSeconds: number,
  log: Log,
  ingest: boolean,
): Promise<ChaosReport> {
  log("waiting for quiescence (consumer lag 0, every acknowledged command decided)");
  const kafka = partnerKafka(stack.kafka.brokers, "chaos-checker", stack.kafka.sasl("admin"));
  const quiescence: Quiescence = await waitForQuiescence(stack, kafka, pool, rec, QUIESCENCE_TIMEOUT_MS);
  log(`quiescence ${quiescence.ok ? "reached" : "NOT reached"} in ${(quiescence.ms / 1_000).toFixed(1)} s`);
  log("checking");
  const checked = await runChecks(stack, pool, rec, users);
  const violations = [...checked.violations];
  if (!quiescence.ok) violations.push({ kind: "no-quiescence", detail: quiescence.detail });
  for (const f of faults) {
    if (f.recoveryMs === null)
      violations.push({ kind: "no-recovery", detail: `${f.kind} at ${f.at} ms: ${f.detail}` });
  }
  let selfCheck: ChaosReport["selfCheck"] = null;
  if (options.selfCheck) {
    const plants = await plantCorruptions(stack, pool, rec);
    const again = await runChecks(stack, pool, rec, users);
    const missed = missedPlants(plants, again.violations);
    selfCheck = { planted: plants.map((p) => p.name), missed: missed.map((p) => p.name) };
    for (const p of missed) violations.push({ kind: "self-check-missed", detail: `${p.name} (${p.user})` });
  }
  return {
    seed: options.seed,
    users: options.users,
    ingest,
    loadSeconds,
    requests: requestFigures(rec),
    faults,
    unexpectedExits: stack.unexpectedExits,
    quiescence,
    figures: checked.figures,
    violations,
    anomalies: [...rec.anomalies, ...checked.anomalies],
    selfCheck,
  };
}

async function runSchedule(
  options: ChaosOptions,
  stack: ChaosStack,
  probeCtx: ProbeContext,
  injector: FaultInjector,
  rng: Rng,
  startedAt: number,
  log: Log,
): Promise<{ records: FaultRecord[]; stuck: boolean }> {
  const records: FaultRecord[] = [];
  const queue: FaultKind[] = options.faults ? [...options.faults] : [];
  const durationMs = options.durationS * 1_000;
  const hardCapMs = Math.max(durationMs * 3, options.faultsMin * 60_000);
  await sleep(WARMUP_MS);
  for (;;) {
    const elapsed = Date.now() - startedAt;
    const enough = options.faults ? queue.length === 0 : records.length >= options.faultsMin;
    if ((enough && elapsed >= durationMs) || elapsed >= hardCapMs) break;
    if (queue.length === 0) {
      if (options.faults) await sleep(Math.min(1_000, durationMs - elapsed));
      else queue.push(...faultCycle(rng, stack.ingestEnabled, stack.kafka.brokerCount));
      continue;
    }
    const kind = queue.shift()!;
    const record = await timedFault(kind, () => injector.inject(kind), probeCtx, startedAt);
    if (!record) continue;
    records.push(record);
    log(`${faultLine(record)} (fault ${records.length})`);
    if (record.recoveryMs === null && !(await operatorRestart(injector, probeCtx, record, startedAt, log))) {
      return { records, stuck: true };
    }
    await sleep(rng.int(...FAULT_GAP_MS));
  }
  return { records, stuck: false };
}

/**
 * A fault the system did not recover from (a violation) is followed by what an operator would do:
 * restart every service process. If that brings it back, the schedule goes on; if not, it stops.
 */
async function operatorRestart(
  injector: FaultInjector,
  probeCtx: ProbeContext,
  record: FaultRecord,
  startedAt: number,
  log: Log,
): Promise<boolean> {
  const t0 = Date.now();
  await injector.restartAllServices();
  const ms = await awaitRecovery(probeCtx, t0);
  const outcome = ms === null ? "still not recovered" : `recovered in ${(ms / 1_000).toFixed(1)} s`;
  record.detail += `; then every service restarted: ${outcome}`;
  if (ms !== null) record.endAt = t0 - startedAt + ms;
  log(`  stuck after ${record.kind}: every service process restarted; ${outcome}`);
  return ms !== null;
}

/** Injects one fault and waits for recovery; null when the fault does not apply right now. */
async function timedFault(
  kind: FaultKind,
  inject: () => Promise<string | null>,
  probeCtx: ProbeContext,
  startedAt: number,
): Promise<FaultRecord | null> {
  const t0 = Date.now();
  const detail = await inject().catch((err) => `injection failed: ${String(err)}`);
  if (detail === null) return null;
  const injectMs = Date.now() - t0;
  const recoveryMs = await awaitRecovery(probeCtx, t0);
  const endAt = recoveryMs === null ? null : t0 - startedAt + recoveryMs;
  return { kind, detail, at: t0 - startedAt, injectMs, recoveryMs, endAt };
}

function faultLine(f: FaultRecord): string {
  const recovered =
    f.recoveryMs === null ? "NOT recovered" : `recovered in ${(f.recoveryMs / 1_000).toFixed(1)} s`;
  return `[${(f.at / 1_000).toFixed(0)} s] ${f.kind}: ${f.detail}; ${recovered}`;
}

/**
 * The last fault: Redis writes stall, the load stops, every ledger instance is SIGKILLed, Redis
 * resumes. What the crash interrupts is each user's last command, so no later command repairs it.
 */
async function tailFault(
  injector: FaultInjector,
  probeCtx: ProbeContext,
  startedAt: number,
  stopLoad: () => void,
  log: Log,
): Promise<FaultRecord> {
  const inject = () => injector.killLedgersWhileRedisStalls(stopLoad).then((d) => `tail, load stopped: ${d}`);
  const record = (await timedFault("ledger-kill-redis-stalled", inject, probeCtx, startedAt))!;
  log(`${faultLine(record)} (tail fault)`);
  return record;
}

/** The fault whose window (injection until recovery) holds the moment `at`. */
function faultAt(faults: FaultRecord[], startedAt: number, at: number | undefined): string {
  if (at === undefined) return "time unknown";
  const t = at - startedAt;
  const f = faults.findLast((f) => t >= f.at && t <= (f.endAt ?? Number.POSITIVE_INFINITY));
  return f ? `during ${f.kind}` : "outside fault windows";
}

// --- Set-up -------------------------------------------------------------------------------------

async function commandPartitions(stack: ChaosStack): Promise<number> {
  const admin = partnerKafka(stack.kafka.brokers, "chaos-setup", stack.kafka.sasl("admin")).admin();
  await admin.connect();
  try {
    const topic = `${stack.topicPrefix}ledger.commands`;
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]!.partitions.length;
  } finally {
    await admin.disconnect();
  }
}

async function createPartners(stack: ChaosStack): Promise<Map<string, PartnerCredentials>> {
  const partners = new Map<string, PartnerCredentials>();
  for (const id of PARTNERS) {
    const res = await fetch(`${stack.gatewayUrl}/v1/partners`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ id }),
    });
    const body = (await res.json()) as { token: string; signing_secret: string };
    if (res.status !== 201) throw new Error(`create partner ${id}: ${res.status} ${JSON.stringify(body)}`);
    partners.set(id, { token: body.token, secret: body.signing_secret });
  }
  return partners;
}

/** Members are set-up, not under test: inserted directly, like the ledger's own crash test does. */
async function createMembers(pool: Pool, ids: string[]): Promise<void> {
  await pool.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT id, 'Chaos member ' || id, '1990-01-01' FROM unnest($1::text[]) AS id`,
    [ids],
  );
}

// --- Figures ------------------------------------------------------------------------------------

function requestFigures(rec: Recorder): ChaosReport["requests"] {
  const clients = rec.http.filter((r) => !r.probe);
  const byFinal: Record<string, number> = {};
  for (const r of clients) {
    const k = r.final ? String(r.final.status) : "none";
    byFinal[k] = (byFinal[k] ?? 0) + 1;
  }
  const events = rec.events.filter((e) => !e.probe);
  return {
    http: clients.length,
    httpAttempts: rec.http.reduce((n, r) => n + r.attempts, 0),
    httpAcknowledged: clients.filter(acknowledged).length,
    httpByFinalStatus: byFinal,
    httpUnanswered: clients.filter((r) => !r.final).length,
    attemptsByStatus: Object.fromEntries(rec.statuses),
    replays: clients.filter((r) => r.replay).length,
    latencyMs: percentiles(
      clients.flatMap((r) => (r.final && r.final.status !== 202 ? [r.final.latencyMs] : [])),
    ),
    probes: rec.http.length - clients.length,
    events: events.length,
    eventsAcknowledged: events.filter((e) => e.acked).length,
    eventSends: rec.eventSends,
    eventSendFailures: rec.eventSendFailures,
    eventDuplicates: rec.eventDuplicates,
  };
}

function percentiles(values: number[]): { p50: number; p95: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { p50: at(0.5), p95: at(0.95), max: Math.round(sorted[sorted.length - 1] ?? 0) };
}

function progressLine(rec: Recorder, startedAt: number): string {
  const http = rec.http.filter((r) => !r.probe);
  const acked = http.filter(acknowledged).length;
  const events = rec.events.filter((e) => e.acked).length;
  return `[${((Date.now() - startedAt) / 1_000).toFixed(0)} s] requests ${http.length}, acknowledged ${acked}, events acknowledged ${events}`;
}

// --- CLI ----------------------------------------------------------------------------------------

const USAGE = `usage: npm run chaos -- [--duration-s 240] [--users 300] [--faults-min 20] [--seed N] [--brokers 1|3]
       [--concurrency 12] [--producers 2] [--think-ms 10] [--no-ingest] [--faults kind,kind,...|none] [--no-tail] [--no-lifecycle] [--keep] [--self-check]
fault kinds: ${FAULT_KINDS.join(", ")}`;

function parseCli(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      "duration-s": { type: "string", default: "240" },
      users: { type: "string", default: "300" },
      "faults-min": { type: "string", default: "20" },
      seed: { type: "string" },
      brokers: { type: "string", default: "1" },
      concurrency: { type: "string", default: "12" },
      producers: { type: "string", default: "2" },
      "think-ms": { type: "string", default: "10" },
      "no-ingest": { type: "boolean", default: false },
      faults: { type: "string" },
      keep: { type: "boolean", default: false },
      "self-check": { type: "boolean", default: false },
      "no-tail": { type: "boolean", default: false },
      "no-lifecycle": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, v: string | undefined, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`--${name} must be an integer in ${min}..${max}`);
    return n;
  };
  if (values.brokers !== "1" && values.brokers !== "3") throw new Error("--brokers must be 1 or 3");
  const faults = values.faults === "none" ? [] : values.faults?.split(",").map((k) => k.trim());
  const unknown = faults?.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (unknown?.length) throw new Error(`unknown fault kinds: ${unknown.join(", ")}`);
  return {
    durationS: int("duration-s", values["duration-s"], 10, 3_600),
    users: int("users", values.users, 1, 10_000),
    faultsMin: int("faults-min", values["faults-min"], 0, 500),
    seed: int("seed", values.seed ?? String(Math.floor(Math.random() * 1_000_000)), 0, 2 ** 31),
    brokers: int("brokers", values.brokers, 1, 3),
    concurrency: int("concurrency", values.concurrency, 1, 256),
    producers: int("producers", values.producers, 0, 16),
    thinkMs: int("think-ms", values["think-ms"], 0, 10_000),
    ingest: !values["no-ingest"],
    ...(faults ? { faults: faults as FaultKind[] } : {}),
    keepDir: values.keep,
    selfCheck: values["self-check"],
    tailFault: !values["no-tail"],
    lifecycle: !values["no-lifecycle"],
  };
}

async function main(): Promise<void> {
  let options: ChaosOptions;
  try {
    options = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: killing every process the chaos run started`);
      runAllKillersSync();
      process.exit(130);
    });
  }
  if (options.ingest && !ingestAvailable())
    console.log("services/ingest/src/main.ts not found: running without ingest");
  const report = await runChaos(options);
  console.log(formatReport(report));
  process.exit(report.violations.length === 0 ? 0 : 1);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`chaos run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    runAllKillersSync();
    process.exit(2);
  });
}
