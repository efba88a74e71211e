/**
 * Accounting reports benchmark (issue 15; `npm run bench -- --only reports`, not a test): loads
 * BENCH_REPORT_MEMBERS members' lots (BENCH_REPORT_LOTS lots over 200 payers, spread over the
 * last 400 days at random, half expiring after 365 days; a member's lots go to a few payers)
 * directly with SQL, derives their payer balances
 * and report figures as the ledger would have kept them, then measures with autocannon at 10
 * connections: the payer report for a year (all payers) and the members report's first page.
 * Then the ledger drain with and without the figure writes, alternating, in the same run.
 *
 * BENCH_KEEP_DATABASE=1 (with BENCH_DATABASE) reuses what an earlier run loaded: loading 10M lots
 * takes about half an hour on a shared 2-core machine.
 *
 * The member register (`members`) is filled only for the drain's users: the reports never read
 * it. Kafka partitions in the loaded figures are a hash of the user id modulo 12 (the ledger
 * uses the producer's partitioner; only the spread matters here).
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { type LoadResult, median, runLoad } from "./lib/load";
import { ADMIN_TOKEN, type BenchStack, gatewayCommandProducer, startBenchStack } from "./lib/stack";

const MEMBERS = Number(process.env.BENCH_REPORT_MEMBERS ?? 1_000_000);
const LOTS = Number(process.env.BENCH_REPORT_LOTS ?? 10_000_000);
const PAYERS = 200;
const PARTITIONS = 12;
const LOAD_CHUNK_LOTS = 1_000_000;
const CONNECTIONS = 10;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 10);
const DRAIN_USERS = 10_000;
const DRAIN_COMMANDS = Number(process.env.BENCH_REPORT_DRAIN_COMMANDS ?? 30_000);
const DRAIN_PAIRS = Number(process.env.BENCH_REPORT_DRAIN_PAIRS ?? 2);
const DAY_MS = 86_400_000;
const log = (m: string) => process.stderr.write(`[bench reports] ${m}\n`);

const payerId = (sql: string) => `'P' || lpad((${sql})::text, 3, '0')`;

async function timed<T>(what: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const out = await run();
  log(`${what}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return out;
}

/** Lots with their parts as the core would leave them (spent, expired), indexes built after. */
async function loadLots(db: pg.Client): Promise<void> {
  const { rows: indexes } = await db.query<{ name: string; def: string }>(
    `SELECT indexname AS name, indexdef AS def FROM pg_indexes WHERE tablename = 'lots' AND indexname <> 'lots_pkey'`,
  );
  for (const i of indexes) await db.query(`DROP INDEX ${i.name}`);
  await db.query(
    `INSERT INTO partners (id, name, signing_secret)
     SELECT ${payerId("i")}, 'Payer ' || i, 'bench' FROM generate_series(0, ${PAYERS - 1}) i`,
  );
  for (let start = 0; start < LOTS; start += LOAD_CHUNK_LOTS) {
    const end = Math.min(LOTS, start + LOAD_CHUNK_LOTS) - 1;
    await timed(`lots ${start.toLocaleString()}..${end.toLocaleString()}`, () =>
      db.query(
        `INSERT INTO lots (user_id, arrival, entry_id, payer, ts, points, remaining, adjusted, expires_at, expired)
         SELECT user_id, arrival, gen_random_uuid(), payer, ts, 100,
                CASE WHEN expires_at <= now() THEN 0 ELSE 100 - spent END, 0, expires_at,
                CASE WHEN expires_at <= now() THEN 100 - spent ELSE 0 END
           FROM (SELECT 'm' || (n % ${MEMBERS}) AS user_id, n / ${MEMBERS} + 1 AS arrival,
                        ${payerId(`((n % ${MEMBERS}) * 13 + (n / ${MEMBERS}) * 7) % ${PAYERS}`)} AS payer,
                        ts, CASE WHEN n % 2 = 0 THEN ts + interval '365 days' END AS expires_at,
                        (n % 4) * 25 AS spent
                   FROM generate_series(${start}, ${end}) n,
                        LATERAL (SELECT date_trunc('day', now()) - interval '400 days'
                                        + floor(random() * 400) * interval '1 day' + (n % 86400) * interval '1 second' AS ts) t) l`,
      ),
    );
  }
  for (const i of indexes) await timed(`index ${i.name}`, () => db.query(i.def));
}

