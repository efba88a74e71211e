// `npm run bench -- --only scaleout` (issue 18): the ledger drain with 1, 2 and 4 ledger instances on
// the 12 partitions of ledger.commands, and sync transactions through 1 and 2 gateway instances.
//
// What this machine can show: that adding instances spreads partitions over them (the group
// rebalances, every partition keeps one owner, nothing is lost or doubled) and what the drain
// costs per instance. What it cannot show: a linear speed-up. Every instance, Postgres, Redis and
// Kafka share the same 2 cores, so once one ledger keeps Postgres busy, more instances only add
// contention; on separate machines the drain scales with instances up to the partition count.

import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "@points/testing/infra";
import pg from "pg";
import { serviceNodeFlags } from "../infra/build.mjs";
import { runLoad } from "./lib/load";
import { ADMIN_TOKEN, type BenchStack, gatewayCommandProducer, startBenchStack } from "./lib/stack";

const LEDGER_COUNTS = [1, 2, 4];
const GATEWAY_COUNTS = [1, 2];
const DRAIN_COMMANDS = Number(process.env.BENCH_SCALEOUT_COMMANDS ?? 60_000);
const DRAIN_USERS = 10_000;
const PRODUCE_CHUNK = 2_000;
const HTTP_CONNECTIONS = 20;
const HTTP_DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const HTTP_USERS = 1_000;
/** The stack's gateway port (BENCH_PORT, default 18080); extra gateways listen from +100 on. */
const STACK_PORT = Number(process.env.BENCH_PORT ?? 18_080);
const GATEWAY_BASE_PORT = STACK_PORT + 100;
const POLL_MS = 100;
const log = (m: string) => process.stderr.write(`[bench scaleout] ${m}\n`);

export interface ScaleoutFigures {
  drain: { ledgers: number; commandsPerS: number; seconds: number }[];
  gateway: { gateways: number; reqPerS: number; p99Ms: number; non2xx: number }[];
  commands: number;
}

export async function runScaleout(): Promise<ScaleoutFigures> {
  const stack = await startBenchStack("scaleout", STACK_PORT);
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  const extra: ChildProcess[] = [];
  try {
    await stack.start("ledger");
    await stack.start("gateway");
    await seed(stack, db);
    await stack.stop("gateway");
    const drain = [];
    for (const n of LEDGER_COUNTS) drain.push(await drainWith(stack, db, n, extra));
    await stack.start("ledger");
    const gateway = [];
    for (const n of GATEWAY_COUNTS) gateway.push(await gatewaysWith(stack, n, extra));
    const figures = { drain, gateway, commands: DRAIN_COMMANDS };
    writeScaleoutReport(figures);
    return figures;
  } finally {
    for (const child of extra) child.kill("SIGTERM");
    await db.end();
    await stack.shutdown();
  }
}

async function seed(stack: BenchStack, db: pg.Client): Promise<void> {
  await fetch(`${stack.url}/v1/partners`, {
    method: "POST",
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ id: "BENCH" }),
  });
  await db.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'u' || i, 'Member ' || i, '1990-01-01'::date FROM generate_series(0, ${DRAIN_USERS - 1}) i`,
  );
}

/** All ledgers stopped, DRAIN_COMMANDS produced, then `n` instances started at once; until all are decided. */
async function drainWith(stack: BenchStack, db: pg.Client, n: number, extra: ChildProcess[]) {
  await stack.stop("ledger");
  const before = await commandCount(db);
  await produceCommands(stack);
  const started = performance.now();
  const ledgers = Array.from({ length: n - 1 }, () => spawnService(stack, "ledger"));
  extra.push(...ledgers);
  await stack.start("ledger");
  while ((await commandCount(db)) - before < DRAIN_COMMANDS) await sleep(POLL_MS);
  const seconds = (performance.now() - started) / 1000;
  for (const l of ledgers) await stopChild(l);
  await stack.stop("ledger");
  const commandsPerS = DRAIN_COMMANDS / seconds;
  log(
    `drain with ${n} ledger instance(s): ${Math.round(commandsPerS)} commands/s (${seconds.toFixed(1)} s, includes group join)`,
  );
  return { ledgers: n, commandsPerS, seconds };
}

/** Sync transactions, HTTP_CONNECTIONS split over `n` gateway processes. */
async function gatewaysWith(stack: BenchStack, n: number, extra: ChildProcess[]) {
  const gateways = Array.from({ length: n }, (_, i) => spawnService(stack, "gateway", GATEWAY_BASE_PORT + i));
  extra.push(...gateways);
  const urls = gateways.map((_, i) => `http://127.0.0.1:${GATEWAY_BASE_PORT + i}`);
  await Promise.all(urls.map(waitHealthy));
  const users = Array.from({ length: HTTP_USERS }, (_, i) => `u${i}`);
  let i = 0;
  const next = () => ({
    path: `/v1/users/${users[i++ % users.length]}/transactions`,
    body: '{"payer":"BENCH","points":1,"timestamp":"2022-06-01T00:00:00Z"}',
  });
  const results = await Promise.all(
    urls.map((url) =>
      runLoad({
        url,
        method: "POST",
        connections: HTTP_CONNECTIONS / n,
        durationS: HTTP_DURATION_S,
        token: ADMIN_TOKEN,
        next,
      }),
    ),
  );
  for (const g of gateways) await stopChild(g);
  const figure = {
    gateways: n,
    reqPerS: results.reduce((s, r) => s + r.reqPerS, 0),
    p99Ms: Math.max(...results.map((r) => r.p99Ms)),
    non2xx: results.reduce((s, r) => s + r.non2xx, 0),
  };
  log(
    `sync transactions through ${n} gateway(s): ${Math.round(figure.reqPerS)} req/s, p99 ${figure.p99Ms} ms`,
  );
  return figure;
}

