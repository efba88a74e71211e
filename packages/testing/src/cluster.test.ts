import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LedgerConfig, parseConfig, topicNames } from "@points/shared";
import { createKafka, type KafkaSasl } from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningLedger, startLedger } from "../../../services/ledger/src/ledger";
import { createTestEnv, type TestEnv } from "./env";
import { type ClusterNode, type KafkaCredentials, type KafkaPrincipal, loadBrokerModule } from "./infra";
import { startStack, TEST_ADMIN_TOKEN, type TestStack } from "./stack";

/**
 * Issue 18: the stack on a 3-broker cluster (replication factor 3, min.insync.replicas 2, acks=all).
 * Under load, the broker leading the most ledger.commands partitions is SIGKILLed and restarted,
 * and a second ledger instance joins the group and leaves it again. Every client retries with the
 * same Idempotency-Key until it gets a definitive answer; the i-th earn of a member carries i+1
 * points, so the member's entries in seq order must read 1, 2, 3, ... n: each acknowledged
 * command applied exactly once, in the order the member sent them.
 *
 * Ports: KAFKA_CLUSTER_BASE_PORT (brokers on base..base+2, controllers on base+100..base+102),
 * else free ports.
 */
const BROKERS = 3;
const MEMBERS = 24;
const PARTNER = "ACME";
/** Phases of the load, in ms from its start. */
const KILL_AT_MS = 4_000;
const RESTART_AFTER_MS = 6_000;
const ADD_LEDGER_AT_MS = 5_000;
const REMOVE_LEDGER_AT_MS = 16_000;
const LOAD_MS = 24_000;
const ATTEMPT_TIMEOUT_MS = 15_000;
const RETRY_PAUSE_MS = 250;
/** A command still unanswered after this long fails the test (bounded, not a timing assertion). */
const RETRY_DEADLINE_MS = 90_000;
const CATCH_UP_MS = 60_000;
/** The test's own bounds (load, the last command's retries, catch-up) and room for set-up calls. */
const TEST_TIMEOUT_MS = LOAD_MS + RETRY_DEADLINE_MS + CATCH_UP_MS + 60_000;

let env: TestEnv;
let dataDir: string;
let cluster: Awaited<ReturnType<Awaited<ReturnType<typeof loadBrokerModule>>["ensureKafka"]>>;
let stack: TestStack | undefined;
let extraLedger: RunningLedger | undefined;
let pool: pg.Pool;

beforeAll(async () => {
  const base = await createTestEnv();
  dataDir = mkdtempSync(join(tmpdir(), "points-cluster-"));
  const broker = await loadBrokerModule();
  const ports = await clusterPorts();
  cluster = await broker.ensureKafka({
    brokers: ports.brokers.map((p) => `127.0.0.1:${p}`).join(","),
    controllerPorts: ports.controllers,
    brokerCount: BROKERS,
    dataDir,
    topicPrefix: base.topicPrefix,
    log: (m) => console.log(`[cluster] ${m}`),
  });
  if (!cluster.started || cluster.nodes?.length !== BROKERS)
    throw new Error("the test needs its own cluster");
  env = onCluster(base, cluster.brokers, cluster.credentials);
  stack = await startStack(env);
  pool = new pg.Pool({ connectionString: env.databaseUrl, max: 2 });
}, 240_000);

afterAll(async () => {
  await extraLedger?.stop();
  await stack?.stop();
  await pool?.end();
  await cluster?.stop();
  await env?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}, 120_000);

describe("the stack on a 3-broker cluster", () => {
  it(
    "applies every acknowledged command exactly once and in order through a broker kill and a ledger joining and leaving",
    async () => {
      const api = stack!.api;
      const partner = await api.createPartner(PARTNER);
      const members = Array.from({ length: MEMBERS }, (_, i) => `cl-${i}`);
      for (const m of members) await api.createMember(m);
      const topics = topicNames(env.topicPrefix);
      expect(await replicationOf(topics.commands)).toEqual({ replicas: BROKERS, minInsync: "2" });

      const started = Date.now();
      const stopAt = started + LOAD_MS;
      const load = Promise.all(members.map((m) => memberWorker(api.url, partner.token, m, stopAt)));
      const faults = runFaults(started, topics.commands);
      const [counts, victim] = await Promise.all([load, faults]);
      console.log(
        `[cluster] killed broker ${victim}; ${counts.reduce((a, b) => a + b, 0)} commands acknowledged`,
      );

      for (const [i, member] of members.entries()) {
        const n = counts[i]!;
        expect(n).toBeGreaterThan(0);
        const amounts = await waitForEntries(member, n);
        expect(amounts, member).toEqual(Array.from({ length: n }, (_, k) => k + 1));
      }
    },
    TEST_TIMEOUT_MS,
  );
});

/** The leader of the most ledger.commands partitions is killed, then restarted; a ledger joins and leaves. */
async function runFaults(started: number, commandsTopic: string): Promise<number> {
  const nodes = cluster.nodes!;
  const at = (ms: number) => sleep(Math.max(0, started + ms - Date.now()));
  // Both timelines are awaited together: a failure in either (the extra ledger starting while the
  // broker is down) fails the test instead of escaping as an unhandled rejection.
  const ledgerChanges = async () => {
    await at(ADD_LEDGER_AT_MS);
    extraLedger = await startExtraLedger();
    await at(REMOVE_LEDGER_AT_MS);
    await extraLedger.stop();
    extraLedger = undefined;
  };
  const brokerKill = async () => {
    await at(KILL_AT_MS);
    const victimId = await busiestLeader(commandsTopic);
    const victim = nodes.find((n) => n.nodeId === victimId) as ClusterNode;
    await victim.kill("SIGKILL");
    await at(KILL_AT_MS + RESTART_AFTER_MS);
    await victim.start();
    return victimId;
  };
  const [victimId] = await Promise.all([brokerKill(), ledgerChanges()]);
  return victimId;
}