/** What the ledger keeps: payer balances (outstanding) and the figures per partition/payer/period. */
async function deriveFigures(db: pg.Client): Promise<void> {
  await timed("payer_balances", () =>
    db.query(
      `INSERT INTO payer_balances (user_id, payer, available, adjusted, first_seen, held, first_seen_at)
       SELECT user_id, payer, sum(remaining), 0, min(arrival), 0, min(ts) FROM lots GROUP BY 1, 2`,
    ),
  );
  // The members report's count (migration 015), per the same partition hash as the figures.
  await timed("report_holders", () =>
    db.query(
      `INSERT INTO report_holders (payer, kafka_partition, holders)
       SELECT payer, abs(hashtext(user_id)) % ${PARTITIONS}, count(*) FROM payer_balances
        WHERE outstanding > 0 GROUP BY 1, 2`,
    ),
  );
  await timed("report_figures", async () => {
    await db.query(
      `CREATE TEMP TABLE fig_days AS
       SELECT abs(hashtext(user_id)) % ${PARTITIONS} AS kafka_partition, payer, day,
              sum(earned) AS earned, sum(spent) AS spent, sum(expired) AS expired
         FROM (SELECT user_id, payer, (ts AT TIME ZONE 'UTC')::date AS day, points AS earned,
                      points - remaining - expired AS spent, 0 AS expired FROM lots
               UNION ALL
               SELECT user_id, payer, (expires_at AT TIME ZONE 'UTC')::date, 0, 0, expired
                 FROM lots WHERE expired > 0) m
        GROUP BY 1, 2, 3`,
    );
    await db.query(
      `INSERT INTO report_figures (kafka_partition, payer, span, period, earned, spent, expired)
       SELECT kafka_partition, payer, s.span, date_trunc(s.span, day::timestamp)::date,
              sum(earned), sum(spent), sum(expired)
         FROM fig_days CROSS JOIN (VALUES ('day'), ('month'), ('year')) AS s(span)
        GROUP BY 1, 2, 3, 4`,
    );
    // As the ledger keeps them (migration 014): each partition's totals carried forward to every
    // day it had a movement, for every payer it had before, and those days recorded as carried.
    await db.query(
      `INSERT INTO report_totals (kafka_partition, payer, day, earned, adjusted, spent, spend_reversed,
                                  earn_reversed, expired, held)
       SELECT g.kafka_partition, g.payer, g.day, sum(coalesce(f.earned, 0)) OVER w, 0,
              sum(coalesce(f.spent, 0)) OVER w, 0, 0, sum(coalesce(f.expired, 0)) OVER w, 0
         FROM (SELECT p.kafka_partition, p.payer, d.day
                 FROM (SELECT kafka_partition, payer, min(day) AS first FROM fig_days GROUP BY 1, 2) p
                 JOIN (SELECT DISTINCT kafka_partition, day FROM fig_days) d
                   ON d.kafka_partition = p.kafka_partition AND d.day >= p.first) g
         LEFT JOIN fig_days f USING (kafka_partition, payer, day)
       WINDOW w AS (PARTITION BY g.kafka_partition, g.payer ORDER BY g.day)
       -- The order the ledger creates them: each day, a partition's rows at once (its carry).
       -- Ordered by payer first, the rows of one (partition, day) sat on 200 different pages.
       ORDER BY g.day, g.kafka_partition, g.payer`,
    );
    await db.query("INSERT INTO report_carried SELECT DISTINCT kafka_partition, day FROM fig_days");
  });
  await timed("vacuum analyze", () =>
    db.query("VACUUM ANALYZE lots, payer_balances, report_figures, report_totals, report_carried"),
  );
}

