/**
 * Points lifecycle benchmark (issue 14; `npm run bench -- --only lifecycle`, not a test).
 *
 * 1. Spends and balance reads with and without expiring lots, in the same run: two groups of
 *    BENCH_LIFECYCLE_MEMBERS members with the same 20 lots of 100 points each, written with SQL;
 *    one group's lots never expire, the other's carry an expires_at (30 days ahead and later, so
 *    none falls due during the run). Autocannon at 10 connections, GET balance then POST spend
 *    (1 point), cycling over the group's members, the two groups alternating for
 *    BENCH_LIFECYCLE_PAIRS pairs; medians reported.
 * 2. Recording BENCH_LIFECYCLE_EXPIRIES expiries: that many lots (10 per member), all due a minute
 *    ago, written with the ledger stopped; then the ledger starts and its scheduler records them
 *    (expire_due commands through the one-writer path). Timed from the start of the ledger process
 *    until no account is due and no unspent lot is past its expiry.
 */
import pg from "pg";
import { type LoadResult, median, runLoad } from "./lib/load";
import { ADMIN_TOKEN, type BenchStack, startBenchStack } from "./lib/stack";

const MEMBERS = Number(process.env.BENCH_LIFECYCLE_MEMBERS ?? 1_000);
const LOTS_PER_MEMBER = 20;
const LOT_POINTS = 100;
const EXPIRIES = Number(process.env.BENCH_LIFECYCLE_EXPIRIES ?? 1_000_000);
const EXPIRY_LOTS_PER_MEMBER = 10;
const PAIRS = Number(process.env.BENCH_LIFECYCLE_PAIRS ?? 2);
const CONNECTIONS = 10;
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const PORT = Number(process.env.BENCH_PORT ?? 18080);
const POLL_MS = 500;
const EXPIRY_WAIT_MS_MAX = 60 * 60_000;
const log = (m: string) => process.stderr.write(`[bench lifecycle] ${m}\n`);

/**
 * Members with consistent rows (account, payer balance, lots) as the ledger would have left them.
 * `expiresSql`: the lots' expires_at, in terms of the member number m and lot number a.
 */
async function seedMembers(
  db: pg.Client,
  prefix: string,
  count: number,
  lotsPer: number,
  expiresSql: string,
): Promise<void> {
  const members = `generate_series(0, ${count - 1}) m`;
  await db.query(
    `INSERT INTO members (loyalty_id, client_name, client_birthday)
     SELECT '${prefix}' || m, 'Bench ' || m, '1990-01-01'::date FROM ${members}`,
  );
  await db.query(
    `INSERT INTO lots (user_id, arrival, entry_id, payer, ts, points, remaining, adjusted, expires_at)
     SELECT '${prefix}' || m, a, gen_random_uuid(), 'P0', '2025-01-01T00:00:00Z'::timestamptz + a * interval '1 hour',
            ${LOT_POINTS}, ${LOT_POINTS}, 0, ${expiresSql}
       FROM ${members}, generate_series(1, ${lotsPer}) a`,
  );
  await db.query(
    `INSERT INTO payer_balances (user_id, payer, available, adjusted, first_seen, first_seen_at)
     SELECT user_id, payer, sum(remaining), 0, min(arrival), min(ts) FROM lots
      WHERE user_id LIKE '${prefix}%' GROUP BY 1, 2`,
  );
  await db.query(
    `INSERT INTO accounts (user_id, seq, next_arrival, total, next_expiry)
     SELECT user_id, count(*), max(arrival) + 1, sum(remaining), min(expires_at) FROM lots
      WHERE user_id LIKE '${prefix}%' GROUP BY 1`,
  );
  await db.query("VACUUM ANALYZE lots, accounts, payer_balances");
}

function cycle(prefix: string, body?: string) {
  let i = 0;
  return () => {
    const user = `${prefix}${i++ % MEMBERS}`;
    return body === undefined
      ? { path: `/v1/users/${user}/balance` }
      : { path: `/v1/users/${user}/spend`, body, method: "POST" as const };
  };
}

async function load(stack: BenchStack, prefix: string, kind: "balance" | "spend"): Promise<LoadResult> {
  const next = kind === "balance" ? cycle(prefix) : cycle(prefix, JSON.stringify({ points: 1 }));
  const options = {
    url: stack.url,
    method: "GET" as const,
    connections: CONNECTIONS,
    token: ADMIN_TOKEN,
    next,
  };
  await runLoad({ ...options, durationS: 2 }); // warm-up (and the cache's first reads)
  return runLoad({ ...options, durationS: DURATION_S });
}

