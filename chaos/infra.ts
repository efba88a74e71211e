import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { postgresAnswers, redisAnswers } from "@points/testing/infra";
import { Redis } from "ioredis";
import pg from "pg";

/**
 * The chaos run's own infrastructure: a private Postgres cluster, a private redis-server and a
 * private Kafka broker, each on a free loopback port, so that restarting them never touches the
 * machine's shared servers. Every process started here is registered for clean-up, and a
 * process 'exit' hook kills whatever is still alive even when the run dies half-way.
 */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const execFileAsync = promisify(execFile);
const LOOPBACK = "127.0.0.1";
const READY_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
const STOP_GRACE_MS = 15_000;
/** A service that keeps dying is restarted at most this many times (a crash loop ends the run's patience). */
const SUPERVISED_RESTARTS_MAX = 100;

export type Log = (message: string) => void;

// --- Clean-up registry --------------------------------------------------------------------------

/** Synchronous killers, run by the 'exit' hook for anything still registered. */
const killers = new Map<string, () => void>();
let hookInstalled = false;

export function registerCleanup(id: string, kill: () => void): void {
  killers.set(id, kill);
  if (hookInstalled) return;
  hookInstalled = true;
  process.on("exit", runAllKillersSync);
  // A signal skips 'exit' hooks: kill our processes, then let the signal do what it would have
  // done (re-raised when nobody else listens, e.g. a test worker being torn down).
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    const onSignal = () => {
      runAllKillersSync();
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

export function unregisterCleanup(id: string): void {
  killers.delete(id);
}

/** Last resort: kills every process this module still knows about, synchronously. */
export function runAllKillersSync(): void {
  for (const [id, kill] of [...killers]) {
    try {
      kill();
    } catch {
      // Already gone; nothing else can be done from an exit hook.
    }
    killers.delete(id);
  }
}

function killPidSync(pid: number | undefined, signal: NodeJS.Signals = "SIGKILL"): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

// --- Helpers ------------------------------------------------------------------------------------

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: LOOPBACK }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A free port whose port+1000 is free too (the Kafka launcher prefers it for its controller). */
export async function freePortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await freePort();
    if (port + 1000 <= 65_535 && (await portIsFree(port + 1000))) return port;
  }
  return freePort();
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: LOOPBACK, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(POLL_MS);
  }
  throw new Error(`${what} not ready within ${timeoutMs} ms`);
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

async function exitsWithin(child: ChildProcess, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  const done = await Promise.race([exitOf(child).then(() => true), timeout]);
  clearTimeout(timer);
  return done;
}

// --- Postgres -----------------------------------------------------------------------------------

function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return join(root, versions[0], "bin");
  try {
    return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
  } catch {
    throw new Error("no Postgres server binaries found (set PG_BIN to the directory holding initdb)");
  }
}

/** initdb refuses root: as root, the cluster belongs to the `postgres` OS user. */
function asClusterOwner(bin: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
}

export class PrivatePostgres {
  private readonly bin = postgresBinDir();
  readonly dataDir: string;

  constructor(
    parentDir: string,
    readonly port: number,
  ) {
    this.dataDir = join(parentDir, "pg");
  }

  url(database = "postgres"): string {
    return `postgres://postgres@${LOOPBACK}:${this.port}/${database}`;
  }

  async init(): Promise<void> {
    mkdirSync(this.dataDir, { recursive: true });
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
      chownSync(this.dataDir, uid, gid);
    }
    const [cmd, args] = asClusterOwner(join(this.bin, "initdb"), [
      "-D",
      this.dataDir,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-sync",
    ]);
    await execFileAsync(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
  }