function cycle(paths: string[]) {
  let i = 0;
  return () => ({ path: paths[i++ % paths.length]! });
}

async function reads(stack: BenchStack): Promise<Record<string, LoadResult>> {
  const today = new Date().toISOString().slice(0, 10);
  const yearAgo = new Date(Date.now() - 364 * DAY_MS).toISOString().slice(0, 10);
  const payers = Array.from({ length: PAYERS }, (_, i) => `P${String(i).padStart(3, "0")}`);
  const scenarios = {
    [`payer report, a year (${yearAgo}..${today}), all payers`]: [
      `/v1/reports/payers?from=${yearAgo}&to=${today}`,
    ],
    "payer report, calendar year 2025, all payers": ["/v1/reports/payers?from=2025-01-01&to=2025-12-31"],
    // Each connection asks a different period at any moment, so no two reads are shared
    // (coalesce.ts): the cost of reports that differ.
    "payer report, 100 distinct periods (a year each, cycling), all payers": Array.from(
      { length: 100 },
      (_, i) => {
        const from = new Date(Date.now() - (364 + i) * DAY_MS).toISOString().slice(0, 10);
        const to = new Date(Date.now() - i * DAY_MS).toISOString().slice(0, 10);
        return `/v1/reports/payers?from=${from}&to=${to}`;
      },
    ),
    "members report, first page (cycling payers)": payers.map((p) => `/v1/reports/payers/${p}/members`),
  };
  const out: Record<string, LoadResult> = {};
  for (const [name, paths] of Object.entries(scenarios)) {
    const probe = await fetch(`${stack.url}${paths[0]}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    if (probe.status !== 200) throw new Error(`${name}: ${probe.status} ${await probe.text()}`);
    await runLoad({
      url: stack.url,
      method: "GET",
      connections: CONNECTIONS,
      durationS: 2,
      token: ADMIN_TOKEN,
      next: cycle(paths),
    });
    out[name] = await runLoad({
      url: stack.url,
      method: "GET",
      connections: CONNECTIONS,
      durationS: DURATION_S,
      token: ADMIN_TOKEN,
      next: cycle(paths),
    });
    log(
      `${name}: p50 ${out[name]!.p50Ms} ms, p99 ${out[name]!.p99Ms} ms, ${Math.round(out[name]!.reqPerS)} req/s, non-2xx ${out[name]!.non2xx}`,
    );
  }
  return out;
}

function drainCommand(n: number) {
  const base = {
    v: 1,
    command_id: randomUUID(),
    user_id: `d${n % DRAIN_USERS}`,
    actor: { role: "admin", id: "admin" },
    request_hash: "bench",
    sent_at: Date.now(),
  };
  return n % 5 === 4
    ? { ...base, type: "spend", points: 1, authority_id: "admin", render: "spend" }
    : {
        ...base,
        type: "earn",
        payer: `P${String(n % PAYERS).padStart(3, "0")}`,
        points: 100,
        timestamp: "2026-01-01T00:00:00Z",
        authority_id: "admin",
        render: "transaction",
      };
}

/**
 * The figure writes skipped: a BEFORE INSERT trigger drops every row the maintained figures would
 * insert (report_figures, report_totals, report_carried, report_holders; an upsert's row is
 * dropped before its conflict check, so nothing is updated either).
 */
async function setFigures(db: pg.Client, on: boolean): Promise<void> {
  for (const table of ["report_figures", "report_totals", "report_carried", "report_holders"]) {
    await db.query(
      on
        ? `DROP TRIGGER IF EXISTS bench_skip_figures ON ${table}`
        : `DROP TRIGGER IF EXISTS bench_skip_figures ON ${table};
           CREATE OR REPLACE FUNCTION bench_skip_figures() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
           CREATE TRIGGER bench_skip_figures BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION bench_skip_figures()`,
    );
  }
}

async function drainOnce(
  stack: BenchStack,
  db: pg.Client,
  send: (n: number) => Promise<void>,
): Promise<number> {
  await stack.stop("ledger");
  const count = async () =>
    (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM commands")).rows[0]!.n;
  const before = await count();
  await send(DRAIN_COMMANDS);
  const started = performance.now();
  await stack.start("ledger");
  while ((await count()) - before < DRAIN_COMMANDS) await new Promise((r) => setTimeout(r, 100));
  return DRAIN_COMMANDS / ((performance.now() - started) / 1000);
}

async function drains(stack: BenchStack, db: pg.Client): Promise<{ with: number[]; without: number[] }> {
  await db.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT 'd' || i, 'Drain ' || i, '1990-01-01'::date FROM generate_series(0, ${DRAIN_USERS - 1}) i
     ON CONFLICT DO NOTHING`,
  );
  const { producer, topic } = gatewayCommandProducer(stack, "bench");
  await producer.connect();
  let sent = 0;
  const send = async (total: number) => {
    for (let i = 0; i < total; i += 2_000) {
      const messages = Array.from({ length: Math.min(2_000, total - i) }, () => drainCommand(sent++));
      await producer.send({
        topic,
        messages: messages.map((c) => ({ key: c.user_id, value: JSON.stringify(c) })),
      });
    }
  };
  const out = { with: [] as number[], without: [] as number[] };
  await stack.start("ledger");
  for (let r = 0; r < DRAIN_PAIRS; r++) {
    for (const on of r % 2 === 0 ? [true, false] : [false, true]) {
      await setFigures(db, on);
      const perS = await drainOnce(stack, db, send);
      (on ? out.with : out.without).push(perS);
      log(`drain ${on ? "with" : "without"} figures: ${Math.round(perS)} commands/s`);
    }
  }
  await setFigures(db, true);
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM report_figures WHERE payer LIKE 'P%' AND span = 'day' AND period = current_date",
  );
  log(`today's day rows (the drain's movements count on the day applied): ${rows[0]!.n}`);
  await producer.disconnect();
  return out;
}