type Group = "never" | "expiring";
const GROUP_PREFIX: Record<Group, string> = { never: "n", expiring: "x" };

async function readsAndSpends(stack: BenchStack) {
  const runs: Record<string, LoadResult[]> = {};
  for (let pair = 0; pair < PAIRS; pair++) {
    const order: Group[] = pair % 2 === 0 ? ["never", "expiring"] : ["expiring", "never"];
    for (const kind of ["balance", "spend"] as const) {
      for (const group of order) {
        const r = await load(stack, GROUP_PREFIX[group], kind);
        const name = `${kind}, lots ${group === "never" ? "never expiring" : "expiring"}`;
        runs[name] = [...(runs[name] ?? []), r];
        log(
          `${name}: ${Math.round(r.reqPerS)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, non-2xx ${r.non2xx}`,
        );
      }
    }
  }
  return Object.fromEntries(
    Object.entries(runs).map(([name, rs]) => [
      name,
      {
        reqPerS: Math.round(median(rs.map((r) => r.reqPerS))),
        p50Ms: median(rs.map((r) => r.p50Ms)),
        p99Ms: median(rs.map((r) => r.p99Ms)),
        non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      },
    ]),
  );
}

async function recordExpiries(stack: BenchStack, db: pg.Client) {
  const members = Math.ceil(EXPIRIES / EXPIRY_LOTS_PER_MEMBER);
  await stack.stop("ledger");
  log(`seeding ${EXPIRIES.toLocaleString()} due lots over ${members.toLocaleString()} members`);
  await seedMembers(db, "e", members, EXPIRY_LOTS_PER_MEMBER, "now() - interval '1 minute'");
  const pending = async () =>
    (
      await db.query<{ n: number }>(
        `SELECT (SELECT count(*)::int FROM accounts WHERE user_id LIKE 'e%' AND next_due <= now())
              + (SELECT count(*)::int FROM lots WHERE user_id LIKE 'e%' AND remaining > 0 AND expires_at <= now()) AS n`,
      )
    ).rows[0]!.n;
  const started = performance.now();
  await stack.start("ledger");
  const deadline = Date.now() + EXPIRY_WAIT_MS_MAX;
  while ((await pending()) > 0) {
    if (Date.now() > deadline) throw new Error("the expiries were not recorded in time");
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  const seconds = (performance.now() - started) / 1_000;
  const { rows } = await db.query<{ entries: number; expired: string }>(
    `SELECT (SELECT count(*)::int FROM entries WHERE user_id LIKE 'e%' AND type = 'expire') AS entries,
            (SELECT sum(expired)::text FROM lots WHERE user_id LIKE 'e%') AS expired`,
  );
  const right = Number(rows[0]!.expired) === EXPIRIES * LOT_POINTS && rows[0]!.entries === members;
  log(
    `${EXPIRIES.toLocaleString()} expiries recorded in ${seconds.toFixed(1)} s (${right ? "all" : "NOT all"})`,
  );
  if (!right) process.exitCode = 1;
  return {
    lots: EXPIRIES,
    members,
    seconds,
    lotsPerS: Math.round(EXPIRIES / seconds),
    expireEntries: rows[0]!.entries,
  };
}

export async function lifecycleBench(): Promise<void> {
  const stack = await startBenchStack("lifecycle", PORT);
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    log(`seeding 2 x ${MEMBERS.toLocaleString()} members with ${LOTS_PER_MEMBER} lots each`);
    await seedMembers(db, GROUP_PREFIX.never, MEMBERS, LOTS_PER_MEMBER, "NULL");
    await seedMembers(
      db,
      GROUP_PREFIX.expiring,
      MEMBERS,
      LOTS_PER_MEMBER,
      "now() + interval '30 days' + (m * 20 + a) * interval '1 minute'",
    );
    await stack.start("ledger");
    await stack.start("gateway");
    const http = await readsAndSpends(stack);
    const expiries = await recordExpiries(stack, db);
    const summary = {
      members: MEMBERS,
      lotsPerMember: LOTS_PER_MEMBER,
      durationS: DURATION_S,
      pairs: PAIRS,
      http,
      expiries,
    };
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } finally {
    await db.end();
    await stack.shutdown();
  }
}