  async start(): Promise<void> {
    // fsync=off: the faults here are process crashes, not power loss; WAL written to the kernel
    // survives a SIGKILL of every postgres process, so committed data is still recovered.
    const options = [
      `-p ${this.port}`,
      `-k ${this.dataDir}`,
      `-c listen_addresses=${LOOPBACK}`,
      "-c fsync=off",
      "-c max_connections=200",
    ].join(" ");
    const [cmd, args] = asClusterOwner(join(this.bin, "pg_ctl"), [
      "-D",
      this.dataDir,
      "-o",
      options,
      "-l",
      join(this.dataDir, "server.log"),
      "-w",
      "-t",
      "60",
      "start",
    ]);
    await execFileAsync(cmd, args);
    registerCleanup(`pg:${this.port}`, () => this.stopSync());
    await waitUntil(() => postgresAnswers(this.url()), READY_TIMEOUT_MS, "private Postgres");
  }

  /** fast: clean shutdown; immediate: like a crash (recovery from WAL on the next start). */
  async stop(mode: "fast" | "immediate"): Promise<void> {
    const [cmd, args] = asClusterOwner(join(this.bin, "pg_ctl"), [
      "-D",
      this.dataDir,
      "-m",
      mode,
      "-w",
      "-t",
      "60",
      "stop",
    ]);
    await execFileAsync(cmd, args);
    unregisterCleanup(`pg:${this.port}`);
  }

  /**
   * SIGSTOP of the postmaster, then of every child it has (backends, walwriter, checkpointer...),
   * for `ms`, then SIGCONT: Postgres hangs without closing a connection, unlike a restart.
   * The postmaster first, so it forks no backend that would escape the stall.
   */
  async stall(ms: number): Promise<number> {
    const postmaster = this.postmasterPid();
    killPidSync(postmaster, "SIGSTOP");
    const stopped = [postmaster, ...childrenOf(postmaster)];
    const resume = () => {
      for (const pid of stopped) killPidSync(pid, "SIGCONT");
    };
    registerCleanup(`pg-stall:${this.port}`, resume);
    try {
      for (const pid of stopped.slice(1)) killPidSync(pid, "SIGSTOP");
      await sleep(ms);
    } finally {
      resume();
      unregisterCleanup(`pg-stall:${this.port}`);
    }
    return stopped.length;
  }

  /**
   * pg_terminate_backend of the connections named `applicationName`, from the server side. Waits
   * up to `waitMs` for at least one of them to be inside a transaction, so the kill lands mid-
   * transaction when the load allows; returns how many were terminated and how many were mid-transaction.
   */
  async terminateBackends(
    applicationName: string,
    waitMs: number,
  ): Promise<{ killed: number; inTransaction: number }> {
    const client = new pg.Client({ connectionString: this.url(), connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const { rows } = await client.query<{ pid: number; in_tx: boolean }>(
          `SELECT pid, xact_start IS NOT NULL AS in_tx FROM pg_stat_activity
            WHERE application_name = $1 AND pid <> pg_backend_pid()`,
          [applicationName],
        );
        const inTransaction = rows.filter((r) => r.in_tx).length;
        if ((inTransaction > 0 || Date.now() >= deadline) && rows.length > 0) {
          await client.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [
            rows.map((r) => r.pid),
          ]);
          return { killed: rows.length, inTransaction };
        }
        if (Date.now() >= deadline) return { killed: 0, inTransaction: 0 };
        await sleep(5);
      }
    } finally {
      await client.end().catch(() => {});
    }
  }

  private postmasterPid(): number {
    const pid = Number(readFileSync(join(this.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error("assertion: no postmaster pid");
    return pid;
  }

  private stopSync(): void {
    const [cmd, args] = asClusterOwner(join(this.bin, "pg_ctl"), [
      "-D",
      this.dataDir,
      "-m",
      "immediate",
      "-w",
      "stop",
    ]);
    execFileSync(cmd, args, { stdio: "ignore" });
  }
}

/** Direct children of `pid`, by pgrep -P (only this run's own postmaster is ever asked about). */
function childrenOf(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return []; // pgrep exits 1 when there are none
  }
}

// --- Redis --------------------------------------------------------------------------------------

export class PrivateRedis {
  private child: ChildProcess | undefined;

  constructor(
    private readonly dir: string,
    readonly port: number,
  ) {}

  get url(): string {
    return `redis://${LOOPBACK}:${this.port}`;
  }

  async start(): Promise<void> {
    const logFd = openSync(join(this.dir, "redis.log"), "a");
    const args = ["--port", String(this.port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"];
    const child = spawn("redis-server", [...args, "--dir", this.dir, "--daemonize", "no"], {
      stdio: ["ignore", logFd, logFd],
    });
    closeSync(logFd);
    this.child = child;
    registerCleanup(`redis:${this.port}`, () => killPidSync(child.pid));
    await waitUntil(() => redisAnswers(this.url), READY_TIMEOUT_MS, "private Redis");
  }

  /**
   * CLIENT PAUSE WRITE: every write (SET, scripts, PUBLISH) waits inside Redis, unexecuted; a
   * client that disconnects meanwhile loses its waiting commands. (SIGSTOP would not do: the
   * writes already sent would still run once the process continues.)
   */
  async pauseWrites(maxMs: number): Promise<void> {
    await this.admin(["PAUSE", String(maxMs), "WRITE"]);
  }

  async unpause(): Promise<void> {
    await this.admin(["UNPAUSE"]);
  }

  private async admin(args: string[]): Promise<void> {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1, connectTimeout: 2_000 });
    client.on("error", () => {});
    try {
      await client.call("CLIENT", ...args);
    } finally {
      client.disconnect();
    }
  }

  /** SIGKILL: nothing is saved, so the restart comes back empty (a flushed cache). */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill("SIGKILL");
    await exitOf(child);
    unregisterCleanup(`redis:${this.port}`);
    this.child = undefined;
  }
}

