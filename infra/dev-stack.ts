// The body of `npm start` (see start.mjs): infrastructure, migrations, the three services with
// prefixed logs, then the URLs and dev tokens. Ctrl-C stops everything it started.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { CommonConfig, parseConfig } from "@points/shared";
import { ensureDatabase, migrate } from "@points/shared/db";
import {
  ensurePostgres,
  ensureRedis,
  type KafkaCredentials,
  loadBrokerModule,
  redact,
} from "@points/testing/infra";
import { buildConsole } from "../packages/console/scripts/build.mjs";
import { buildServices, serviceNodeFlags } from "./build.mjs";
import { forgetRunningStack, logLineFormatter, portTakenMessage, recordRunningStack } from "./operator";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = join(ROOT, ".cache");
const HEALTH_WAIT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const COLORS = { gateway: 36, ledger: 33, ingest: 35 } as const;
type Service = keyof typeof COLORS;

const log = (m: string) => console.log(`\x1b[1m[start]\x1b[0m ${m}`);

function adminToken(): string {
  if (process.env.ADMIN_TOKEN) return process.env.ADMIN_TOKEN;
  // Generated once and kept, so the printed token stays valid across restarts of the dev stack.
  const file = join(CACHE, "dev-admin-token");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(CACHE, { recursive: true });
  const token = `adm_${randomBytes(24).toString("base64url")}`;
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}

/** COMMAND_SIGNING_KEYS (contract 3): from the environment, else generated once and kept, like the admin token. */
function commandSigningKeys(): string {
  if (process.env.COMMAND_SIGNING_KEYS) return process.env.COMMAND_SIGNING_KEYS;
  const file = join(CACHE, "command-signing-keys");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(CACHE, { recursive: true });
  const keys = `dev1:${randomBytes(32).toString("hex")}`;
  writeFileSync(file, `${keys}\n`, { mode: 0o600 });
  return keys;
}

/** What a partner needs to produce partner.transactions (README, "Security"). */
function writePartnerKafkaConfig(brokers: string, credentials: KafkaCredentials): string {
  const file = join(CACHE, "kafka-partner.json");
  const { username, password } = credentials.partner;
  const config = { brokers: brokers.split(","), mechanism: "scram-sha-512", username, password };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}

function startService(name: Service, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(process.execPath, [...serviceNodeFlags(name), `services/${name}/dist/main.mjs`], {
    cwd: ROOT,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const prefix = `\x1b[${COLORS[name]}m${name.padEnd(7)}|\x1b[0m `;
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on("line", (line) =>
      process.stdout.write(`${prefix}${formatLine(line)}\n`),
    );
  }
  child.on("exit", (code, signal) => {
    if (!stopping) {
      log(`${name} exited (${signal ?? code}); stopping the stack`);
      void stopAll(1);
    }
  });
  return child;
}

async function waitForHealth(url: string): Promise<void> {
  const deadline = Date.now() + HEALTH_WAIT_MS;
  while (Date.now() < deadline) {
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`gateway did not report healthy at ${url}/health within ${HEALTH_WAIT_MS} ms`);
}

/** Dev tokens: a demo partner and member, (re)issued at every start since tokens are shown once. */
async function devTokens(url: string, admin: string) {
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${admin}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, string> }));
  const created = await call("POST", "/v1/partners", { id: "DEMO", name: "Demo partner" });
  const partner =
    created.status === 201 ? created.body.token : (await call("POST", "/v1/partners/DEMO/tokens")).body.token;
  await call("POST", "/v1/members", {
    loyalty_id: "demo-member",
    client_name: "Demo Member",
    client_birthday: "1990-01-01",
  });
  const member = (await call("POST", "/v1/members/demo-member/tokens")).body.token;
  // An SDK config file for the demo partner (packages/sdk/README.md, examples/partner-example.ts).
  const config = { base_url: url, authority_id: "DEMO", token: partner };
  writeFileSync(join(CACHE, "demo-partner.json"), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return { partner, member };
}

const children = new Map<Service, ChildProcess>();
let stopKafka: () => Promise<void> = async () => {};
let stopping = false;
const formatLine = logLineFormatter();

async function stopAll(code: number): Promise<never> {
  stopping = true;
  log("stopping...");
  await Promise.all(
    [...children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
  await stopKafka().catch(() => {});
  forgetRunningStack(CACHE);
  log("stopped");
  process.exit(code);
}

async function main(): Promise<void> {
  const parsed = parseConfig(CommonConfig, process.env);
  if (!parsed.ok) throw new Error(parsed.message);
  const config = parsed.config;
  const port = process.env.PORT ?? "8080";
  const taken = await portTakenMessage(CACHE, Number(port));
  if (taken) {
    log(taken);
    process.exit(0);
  }
  await ensurePostgres(config.DATABASE_URL.replace(/\/[^/?]*(\?|$)/, "/postgres$1"), log);
  await ensureRedis(config.REDIS_URL, log);
  const broker = await loadBrokerModule();
  const kafka = await broker.ensureKafka({ brokers: config.KAFKA_BROKERS.join(","), log: (m) => log(m) });
  stopKafka = kafka.stop;
  await ensureDatabase(config.DATABASE_URL);
  await migrate(config.DATABASE_URL, log);
  log(`database ${redact(config.DATABASE_URL)} is migrated`);

  await buildServices(undefined, log);
  await buildConsole(log);
  const admin = adminToken();
  const env = {
    ...process.env,
    ADMIN_TOKEN: admin,
    PORT: port,
    KAFKA_BROKERS: kafka.brokers,
    COMMAND_SIGNING_KEYS: commandSigningKeys(),
  };
  // Each service connects as its own Kafka principal, with only its own ACLs.
  for (const name of ["ledger", "ingest", "gateway"] as const) {
    const { username, password } = kafka.credentials[name];
    children.set(
      name,
      startService(name, { ...env, KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password }),
    );
  }
  const partnerKafka = writePartnerKafkaConfig(kafka.brokers, kafka.credentials);
  const url = `http://127.0.0.1:${port}`;
  await waitForHealth(url);
  recordRunningStack(CACHE, url);
  const tokens = await devTokens(url, admin);
  console.log(`
  Points ledger is running.
    API      ${url}
    Console  ${url}/console/    (sign in with ADMIN_TOKEN or the DEMO partner token)
    Docs     ${url}/docs          (OpenAPI: ${url}/openapi.json)
    Health   ${url}/health
    Kafka    ${kafka.brokers}${kafka.started ? " (started by npm start)" : " (already running)"}

  Dev tokens (Authorization: Bearer <token>):
    ADMIN_TOKEN           ${admin}
    partner DEMO          ${tokens.partner}
    member  demo-member   ${tokens.member}
    SDK config for DEMO   .cache/demo-partner.json

  Kafka partner principal (SASL/SCRAM-SHA-512; may only write partner.transactions):
    username              ${kafka.credentials.partner.username}
    password              ${kafka.credentials.partner.password}
    config file           ${partnerKafka.replace(`${ROOT}/`, "")}

  Ctrl-C stops everything npm start started.
`);
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stopAll(0));
main().catch((err) => {
  console.error(`[start] ${err instanceof Error ? err.message : String(err)}`);
  void stopAll(1);
});
