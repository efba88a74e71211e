/**
 * Member register benchmark (not a test): loads MEMBERS_TOTAL members through POST /v1/members in
 * bulk requests against a gateway started here on a fresh database, then times list and search
 * pages at that size.
 *
 *   npx tsx bench/members-bench.ts
 *
 * Env: BENCH_POSTGRES_URL (a server admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * REDIS_URL (default redis://127.0.0.1:6379), BENCH_MEMBERS (default 100000),
 * BENCH_CONCURRENCY (bulk requests in flight, default 1). The database points_bench_members is
 * dropped and created at the start and kept afterwards, so its plans can be inspected.
 */
import { performance } from "node:perf_hooks";
import pg from "pg";
import { migrate } from "../packages/shared/src/db/migrate";
import { startTestApp, type TestApp } from "../services/gateway/src/test-app.test-support";

const DATABASE = "points_bench_members";
const MEMBERS_TOTAL = Number(process.env.BENCH_MEMBERS ?? 100_000);
const BULK_MEMBERS = 10_000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 1);
const SAMPLES = 50;
const WARMUP_REQUESTS = 10;
const PAGE_SIZE = 50;
const ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const FIRST = [
  "Anna",
  "Boris",
  "Chloe",
  "Dmitri",
  "Elena",
  "Farid",
  "Grace",
  "Hiro",
  "Ines",
  "Jonas",
  "Kira",
  "Liam",
];
const LAST = [
  "Petrova",
  "Smith",
  "Garcia",
  "Nakamura",
  "Okafor",
  "Novak",
  "Larsen",
  "Dubois",
  "Rossi",
  "Kowalski",
];

/** Deterministic data, so runs are comparable (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function makeMembers(n: number, seed: number) {
  const r = random(seed);
  const pick = <T>(list: T[]) => list[Math.floor(r() * list.length)]!;
  return Array.from({ length: n }, (_, i) => ({
    loyalty_id: `L${String(i).padStart(9, "0")}`,
    cardno: r() < 0.9 ? String(Math.floor(r() * 1e16)).padStart(16, "0") : null,
    discount: r() < 0.5 ? (Math.floor(r() * 3000) / 100).toFixed(2) : null,
    client_name: `${pick(FIRST)} ${pick(LAST)}-${Math.floor(r() * 100_000)}`,
    client_birthday: new Date(Date.UTC(1950, 0, 1) + Math.floor(r() * 55 * 365) * 86_400_000)
      .toISOString()
      .slice(0, 10),
    is_male: r() < 0.5,
  }));
}

async function freshDatabase(): Promise<string> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${DATABASE}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${DATABASE}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(ADMIN_URL);
  url.pathname = `/${DATABASE}`;
  await migrate(url.toString());
  return url.toString();
}

/** Sends every batch, CONCURRENCY at a time; answers members/s over the whole load. */
async function load(app: TestApp, members: unknown[], expect: "inserted" | "updated") {
  const batches: unknown[][] = [];
  for (let i = 0; i < members.length; i += BULK_MEMBERS) batches.push(members.slice(i, i + BULK_MEMBERS));
  const latencies: number[] = [];
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const batch = batches[next++]!;
      const t0 = performance.now();
      const res = await app.request("POST", "/v1/members", { token: app.adminToken, body: batch });
      latencies.push(performance.now() - t0);
      if (res.status !== 201 || res.body[expect] !== batch.length) {
        throw new Error(`bulk upsert answered ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = (performance.now() - started) / 1000;
  return { members_per_s: Math.round(members.length / seconds), seconds, request_ms: summary(latencies) };
}

async function timePages(app: TestApp, paths: string[]) {
  const get = async (path: string) => {
    const t0 = performance.now();
    const res = await app.request("GET", path, { token: app.adminToken });
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`);
    return { ms: performance.now() - t0, count: res.body.count as number };
  };
  for (const path of paths.slice(0, WARMUP_REQUESTS)) await get(path);
  const results = [];
  for (const path of paths) results.push(await get(path));
  const counts = results.map((r) => r.count).sort((a, b) => a - b);
  return { ...summary(results.map((r) => r.ms)), matches_median: counts[Math.floor(counts.length / 2)] };
}

function summary(ms: number[]) {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) => Number(sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!.toFixed(1));
  return { n: sorted.length, p50_ms: at(0.5), p99_ms: at(0.99), max_ms: at(1) };
}

async function main() {
  const databaseUrl = await freshDatabase();
  const app = await startTestApp({ databaseUrl, redisUrl: REDIS_URL, redisKeyPrefix: "bench-members:" });
  try {
    const members = makeMembers(MEMBERS_TOTAL, 1);
    const insert = await load(app, members, "inserted");
    const changed = members.map((m) => ({ ...m, client_name: `${m.client_name} x` }));
    const update = await load(app, changed, "updated");
    // A partner's nightly sync resends mostly unchanged members: matched, not rewritten.
    const resync_unchanged = await load(app, changed, "updated");
    // Steady state, as autovacuum reaches it soon after a load this size: fresh statistics and
    // the trigram indexes' pending lists merged (searches scan a pending list linearly).
    await app.pool.query("VACUUM (ANALYZE) members");
    const r = random(2);
    const term = (i: number) =>
      i % 2 === 0
        ? `${LAST[i % LAST.length]}-${Math.floor(r() * 1000)}`
        : String(Math.floor(r() * 1e5)).padStart(5, "0");
    const page = (q: string) => `/v1/members?page_size=${PAGE_SIZE}${q}`;
    const sample = (f: (i: number) => string) => Array.from({ length: SAMPLES }, (_, i) => page(f(i)));
    const report = {
      members: MEMBERS_TOTAL,
      bulk_request_members: BULK_MEMBERS,
      concurrency: CONCURRENCY,
      insert,
      update,
      resync_unchanged,
      search_selective: await timePages(
        app,
        sample((i) => `&search=${encodeURIComponent(term(i))}`),
      ),
      search_broad: await timePages(
        app,
        sample((i) => `&search=${LAST[i % LAST.length]!.toLowerCase()}`),
      ),
      search_broad_by_name: await timePages(
        app,
        sample((i) => `&search=${FIRST[i % FIRST.length]}&ordering=client_name`),
      ),
      list_by_name: await timePages(
        app,
        sample((i) => `&ordering=-client_name&page=${1 + i * 10}`),
      ),
    };
    console.log(JSON.stringify(report, null, 2));
  } finally {
    await app.stop();
  }
}

await main();
