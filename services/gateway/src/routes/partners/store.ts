/** The partners table: creation with its first token, pages, and the existence check payers need. */

import { inTransaction, type Pool } from "@points/shared/db";
import { issueToken } from "../../auth";
import { httpError } from "../../http-errors";
import type { PageQuery } from "../../pagination";
import type { ChangePartnerBody, CreatePartnerBody, Partner } from "./schema";

const KNOWN_PARTNERS_MAX = 100_000;

/** Creates the partner and its first token in one transaction; 409 when the id is taken. */
export function createPartner(pool: Pool, body: CreatePartnerBody, secret: string): Promise<string> {
  return inTransaction(pool, async (db) => {
    const created = await db.query(
      `INSERT INTO partners (id, name, signing_secret, points_validity_days) VALUES ($1, $2, $3, $4)
       ON CONFLICT (id) DO NOTHING`,
      [body.id, body.name ?? body.id, secret, body.points_validity_days ?? null],
    );
    if (created.rowCount === 0) throw httpError("already_exists", `partner ${body.id} already exists`);
    return issueToken(db, "partner", body.id);
  });
}

/** One page by id and the total, in one round trip. */
export async function listPartners(pool: Pool, page: PageQuery): Promise<{ count: number; rows: Partner[] }> {
  const { rows } = await pool.query<{
    total: string;
    id: string | null;
    name: string;
    points_validity_days: number | null;
    created_at: Date;
  }>(
    `SELECT (SELECT count(*) FROM partners) AS total, p.*
       FROM (SELECT 1) one
       LEFT JOIN LATERAL (SELECT id, name, points_validity_days, created_at FROM partners
                           ORDER BY id LIMIT $1 OFFSET $2) p ON true`,
    [page.page_size, (page.page - 1) * page.page_size],
  );
  const partners = rows.flatMap((r) =>
    r.id === null
      ? []
      : [
          {
            id: r.id,
            name: r.name,
            points_validity_days: r.points_validity_days,
            created_at: r.created_at.toISOString(),
          },
        ],
  );
  return { count: Number(rows[0]?.total ?? 0), rows: partners };
}

/**
 * PATCH: changes the given fields (a validity change applies to points earned after it: the
 * ledger reads the partner's validity when it applies each earn). 404 when unknown.
 */
export async function changePartner(pool: Pool, id: string, body: ChangePartnerBody) {
  const { rows } = await pool.query<{ id: string; name: string; points_validity_days: number | null }>(
    `UPDATE partners SET name = CASE WHEN $2 THEN $3 ELSE name END,
                         points_validity_days = CASE WHEN $4 THEN $5::integer ELSE points_validity_days END
      WHERE id = $1 RETURNING id, name, points_validity_days`,
    [
      id,
      body.name !== undefined,
      body.name ?? null,
      body.points_validity_days !== undefined,
      body.points_validity_days ?? null,
    ],
  );
  if (!rows[0]) throw httpError("not_found", `partner ${id} not found`);
  return rows[0];
}

const knownPartners = new Set<string>();

/** 404 unless the partner exists. Partners are never deleted, so a positive answer is cached. */
export async function requirePartner(pool: Pool, id: string): Promise<void> {
  if (knownPartners.has(id)) return;
  const { rowCount } = await pool.query("SELECT 1 FROM partners WHERE id = $1", [id]);
  if (rowCount === 0) throw httpError("not_found", `partner ${id} not found`);
  if (knownPartners.size >= KNOWN_PARTNERS_MAX) knownPartners.clear();
  knownPartners.add(id);
}