// --- Kafka --------------------------------------------------------------------------------------

export type KafkaPrincipal = "admin" | "gateway" | "ingest" | "ledger" | "partner";
export interface KafkaSaslOptions {
  mechanism: "scram-sha-512";
  username: string;
  password: string;
}

/** One node of a launcher-started cluster (see infra/kafka/broker.mjs, clusterNode). */
export interface BrokerNode {
  nodeId: number;
  port: number;
  readonly pid: number | undefined;
  readonly running: boolean;
  start(options?: { startTimeoutMs?: number }): Promise<void>;
  kill(signal?: "SIGKILL" | "SIGSTOP" | "SIGCONT"): Promise<void>;
  stop(): Promise<void>;
}
interface BrokerHandle {
  brokers: string;
  started: boolean;
  credentials: Record<KafkaPrincipal, { username: string; password: string }>;
  stop: () => Promise<void>;
  pid?: number;
  exited?: Promise<unknown>;
  nodes?: BrokerNode[];
}
interface BrokerModule {
  ensureKafka(options: {
    brokers: string;
    dataDir: string;
    log?: Log;
    topicPrefix?: string;
    brokerCount?: number;
    controllerPorts?: number[];
  }): Promise<BrokerHandle>;
}

/**
 * The chaos run's Kafka: one broker, or (brokerCount 3) a cluster of combined broker+controller
 * nodes with replication factor 3 and min.insync.replicas 2, whose nodes the faults kill, pause
 * and restart one at a time.
 */
export class PrivateKafka {
  private handle: BrokerHandle | undefined;
  /** The principals' credentials; kept across restarts (they live in the data dir). */
  private credentials: BrokerHandle["credentials"] | undefined;
  readonly dataDir: string;

  constructor(
    parentDir: string,
    private readonly ports: number[],
    private readonly controllerPorts: number[] | undefined,
    private readonly topicPrefix: string,
    private readonly log: Log,
  ) {
    this.dataDir = join(parentDir, "kafka");
  }

  get port(): number {
    return this.ports[0]!;
  }

  get brokerCount(): number {
    return this.ports.length;
  }

  get brokers(): string {
    return this.ports.map((p) => `${LOOPBACK}:${p}`).join(",");
  }

  /** The cluster's nodes (empty for a single broker). */
  get nodes(): BrokerNode[] {
    return this.handle?.nodes ?? [];
  }