async function produceCommands(stack: BenchStack): Promise<void> {
  const { producer, topic } = gatewayCommandProducer(stack, "bench-scaleout");
  await producer.connect();
  try {
    for (let i = 0; i < DRAIN_COMMANDS; i += PRODUCE_CHUNK) {
      const messages = Array.from({ length: Math.min(PRODUCE_CHUNK, DRAIN_COMMANDS - i) }, (_, j) =>
        earn(i + j),
      );
      await producer.send({
        topic,
        acks: -1,
        messages: messages.map((c) => ({ key: c.user_id, value: JSON.stringify(c) })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

function earn(n: number) {
  return {
    v: 1,
    command_id: randomUUID(),
    user_id: `u${n % DRAIN_USERS}`,
    actor: { role: "admin", id: "admin" },
    request_hash: "bench",
    sent_at: Date.now(),
    type: "earn",
    payer: "BENCH",
    points: 100,
    timestamp: "2022-03-01T00:00:00Z",
    authority_id: "admin",
    render: "transaction",
  };
}

/** One more instance of a service, as its own process, with the stack's environment and principal. */
function spawnService(stack: BenchStack, name: "ledger" | "gateway", port?: number): ChildProcess {
  const { username, password } = stack.kafkaSasl(name);
  return spawn(
    process.execPath,
    [...serviceNodeFlags(name), join(REPO_ROOT, `services/${name}/dist/main.mjs`)],
    {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...stack.env,
        ...(port ? { PORT: String(port) } : {}),
        KAFKA_SASL_USERNAME: username,
        KAFKA_SASL_PASSWORD: password,
      },
      stdio: ["ignore", "ignore", "inherit"],
    },
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
}

async function commandCount(db: pg.Client): Promise<number> {
  const { rows } = await db.query("SELECT count(*)::int AS n FROM commands");
  return rows[0].n as number;
}

async function waitHealthy(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(250);
  }
  throw new Error(`gateway ${url} did not become healthy`);
}

function writeScaleoutReport(f: ScaleoutFigures): void {
  const dir = join(REPO_ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const lines = [
    `# Scale-out (${new Date().toISOString().slice(0, 10)}, ${f.commands.toLocaleString()} commands, 12 partitions)`,
    "",
    "| ledger instances | drain (commands/s) | seconds |",
    "| ---: | ---: | ---: |",
    ...f.drain.map((d) => `| ${d.ledgers} | ${Math.round(d.commandsPerS)} | ${d.seconds.toFixed(1)} |`),
    "",
    `| gateway instances | sync transactions (req/s, ${HTTP_CONNECTIONS} conns) | p99 (ms) | non-2xx |`,
    "| ---: | ---: | ---: | ---: |",
    ...f.gateway.map((g) => `| ${g.gateways} | ${Math.round(g.reqPerS)} | ${g.p99Ms} | ${g.non2xx} |`),
    "",
  ];
  writeFileSync(join(dir, "scaleout-latest.md"), lines.join("\n"));
  process.stdout.write(`${lines.join("\n")}\n`);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
