import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureDatabase, migrate } from "@points/shared/db";
import {
  type ExitRecord,
  freePort,
  freePortPair,
  type Log,
  PrivateKafka,
  PrivatePostgres,
  PrivateRedis,
  REPO_ROOT,
  ServiceProcess,
  sleep,
  waitUntil,
} from "./infra";

/**
 * The whole system under test on private infrastructure: Postgres, Redis, Kafka, one gateway,
 * one or more ledger instances and (when the service exists) one ingest instance.
 */
export const EXTRA_LEDGERS_MAX = 2;
const GATEWAY_READY_MS = 90_000;

export function ingestAvailable(): boolean {
  return existsSync(join(REPO_ROOT, "services/ingest/src/main.ts"));
}

export interface StackOptions {
  dir: string;
  tag: string;
  ingest: boolean;
  /** 1: one broker; 3: a KRaft cluster with replication factor 3 and min.insync.replicas 2. */
  brokers: number;
  log: Log;
}

export class ChaosStack {
  readonly pg: PrivatePostgres;
  readonly redis: PrivateRedis;
  readonly kafka: PrivateKafka;
  readonly adminToken = `chaos_admin_${randomBytes(16).toString("hex")}`;
  readonly commandSigningKeys = `chaos:${randomBytes(32).toString("hex")}`;
  readonly topicPrefix: string;
  readonly redisKeyPrefix: string;
  readonly ledgerGroup: string;
  readonly ingestGroup: string;
  readonly gatewayPort: number;
  gateway!: ServiceProcess;
  ingest: ServiceProcess | undefined;
  /** ledgers[0] is the long-lived instance; the others are extras started by scale-out faults. */
  ledgers: ServiceProcess[] = [];
  readonly unexpectedExits: ExitRecord[] = [];
  private extraCount = 0;
  private readonly logDir: string;

  private constructor(
    private readonly options: StackOptions,
    ports: { pg: number; redis: number; kafka: number[]; controllers?: number[]; gateway: number },
  ) {
    const { dir, tag, log } = options;
    this.logDir = join(dir, "logs");
    mkdirSync(this.logDir, { recursive: true });
    this.pg = new PrivatePostgres(dir, ports.pg);
    this.redis = new PrivateRedis(dir, ports.redis);
    this.topicPrefix = `chaos${tag}.`;
    this.redisKeyPrefix = `chaos${tag}:`;
    this.ledgerGroup = `chaos${tag}.ledger`;
    this.ingestGroup = `chaos${tag}.ingest`;
    this.kafka = new PrivateKafka(dir, ports.kafka, ports.controllers, this.topicPrefix, log);
    this.gatewayPort = ports.gateway;
  }

  static async create(options: StackOptions): Promise<ChaosStack> {
    const cluster = options.brokers > 1;
    const freePorts = async (n: number) => {
      const ports: number[] = [];
      while (ports.length < n) {
        const port = await freePort();
        if (!ports.includes(port)) ports.push(port);
      }
      return ports;
    };
    const kafkaPorts = cluster ? await freePorts(2 * options.brokers) : [await freePortPair()];
    const ports = {
      pg: await freePort(),
      redis: await freePort(),
      kafka: kafkaPorts.slice(0, options.brokers),
      ...(cluster ? { controllers: kafkaPorts.slice(options.brokers) } : {}),
      gateway: await freePort(),
    };
    return new ChaosStack(options, ports);
  }

  get gatewayUrl(): string {
    return `http://127.0.0.1:${this.gatewayPort}`;
  }

  get databaseUrl(): string {
    return this.pg.url("points");
  }

  get ingestEnabled(): boolean {
    return this.options.ingest;
  }

  /** Environment every service process gets. */
  serviceEnv(): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redis.url,
      KAFKA_BROKERS: this.kafka.brokers,
      KAFKA_TOPIC_PREFIX: this.topicPrefix,
      REDIS_KEY_PREFIX: this.redisKeyPrefix,
      LEDGER_GROUP_ID: this.ledgerGroup,
      INGEST_GROUP_ID: this.ingestGroup,
      ADMIN_TOKEN: this.adminToken,
      COMMAND_SIGNING_KEYS: this.commandSigningKeys,
      PORT: String(this.gatewayPort),
      METRICS_PORT: "0",
      LOG_LEVEL: "warn",
    };
  }

  async startInfrastructure(): Promise<void> {
    const { log } = this.options;
    log(`private Postgres on ${this.pg.port}, Redis on ${this.redis.port}, Kafka on ${this.kafka.brokers}`);
    await this.pg.init();
    await Promise.all([this.pg.start(), this.redis.start(), this.kafka.start()]);
    await ensureDatabase(this.databaseUrl);
    await migrate(this.databaseUrl);
  }

  async startServices(): Promise<void> {
    this.ledgers.push(this.newService("ledger-1", "ledger"));
    this.gateway = this.newService("gateway", "gateway");
    if (this.options.ingest) this.ingest = this.newService("ingest", "ingest");
    for (const s of this.services()) s.start();
    await waitUntil(
      async () => (await fetch(`${this.gatewayUrl}/health`)).status === 200,
      GATEWAY_READY_MS,
      "gateway /health",
    );
  }

  services(): ServiceProcess[] {
    return [this.gateway, ...this.ledgers, ...(this.ingest ? [this.ingest] : [])].filter(Boolean);
  }

  extraLedgers(): ServiceProcess[] {
    return this.ledgers.slice(1);
  }

  /** Starts one more ledger instance in the same consumer group (a partition rebalance). */
  addLedger(): ServiceProcess | undefined {
    if (this.extraLedgers().length >= EXTRA_LEDGERS_MAX) return undefined;
    this.extraCount += 1;
    const ledger = this.newService(`ledger-x${this.extraCount}`, "ledger");
    this.ledgers.push(ledger);
    ledger.start();
    return ledger;
  }

  async removeLedger(ledger: ServiceProcess, signal: NodeJS.Signals): Promise<void> {
    await ledger.retire(signal);
    this.ledgers = this.ledgers.filter((l) => l !== ledger);
  }

  /** Every service process stopped (SIGTERM, then SIGKILL after a grace), then the infrastructure. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.services().map((s) => s.retire("SIGTERM")));
    await sleep(100);
    await Promise.allSettled([
      this.kafka.stop("SIGTERM"),
      this.redis.kill(),
      this.pg.stop("immediate").catch(() => {}),
    ]);
  }

  private newService(instance: string, service: "gateway" | "ledger" | "ingest"): ServiceProcess {
    // Each service connects to Kafka as its own principal.
    const { username, password } = this.kafka.sasl(service);
    const env = { ...this.serviceEnv(), KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password };
    return new ServiceProcess(instance, service, env, this.logDir, (exit) => {
      this.unexpectedExits.push(exit);
      this.options.log(
        `  ! ${exit.instance} exited on its own (${exit.signal ?? `code ${exit.code}`}); restarting it`,
      );
    });
  }
}