  /** SASL options of one principal (contract 3: the broker refuses anonymous clients). */
  sasl(principal: KafkaPrincipal): KafkaSaslOptions {
    if (!this.credentials) throw new Error("Kafka has not been started yet");
    return { mechanism: "scram-sha-512", ...this.credentials[principal] };
  }

  async start(): Promise<void> {
    const module = (await import(
      pathToFileURL(join(REPO_ROOT, "infra/kafka/broker.mjs")).href
    )) as BrokerModule;
    const handle = await module.ensureKafka({
      brokers: this.brokers,
      dataDir: this.dataDir,
      log: this.log,
      topicPrefix: this.topicPrefix,
      brokerCount: this.brokerCount,
      ...(this.controllerPorts ? { controllerPorts: this.controllerPorts } : {}),
    });
    if (!handle.started || handle.pid === undefined) {
      throw new Error(`a Kafka broker already answered at ${this.brokers}; the chaos run needs its own`);
    }
    this.handle = handle;
    this.credentials = handle.credentials;
    const pid = handle.pid;
    // A cluster node's pid changes when a fault restarts it: read the pids when the hook runs.
    const nodes = handle.nodes;
    registerCleanup(`kafka:${this.port}`, () => {
      if (!nodes) return killPidSync(pid);
      for (const node of nodes) {
        killPidSync(node.pid, "SIGCONT");
        killPidSync(node.pid);
      }
    });
  }

  /** SIGTERM: controlled shutdown; SIGKILL: a crash (the next start waits for the old session). */
  async stop(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    if (signal === "SIGKILL") {
      if (handle.nodes) await Promise.all(handle.nodes.map((n) => n.kill("SIGKILL")));
      else {
        killPidSync(handle.pid, "SIGKILL");
        await handle.exited;
      }
    }
    await handle.stop(); // SIGTERM (SIGKILL after a grace period); releases the launcher's exit guards
    unregisterCleanup(`kafka:${this.port}`);
    this.handle = undefined;
  }
}

// --- Service processes --------------------------------------------------------------------------

export type ServiceName = "gateway" | "ledger" | "ingest";

export interface ExitRecord {
  instance: string;
  at: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * One service instance run as `node --import tsx services/<name>/src/main.ts`, supervised like a
 * process manager would: an exit nobody asked for is recorded and the process is started again
 * after a short delay. Kills that are part of the fault schedule are marked as expected first.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private expectingExit = false;
  private retired = false;
  private restartTimer: NodeJS.Timeout | undefined;
  starts = 0;

  constructor(
    readonly instance: string,
    private readonly service: ServiceName,
    private readonly env: Record<string, string>,
    private readonly logDir: string,
    private readonly onUnexpectedExit: (exit: ExitRecord) => void,
  ) {}

  get alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.retired || this.alive) return;
    const logFd = openSync(join(this.logDir, `${this.instance}.log`), "a");
    const script = join(REPO_ROOT, "services", this.service, "src", "main.ts");
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ["ignore", logFd, logFd],
    });
    closeSync(logFd);
    this.child = child;
    this.starts += 1;
    this.expectingExit = false;
    const id = `svc:${this.instance}:${child.pid}`;
    registerCleanup(id, () => killPidSync(child.pid));
    child.once("exit", (code, signal) => {
      unregisterCleanup(id);
      if (this.child !== child || this.expectingExit || this.retired) return;
      this.onUnexpectedExit({ instance: this.instance, at: Date.now(), code, signal });
      if (this.starts <= SUPERVISED_RESTARTS_MAX) this.restartTimer = setTimeout(() => this.start(), 1_000);
    });
  }

  /** Sends a signal as part of the fault schedule and waits for the exit (SIGKILL after a grace). */
  async kill(signal: NodeJS.Signals): Promise<void> {
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || !this.alive) return;
    this.expectingExit = true;
    child.kill(signal);
    if (!(await exitsWithin(child, STOP_GRACE_MS))) {
      child.kill("SIGKILL");
      await exitOf(child);
    }
  }

  /** Stops for good (no supervision restarts afterwards). */
  async retire(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    this.retired = true;
    await this.kill(signal);
  }
}