export async function reportsBench(): Promise<void> {
  const stack = await startBenchStack("reports", Number(process.env.BENCH_PORT ?? 18080));
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    const { rows: loaded } = await db.query<{ any: boolean }>("SELECT EXISTS (SELECT 1 FROM lots) AS any");
    if (loaded[0]!.any) log("reusing the lots, balances and figures already loaded (BENCH_KEEP_DATABASE)");
    else {
      log(`loading ${MEMBERS.toLocaleString()} members' ${LOTS.toLocaleString()} lots over ${PAYERS} payers`);
      await loadLots(db);
      await deriveFigures(db);
    }
    const { rows } = await db.query<{ figures: number; balances: number }>(
      `SELECT (SELECT count(*)::int FROM report_figures) AS figures, (SELECT count(*)::int FROM payer_balances) AS balances`,
    );
    log(
      `report_figures rows: ${rows[0]!.figures.toLocaleString()}, payer_balances rows: ${rows[0]!.balances.toLocaleString()}`,
    );
    await stack.start("gateway");
    const http = await reads(stack);
    const drain = process.env.BENCH_REPORT_SKIP_DRAIN ? null : await drains(stack, db);
    const summary = {
      members: MEMBERS,
      lots: LOTS,
      payers: PAYERS,
      reads: http,
      drain: drain && {
        withPerS: median(drain.with),
        withoutPerS: median(drain.without),
        cost: 1 - median(drain.with) / median(drain.without),
        runs: drain,
      },
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    await db.end();
    await stack.shutdown();
  }
}
