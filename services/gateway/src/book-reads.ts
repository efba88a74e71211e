/**
 * Reads that need the pure core's expiry rules (contract 6.1, 6.4): the gateway loads just the
 * part of a member's book those rules look at and lets @points/core decide, so "what has expired
 * by now" is one rule in one place, not re-derived in SQL.
 */

import type { MovementCategory } from "@points/core";
import { type Book, balanceAsOf, balancesAt, dueExpiry, expiring, type Movement } from "@points/core";
import type { Pool } from "@points/shared/db";
import { httpError } from "./http-errors";

/** Movements read for one balance-as-of answer; beyond it the other side (or a snapshot) is used. */
export const AS_OF_MOVEMENTS_MAX = 100_000;

interface PayerRow {
  payer: string;
  available: string;
  adjusted: string;
  first_seen_at: Date | null;
}
interface LotRow {
  arrival: string;
  payer: string;
  ts: Date;
  points: string;
  remaining: string;
  expires_at: Date;
}

export interface ExpiryBook {
  book: Book;
  /** When each payer was first seen (epoch ms); payers without the column count as always seen. */
  firstSeen: Map<string, number>;
}

/**
 * The member's payers (first-seen order, with their recorded available points) and the unspent
 * lots that expire by `through` (index lots_expiring): all balancesAt/dueExpiry/expiring need.
 * 404 when the member is unknown.
 */
export async function loadExpiryBook(pool: Pool, userId: string, through: number): Promise<ExpiryBook> {
  const { rows } = await pool.query<{
    member: boolean;
    expired_through: Date | null;
    payers: PayerRow[];
    lots: LotRow[];
  }>(
    `SELECT m.loyalty_id IS NOT NULL AS member, a.expired_through,
            coalesce((SELECT json_agg(json_build_object('payer', p.payer, 'available', p.available::text,
                                                        'adjusted', p.adjusted::text, 'first_seen_at', p.first_seen_at)
                                      ORDER BY p.first_seen)
                        FROM payer_balances p WHERE p.user_id = $1), '[]') AS payers,
            coalesce((SELECT json_agg(json_build_object('arrival', l.arrival::text, 'payer', l.payer, 'ts', l.ts,
                                                        'points', l.points::text, 'remaining', l.remaining::text,
                                                        'expires_at', l.expires_at))
                        FROM lots l WHERE l.user_id = $1 AND l.remaining > 0
                         AND l.expires_at IS NOT NULL AND l.expires_at <= $2), '[]') AS lots
       FROM (SELECT 1) one
       LEFT JOIN members m ON m.loyalty_id = $1
       LEFT JOIN accounts a ON a.user_id = $1`,
    [userId, new Date(through)],
  );
  const row = rows[0];
  if (!row?.member) throw httpError("not_found", `member ${userId} not found`);
  const book: Book = { userId, nextArrival: 0n, total: 0n, payers: new Map(), lots: [] };
  const firstSeen = new Map<string, number>();
  for (const p of row.payers) {
    book.payers.set(p.payer, { available: BigInt(p.available), adjusted: BigInt(p.adjusted) });
    book.total += BigInt(p.available);
    firstSeen.set(p.payer, p.first_seen_at ? Date.parse(String(p.first_seen_at)) : Number.NEGATIVE_INFINITY);
  }
  book.lots = row.lots
    .map((l) => ({
      arrival: BigInt(l.arrival),
      payer: l.payer,
      ts: Date.parse(String(l.ts)),
      points: BigInt(l.points),
      remaining: BigInt(l.remaining),
      adjusted: 0n,
      expiresAt: Date.parse(String(l.expires_at)),
    }))
    .sort((a, b) => a.ts - b.ts || (a.arrival < b.arrival ? -1 : 1));
  if (row.expired_through) book.expiredThrough = row.expired_through.getTime();
  return { book, firstSeen };
}

/** GET /expiring rows: the core's expiring(), as the wire shows them. */
export async function expiringRows(pool: Pool, userId: string, now: number, before: number) {
  const { book } = await loadExpiryBook(pool, userId, before);
  return expiring(book, now, before).map((r) => ({
    payer: r.payer,
    points: Number(r.points),
    expires_at: new Date(r.expiresAt).toISOString(),
  }));
}

