/**
 * The members table. Postgres decides the refusals: the entries foreign key (ON DELETE/UPDATE
 * RESTRICT) refuses to delete or rename a member with ledger entries, even against a ledger
 * writing at the same moment, and the primary key refuses a rename onto a taken id.
 */

import type { Pool, PoolClient } from "@points/shared/db";
import { httpError } from "../../http-errors";
import type { ListQuery, Member, MemberInput, OrderField } from "./schema";

export type MemberRow = Omit<Member, "url">;
type Db = Pool | PoolClient;

const COLUMNS = `loyalty_id, cardno, discount::text AS discount, client_name,
  to_char(client_birthday, 'YYYY-MM-DD') AS client_birthday, is_male`;
const WRITABLE = ["loyalty_id", "cardno", "discount", "client_name", "client_birthday", "is_male"] as const;
const FOREIGN_KEY_VIOLATION = "23503";
const UNIQUE_VIOLATION = "23505";

export async function getMember(db: Db, id: string): Promise<MemberRow | null> {
  const { rows } = await db.query<MemberRow>(`SELECT ${COLUMNS} FROM members WHERE loyalty_id = $1`, [id]);
  return rows[0] ?? null;
}

/** One page and the total in one round trip. */
export async function listMembers(db: Db, q: ListQuery): Promise<{ count: number; rows: MemberRow[] }> {
  const { text, values } = listStatement(q);
  const { rows } = await db.query<MemberRow & { total: string }>(text, values);
  const count = Number(rows[0]?.total ?? 0);
  const members = rows.filter((r) => r.loyalty_id !== null).map(({ total: _, ...member }) => member);
  return { count, rows: members };
}

/** The list query (exported so a test can EXPLAIN it and see the trigram indexes used). */
export function listStatement(q: ListQuery): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const where: string[] = [];
  if (q.search) {
    values.push(`%${escapeLike(q.search)}%`);
    const p = `$${values.length}`;
    // lower() on both sides matches the trigram indexes on lower(client_name) and lower(cardno).
    where.push(`(lower(client_name) LIKE lower(${p}) OR lower(cardno) LIKE lower(${p}))`);
  }
  if (q.is_male !== undefined) {
    values.push(q.is_male);
    where.push(`is_male = $${values.length}`);
  }
  const filter = where.length ? `WHERE ${where.join(" AND ")}` : "";
  values.push(q.page_size, (q.page - 1) * q.page_size);
  const limit = `LIMIT $${values.length - 1} OFFSET $${values.length}`;
  if (!q.search) {
    return {
      text: `SELECT (SELECT count(*) FROM members ${filter}) AS total, page.*
               FROM (SELECT 1) one
               LEFT JOIN LATERAL (SELECT ${COLUMNS} FROM members ${filter}
                                   ORDER BY ${orderBy(q.ordering, "members")} ${limit}) page ON true`,
      values,
    };
  }
  // A search is answered from its matches alone: one trigram bitmap scan, counted, sorted, and
  // formatted only for the page. Left to itself, the planner would walk a sort-order index and
  // filter it until the page is full, which reads the whole table when the matches sort last.
  return {
    text: `WITH matches AS MATERIALIZED (SELECT * FROM members ${filter})
           SELECT (SELECT count(*) FROM matches) AS total, page.*
             FROM (SELECT 1) one
             LEFT JOIN LATERAL (SELECT ${COLUMNS}
                                  FROM (SELECT * FROM matches ORDER BY ${orderBy(q.ordering, "matches")} ${limit}) m
                                 ORDER BY ${orderBy(q.ordering, "m")}) page ON true`,
    values,
  };
}

/** `\`, `%` and `_` are LIKE's own characters (backslash is its default escape). */
export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * '-x' is the exact reverse of 'x': the tie-breaker runs in the same direction (one index scan).
 * Columns are qualified so they name the stored values, not the formatted output columns.
 */
function orderBy(ordering: ListQuery["ordering"], table: string): string {
  const descending = ordering.startsWith("-");
  const field = (descending ? ordering.slice(1) : ordering) as OrderField;
  const dir = descending ? "DESC" : "ASC";
  const id = `${table}.loyalty_id ${dir}`;
  return field === "loyalty_id" ? id : `${table}.${field} ${dir}, ${id}`;
}

/**
 * Inserts or replaces every member in one statement. Input is sorted by loyalty_id so two
 * overlapping bulk requests lock rows in the same order (no deadlock). A row that would not
 * change is left alone (no dead tuple, updated_at keeps its meaning) but still counts as updated.
 */
