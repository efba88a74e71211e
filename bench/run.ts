// `npm run bench`: the performance suite of issue #7. Starts its own stack (fresh database and
// topic prefix on the machine's Postgres/Redis and a real Kafka), runs each scenario RUNS times,
// and writes bench/results/<date>.json, bench/results/latest.md and bench/results/latest.svg.
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { topicNames } from "@points/shared";
import { CommandSigningKeys, signingProducer } from "@points/shared/command-auth";
import { createKafka } from "@points/shared/kafka";
import { REPO_ROOT } from "@points/testing/infra";
import { Partitioners } from "kafkajs";
import pg from "pg";
import { type LoadResult, median, medianOf, runLoad } from "./lib/load";
import { type Row, renderChart, renderTable } from "./lib/report";
import { ADMIN_TOKEN, type BenchStack, machineLimits, startBenchStack } from "./lib/stack";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const USERS = 1_000;
const DRAIN_USERS = 10_000;
const DRAIN_COMMANDS = Number(process.env.BENCH_DRAIN_COMMANDS ?? 200_000);
const GROWTH_LOTS = 100_000;
const BIG_TABLE_LOTS = 1_000_000;
const GROWTH_SPENDS = 300;
const log = (m: string) => process.stderr.write(`[bench] ${m}\n`);

async function api(stack: BenchStack, method: string, path: string, body?: unknown) {
  const res = await fetch(`${stack.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function seed(stack: BenchStack, db: pg.Client): Promise<void> {
  await api(stack, "POST", "/v1/partners", { id: "BENCH" });
  await db.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'u' || i, 'Member ' || i, '1990-01-01'::date FROM generate_series(0, ${DRAIN_USERS - 1}) i
     UNION ALL SELECT 'f' || i, 'Filler ' || i, '1990-01-01'::date FROM generate_series(0, 99) i
     UNION ALL VALUES ('hot', 'Hot', '1990-01-01'::date), ('lots100k', 'Many lots', '1990-01-01'::date), ('lots10', 'Few lots', '1990-01-01'::date)`,
  );
  const users = [...Array.from({ length: USERS }, (_, i) => `u${i}`), "hot"];
  for (let i = 0; i < users.length; i += 50) {
    await Promise.all(
      users.slice(i, i + 50).map((u) =>
        api(stack, "POST", `/v1/users/${u}/transactions`, {
          payer: "BENCH",
          points: u === "hot" ? 1_000_000_000 : 10_000_000,
          timestamp: "2022-01-01T00:00:00Z",
        }),
      ),
    );
  }
}

function cycle(paths: string[], body?: string) {
  let i = 0;
  return () => ({ path: paths[i++ % paths.length]!, ...(body ? { body } : {}) });
}

async function httpScenarios(stack: BenchStack) {
  const users = Array.from({ length: USERS }, (_, i) => `u${i}`);
  const scenarios: Record<string, () => Promise<LoadResult>> = {
    "GET balance (50 conns, 1,000 users)": () =>
      runLoad({
        url: stack.url,
        method: "GET",
        connections: 50,
        durationS: DURATION_S,
        token: ADMIN_TOKEN,
        next: cycle(users.map((u) => `/v1/users/${u}/balance`)),
      }),
    "sync spend (20 conns, 1,000 users)": () =>
      runLoad({
        url: stack.url,
        method: "POST",
        connections: 20,
        durationS: DURATION_S,
        token: ADMIN_TOKEN,
        next: cycle(
          users.map((u) => `/v1/users/${u}/spend`),
          '{"points":1}',
        ),
      }),
    "sync spend (20 conns, one hot user)": () =>
      runLoad({
        url: stack.url,
        method: "POST",
        connections: 20,
        durationS: DURATION_S,
        token: ADMIN_TOKEN,
        next: cycle(["/v1/users/hot/spend"], '{"points":1}'),
      }),
    "sync transactions (20 conns, 1,000 users)": () =>
      runLoad({
        url: stack.url,
        method: "POST",
        connections: 20,
        durationS: DURATION_S,
        token: ADMIN_TOKEN,
        next: cycle(
          users.map((u) => `/v1/users/${u}/transactions`),
          '{"payer":"BENCH","points":1,"timestamp":"2022-06-01T00:00:00Z"}',
        ),
      }),
  };
  const results: Record<string, LoadResult & { runs: LoadResult[] }> = {};
  for (const [name, run] of Object.entries(scenarios)) {
    const runs: LoadResult[] = [];
    for (let r = 0; r < RUNS; r++) {
      runs.push(await run());
      log(
        `${name} run ${r + 1}: ${Math.round(runs[r]!.reqPerS)} req/s p99 ${runs[r]!.p99Ms} ms non2xx ${runs[r]!.non2xx}`,
      );
    }
    results[name] = { ...medianOf(runs), runs };
  }
  return results;
}

