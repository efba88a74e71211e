/**
 * Prefetch: what a batch needs loaded before the pure core decides it, loaded in bounded steps.
 * Spends walk a user's oldest live lots of any payer, a negative walks one payer's oldest live
 * lots, and an earn of a payer with negatives may move them onto itself from that payer's newest
 * adjusted lots. So a batch needs, per user, a prefix of the live lots in spend order that covers
 * its spends and negatives, the same per payer for negatives, and a newest-first prefix of a
 * payer's adjusted lots covering what its earns may take over. Cost follows the lots a batch
 * touches, not the lots a user has.
 *
 * A prefix can be long (a member with 60,000 one-point lots spending 59,999): it is read in
 * pages of at most LOTS_PAGE_ROWS_MAX rows, each handled in time linear in its rows and
 * LOTS_PER_TURN_MAX rows per turn (pace.ts); between turns the event loop runs and the Kafka
 * group gets a heartbeat, so no step blocks for long and the group never takes the ledger for dead.
 *
 * What was loaded is returned as a Coverage record, so that after deciding, the shell can assert
 * that the core walked only lots inside it (TigerBeetle's prefetch assertion): a lot outside it
 * would mean the core decided on a partial view.
 */
import { compareLots, type Lot } from "@points/core";
import { type AnyLedgerCommand, assert } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
import { lotKey, payerKey } from "./keys";
import { forEachInTurns, type Heartbeat, nextTurn } from "./pace";
import type { Account } from "./store";

/** Rows per request in the first page; most users have few lots and need one round trip. */
export const LOTS_FIRST_PAGE = 32;
const LOTS_PAGE_GROWTH = 8;
/**
 * Rows one page may return, over all its requests: what bounds the time one page costs the event
 * loop (parsing, grouping) to a few milliseconds, however many lots a spend walks.
 */
export const LOTS_PAGE_ROWS_MAX = 8_192;

export type { Heartbeat } from "./pace";

/** Upper bounds of what one user's commands in the batch may take. */
interface LotNeed {
  spend: bigint;
  negatives: bigint;
  /** live: what negatives (and spends) may take of this payer; earned: what its earns may re-place. */
  payers: Map<string, { live: bigint; earned: bigint }>;
}

/** The loaded lots, per user and arrival: the very objects in the books, which the core changes. */
export type LoadedLots = Map<string, Map<bigint, Lot>>;

/** A prefix ends after `last`, or holds every lot that matches (`null`). */
type Bound = { ts: number; arrival: bigint } | null;

/** What was loaded, per user: the prefixes by kind. Absent means nothing of that kind was loaded. */
export interface Coverage {
  /** Users whose every lot with points in it was loaded (lifecycle commands, due expiry). */
  full: Set<string>;
  global: Map<string, Bound>;
  payerLive: Map<string, Bound>;
  /** Newest first: holds every adjusted lot of the payer at or after the bound. */
  payerAdjusted: Map<string, Bound>;
}

/**
 * Needs of the batch, per user (see LotNeed). A batch of plain earns of payers without
 * negatives needs no lots at all.
 */
export function lotNeeds(commands: AnyLedgerCommand[], accounts: Map<string, Account>): Map<string, LotNeed> {
  const needs = new Map<string, LotNeed>();
  const needOf = (userId: string) => {
    const need = needs.get(userId) ?? { spend: 0n, negatives: 0n, payers: new Map() };
    needs.set(userId, need);
    return need;
  };
  for (const c of commands) {
    const book = accounts.get(c.user_id)?.book;
    // Lifecycle commands load the whole book (apply-batch.ts); use_item needs no lots.
    if (!book || (c.type !== "spend" && c.type !== "earn")) continue;
    if (c.type === "spend") {
      needOf(c.user_id).spend += BigInt(c.points);
    } else if (c.points < 0) {
      const need = needOf(c.user_id);
      const payer = need.payers.get(c.payer) ?? { live: 0n, earned: 0n };
      need.payers.set(c.payer, { live: payer.live - BigInt(c.points), earned: payer.earned });
      need.negatives -= BigInt(c.points);
    } else if ((book.payers.get(c.payer)?.adjusted ?? 0n) > 0n || needs.get(c.user_id)?.payers.has(c.payer)) {
      const need = needOf(c.user_id);
      const payer = need.payers.get(c.payer) ?? { live: 0n, earned: 0n };
      need.payers.set(c.payer, { live: payer.live, earned: payer.earned + BigInt(c.points) });
    }
  }
  // Spends may take a payer's lots too, so a negative's cover includes the user's spends.
  for (const need of needs.values()) {
    for (const p of need.payers.values()) if (p.live > 0n) p.live += need.spend;
  }
  return needs;
}