export async function upsertMembers(
  db: Db,
  members: MemberInput[],
  createdBy: string | null,
): Promise<{ inserted: number; updated: number }> {
  const sorted = [...members].sort((a, b) => (a.loyalty_id < b.loyalty_id ? -1 : 1));
  const column = <K extends keyof MemberInput>(k: K) => sorted.map((m) => m[k] ?? null);
  // created_by is set on insert only: a replace never changes who created the member.
  const { rows } = await db.query<{ inserted: number }>(
    `WITH written AS (
       INSERT INTO members AS m (loyalty_id, cardno, discount, client_name, client_birthday, is_male, created_by)
       SELECT *, $7::text FROM unnest($1::text[], $2::text[], $3::numeric[], $4::text[], $5::date[], $6::boolean[])
       ON CONFLICT (loyalty_id) DO UPDATE
         SET cardno = excluded.cardno, discount = excluded.discount, client_name = excluded.client_name,
             client_birthday = excluded.client_birthday, is_male = excluded.is_male, updated_at = now()
         WHERE (m.cardno, m.discount, m.client_name, m.client_birthday, m.is_male)
               IS DISTINCT FROM
               (excluded.cardno, excluded.discount, excluded.client_name, excluded.client_birthday, excluded.is_male)
       RETURNING (xmax = 0) AS inserted)
     SELECT count(*) FILTER (WHERE inserted)::int AS inserted FROM written`,
    [
      column("loyalty_id"),
      column("cardno"),
      column("discount"),
      column("client_name"),
      column("client_birthday"),
      column("is_male"),
      createdBy,
    ],
  );
  const inserted = rows[0]?.inserted ?? 0;
  return { inserted, updated: members.length - inserted };
}

/**
 * Of the given ids, those whose member someone other than `creator` created. Run after the upsert
 * in the same transaction: the upsert holds every conflicting row's lock, so no concurrent
 * request can change the answer before the caller commits or rolls back.
 */
export async function membersCreatedByOthers(db: Db, ids: string[], creator: string): Promise<Set<string>> {
  const { rows } = await db.query<{ loyalty_id: string }>(
    "SELECT loyalty_id FROM members WHERE loyalty_id = ANY($1::text[]) AND created_by IS DISTINCT FROM $2",
    [ids, creator],
  );
  return new Set(rows.map((r) => r.loyalty_id));
}

/**
 * Sets the given columns (all of them for PUT). Null when the member does not exist. A new
 * loyalty_id moves the member's token along (tokens carry no foreign key).
 */
export async function updateMember(
  db: PoolClient,
  id: string,
  changes: Partial<MemberRow>,
): Promise<MemberRow | null> {
  const names = WRITABLE.filter((c) => c in changes);
  if (names.length === 0) return getMember(db, id);
  const sets = names.map((c, i) => `${c} = $${i + 2}`);
  const { rows } = await db
    .query<MemberRow>(
      `UPDATE members SET ${sets.join(", ")}, updated_at = now() WHERE loyalty_id = $1 RETURNING ${COLUMNS}`,
      [id, ...names.map((c) => changes[c] ?? null)],
    )
    .catch(refusal(id));
  const row = rows[0];
  if (row && row.loyalty_id !== id) await moveMemberToken(db, id, row.loyalty_id);
  return row ?? null;
}

/** False when there was no such member. Its token dies with it, so a reused id starts fresh. */
export async function deleteMember(db: PoolClient, id: string): Promise<boolean> {
  const { rowCount } = await db.query("DELETE FROM members WHERE loyalty_id = $1", [id]).catch(refusal(id));
  await db.query("DELETE FROM tokens WHERE role = 'member' AND subject = $1", [id]);
  return rowCount === 1;
}

async function moveMemberToken(db: PoolClient, from: string, to: string): Promise<void> {
  await db.query("DELETE FROM tokens WHERE role = 'member' AND subject = $1", [to]);
  await db.query("UPDATE tokens SET subject = $2 WHERE role = 'member' AND subject = $1", [from, to]);
}

/** The database's refusals as the contract's 409s; anything else stays an internal error. */
function refusal(id: string) {
  return (err: { code?: string; constraint?: string }): never => {
    if (err.code === FOREIGN_KEY_VIOLATION) {
      throw httpError(
        "member_has_entries",
        `member ${id} has ledger entries; it cannot be deleted or get a new loyalty_id`,
      );
    }
    if (err.code === UNIQUE_VIOLATION && err.constraint === "members_pkey") {
      throw httpError("already_exists", "another member already has this loyalty_id", {
        fields: { loyalty_id: ["is taken by another member"] },
      });
    }
    throw err;
  };
}