/**
 * Every hot-user answer must be right: each applied spend took exactly 1 point, the points gone
 * equal the spend entries, and every 2xx the load generator counted is among them (requests
 * still in flight when a run ended may be applied without being counted).
 */
async function hotUserCorrect(db: pg.Client, spent2xx: number): Promise<boolean> {
  const { rows } = await db.query(
    `SELECT a.total, count(e.*)::int AS spends, bool_and(e.amount = -1) AS all_one
       FROM accounts a LEFT JOIN entries e ON e.user_id = a.user_id AND e.type = 'spend'
      WHERE a.user_id = 'hot' GROUP BY a.total`,
  );
  const { total, spends, all_one } = rows[0];
  return BigInt(total) === 1_000_000_000n - BigInt(spends) && all_one !== false && spends >= spent2xx;
}

async function drain(stack: BenchStack, db: pg.Client): Promise<number[]> {
  // Produces as the gateway does: its principal, every command signed (contract 3).
  const kafka = createKafka(
    "bench",
    stack.env.KAFKA_BROKERS!.split(","),
    undefined,
    stack.kafkaSasl("gateway"),
  );
  const topic = topicNames(stack.env.KAFKA_TOPIC_PREFIX!).commands;
  const producer = signingProducer(
    kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner }),
    CommandSigningKeys.parse(stack.env.COMMAND_SIGNING_KEYS),
    topic,
  );
  await producer.connect();
  const perS: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    await stack.stop("ledger");
    const { rows } = await db.query("SELECT count(*)::int AS n FROM commands");
    const before = rows[0].n as number;
    for (let i = 0; i < DRAIN_COMMANDS; i += 2_000) {
      const messages = Array.from({ length: Math.min(2_000, DRAIN_COMMANDS - i) }, (_, j) =>
        drainCommand(i + j),
      );
      await producer.send({
        topic,
        messages: messages.map((c) => ({ key: c.user_id, value: JSON.stringify(c) })),
      });
    }
    const started = performance.now();
    await stack.start("ledger");
    for (;;) {
      const { rows: now } = await db.query("SELECT count(*)::int AS n FROM commands");
      if (now[0].n - before >= DRAIN_COMMANDS) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    perS.push(DRAIN_COMMANDS / ((performance.now() - started) / 1000));
    log(
      `drain run ${r + 1}: ${Math.round(perS[r]!)} commands/s (includes the ledger's start and group join)`,
    );
  }
  await producer.disconnect();
  return perS;
}

function drainCommand(n: number) {
  const user = `u${n % DRAIN_USERS}`;
  const base = {
    v: 1,
    command_id: randomUUID(),
    user_id: user,
    actor: { role: "admin", id: "admin" },
    request_hash: "bench",
    sent_at: Date.now(),
  };
  return n % 5 === 4
    ? { ...base, type: "spend", points: 1, authority_id: "admin", render: "spend" }
    : {
        ...base,
        type: "earn",
        payer: "BENCH",
        points: 100,
        timestamp: "2022-03-01T00:00:00Z",
        authority_id: "admin",
        render: "transaction",
      };
}

/** Lots written directly (consistent account, payer and lots rows): 100,000 HTTP earns would only be slower. */
async function insertLots(db: pg.Client, user: string, lots: number): Promise<void> {
  await db.query(
    `INSERT INTO lots (user_id, arrival, entry_id, payer, ts, points, remaining, adjusted)
     SELECT $1, i, gen_random_uuid(), 'BENCH', '2022-01-01Z'::timestamptz + i * interval '1 second', 10, 10, 0
       FROM generate_series(1, $2) i`,
    [user, lots],
  );
  await db.query(
    `INSERT INTO accounts (user_id, seq, next_arrival, total) VALUES ($1, 1, $2 + 1, $2 * 10)
     ON CONFLICT (user_id) DO UPDATE SET next_arrival = excluded.next_arrival, total = excluded.total`,
    [user, lots],
  );
  await db.query(
    `INSERT INTO payer_balances VALUES ($1, 'BENCH', $2 * 10, 0, 1)
     ON CONFLICT (user_id, payer) DO UPDATE SET available = excluded.available`,
    [user, lots],
  );
}

async function spendLatency(stack: BenchStack, user: string): Promise<number> {
  const p50s: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const res = await runLoadCount(stack, user);
    p50s.push(res);
  }
  return median(p50s);
}

async function runLoadCount(stack: BenchStack, user: string): Promise<number> {
  const latencies: number[] = [];
  for (let i = 0; i < GROWTH_SPENDS; i++) {
    const t = performance.now();
    await api(stack, "POST", `/v1/users/${user}/spend`, { points: 1 });
    latencies.push(performance.now() - t);
  }
  return median(latencies);
}

