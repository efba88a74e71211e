import type { Pool } from "@points/shared/db";
import { Partitioners } from "@points/shared/kafka";
import { type BrokerNode, sleep } from "./infra";
import type { Rng } from "./rng";
import type { ChaosStack } from "./stack";
import {
  type EventRecord,
  eventRecord,
  type HttpRecord,
  PartnerProducer,
  partnerKafka,
  performOnce,
  transactionRecord,
  type WorkloadContext,
} from "./workload";

/**
 * The fault schedule and the recovery probe. One fault at a time: inject it, then measure how
 * long until the system serves fresh commands on every partition again (and, with ingest, takes
 * partner events again). Recovery time is counted from the moment the fault was injected.
 */
export const FAULT_KINDS = [
  "ledger-kill",
  "gateway-kill",
  "ingest-kill",
  "kafka-restart",
  "redis-restart",
  "postgres-restart",
  "ledger-scale-out",
  "ledger-scale-in",
  "ledger-kill-redis-stalled",
  "postgres-stall",
  "postgres-kill-backends",
  // Only with --brokers 3 (instead of kafka-restart):
  "broker-kill",
  "broker-pause",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const RECOVERY_TIMEOUT_MS = 180_000;
const PROBE_PAUSE_MS = 300;
/** A probe answered later than this went through the Postgres fallback, not the live reply path. */
const PROBE_LIVE_ANSWER_MS = 4_500;

export interface FaultRecord {
  kind: FaultKind;
  detail: string;
  /** ms since the run started. */
  at: number;
  /** How long injecting took (stop + start of the component). */
  injectMs: number;
  /** From injection until every partition served a fresh command again; null: not recovered. */
  recoveryMs: number | null;
  /** ms since the run started when the system was serving again (also after an operator restart). */
  endAt: number | null;
}

const CLUSTER_ONLY: readonly FaultKind[] = ["broker-kill", "broker-pause"];
/** A broker is paused for this long: sometimes past broker.session.timeout.ms (9 s), so it is fenced. */
const BROKER_PAUSE_MS: [number, number] = [3_000, 12_000];
const BROKER_DOWN_MS: [number, number] = [500, 3_000];
const POSTGRES_STALL_MS: [number, number] = [2_000, 8_000];
/** How long to look for a ledger connection inside a transaction before terminating anyway. */
const BACKEND_IN_TX_WAIT_MS = 5_000;

/**
 * One cycle holds every kind once, in seeded order; a scale-in always follows its scale-out. On a
 * cluster, broker-kill and broker-pause come twice per cycle (a broker loss is what the cluster is
 * for) and kafka-restart (the whole cluster) is left out.
 */
export function faultCycle(rng: Rng, ingest: boolean, brokers = 1): FaultKind[] {
  const cluster = brokers > 1;
  const kinds = FAULT_KINDS.filter(
    (k) =>
      k !== "ledger-scale-in" &&
      (ingest || k !== "ingest-kill") &&
      (cluster ? k !== "kafka-restart" : !CLUSTER_ONLY.includes(k)),
  );
  if (cluster) kinds.push(...CLUSTER_ONLY);
  const order = rng.shuffle(kinds);
  const after = order.indexOf("ledger-scale-out") + 1;
  order.splice(rng.int(after, order.length), 0, "ledger-scale-in");
  return order;
}

export class FaultInjector {
  private kafkaKills = 0;
  private pgCrashes = 0;
  /** The node killed last, so the next broker-kill takes another one ("then another"). */
  private lastKilledNode: number | undefined;
  /** A killed broker's restart runs in the background; the next fault waits for it first. */
  private brokerRestart: Promise<void> = Promise.resolve();

  constructor(
    private readonly stack: ChaosStack,
    private readonly rng: Rng,
  ) {}

  /** Injects one fault; returns what was done, or null when it does not apply right now. */
  async inject(kind: FaultKind): Promise<string | null> {
    const s = this.stack;
    await this.brokerRestart;
    switch (kind) {
      case "broker-kill":
        return this.killBroker();
      case "broker-pause":
        return this.pauseBroker();
      case "postgres-stall": {
        const ms = this.rng.int(...POSTGRES_STALL_MS);
        const stopped = await s.pg.stall(ms);
        return `SIGSTOP postmaster and ${stopped - 1} children for ${ms} ms, SIGCONT`;
      }
      case "postgres-kill-backends": {
        const { killed, inTransaction } = await s.pg.terminateBackends("ledger", BACKEND_IN_TX_WAIT_MS);
        if (killed === 0) return null;
        return `pg_terminate_backend of ${killed} ledger connections (${inTransaction} mid-transaction)`;
      }
      case "ledger-kill": {
        const ledger = this.rng.pick(s.ledgers.filter((l) => l.alive));
        if (!ledger) return null;
        await ledger.kill("SIGKILL");
        ledger.start();
        return `SIGKILL ${ledger.instance}, restarted`;
      }
      case "gateway-kill":
      case "ingest-kill": {
        const service = kind === "gateway-kill" ? s.gateway : s.ingest;
        if (!service) return null;
        await service.kill("SIGKILL");
        service.start();
        return `SIGKILL ${service.instance}, restarted`;
      }
      case "kafka-restart": {
        const signal = this.kafkaKills++ % 2 === 0 ? "SIGKILL" : "SIGTERM";
        await s.kafka.stop(signal);
        await s.kafka.start();
        return `broker ${signal}, restarted`;
      }
      case "redis-restart": {
        await s.redis.kill();
        await sleep(this.rng.int(500, 3_000));
        await s.redis.start();
        return "redis-server SIGKILL, restarted empty";
      }
      case "postgres-restart":
        return this.restartPostgres();
      case "ledger-kill-redis-stalled":
        return this.killLedgersWhileRedisStalls();
      case "ledger-scale-out": {
        const added = s.addLedger();
        return added ? `started ${added.instance}` : null;
      }
      case "ledger-scale-in": {
        const extra = s.extraLedgers()[0];
        if (!extra) return null;
        const signal = this.rng.next() < 0.5 ? "SIGTERM" : "SIGKILL";
        await s.removeLedger(extra, signal);
        return `${signal} ${extra.instance}, not restarted`;
      }
    }
  }

  /**
   * Redis stalls (writes paused), so every ledger batch that commits in Postgres then waits on its
   * cache write; every ledger instance is SIGKILLed at once, then Redis resumes. This puts the
   * crash exactly between "Postgres committed" and "cache written" (or after a cache write timed
   * out and was only remembered in memory), the window a plain SIGKILL rarely hits.
   */
  async killLedgersWhileRedisStalls(onStalled: () => void = () => {}): Promise<string> {
    const ledgers = this.stack.ledgers.filter((l) => l.alive);
    const stalledMs = this.rng.int(500, 3_000);
    await this.stack.redis.pauseWrites(stalledMs + 30_000);
    try {
      onStalled();
      await sleep(stalledMs);
      await Promise.all(ledgers.map((l) => l.kill("SIGKILL")));
    } finally {
      await this.stack.redis.unpause();
    }
    for (const l of ledgers) l.start();
    const names = ledgers.map((l) => l.instance).join(" + ");
    return `Redis writes paused, ${stalledMs} ms later SIGKILL ${names}, Redis resumed, restarted`;
  }

  /**
   * SIGKILL of the broker leading the most ledger.commands partitions (not the one killed last
   * time), restarted on its data dir after a short while, in the background: the recovery
   * measured is the cluster serving on the two others (leader election, producer and consumer
   * failover); the restart (and its catching up) overlaps the next fault's start at the latest.
   */
  private async killBroker(): Promise<string | null> {
    const node = await this.busiestLeader(this.lastKilledNode);
    if (!node) return null;
    const led = node.led;
    await node.node.kill("SIGKILL");
    this.lastKilledNode = node.node.nodeId;
    const downMs = this.rng.int(...BROKER_DOWN_MS);
    this.brokerRestart = sleep(downMs).then(() => node.node.start());
    return `SIGKILL broker ${node.node.nodeId} (leader of ${led} ledger.commands partitions), restarted after ${downMs} ms`;
  }

  /** SIGSTOP of the busiest leader for several seconds, then SIGCONT: a broker that hangs, not one that dies. */
  private async pauseBroker(): Promise<string | null> {
    const node = await this.busiestLeader(undefined);
    if (!node) return null;
    const ms = this.rng.int(...BROKER_PAUSE_MS);
    await node.node.kill("SIGSTOP");
    try {
      await sleep(ms);
    } finally {
      await node.node.kill("SIGCONT");
    }
    return `SIGSTOP broker ${node.node.nodeId} (leader of ${node.led} ledger.commands partitions) for ${ms} ms, SIGCONT`;
  }

  private async busiestLeader(
    except: number | undefined,
  ): Promise<{ node: BrokerNode; led: number } | undefined> {
    const nodes = this.stack.kafka.nodes.filter((n) => n.running && n.nodeId !== except);
    if (nodes.length === 0) return undefined;
    const admin = partnerKafka(
      this.stack.kafka.brokers,
      "chaos-faults",
      this.stack.kafka.sasl("admin"),
    ).admin();
    const led = new Map<number, number>();
    try {
      await admin.connect();
      const topic = `${this.stack.topicPrefix}ledger.commands`;
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      for (const p of metadata.topics[0]?.partitions ?? []) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
    } catch {
      // Metadata unavailable right now: any running node will do.
    } finally {
      await admin.disconnect().catch(() => {});
    }
    const ranked = [...nodes].sort((a, b) => (led.get(b.nodeId) ?? 0) - (led.get(a.nodeId) ?? 0));
    return { node: ranked[0]!, led: led.get(ranked[0]!.nodeId) ?? 0 };
  }

  /** Not a fault: the operator's remedy when the system does not recover on its own. */
  async restartAllServices(): Promise<void> {
    const services = this.stack.services();
    await Promise.all(services.map((s) => s.kill("SIGKILL")));
    for (const s of services) s.start();
  }

  private async restartPostgres(): Promise<string> {
    const mode = this.pgCrashes++ % 2 === 0 ? "immediate" : "fast";
    await this.stack.pg.stop(mode);
    const downMs = this.rng.int(500, 3_000);
    await sleep(downMs);
    await this.stack.pg.start();
    return `pg_ctl stop -m ${mode}, down ${downMs} ms, restarted`;
  }
}

// --- Recovery probe -----------------------------------------------------------------------------

/** One probe user per partition of ledger.commands, so a probe round touches every partition. */
export function probeUsers(partitions: number, tag: string): string[] {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({
    partitionErrorCode: 0,
    partitionId: i,
    leader: 0,
    replicas: [0],
    isr: [0],
  }));
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < partitions && i < 100_000; i++) {
    const user = `probe-${tag}-${i}`;
    const p = partitioner({
      topic: "ledger.commands",
      partitionMetadata,
      message: { key: user, value: null },
    });
    if (!byPartition.has(p)) byPartition.set(p, user);
  }
  return [...byPartition.values()];
}