interface LotRequest {
  kind: "global" | "payer" | "adjusted";
  userId: string;
  payer: string | null;
  /** Points to cover (remaining for live kinds, adjusted for "adjusted"). */
  target: bigint;
  covered: bigint;
  /** The page size this request asks for next. */
  limit: number;
  after: { ts: string; arrival: string } | null;
  /** Set when the request closes. */
  bound?: Bound;
}

interface LotRow {
  req: number;
  user_id: string;
  arrival: string;
  payer: string;
  /**
   * ts as Postgres prints it (microseconds, offset): the keyset's exact `after`, with no Date
   * parsed per row. Not named `ts`: an ORDER BY ts would sort by this text.
   */
  ts_text: string;
  ts_ms: string;
  points: string;
  remaining: string;
  adjusted: string;
  held: string;
  expired: string;
  reversed: string;
  expires_ms: string | null;
}

/**
 * Loads what `needs` asks for into the accounts' books (lots in oldest-first order) and returns
 * what it loaded. Each page asks every open request for its next rows, as many requests per query
 * as LOTS_PAGE_ROWS_MAX allows.
 */
export async function prefetchLots(
  db: PoolClient,
  accounts: Map<string, Account>,
  needs: Map<string, LotNeed>,
  heartbeat: Heartbeat = async () => {},
): Promise<{ coverage: Coverage; loaded: LoadedLots }> {
  let open = lotRequests(needs);
  const closed: LotRequest[] = [];
  const found: LoadedLots = new Map();
  while (open.length > 0) {
    const page = takePage(open);
    const rows = await queryLots(db, page);
    const perRequest = page.map((): LotRow[] => []);
    const record = (row: LotRow) => {
      perRequest[row.req]!.push(row);
      const lots = found.get(row.user_id) ?? new Map<bigint, Lot>();
      found.set(row.user_id, lots);
      const lot = lotFromRow(row);
      lots.set(lot.arrival, lot);
    };
    await forEachInTurns(rows, record, heartbeat);
    const still = page.filter((req, i) => advance(req, perRequest[i]!));
    closed.push(...page.filter((req) => req.bound !== undefined));
    open = [...still, ...open.slice(page.length)];
    if (open.length > 0) await nextTurn(heartbeat);
  }
  for (const [userId, lots] of found) {
    const book = accounts.get(userId)?.book;
    // Each request's rows arrived in order, so this sort merges a few sorted runs (near-linear).
    if (book) book.lots = [...lots.values()].sort(compareLots);
  }
  return { coverage: coverageOf(closed), loaded: found };
}

/** The first open requests whose next pages together stay within LOTS_PAGE_ROWS_MAX rows. */
function takePage(open: LotRequest[]): LotRequest[] {
  let rows = 0;
  let count = 0;
  while (count < open.length && (count === 0 || rows + open[count]!.limit <= LOTS_PAGE_ROWS_MAX)) {
    rows += open[count]!.limit;
    count += 1;
  }
  return open.slice(0, count);
}

function lotRequests(needs: Map<string, LotNeed>): LotRequest[] {
  const requests: LotRequest[] = [];
  const add = (kind: LotRequest["kind"], userId: string, payer: string | null, target: bigint) =>
    requests.push({ kind, userId, payer, target, covered: 0n, limit: LOTS_FIRST_PAGE, after: null });
  for (const [userId, need] of needs) {
    if (need.spend > 0n) add("global", userId, null, need.spend + need.negatives);
    for (const [payer, p] of need.payers) {
      if (p.live > 0n) add("payer", userId, payer, p.live);
      if (p.earned > 0n) add("adjusted", userId, payer, p.earned);
    }
  }
  return requests;
}

/** Records a page; true while the request still needs another (longer) page. */
function advance(req: LotRequest, rows: LotRow[]): boolean {
  for (const row of rows) req.covered += BigInt(req.kind === "adjusted" ? row.adjusted : row.remaining);
  const last = rows[rows.length - 1];
  if (!last || rows.length < req.limit) {
    req.bound = null; // every matching lot is loaded
    return false;
  }
  if (req.covered >= req.target) {
    req.bound = { ts: Number(last.ts_ms), arrival: BigInt(last.arrival) };
    return false;
  }
  req.after = { ts: last.ts_text, arrival: last.arrival };
  req.limit = Math.min(req.limit * LOTS_PAGE_GROWTH, LOTS_PAGE_ROWS_MAX);
  return true;
}

