#!/usr/bin/env node
// A real single-node Apache Kafka (KRaft) for development and tests, without Docker.
//
// ensureKafka() uses a broker that already answers at KAFKA_BROKERS; otherwise, for a local
// address only, it fetches the broker jars once with Maven (see pom.xml), starts
// `java kafka.Kafka` as a child process and creates the topics of contract section 3.
//
// CLI: node infra/kafka/broker.mjs [start|stop|topics]   (see README.md)

import { execFile, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import kafkajs from "kafkajs";

// kafkajs is CommonJS; a default import works in every Node ESM loader.
const { Kafka, logLevel, AclResourceTypes, AclOperationTypes, AclPermissionTypes, ResourcePatternTypes } =
  kafkajs;
const execFileAsync = promisify(execFile);

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = path.resolve(HERE, "..", "..");
const POM_PATH = path.join(HERE, "pom.xml");
const LOG4J_URL = pathToFileURL(path.join(HERE, "log4j.properties")).href;
const CACHE_DIR = path.join(REPO_ROOT, ".cache", "kafka");
const LIBS_DIR = path.join(CACHE_DIR, "libs");
// Written last into LIBS_DIR; holds the hash of pom.xml, so a half-finished or outdated copy is refetched.
const LIBS_MARKER = ".complete";

const DEFAULT_BROKERS = "127.0.0.1:9092";
// We only ever start a broker on this machine; any other host must already be running.
const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost"]);
const BIND_HOST = "127.0.0.1";

const START_TIMEOUT_MS = 120_000;
const PROBE_TIMEOUT_MS = 2_000;
const POLL_INTERVAL_MS = 300;
const STOP_GRACE_MS = 15_000;
// A live broker of ours that does not answer may simply still be starting (its parent was just killed).
const STALE_BROKER_GRACE_MS = 10_000;
const TOPICS_READY_TIMEOUT_MS = 30_000;
const GROUP_COORDINATOR_WARMUP_MS = 15_000;
const MVN_TIMEOUT_MS = 10 * 60_000;
// A parallel starter may be fetching jars first, so waiting for it is bounded by both of its own limits.
const START_LOCK_WAIT_MS = MVN_TIMEOUT_MS + START_TIMEOUT_MS;
const STORAGE_FORMAT_TIMEOUT_MS = 60_000;
const CHILD_OUTPUT_MAX_BYTES = 16 * 1024 * 1024;

const CONTROLLER_PORT_OFFSET = 1000;
const NODE_ID = 1;
// Small heap: a dev box runs this next to Postgres, Redis and the services. Override with KAFKA_HEAP_OPTS.
const DEFAULT_HEAP_OPTS = "-Xmx512m -Xms256m";
const LOG_RETENTION_HOURS = 168;
// 64 MiB instead of the 1 GiB default, so retention can actually delete old segments on a dev box.
const LOG_SEGMENT_BYTES = 64 * 1024 * 1024;
// The internal topics default to 50 partitions each, which slows the first consumer-group join for no gain here.
const INTERNAL_TOPIC_PARTITIONS = 10;
const DEFAULT_TOPIC_PARTITIONS = 12;
const LOG_TAIL_LINES = 40;
// A cluster runs 3 JVMs on a dev box next to everything else, so each gets a smaller heap.
const CLUSTER_HEAP_OPTS = "-Xmx384m -Xms128m";
// With this many brokers or more, topics are replicated 3 ways and a write needs 2 in-sync copies
// (with acks=all), so losing any one broker loses no acknowledged record and blocks no producer.
const REPLICATED_CLUSTER_BROKERS = 3;
const CLUSTER_REPLICATION_FACTOR = 3;
const CLUSTER_MIN_INSYNC_REPLICAS = 2;
const MAX_CLUSTER_BROKERS = 9;
const LEADER_REBALANCE_CHECK_S = 30;

/**
 * The principals of contract section 3 ("Kafka is not an open door"): one per service, one for
 * partners, and the broker's own `admin` (super user: inter-broker traffic, topic and ACL set-up,
 * tests' admin clients). Created as SCRAM-SHA-512 users when the storage is formatted.
 */
export const PRINCIPALS = Object.freeze(["admin", "gateway", "ingest", "ledger", "partner"]);
export const SASL_MECHANISM = "scram-sha-512";
const PASSWORD_BYTES = 24;

/** The topics of contract section 3. Keys are user ids, so the partition count bounds consumer parallelism. */
export const TOPICS = Object.freeze(
  [
    { name: "ledger.commands", partitions: 12 },
    { name: "ledger.events", partitions: 12 },
    { name: "partner.transactions", partitions: 12 },
    { name: "partner.transactions.dlq", partitions: 3 },
    { name: "ledger.commands.dlq", partitions: 3 },
  ].map((topic) => Object.freeze(topic)),
);

// ---------------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------------

/**
 * Makes sure a Kafka broker answers at the first address of `brokers` and that the topics exist.
 * A broker found running is left alone (stop is a no-op); one started here is stopped by stop().
 * @returns {Promise<{ brokers: string, started: boolean, stop: () => Promise<void>, pid?: number,
 *   exited?: Promise<{ code: number | null, signal: string | null }> }>}
 */
export async function ensureKafka({
  brokers = process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS,
  dataDir,
  log = console.log,
  topicPrefix = "",
  startTimeoutMs = START_TIMEOUT_MS,
  brokerCount = 1,
  controllerPorts,
} = {}) {
  if (!Number.isInteger(brokerCount) || brokerCount < 1 || brokerCount > MAX_CLUSTER_BROKERS) {
    throw new Error(
      `[kafka] brokerCount must be an integer in 1..${MAX_CLUSTER_BROKERS}, got ${brokerCount}`,
    );
  }
  const list = brokerCount > 1 ? clusterAddresses(splitBrokers(brokers), brokerCount) : splitBrokers(brokers);
  const first = list[0];
  const { host, port } = parseHostPort(first);
  const known = loadCredentials(first);
  if (known && (await kafkaAnswers(first, known))) {
    log(`[kafka] using the broker already running at ${first}`);
    return useRunningBroker(list.join(","), topicPrefix, log, known);
  }
  if (!LOCAL_HOSTS.has(host)) {
    throw new Error(
      `[kafka] no broker answers at ${first} to our admin credentials (${known ? "found" : "none found: set KAFKA_CREDENTIALS_FILE or KAFKA_ADMIN_PASSWORD"}), ` +
        "and it is not a local address, so none is started",
    );
  }
  const dir = path.resolve(dataDir ?? process.env.KAFKA_DATA_DIR ?? defaultDataDir(port));
  if (brokerCount > 1) {
    const ports = list.map((b) => parseHostPort(b).port);
    const controllers = controllerPorts ?? ports.map((p) => p + CONTROLLER_PORT_OFFSET);
    if (controllers.length !== brokerCount)
      throw new Error("[kafka] one controller port per broker is needed");
    return startLocalCluster({
      ports,
      controllerPorts: controllers,
      dataDir: dir,
      log,
      topicPrefix,
      startTimeoutMs,
    });
  }
  return startLocalBroker({ port, dataDir: dir, log, topicPrefix, startTimeoutMs });
}

/** `count` addresses: the ones given, or consecutive ports after the first one given. */
function clusterAddresses(list, count) {
  if (list.length >= count) return list.slice(0, count);
  const { host, port } = parseHostPort(list[0]);
  return Array.from({ length: count }, (_, i) => `${host}:${port + i}`);
}

/**
 * Creates the contract topics (with `topicPrefix`) that do not exist yet and the ACLs of every
 * principal on them, then waits until every partition has a leader that serves it. Safe to call
 * any number of times, also concurrently. Connects as `admin` (credentials: `credentials`, else
 * the file the launcher wrote for this port, else KAFKA_CREDENTIALS_FILE).
 * @returns {Promise<Array<{ topic: string, partitions: number }>>} the topics as they now are
 */
export async function createTopics({
  brokers = process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS,
  topicPrefix = "",
  log = console.log,
  credentials,
} = {}) {
  const list = splitBrokers(brokers);
  const creds = credentials ?? loadCredentials(list[0]);
  if (!creds)
    throw new Error(`[kafka] no admin credentials known for ${list[0]} (set KAFKA_CREDENTIALS_FILE)`);
  const wanted = TOPICS.map((t) => ({ topic: `${topicPrefix}${t.name}`, numPartitions: t.partitions }));
  const kafka = new Kafka({
    clientId: "kafka-dev-topics",
    brokers: list,
    logLevel: logLevel.NOTHING,
    sasl: saslOf(creds.admin),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const deadline = Date.now() + TOPICS_READY_TIMEOUT_MS;
    const { brokers: members } = await admin.describeCluster();
    const created = await createMissingTopics(admin, withReplication(wanted, members.length), deadline);
    if (created.length > 0) log(`[kafka] created topics: ${created.join(", ")}`);
    await admin.createAcls({ acl: aclBindings(topicPrefix) });
    const actual = await waitForLeaders(admin, wanted, deadline);
    warnOnPartitionMismatch(wanted, actual, log);
    return actual;
  } finally {
    await admin.disconnect();
  }
}

// ---------------------------------------------------------------------------------------------
// Using or starting a broker
// ---------------------------------------------------------------------------------------------

async function useRunningBroker(brokers, topicPrefix, log, credentials) {
  await createTopics({ brokers, topicPrefix, log, credentials });
  return { brokers, started: false, stop: async () => {}, credentials };
}

async function startLocalBroker({ port, dataDir, log, topicPrefix, startTimeoutMs }) {
  const broker = `${BIND_HOST}:${port}`;
  // It holds the principals' passwords (credentials.json, server.properties).
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // Parallel callers (two test runners, npm start next to a test) must not both start a broker on one port.
  if ((await acquireStartLock({ port, broker, log })) === "answering") {
    return useRunningBroker(broker, topicPrefix, log, loadCredentials(broker));
  }
  try {
    return await startLockedBroker({ port, broker, dataDir, log, topicPrefix, startTimeoutMs });
  } finally {
    releaseStartLock(port);
  }
}

async function startLockedBroker({ port, broker, dataDir, log, topicPrefix, startTimeoutMs }) {
  const propsPath = path.join(dataDir, "server.properties");
  const credentials = loadOrCreateDataDirCredentials(dataDir);
  if ((await clearStaleBroker({ dataDir, propsPath, broker, log, credentials })) === "answering") {
    publishCredentials(port, credentials);
    return useRunningBroker(broker, topicPrefix, log, credentials);
  }
  if (!(await isPortFree(port))) {
    throw new Error(
      `[kafka] port ${port} is in use by something that does not accept our admin credentials ` +
        `(not Kafka, or a Kafka started from another data dir); ` +
        `free it (see: ss -ltnp 'sport = :${port}') or set KAFKA_BROKERS to another port`,
    );
  }

  await ensureJars(log);
  const controllerPort = await pickControllerPort(port);
  writeServerProperties({ propsPath, dataDir, port, controllerPort, credentials });
  await formatStorageOnce({ dataDir, propsPath, log, credentials });
  publishCredentials(port, credentials);

  const startedAt = Date.now();
  const proc = spawnBroker({ dataDir, propsPath });
  const stop = once(() => stopBroker(proc, dataDir, log));
  try {
    await waitForBroker({ broker, proc, deadline: startedAt + startTimeoutMs, startTimeoutMs, credentials });
    await createTopics({ brokers: broker, topicPrefix, log, credentials });
    await warmUpGroupCoordinator(broker, credentials);
  } catch (err) {
    await stop();
    throw err;
  }
  log(
    `[kafka] broker ready at ${broker} in ${seconds(Date.now() - startedAt)} (pid ${proc.child.pid}, data ${dataDir})`,
  );
  return { brokers: broker, started: true, stop, pid: proc.child.pid, exited: proc.exited, credentials };
}

// ---------------------------------------------------------------------------------------------
// A local cluster: N combined broker+controller nodes (KRaft quorum of N voters)
// ---------------------------------------------------------------------------------------------

/**
 * Starts (or reuses) a cluster of `ports.length` nodes, each a broker and a controller voter,
 * with its own port, controller port and data dir (<dataDir>/node-<id>), all from the same jars
 * and secured like the single broker: same SCRAM users (created by each node's format), same
 * ACLs. The handle's `nodes` let tests and the chaos run kill, pause and restart single nodes.
 */
async function startLocalCluster({ ports, controllerPorts, dataDir, log, topicPrefix, startTimeoutMs }) {
  const brokers = ports.map((port) => `${BIND_HOST}:${port}`);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if ((await acquireStartLock({ port: ports[0], broker: brokers[0], log })) === "answering") {
    return useRunningBroker(brokers.join(","), topicPrefix, log, loadCredentials(brokers[0]));
  }
  try {
    return await startLockedCluster({ ports, controllerPorts, dataDir, log, topicPrefix, startTimeoutMs });
  } finally {
    releaseStartLock(ports[0]);
  }
}

async function startLockedCluster({ ports, controllerPorts, dataDir, log, topicPrefix, startTimeoutMs }) {
  const brokers = ports.map((port) => `${BIND_HOST}:${port}`);
  const credentials = loadOrCreateDataDirCredentials(dataDir);
  await ensureJars(log);
  const clusterId = loadOrCreateClusterId(dataDir);
  const voters = controllerPorts.map((cp, i) => `${i + 1}@${BIND_HOST}:${cp}`).join(",");
  const specs = ports.map((port, i) => ({
    nodeId: i + 1,
    port,
    broker: brokers[i],
    controllerPort: controllerPorts[i],
    dataDir: path.join(dataDir, `node-${i + 1}`),
  }));
  for (const spec of specs) await prepareClusterNode({ spec, voters, clusterId, credentials, log });
  // The users exist once every node's storage is formatted with them.
  fs.writeFileSync(path.join(dataDir, SECURED_MARKER), "SCRAM-SHA-512 users created at format\n");
  for (const port of ports) publishCredentials(port, credentials);

  const startedAt = Date.now();
  const nodes = specs.map((spec) => clusterNode(spec, credentials, log));
  const stop = once(() => Promise.all(nodes.map((node) => node.stop())).then(() => {}));
  try {
    // The quorum needs a majority of voters up before any of them answers, so all start together.
    await Promise.all(nodes.map((node) => node.start({ startTimeoutMs })));
    await waitForClusterSize(brokers, specs.length, credentials, startedAt + startTimeoutMs);
    await createTopics({ brokers: brokers.join(","), topicPrefix, log, credentials });
    await warmUpGroupCoordinator(brokers[0], credentials);
    await waitForServicePrincipals(brokers, credentials);
  } catch (err) {
    await stop();
    throw err;
  }
  log(
    `[kafka] ${specs.length}-broker cluster ready at ${brokers.join(",")} in ${seconds(Date.now() - startedAt)} ` +
      `(pids ${nodes.map((n) => n.pid).join(", ")}, data ${dataDir})`,
  );
  return { brokers: brokers.join(","), started: true, stop, pid: nodes[0].pid, credentials, nodes };
}

async function prepareClusterNode({ spec, voters, clusterId, credentials, log }) {
  fs.mkdirSync(spec.dataDir, { recursive: true, mode: 0o700 });
  const propsPath = path.join(spec.dataDir, "server.properties");
  const stale = ourBrokerPid(spec.dataDir, propsPath);
  if (stale) {
    log(`[kafka] killing node ${spec.nodeId} (pid ${stale}) left from an earlier run`);
    await killPid(stale);
  }
  for (const port of [spec.port, spec.controllerPort]) {
    if (!(await isPortFree(port))) {
      throw new Error(
        `[kafka] port ${port} (node ${spec.nodeId}) is in use; see: ss -ltnp 'sport = :${port}'`,
      );
    }
  }
  writeServerProperties({
    propsPath,
    dataDir: spec.dataDir,
    port: spec.port,
    controllerPort: spec.controllerPort,
    credentials,
    nodeId: spec.nodeId,
    voters,
    replicated: true,
  });
  await formatStorageOnce({ dataDir: spec.dataDir, propsPath, log, credentials, clusterId });
}

/**
 * One node of the cluster: start() spawns it (again, after a kill) and waits until it answers;
 * kill(signal) sends a signal (SIGKILL: waits for the exit; SIGSTOP/SIGCONT: pause/resume);
 * stop() is the clean SIGTERM shutdown.
 */
function clusterNode(spec, credentials, log) {
  const propsPath = path.join(spec.dataDir, "server.properties");
  let proc;
  const node = {
    nodeId: spec.nodeId,
    port: spec.port,
    broker: spec.broker,
    dataDir: spec.dataDir,
    get pid() {
      return proc?.child.pid;
    },
    get exited() {
      return proc?.exited;
    },
    get running() {
      return proc !== undefined && !proc.done;
    },
    async start({ startTimeoutMs = START_TIMEOUT_MS } = {}) {
      if (node.running) return;
      proc = spawnBroker({ dataDir: spec.dataDir, propsPath, defaultHeapOpts: CLUSTER_HEAP_OPTS });
      const deadline = Date.now() + startTimeoutMs;
      await waitForBroker({ broker: spec.broker, proc, deadline, startTimeoutMs, credentials });
    },
    async kill(signal = "SIGKILL") {
      if (!node.running) return;
      proc.child.kill(signal);
      if (signal === "SIGKILL") {
        await proc.exited;
        proc.releaseGuards();
      }
    },
    async stop() {
      if (!proc) return;
      if (node.running) proc.child.kill("SIGCONT"); // a paused node cannot shut down
      await stopBroker(proc, spec.dataDir, log);
    },
  };
  return node;
}

/**
 * ACLs reach each broker through the metadata log a little after createAcls returns; a service
 * starting in that window gets CLUSTER_AUTHORIZATION_FAILED for its idempotent producer. Ready
 * means: each service principal can get a producer id (a broker picked at random each time).
 */
async function waitForServicePrincipals(brokers, credentials) {
  for (const principal of ["gateway", "ingest", "ledger"]) {
    for (let round = 0; round < brokers.length; round++) {
      const ok = await pollUntil(async () => {
        const producer = new Kafka({
          clientId: "kafka-dev-acl-probe",
          brokers,
          logLevel: logLevel.NOTHING,
          sasl: saslOf(credentials[principal]),
          // An idempotent producer refuses retries: 0; pollUntil is the outer retry.
          retry: { retries: 1 },
        }).producer({ idempotent: true, maxInFlightRequests: 1 });
        try {
          await producer.connect();
          return true;
        } catch {
          return false;
        } finally {
          await producer.disconnect().catch(() => {});
        }
      }, TOPICS_READY_TIMEOUT_MS);
      if (!ok)
        throw new Error(`[kafka] ${principal} cannot get a producer id: its ACLs did not reach the brokers`);
    }
  }
}

/** Every broker registered: before that, topics would get fewer replicas than asked for. */
async function waitForClusterSize(brokers, count, credentials, deadline) {
  const kafka = new Kafka({
    clientId: "kafka-dev-cluster-probe",
    brokers,
    logLevel: logLevel.NOTHING,
    sasl: saslOf(credentials.admin),
  });
  const admin = kafka.admin();
  await admin.connect();
  let seen = 0;
  try {
    while (Date.now() < deadline) {
      seen = (await admin.describeCluster()).brokers.length;
      if (seen >= count) return;
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    await admin.disconnect();
  }
  throw new Error(`[kafka] only ${seen} of ${count} brokers registered in time`);
}

/**
 * The first consumer-group request makes the broker create __consumer_offsets, and until that is done
 * every group join fails with "group coordinator not available" (kafkajs logs it as an ERROR and retries).
 * Asking for a throwaway group's offsets here takes that hit once, silently, before any test runs.
 * Best effort: kafkajs does not retry NOT_COORDINATOR here, so we poll, and give up quietly.
 */
async function warmUpGroupCoordinator(broker, credentials) {
  const kafka = new Kafka({
    clientId: "kafka-dev-warmup",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    sasl: saslOf(credentials.admin),
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await pollUntil(async () => {
      try {
        await admin.fetchOffsets({ groupId: "kafka-dev-warmup", topics: [] });
        return true;
      } catch {
        return false;
      }
    }, GROUP_COORDINATOR_WARMUP_MS);
  } finally {
    await admin.disconnect();
  }
}

function defaultDataDir(port) {
  return path.join(CACHE_DIR, `data-${port}`);
}

// ---------------------------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------------------------

/**
 * True when `broker` (host:port) speaks Kafka and accepts our admin credentials: a TCP probe
 * first, so a closed port fails fast.
 */
async function kafkaAnswers(broker, credentials) {
  const { host, port } = parseHostPort(broker);
  if (!credentials || !(await tcpAccepts(host, port))) return false;
  const kafka = new Kafka({
    clientId: "kafka-dev-probe",
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    sasl: saslOf(credentials.admin),
    connectionTimeout: PROBE_TIMEOUT_MS,
    requestTimeout: PROBE_TIMEOUT_MS,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    const cluster = await withTimeout(
      admin.connect().then(() => admin.describeCluster()),
      2 * PROBE_TIMEOUT_MS,
      "Kafka probe",
    );
    // A KRaft broker can answer before it has registered itself; it is only usable once it lists a broker.
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

function tcpAccepts(host, port, timeoutMs = PROBE_TIMEOUT_MS) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Binding is the only reliable test: a port can be taken without accepting connections. */
function isPortFree(port, host = BIND_HOST) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

function anyFreePort(host = BIND_HOST) {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ port: 0, host }, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Jars
// ---------------------------------------------------------------------------------------------

/** Fetches the broker jars with Maven unless LIBS_DIR already holds a complete copy for this pom.xml. */
async function ensureJars(log) {
  const pomHash = createHash("sha256").update(fs.readFileSync(POM_PATH)).digest("hex");
  if (readTextFile(path.join(LIBS_DIR, LIBS_MARKER)) === pomHash) return;

  // Copy into a private folder and rename it into place, so a parallel run never sees half a classpath.
  const tmpDir = `${LIBS_DIR}.tmp-${process.pid}`;
  fs.rmSync(tmpDir, { recursive: true, force: true });
  log(`[kafka] fetching broker jars with Maven into ${path.relative(REPO_ROOT, LIBS_DIR)} (once) ...`);
  const startedAt = Date.now();
  try {
    await runMaven(tmpDir);
    fs.writeFileSync(path.join(tmpDir, LIBS_MARKER), pomHash);
    fs.rmSync(LIBS_DIR, { recursive: true, force: true });
    fs.renameSync(tmpDir, LIBS_DIR);
  } catch (err) {
    fs.rmSync(tmpDir, { recursive: true, force: true });
    // Losing the rename race to a parallel run is fine if that run left a complete copy.
    if (readTextFile(path.join(LIBS_DIR, LIBS_MARKER)) !== pomHash) throw err;
  }
  const jarCount = fs.readdirSync(LIBS_DIR).filter((f) => f.endsWith(".jar")).length;
  log(`[kafka] fetched ${jarCount} jars in ${seconds(Date.now() - startedAt)}`);
}

async function runMaven(outputDir) {
  const mvn = process.env.MVN ?? "mvn";
  const args = ["-q", "-B", "-f", POM_PATH, "dependency:copy-dependencies", `-DoutputDirectory=${outputDir}`];
  try {
    await execFileAsync(mvn, args, { timeout: MVN_TIMEOUT_MS, maxBuffer: CHILD_OUTPUT_MAX_BYTES });
  } catch (err) {
    if (err.code === "ENOENT") {
      throw new Error(`[kafka] Maven ("${mvn}") is not installed; it is needed once to fetch the Kafka jars`);
    }
    throw new Error(
      `[kafka] Maven could not fetch the Kafka jars (${err.message.split("\n")[0]}):\n${childOutput(err)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Data directory: config, cluster id, storage format
// ---------------------------------------------------------------------------------------------

/**
 * The KRaft controller needs a second port. port+1000 keeps it predictable; if that is taken any free
 * port does, because with one static voter the controller address may change between restarts.
 */
async function pickControllerPort(port) {
  const preferred = port + CONTROLLER_PORT_OFFSET;
  return preferred <= 65_535 && (await isPortFree(preferred)) ? preferred : anyFreePort();
}

/**
 * Secured as contract section 3 asks: clients (and the broker itself) authenticate with
 * SCRAM-SHA-512 on the client listener; the controller listener, on loopback only, uses PLAIN with
 * the one static user `admin` (KRaft cannot use SCRAM there: the SCRAM users live in the metadata
 * the controller serves). StandardAuthorizer denies whatever no ACL allows; `admin` is the only
 * super user.
 */
function writeServerProperties({
  propsPath,
  dataDir,
  port,
  controllerPort,
  credentials,
  nodeId = NODE_ID,
  voters = `${NODE_ID}@${BIND_HOST}:${controllerPort}`,
  replicated = false,
}) {
  const admin = credentials.admin;
  const scramJaas = `org.apache.kafka.common.security.scram.ScramLoginModule required username="${admin.username}" password="${admin.password}";`;
  const plainJaas =
    `org.apache.kafka.common.security.plain.PlainLoginModule required username="${admin.username}" ` +
    `password="${admin.password}" user_${admin.username}="${admin.password}";`;
  const settings = {
    "process.roles": "broker,controller",
    "node.id": nodeId,
    "controller.quorum.voters": voters,
    listeners: `SASL_PLAINTEXT://${BIND_HOST}:${port},CONTROLLER://${BIND_HOST}:${controllerPort}`,
    "advertised.listeners": `SASL_PLAINTEXT://${BIND_HOST}:${port}`,
    "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "SASL_PLAINTEXT",
    "sasl.enabled.mechanisms": "SCRAM-SHA-512",
    "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
    "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": scramJaas,
    "sasl.mechanism.controller.protocol": "PLAIN",
    "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
    "listener.name.controller.plain.sasl.jaas.config": plainJaas,
    "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "allow.everyone.if.no.acl.found": false,
    "super.users": `User:${admin.username}`,
    "log.dirs": path.join(dataDir, "logs"),
    // One node: every replication factor and ISR must be 1. A cluster: 3 copies, 2 in sync.
    "default.replication.factor": replicated ? CLUSTER_REPLICATION_FACTOR : 1,
    "min.insync.replicas": replicated ? CLUSTER_MIN_INSYNC_REPLICAS : 1,
    "unclean.leader.election.enable": false,
    // A restarted broker gets its preferred leaderships back within this, not the default 5 minutes.
    "leader.imbalance.check.interval.seconds": LEADER_REBALANCE_CHECK_S,
    "offsets.topic.replication.factor": replicated ? CLUSTER_REPLICATION_FACTOR : 1,
    "offsets.topic.num.partitions": INTERNAL_TOPIC_PARTITIONS,
    "transaction.state.log.replication.factor": replicated ? CLUSTER_REPLICATION_FACTOR : 1,
    "transaction.state.log.min.isr": replicated ? CLUSTER_MIN_INSYNC_REPLICAS : 1,
    "transaction.state.log.num.partitions": INTERNAL_TOPIC_PARTITIONS,
    // Tests start consumers often; the default 3 s delay before the first rebalance only slows them.
    "group.initial.rebalance.delay.ms": 0,
    "num.partitions": DEFAULT_TOPIC_PARTITIONS,
    // Topics come from createTopics() only, so a typo in a topic name fails instead of creating a topic.
    "auto.create.topics.enable": false,
    "log.retention.hours": LOG_RETENTION_HOURS,
    "log.segment.bytes": LOG_SEGMENT_BYTES,
    "num.network.threads": 3,
    "num.io.threads": 4,
    "num.recovery.threads.per.data.dir": 1,
  };
  const lines = Object.entries(settings).map(([key, value]) => `${key}=${value}`);
  const header = "# Generated by infra/kafka/broker.mjs on every start; edit that file instead.";
  fs.writeFileSync(propsPath, `${header}\n${lines.join("\n")}\n`);
}

/**
 * Formats the storage only once, so topics and offsets survive restarts; the SCRAM users are
 * created by the format. A data dir formatted before the broker was secured has no SCRAM users and
 * is formatted afresh (development data only).
 */
async function formatStorageOnce({ dataDir, propsPath, log, credentials, clusterId: givenClusterId }) {
  const logsDir = path.join(dataDir, "logs");
  if (fs.existsSync(path.join(logsDir, "meta.properties"))) {
    if (fs.existsSync(path.join(dataDir, SECURED_MARKER))) return;
    log(
      `[kafka] ${dataDir} was formatted without SCRAM users; formatting it afresh (its topics are dropped)`,
    );
    fs.rmSync(logsDir, { recursive: true, force: true });
  }
  const clusterId = givenClusterId ?? loadOrCreateClusterId(dataDir);
  log(`[kafka] formatting storage in ${dataDir} (cluster id ${clusterId})`);
  const args = [
    "-Xmx256m",
    `-Dlog4j.configuration=${LOG4J_URL}`,
    "-cp",
    classpath(),
    "kafka.tools.StorageTool",
    "format",
    "--cluster-id",
    clusterId,
    "--config",
    propsPath,
    "--ignore-formatted",
    ...Object.values(credentials).flatMap(({ username, password }) => [
      "--add-scram",
      `SCRAM-SHA-512=[name=${username},password=${password}]`,
    ]),
  ];
  try {
    await execFileAsync(javaBin(), args, {
      timeout: STORAGE_FORMAT_TIMEOUT_MS,
      maxBuffer: CHILD_OUTPUT_MAX_BYTES,
    });
    fs.writeFileSync(path.join(dataDir, SECURED_MARKER), "SCRAM-SHA-512 users created at format\n");
  } catch (err) {
    // Not err.message: it holds the command line, passwords included.
    throw new Error(`[kafka] formatting the storage failed (exit code ${err.code}):\n${childOutput(err)}`);
  }
}

/** A Kafka cluster id is 16 random bytes in URL-safe base64 (what `kafka-storage random-uuid` prints). */
function loadOrCreateClusterId(dataDir) {
  const file = path.join(dataDir, "cluster.id");
  const saved = readTextFile(file);
  if (saved) return saved;
  let id;
  do id = randomBytes(16).toString("base64url");
  while (id.startsWith("-")); // Kafka avoids these too: they read like a command-line option.
  fs.writeFileSync(file, `${id}\n`);
  return id;
}

// ---------------------------------------------------------------------------------------------
// Credentials and ACLs
// ---------------------------------------------------------------------------------------------

// In the data dir: the SCRAM users were created when it was formatted.
const SECURED_MARKER = "scram-users";
const CREDENTIALS_FILE = "credentials.json";

/**
 * The principals' passwords live with the data dir whose SCRAM users they are: generated once when
 * the dir is new (or taken from KAFKA_<PRINCIPAL>_PASSWORD), mode 0600. A data dir already formatted
 * keeps its file; a new password for a formatted dir is a rotation (see README, "Security").
 * @returns {Record<string, { username: string, password: string }>}
 */
function loadOrCreateDataDirCredentials(dataDir) {
  const file = path.join(dataDir, CREDENTIALS_FILE);
  const saved = readCredentialsFile(file);
  if (saved && fs.existsSync(path.join(dataDir, SECURED_MARKER))) return saved;
  const credentials = Object.fromEntries(
    PRINCIPALS.map((name) => [
      name,
      {
        username: name,
        password:
          process.env[`KAFKA_${name.toUpperCase()}_PASSWORD`] ||
          randomBytes(PASSWORD_BYTES).toString("base64url"),
      },
    ]),
  );
  for (const { password } of Object.values(credentials)) {
    // The StorageTool's --add-scram syntax and the JAAS line cannot quote these.
    if (!/^[A-Za-z0-9_-]{16,}$/.test(password)) {
      throw new Error("[kafka] a KAFKA_<PRINCIPAL>_PASSWORD must be 16+ characters of [A-Za-z0-9_-]");
    }
  }
  writePrivateJson(file, credentials);
  return credentials;
}

/** What a client of this port reads (createTopics, the tests, npm start): a copy of the running data dir's credentials. */
function portCredentialsPath(port) {
  return path.join(CACHE_DIR, `credentials-${port}.json`);
}

function publishCredentials(port, credentials) {
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  writePrivateJson(portCredentialsPath(port), credentials);
}

/**
 * The credentials for `broker` (host:port), for a broker this launcher did not start (e.g.
 * docker-compose's): KAFKA_CREDENTIALS_FILE, or KAFKA_ADMIN_PASSWORD (admin is all that topic and
 * ACL set-up needs); else what the launcher published for a local port.
 */
export function loadCredentials(broker = splitBrokers(process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS)[0]) {
  if (process.env.KAFKA_CREDENTIALS_FILE) return readCredentialsFile(process.env.KAFKA_CREDENTIALS_FILE);
  const { host, port } = parseHostPort(broker);
  const published = LOCAL_HOSTS.has(host) ? readCredentialsFile(portCredentialsPath(port)) : null;
  if (published) return published;
  if (process.env.KAFKA_ADMIN_PASSWORD) {
    return { admin: { username: "admin", password: process.env.KAFKA_ADMIN_PASSWORD } };
  }
  return null;
}

function readCredentialsFile(file) {
  const text = readTextFile(file);
  if (!text) return null;
  const parsed = JSON.parse(text);
  const valid = PRINCIPALS.every(
    (name) => typeof parsed[name]?.username === "string" && typeof parsed[name]?.password === "string",
  );
  if (!valid) throw new Error(`[kafka] ${file} does not hold credentials for ${PRINCIPALS.join(", ")}`);
  return parsed;
}

function writePrivateJson(file, value) {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(tmp, file);
}

/** kafkajs's `sasl` option for one principal. */
export function saslOf({ username, password }) {
  return { mechanism: SASL_MECHANISM, username, password };
}

/**
 * Least privilege per principal, on this prefix's topics (LITERAL names) and consumer groups
 * (PREFIXED: `<prefix>ledger`, `<prefix>ingest`, as LEDGER_GROUP_ID / INGEST_GROUP_ID are named).
 * Nobody but `admin` (super user) may read ledger.commands / ledger.events except the ledger
 * reading its own input; partners may only write partner.transactions.
 * IdempotentWrite on the cluster lets an idempotent producer get its producer id.
 */
export function aclBindings(topicPrefix = "") {
  const topic = (name) => ({ resourceType: AclResourceTypes.TOPIC, resourceName: `${topicPrefix}${name}` });
  const group = (name) => ({
    resourceType: AclResourceTypes.GROUP,
    resourceName: `${topicPrefix}${name}`,
    resourcePatternType: ResourcePatternTypes.PREFIXED,
  });
  const cluster = { resourceType: AclResourceTypes.CLUSTER, resourceName: "kafka-cluster" };
  const { READ, WRITE, IDEMPOTENT_WRITE } = AclOperationTypes;
  const grants = {
    gateway: [
      [topic("ledger.commands"), WRITE],
      [cluster, IDEMPOTENT_WRITE],
    ],
    ingest: [
      [topic("partner.transactions"), READ],
      [group("ingest"), READ],
      [topic("ledger.commands"), WRITE],
      [topic("partner.transactions.dlq"), WRITE],
      [cluster, IDEMPOTENT_WRITE],
    ],
    ledger: [
      [topic("ledger.commands"), READ],
      [group("ledger"), READ],
      [topic("ledger.events"), WRITE],
      [topic("ledger.commands.dlq"), WRITE],
      [cluster, IDEMPOTENT_WRITE],
    ],
    partner: [
      [topic("partner.transactions"), WRITE],
      [cluster, IDEMPOTENT_WRITE],
    ],
  };
  return Object.entries(grants).flatMap(([principal, list]) =>
    list.map(([resource, operation]) => ({
      resourcePatternType: ResourcePatternTypes.LITERAL,
      ...resource,
      principal: `User:${principal}`,
      host: "*",
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    })),
  );
}

// ---------------------------------------------------------------------------------------------
// The broker process
// ---------------------------------------------------------------------------------------------

function spawnBroker({ dataDir, propsPath, defaultHeapOpts = DEFAULT_HEAP_OPTS }) {
  const logPath = path.join(dataDir, "broker.log");
  fs.appendFileSync(
    logPath,
    `\n===== broker.mjs starting kafka.Kafka at ${new Date().toISOString()} =====\n`,
  );
  const logOffset = fs.statSync(logPath).size;
  const logFd = fs.openSync(logPath, "a");
  const heapOpts = (process.env.KAFKA_HEAP_OPTS ?? defaultHeapOpts).split(/\s+/).filter(Boolean);
  const args = [
    ...heapOpts,
    "-XX:+UseG1GC",
    "-Djava.awt.headless=true",
    `-Dlog4j.configuration=${LOG4J_URL}`,
    "-cp",
    classpath(),
    "kafka.Kafka",
    propsPath,
  ];
  // Not detached: a Ctrl-C in the terminal reaches the broker too, which then shuts down by itself.
  const child = spawn(javaBin(), args, { cwd: dataDir, stdio: ["ignore", logFd, logFd] });
  fs.closeSync(logFd);
  const exited = new Promise((resolve) => {
    child.once("exit", (code, signal) => resolve({ code, signal }));
    child.once("error", (err) => resolve({ code: null, signal: null, error: err }));
  });
  const proc = { child, exited, done: false, logPath, logOffset };
  exited.then(() => {
    proc.done = true;
  });
  if (child.pid) fs.writeFileSync(pidPath(dataDir), `${child.pid}\n`);
  proc.releaseGuards = guardAgainstParentExit(child);
  return proc;
}

/** Polls until the broker serves metadata; fails early, with its log, if the process dies. */
async function waitForBroker({ broker, proc, deadline, startTimeoutMs, credentials }) {
  while (Date.now() < deadline) {
    if (proc.done) {
      const { code, signal, error } = await proc.exited;
      const why = error ? error.message : `exit code ${code}, signal ${signal}`;
      throw new Error(`[kafka] the broker exited while starting (${why}); ${logTail(proc)}`);
    }
    if (await kafkaAnswers(broker, credentials)) return;
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(
    `[kafka] the broker did not answer at ${broker} within ${startTimeoutMs} ms; ${logTail(proc)}`,
  );
}

/** SIGTERM for a clean shutdown, SIGKILL if it takes longer than STOP_GRACE_MS. */
async function stopBroker(proc, dataDir, log) {
  if (!proc.done) {
    proc.child.kill("SIGTERM");
    if (!(await exitsWithin(proc.exited, STOP_GRACE_MS))) {
      log(`[kafka] broker pid ${proc.child.pid} ignored SIGTERM for ${STOP_GRACE_MS} ms; killing it`);
      proc.child.kill("SIGKILL");
      await proc.exited;
    }
    log(`[kafka] broker pid ${proc.child.pid} stopped`);
  }
  proc.releaseGuards();
  if (Number(readTextFile(pidPath(dataDir))) === proc.child.pid) fs.rmSync(pidPath(dataDir), { force: true });
}

/**
 * Stops the broker when the parent goes away without calling stop(). The parent cannot wait for it
 * then, so the broker finishes its (about 1 s) shutdown on its own. SIGTERM rather than SIGKILL: after
 * a SIGKILL the next start waits ~9 s (broker.session.timeout.ms) for the old registration to expire.
 * A broker that hangs anyway is killed by the next ensureKafka() (see clearStaleBroker).
 * On a signal we act only if nobody else listens for it (else the app's own handler decides, and
 * should call stop()), then re-raise it so the parent still dies as it would have without us.
 */
function guardAgainstParentExit(child) {
  const alive = () => child.exitCode === null && child.signalCode === null;
  const onExit = () => {
    if (alive()) child.kill("SIGTERM");
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
  const onSignal = (signal) => {
    if (process.listenerCount(signal) > 1) return;
    if (alive()) child.kill("SIGTERM");
    release();
    process.kill(process.pid, signal);
  };
  const release = () => {
    process.removeListener("exit", onExit);
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
  process.on("exit", onExit);
  for (const signal of signals) process.on(signal, onSignal);
  return release;
}

function logTail(proc) {
  let text = "";
  try {
    const fd = fs.openSync(proc.logPath, "r");
    const size = fs.fstatSync(fd).size;
    const buffer = Buffer.alloc(Math.max(0, size - proc.logOffset));
    fs.readSync(fd, buffer, 0, buffer.length, proc.logOffset);
    fs.closeSync(fd);
    text = buffer.toString("utf8");
  } catch {
    // No log at all is reported below.
  }
  const lines = text.trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
  return lines ? `last lines of ${proc.logPath}:\n${lines}` : `${proc.logPath} is empty`;
}

// ---------------------------------------------------------------------------------------------
// Start lock: one starter per port, across processes
// ---------------------------------------------------------------------------------------------

function startLockPath(port) {
  return path.join(CACHE_DIR, `start-${port}.lock`);
}

/**
 * Takes <repo>/.cache/kafka/start-<port>.lock (it holds our pid). While another live process holds
 * it, waits for that process's broker to answer instead. A lock whose holder died is taken over.
 * @returns {Promise<"locked" | "answering">}
 */
async function acquireStartLock({ port, broker, log }) {
  const lockPath = startLockPath(port);
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const deadline = Date.now() + START_LOCK_WAIT_MS;
  let announced = false;
  while (Date.now() < deadline) {
    try {
      fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: "wx" });
      return "locked";
    } catch (err) {
      if (err.code !== "EEXIST") throw err;
    }
    const holder = Number(readTextFile(lockPath)); // 0 while the holder is still writing its pid
    if (holder && !isRunning(holder)) {
      fs.rmSync(lockPath, { force: true });
      continue;
    }
    // The starter publishes the credentials before it spawns the broker.
    if (await kafkaAnswers(broker, loadCredentials(broker))) return "answering";
    if (!announced)
      log(`[kafka] another process (pid ${holder}) is starting Kafka on port ${port}; waiting for it`);
    announced = true;
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`[kafka] gave up waiting for ${lockPath} after ${START_LOCK_WAIT_MS} ms`);
}

function releaseStartLock(port) {
  const lockPath = startLockPath(port);
  if (Number(readTextFile(lockPath)) === process.pid) fs.rmSync(lockPath, { force: true });
}

// ---------------------------------------------------------------------------------------------
// Leftovers from earlier runs (pid file)
// ---------------------------------------------------------------------------------------------

function pidPath(dataDir) {
  return path.join(dataDir, "broker.pid");
}

/**
 * A broker of ours (same server.properties) that is alive but does not answer on our port is either
 * still starting or wedged: give it STALE_BROKER_GRACE_MS, then kill it so its data dir lock is freed.
 * @returns {Promise<"answering" | "none">}
 */
async function clearStaleBroker({ dataDir, propsPath, broker, log, credentials }) {
  const pid = ourBrokerPid(dataDir, propsPath);
  if (!pid) return "none";
  log(`[kafka] broker pid ${pid} from an earlier run is alive but not answering; waiting briefly`);
  const deadline = Date.now() + STALE_BROKER_GRACE_MS;
  while (Date.now() < deadline) {
    if (await kafkaAnswers(broker, credentials)) return "answering";
    await sleep(POLL_INTERVAL_MS);
  }
  log(`[kafka] killing unresponsive broker pid ${pid}`);
  await killPid(pid);
  return "none";
}

/** The pid in <dataDir>/broker.pid, if it is a live kafka.Kafka running this data dir's config. */
function ourBrokerPid(dataDir, propsPath) {
  const pid = Number(readTextFile(pidPath(dataDir)));
  if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) return null;
  const args = commandLine(pid);
  return args.includes("kafka.Kafka") && args.includes(propsPath) ? pid : null;
}

function commandLine(pid) {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    // No /proc (macOS): ps prints the arguments joined by spaces, good enough for includes().
    try {
      return execFileSync("ps", ["-o", "args=", "-p", String(pid)], { encoding: "utf8" }).split(/\s+/);
    } catch {
      return [];
    }
  }
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return err.code === "EPERM";
  }
  // A zombie still has a pid but is gone for our purposes (e.g. under an init that does not reap).
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true;
  }
}

async function killPid(pid) {
  const signalIfRunning = (signal) => {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  };
  signalIfRunning("SIGTERM");
  if (await pollUntil(() => !isRunning(pid), STOP_GRACE_MS)) return;
  signalIfRunning("SIGKILL");
  await pollUntil(() => !isRunning(pid), STOP_GRACE_MS);
}

// ---------------------------------------------------------------------------------------------
// Topics
// ---------------------------------------------------------------------------------------------

/**
 * One broker: no copies. Three or more: replication factor 3 and min.insync.replicas 2, the
 * setting under which Jepsen found acks=all writes survive the loss of a broker.
 */
function withReplication(wanted, brokerCount) {
  if (brokerCount < REPLICATED_CLUSTER_BROKERS) return wanted.map((t) => ({ ...t, replicationFactor: 1 }));
  return wanted.map((t) => ({
    ...t,
    replicationFactor: CLUSTER_REPLICATION_FACTOR,
    configEntries: [
      { name: "min.insync.replicas", value: String(CLUSTER_MIN_INSYNC_REPLICAS) },
      { name: "unclean.leader.election.enable", value: "false" },
    ],
  }));
}

/** Creates whatever is missing; retried because a just-started KRaft broker may not accept it yet. */
async function createMissingTopics(admin, wanted, deadline) {
  const created = [];
  for (;;) {
    const existing = new Set(await admin.listTopics());
    const missing = wanted.filter((t) => !existing.has(t.topic));
    if (missing.length === 0) return created;
    try {
      // Resolves false (no error) when a parallel caller created them first.
      if (await admin.createTopics({ topics: missing, waitForLeaders: false })) {
        created.push(...missing.map((t) => t.topic));
      }
    } catch (err) {
      const alreadyExists = err.errors?.every((e) => e.type === "TOPIC_ALREADY_EXISTS");
      if (!alreadyExists && Date.now() >= deadline) {
        throw new Error(
          `[kafka] could not create topics ${missing.map((t) => t.topic).join(", ")}: ${err.message}`,
        );
      }
      if (!alreadyExists) await sleep(POLL_INTERVAL_MS);
    }
  }
}

async function waitForLeaders(admin, wanted, deadline) {
  const topics = wanted.map((t) => t.topic);
  let lastProblem = "no metadata yet";
  while (Date.now() < deadline) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      const leaderless = metadata.topics.filter((t) => t.partitions.some((p) => p.leader < 0));
      if (leaderless.length === 0) {
        const counts = new Map(metadata.topics.map((t) => [t.name, t.partitions.length]));
        // KRaft publishes a leader in metadata slightly before that broker serves the partition (a first
        // produce then gets NOT_LEADER); ListOffsets is answered by the leader itself, so it proves it is.
        await Promise.all(topics.map((topic) => admin.fetchTopicOffsets(topic)));
        return topics.map((topic) => ({ topic, partitions: counts.get(topic) }));
      }
      lastProblem = `no leader yet for ${leaderless.map((t) => t.name).join(", ")}`;
    } catch (err) {
      lastProblem = err.message; // e.g. LEADER_NOT_AVAILABLE right after creation
    }
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`[kafka] topics not ready within ${TOPICS_READY_TIMEOUT_MS} ms: ${lastProblem}`);
}

/** An existing topic keeps its partition count: adding partitions would move keys (user ids) between them. */
function warnOnPartitionMismatch(wanted, actual, log) {
  const counts = new Map(actual.map((t) => [t.topic, t.partitions]));
  for (const { topic, numPartitions } of wanted) {
    const found = counts.get(topic);
    if (found !== numPartitions) {
      log(
        `[kafka] warning: topic ${topic} has ${found} partitions, expected ${numPartitions} (reset the data to fix)`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

function splitBrokers(brokers) {
  const list = String(brokers)
    .split(",")
    .map((b) => b.trim())
    .filter(Boolean);
  if (list.length === 0)
    throw new Error("[kafka] no broker address given (expected host:port[,host:port...])");
  for (const broker of list) parseHostPort(broker);
  return list;
}

function parseHostPort(broker) {
  const colon = broker.lastIndexOf(":");
  const host = broker.slice(0, colon);
  const port = Number(broker.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`[kafka] invalid broker address "${broker}" (expected host:port)`);
  }
  return { host, port };
}

function javaBin() {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, "bin", "java") : "java";
}

function classpath() {
  return path.join(LIBS_DIR, "*"); // expanded by java itself, not by a shell
}

/** What a failed execFile printed, for error messages. */
function childOutput(err) {
  return `${err.stdout ?? ""}${err.stderr ?? ""}`.trim();
}

function readTextFile(file) {
  try {
    return fs.readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function pollUntil(condition, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await sleep(POLL_INTERVAL_MS);
  }
  return condition();
}

/** Resolves true when `exited` settles within `ms`, without keeping the event loop alive afterwards. */
function exitsWithin(exited, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    exited.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function withTimeout(promise, ms, what) {
  promise.catch(() => {}); // if the timeout wins, a later rejection must not become "unhandled"
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function once(fn) {
  let result;
  return () => {
    result ??= fn();
    return result;
  };
}

function seconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

// ---------------------------------------------------------------------------------------------
// CLI
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: node infra/kafka/broker.mjs [start|stop|topics] [--brokers N]
  start   use the broker at KAFKA_BROKERS or start one (local only); stay in the foreground until Ctrl-C
          --brokers 3: a 3-node cluster on KAFKA_BROKERS' ports (or the first port and the next ones),
          replication factor 3, min.insync.replicas 2
  stop    stop a broker that 'start' left running for KAFKA_BROKERS (e.g. after its parent was killed)
  topics  create the contract topics at KAFKA_BROKERS (KAFKA_TOPIC_PREFIX is put before each name)`;

async function cliStart(brokerCount) {
  const kafka = await ensureKafka({ topicPrefix: process.env.KAFKA_TOPIC_PREFIX ?? "", brokerCount });
  console.log(`[kafka] ${kafka.brokers} is ready; press Ctrl-C to ${kafka.started ? "stop it" : "exit"}`);
  const keepAlive = setInterval(() => {}, 1 << 30); // the no-op stop() holds nothing open by itself
  let stopping = false;
  const shutdown = async () => {
    stopping = true;
    await kafka.stop();
    clearInterval(keepAlive);
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  kafka.exited?.then(({ code, signal }) => {
    if (stopping) return;
    console.error(`[kafka] the broker exited by itself (exit code ${code}, signal ${signal})`);
    process.exit(1);
  });
}

async function cliStop(brokerCount) {
  const { port } = parseHostPort(splitBrokers(process.env.KAFKA_BROKERS ?? DEFAULT_BROKERS)[0]);
  const dataDir = path.resolve(process.env.KAFKA_DATA_DIR ?? defaultDataDir(port));
  if (brokerCount > 1) {
    for (let id = 1; id <= brokerCount; id++) await cliStopDataDir(path.join(dataDir, `node-${id}`));
    return;
  }
  await cliStopDataDir(dataDir);
}

async function cliStopDataDir(dataDir) {
  const pid = ourBrokerPid(dataDir, path.join(dataDir, "server.properties"));
  if (!pid) {
    console.log(`[kafka] no broker of ours is running for ${dataDir}`);
    return;
  }
  await killPid(pid);
  fs.rmSync(pidPath(dataDir), { force: true });
  console.log(`[kafka] stopped broker pid ${pid}`);
}

async function cliTopics() {
  const topics = await createTopics({ topicPrefix: process.env.KAFKA_TOPIC_PREFIX ?? "" });
  for (const { topic, partitions } of topics) console.log(`${topic}\t${partitions} partitions`);
}

async function main(argv) {
  const flag = argv.indexOf("--brokers");
  const brokerCount = flag >= 0 ? Number(argv[flag + 1]) : 1;
  const rest = flag >= 0 ? argv.filter((_, i) => i !== flag && i !== flag + 1) : argv;
  const command = rest[0] ?? "start";
  const commands = { start: cliStart, stop: cliStop, topics: cliTopics };
  if (!commands[command] || !Number.isInteger(brokerCount) || brokerCount < 1) {
    console.error(USAGE);
    process.exit(2);
  }
  await commands[command](brokerCount);
}

function isMainModule() {
  try {
    return fs.realpathSync(process.argv[1] ?? "") === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMainModule()) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