export interface ProbeContext {
  work: WorkloadContext;
  pool: Pool;
  probeUsers: string[];
  ingest: boolean;
  rng: Rng;
}

let probeCount = 0;

/** Until every partition answered a fresh earn through the live path (and ingest took an event). */
export async function awaitRecovery(ctx: ProbeContext, since: number): Promise<number | null> {
  const deadline = since + RECOVERY_TIMEOUT_MS;
  const [httpOk, eventOk] = await Promise.all([
    allPartitionsAnswer(ctx, deadline),
    ctx.ingest ? ingestTakesEvent(ctx, deadline) : Promise.resolve(true),
  ]);
  return httpOk && eventOk ? Date.now() - since : null;
}

async function allPartitionsAnswer(ctx: ProbeContext, deadline: number): Promise<boolean> {
  const results = await Promise.all(ctx.probeUsers.map((user) => partitionAnswers(ctx, user, deadline)));
  return results.every(Boolean);
}

async function partitionAnswers(ctx: ProbeContext, user: string, deadline: number): Promise<boolean> {
  while (Date.now() < deadline) {
    const key = `${ctx.work.tag}-probe-${probeCount++}`;
    const r: HttpRecord = transactionRecord(
      key,
      user,
      "DANNON",
      1,
      new Date().toISOString(),
      ctx.work.adminToken,
      true,
    );
    ctx.work.rec.http.push(r);
    await performOnce(ctx.work, r);
    if (r.final?.status === 201 && r.final.latencyMs < PROBE_LIVE_ANSWER_MS) return true;
    await sleep(PROBE_PAUSE_MS);
  }
  return false;
}

async function ingestTakesEvent(ctx: ProbeContext, deadline: number): Promise<boolean> {
  const e: EventRecord = eventRecord(
    `${ctx.work.tag}-probe-ev-${probeCount++}`,
    "DANNON",
    ctx.probeUsers[0]!,
    1,
    new Date().toISOString(),
    true,
  );
  ctx.work.rec.events.push(e);
  const producer = new PartnerProducer(
    { ...ctx.work, retryDeadline: () => deadline },
    partnerKafka(ctx.work.brokers, "chaos-probe", ctx.work.partnerSasl),
  );
  try {
    await producer.sendUntilAcked([e], ctx.rng);
  } finally {
    await producer.close();
  }
  while (e.acked && Date.now() < deadline) {
    const found = await ctx.pool
      .query("SELECT 1 FROM commands WHERE command_id = $1", [e.commandId])
      .then((r) => (r.rowCount ?? 0) > 0)
      .catch(() => false);
    if (found) return true;
    await sleep(PROBE_PAUSE_MS);
  }
  return false;
}