async function growth(stack: BenchStack, db: pg.Client) {
  await insertLots(db, "lots100k", GROWTH_LOTS);
  await insertLots(db, "lots10", 10);
  const small = await spendLatency(stack, "lots10");
  const large = await spendLatency(stack, "lots100k");
  log(`spend p50: 10 lots ${small.toFixed(2)} ms, 100,000 lots ${large.toFixed(2)} ms`);
  const filler = Math.ceil(BIG_TABLE_LOTS / 10_000);
  for (let i = 0; i < filler; i++) await insertLots(db, `f${i}`, 10_000);
  await db.query("ANALYZE lots");
  const bigTable = await spendLatency(stack, "lots10");
  log(`spend p50 with a ${BIG_TABLE_LOTS.toLocaleString()}-row lots table: ${bigTable.toFixed(2)} ms`);
  return { small, large, bigTable };
}

async function main(): Promise<void> {
  const limits = machineLimits();
  log(
    `machine: redis GET ${Math.round(limits.redisGetPerS)}/s, pgbench -N ${Math.round(limits.pgbenchTps)} tps`,
  );
  const stack = await startBenchStack("perf");
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    await stack.start("ledger");
    await stack.start("gateway");
    await seed(stack, db);
    const http = await httpScenarios(stack);
    const hot = http["sync spend (20 conns, one hot user)"]!;
    const hotOk = await hotUserCorrect(
      db,
      hot.runs.reduce((s, r) => s + r.total2xx, 0),
    );
    const drainRates = await drain(stack, db);
    const growthFigures = await growth(stack, db);
    const rss = stack.peakRssMb();
    const rows = buildRows(http, hotOk, median(drainRates), growthFigures, rss);
    writeReport(rows, limits, { http, drainRates, growthFigures, rss, hotOk });
  } finally {
    await db.end();
    await stack.shutdown();
  }
}

function buildRows(
  http: Record<string, LoadResult>,
  hotOk: boolean,
  drainPerS: number,
  g: { small: number; large: number; bigTable: number },
  rss: Record<string, number>,
): Row[] {
  const httpRow = (scenario: string, name: string, target: number | null, p99Target: number | null): Row => ({
    scenario,
    value: http[name]!.reqPerS,
    unit: "req/s",
    target,
    p99: http[name]!.p99Ms,
    p99Target,
  });
  const rows: Row[] = [
    httpRow("GET balance, 50 conns", "GET balance (50 conns, 1,000 users)", 16_000, 10),
    httpRow("sync spend, 1,000 users", "sync spend (20 conns, 1,000 users)", 2_000, 50),
    httpRow(
      `sync spend, one hot user${hotOk ? "" : " (ANSWERS WRONG)"}`,
      "sync spend (20 conns, one hot user)",
      1_000,
      100,
    ),
    httpRow("sync transactions, 1,000 users", "sync transactions (20 conns, 1,000 users)", null, null),
    {
      scenario: "ledger drain (200k commands)",
      value: drainPerS,
      unit: "commands/s",
      target: 20_000,
      p99: null,
      p99Target: null,
    },
    {
      scenario: "spend p50, 100,000 lots vs 10 lots",
      value: g.large / g.small,
      unit: "x",
      target: 2,
      lowerIsBetter: true,
      p99: null,
      p99Target: null,
      note: `${g.large.toFixed(2)} ms vs ${g.small.toFixed(2)} ms`,
    },
    {
      scenario: "spend p50, 1M-row lots table vs small",
      value: g.bigTable / g.small,
      unit: "x",
      target: 2,
      lowerIsBetter: true,
      p99: null,
      p99Target: null,
      note: `${g.bigTable.toFixed(2)} ms vs ${g.small.toFixed(2)} ms`,
    },
  ];
  for (const [name, mb] of Object.entries(rss)) {
    rows.push({
      scenario: `peak RSS ${name}`,
      value: mb,
      unit: "MB",
      target: 150,
      lowerIsBetter: true,
      p99: null,
      p99Target: null,
    });
  }
  return rows;
}

function writeReport(rows: Row[], limits: { redisGetPerS: number; pgbenchTps: number }, raw: unknown): void {
  const dir = join(REPO_ROOT, "bench/results");
  mkdirSync(dir, { recursive: true });
  const date = new Date().toISOString().slice(0, 10);
  const machine = {
    redisGetPerS: Math.round(limits.redisGetPerS),
    pgbenchTps: Math.round(limits.pgbenchTps),
    runs: RUNS,
    durationS: DURATION_S,
  };
  writeFileSync(join(dir, `${date}.json`), `${JSON.stringify({ date, machine, rows, raw }, null, 2)}\n`);
  const table = renderTable(rows, machine);
  writeFileSync(join(dir, "latest.md"), table);
  writeFileSync(join(dir, "latest.svg"), renderChart(rows));
  process.stdout.write(`${table}\n`);
}

// `npm run bench -- --only reports`: just the accounting reports scenario (bench/reports-bench.ts).
const only = process.argv.indexOf("--only");
if (only >= 0 && process.argv[only + 1] === "reports") {
  await (await import("./reports-bench")).reportsBench();
} else {
  await main();
}