function coverageOf(closed: LotRequest[]): Coverage {
  const coverage: Coverage = {
    full: new Set(),
    global: new Map(),
    payerLive: new Map(),
    payerAdjusted: new Map(),
  };
  for (const req of closed) {
    const bound = req.bound ?? null;
    if (req.kind === "global") coverage.global.set(req.userId, bound);
    else if (req.kind === "payer") coverage.payerLive.set(payerKey(req.userId, req.payer!), bound);
    else coverage.payerAdjusted.set(payerKey(req.userId, req.payer!), bound);
  }
  return coverage;
}

/**
 * Per request, its next page. The ORDER BY clauses mirror compareLots of @points/core (oldest
 * first: ts, then arrival), and the indexes lots_live, lots_live_payer and lots_adjusted serve
 * them; the adjusted walk goes newest first, the order in which earns take deductions over.
 */
async function queryLots(db: PoolClient, requests: LotRequest[]): Promise<LotRow[]> {
  const columns = `user_id, ${LOT_COLUMNS}`;
  const { rows } = await db.query<LotRow>(
    `SELECT (r.i - 1)::int AS req, l.*
       FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[], $6::int[]) WITH ORDINALITY
            AS r(kind, user_id, payer, after_ts, after_arrival, page, i)
       CROSS JOIN LATERAL (
         (SELECT ${columns} FROM lots
           WHERE r.kind = 'global' AND lots.user_id = r.user_id AND remaining > 0
             AND (ts, arrival) > (coalesce(r.after_ts, '-infinity'), coalesce(r.after_arrival, -1))
           ORDER BY ts, arrival LIMIT r.page)
         UNION ALL
         (SELECT ${columns} FROM lots
           WHERE r.kind = 'payer' AND lots.user_id = r.user_id AND lots.payer = r.payer AND remaining > 0
             AND (ts, arrival) > (coalesce(r.after_ts, '-infinity'), coalesce(r.after_arrival, -1))
           ORDER BY ts, arrival LIMIT r.page)
         UNION ALL
         (SELECT ${columns} FROM lots
           WHERE r.kind = 'adjusted' AND lots.user_id = r.user_id AND lots.payer = r.payer AND adjusted > 0
             AND (ts, arrival) < (coalesce(r.after_ts, 'infinity'), coalesce(r.after_arrival, 9223372036854775807))
           ORDER BY ts DESC, arrival DESC LIMIT r.page)
       ) l`,
    [
      requests.map((r) => r.kind),
      requests.map((r) => r.userId),
      requests.map((r) => r.payer),
      requests.map((r) => r.after?.ts ?? null),
      requests.map((r) => r.after?.arrival ?? null),
      requests.map((r) => r.limit),
    ],
  );
  return rows;
}

/** Every column a Lot needs (with ts and expires_at as epoch ms), for `SELECT ... FROM lots`. */
export const LOT_COLUMNS =
  "arrival, payer, ts::text AS ts_text, floor(extract(epoch FROM ts) * 1000)::bigint AS ts_ms, points, remaining, adjusted, " +
  "held, expired, reversed, floor(extract(epoch FROM expires_at) * 1000)::bigint AS expires_ms";

export type StoredLotRow = Omit<LotRow, "req" | "user_id">;

export function lotFromRow(r: StoredLotRow): Lot {
  return {
    arrival: BigInt(r.arrival),
    payer: r.payer,
    ts: Number(r.ts_ms),
    points: BigInt(r.points),
    remaining: BigInt(r.remaining),
    adjusted: BigInt(r.adjusted),
    expiresAt: r.expires_ms === null ? null : Number(r.expires_ms),
    held: BigInt(r.held),
    expired: BigInt(r.expired),
    reversed: BigInt(r.reversed),
  };
}

/**
 * The prefetch assertion: a lot the core changed must lie inside what was loaded for the walk
 * that changed it, or the core decided on a partial view of the user's lots.
 */
export function assertCovered(
  coverage: Coverage,
  walk: "global" | "payerLive" | "payerAdjusted",
  userId: string,
  lot: Pick<Lot, "ts" | "arrival" | "payer">,
): void {
  if (coverage.full.has(userId)) return;
  const key = walk === "global" ? userId : payerKey(userId, lot.payer);
  const bound = coverage[walk].get(key);
  const inside =
    bound === null ||
    (bound !== undefined &&
      (walk === "payerAdjusted" ? compareLots(lot, bound) >= 0 : compareLots(lot, bound) <= 0));
  // The message is built only on failure: this runs once per lot a command changes.
  if (!inside)
    assert(false, `lot ${lotKey(userId, lot.arrival)} changed by a ${walk} walk lies outside the prefetch`);
}