/** The exact balance now (due-but-unrecorded expiry left out), as JSON text in first-seen order. */
export async function currentBalance(pool: Pool, userId: string, now: number): Promise<string> {
  const { book } = await loadExpiryBook(pool, userId, now);
  return balanceJson(balancesAt(book, now));
}

/** The member's total now (the wallet total): balancesAt summed over payers. */
export async function currentTotal(pool: Pool, userId: string, now: number): Promise<bigint> {
  const { book } = await loadExpiryBook(pool, userId, now);
  return balancesAt(book, now).reduce((sum, row) => sum + row.points, 0n);
}

/**
 * GET balance?as_of: from the exact balance now, minus the member's movements after the instant
 * (index movements_user_at), or forwards from the latest snapshot at or before it when that
 * needs fewer movements, so the cost follows the changes since the instant or the snapshot.
 */
export async function balanceAt(pool: Pool, userId: string, asOf: number, now: number) {
  const { book, firstSeen } = await loadExpiryBook(pool, userId, now);
  const plan = await chooseBase(pool, userId, asOf, now);
  const base = plan.snapshot ?? { at: now, balances: balancesAt(book, now) };
  const [from, to] = base.at > asOf ? [asOf, base.at] : [base.at, asOf];
  const { rows } = await pool.query<{ payer: string; category: MovementCategory; points: string; at: Date }>(
    `SELECT payer, category, points::text, at FROM movements
      WHERE user_id = $1 AND at > $2 AND at <= $3 ORDER BY at LIMIT $4`,
    [userId, new Date(from), new Date(to), AS_OF_MOVEMENTS_MAX + 1],
  );
  if (rows.length > AS_OF_MOVEMENTS_MAX) {
    throw httpError("validation_failed", "as_of is too far from now and from every snapshot", {
      fields: { as_of: [`would read more than ${AS_OF_MOVEMENTS_MAX} changes`] },
    });
  }
  const movements: Movement[] = rows.map((r) => ({
    payer: r.payer,
    category: r.category,
    points: BigInt(r.points),
    at: r.at.getTime(),
  }));
  const result = balanceAsOf({ asOf, base, movements, unrecordedExpiry: dueExpiry(book, now), firstSeen });
  return balanceJson(result);
}

/**
 * The latest snapshot at or before asOf, when fewer movements follow it than precede now (the
 * ledger writes them: services/ledger/src/snapshots.ts). Exported for tests.
 */
export async function chooseBase(pool: Pool, userId: string, asOf: number, now: number) {
  const { rows } = await pool.query<{
    at: Date | null;
    balances: { payer: string; points: number | string }[] | null;
    forward: string;
    backward: string;
  }>(
    `WITH s AS (SELECT at, balances FROM balance_snapshots WHERE user_id = $1 AND at <= $2 ORDER BY at DESC LIMIT 1)
     SELECT s.at, s.balances,
            (SELECT count(*) FROM (SELECT 1 FROM movements m WHERE m.user_id = $1 AND m.at > s.at AND m.at <= $2 LIMIT $4) f) AS forward,
            (SELECT count(*) FROM (SELECT 1 FROM movements m WHERE m.user_id = $1 AND m.at > $2 AND m.at <= $3 LIMIT $4) b) AS backward
       FROM (SELECT 1) one LEFT JOIN s ON true`,
    [userId, new Date(asOf), new Date(now), AS_OF_MOVEMENTS_MAX + 1],
  );
  const r = rows[0];
  if (!r?.at || !r.balances || Number(r.forward) >= Number(r.backward)) return { snapshot: null };
  const balances = r.balances.map((b) => ({ payer: b.payer, points: BigInt(b.points) }));
  return { snapshot: { at: r.at.getTime(), balances } };
}

/**
 * The balance object as JSON text, payers in first-seen order. Built by hand: a JS object would
 * put integer-like payer ids ("123") first, whatever order they were seen in.
 */
function balanceJson(rows: readonly { payer: string; points: bigint }[]): string {
  return `{${rows.map((r) => `${JSON.stringify(r.payer)}:${r.points}`).join(",")}}`;
}