/** Sequential earns for one member until `stopAt`; each retried with its key until answered. Returns how many. */
async function memberWorker(url: string, token: string, member: string, stopAt: number): Promise<number> {
  let n = 0;
  while (Date.now() < stopAt) {
    const points = n + 1;
    const key = `${member}-${points}`;
    const body = JSON.stringify({ payer: PARTNER, points, timestamp: "2024-05-01T10:00:00Z" });
    const status = await untilAnswered(`${url}/v1/users/${member}/transactions`, token, key, body);
    if (status !== 201) throw new Error(`${member} earn ${points}: answered ${status}`);
    n = points;
  }
  return n;
}

async function untilAnswered(url: string, token: string, key: string, body: string): Promise<number> {
  const deadline = Date.now() + RETRY_DEADLINE_MS;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "idempotency-key": key,
        },
        body,
        signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
      });
      await res.text();
      // 202 (accepted, not decided within the sync wait), 5xx, 408 and 429 mean "not decided
      // (yet)": ask again with the same key and body until the recorded answer comes back.
      if (res.status !== 202 && res.status < 500 && res.status !== 408 && res.status !== 429)
        return res.status;
    } catch {
      // Timeout or connection error: the same.
    }
    await sleep(RETRY_PAUSE_MS);
  }
  throw new Error(`no definitive answer for ${key} within ${RETRY_DEADLINE_MS} ms`);
}

async function waitForEntries(member: string, n: number): Promise<number[]> {
  const deadline = Date.now() + CATCH_UP_MS;
  for (;;) {
    const { rows } = await pool.query<{ amount: string }>(
      "SELECT amount FROM entries WHERE user_id = $1 ORDER BY seq",
      [member],
    );
    if (rows.length >= n || Date.now() > deadline) return rows.map((r) => Number(r.amount));
    await sleep(RETRY_PAUSE_MS);
  }
}

async function startExtraLedger(): Promise<RunningLedger> {
  const parsed = parseConfig(LedgerConfig, {
    ...env.serviceEnvFor("ledger"),
    ADMIN_TOKEN: TEST_ADMIN_TOKEN,
    PORT: "0",
    METRICS_PORT: "0",
    LOG_LEVEL: "warn",
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return startLedger(parsed.config, createLogger("ledger-2", "warn"));
}

async function withAdmin<T>(use: (admin: ReturnType<ReturnType<typeof createKafka>["admin"]>) => Promise<T>) {
  const admin = createKafka("cluster-test", env.kafkaBrokers, undefined, env.kafkaSasl).admin();
  await admin.connect();
  try {
    return await use(admin);
  } finally {
    await admin.disconnect();
  }
}

async function busiestLeader(topic: string): Promise<number> {
  const metadata = await withAdmin((admin) => admin.fetchTopicMetadata({ topics: [topic] }));
  const led = new Map<number, number>();
  for (const p of metadata.topics[0]!.partitions) led.set(p.leader, (led.get(p.leader) ?? 0) + 1);
  return [...led.entries()].sort((a, b) => b[1] - a[1])[0]![0];
}

async function replicationOf(topic: string): Promise<{ replicas: number; minInsync: string | undefined }> {
  return withAdmin(async (admin) => {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    const configs = await admin.describeConfigs({
      resources: [{ type: 2 /* TOPIC */, name: topic, configNames: ["min.insync.replicas"] }],
      includeSynonyms: false,
    });
    const minInsync = configs.resources[0]?.configEntries.find((c) => c.configName === "min.insync.replicas");
    return {
      replicas: Math.min(...metadata.topics[0]!.partitions.map((p) => p.replicas.length)),
      minInsync: minInsync?.configValue,
    };
  });
}

/** The file's env, but on the cluster and with the cluster's SCRAM credentials. */
function onCluster(base: TestEnv, brokers: string, credentials: KafkaCredentials): TestEnv {
  const saslOf = (principal: KafkaPrincipal): KafkaSasl => ({
    mechanism: "scram-sha-512",
    ...credentials[principal],
  });
  const serviceEnv = { ...base.serviceEnv, KAFKA_BROKERS: brokers };
  return {
    ...base,
    kafkaBrokers: brokers.split(","),
    kafkaSasl: saslOf("admin"),
    saslOf,
    serviceEnv,
    serviceEnvFor: (service) => ({
      ...serviceEnv,
      KAFKA_SASL_USERNAME: credentials[service].username,
      KAFKA_SASL_PASSWORD: credentials[service].password,
    }),
  };
}

async function clusterPorts(): Promise<{ brokers: number[]; controllers: number[] }> {
  const base = Number(process.env.KAFKA_CLUSTER_BASE_PORT);
  if (Number.isInteger(base) && base > 0) {
    return {
      brokers: Array.from({ length: BROKERS }, (_, i) => base + i),
      controllers: Array.from({ length: BROKERS }, (_, i) => base + 100 + i),
    };
  }
  const free = await Promise.all(Array.from({ length: 2 * BROKERS }, () => freePort()));
  return { brokers: free.slice(0, BROKERS), controllers: free.slice(BROKERS) };
}

async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
