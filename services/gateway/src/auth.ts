/**
 * Bearer tokens: random, shown once, stored only as SHA-256. Lookups go through an in-process
 * cache so a request does not hit Postgres to authenticate; issuing a token clears the caches of
 * every gateway through a Redis message (see app wiring), and entries expire anyway.
 */

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Pool } from "@points/shared/db";

export type Principal =
  | { role: "admin"; id: "admin" }
  | { role: "partner"; id: string }
  | { role: "member"; id: string };

export const principalName = (p: Principal): string => `${p.role}:${p.id}`;

const TOKEN_BYTES = 32;
const CACHE_TTL_MS = 30_000;
const CACHE_NEGATIVE_TTL_MS = 2_000;
const CACHE_ENTRIES_MAX = 100_000;

export function newToken(role: "partner" | "member"): string {
  return `${role === "partner" ? "pt" : "mt"}_${randomBytes(TOKEN_BYTES).toString("base64url")}`;
}

const ADMIN: Principal = Object.freeze({ role: "admin", id: "admin" } as const);

/** The SHA-256 of a well-formed bearer token, or null. The scheme is case-insensitive (RFC 7235). */
function tokenHashOf(header: string | undefined): Buffer | null {
  const match = /^bearer ([\x21-\x7e]{1,512})$/i.exec(header ?? "");
  return match ? hashToken(match[1]!) : null;
}

export function hashToken(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export class Authenticator {
  private readonly adminHash: Buffer;
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();

  constructor(
    private readonly pool: Pool,
    adminToken: string,
  ) {
    this.adminHash = hashToken(adminToken);
  }

  /**
   * The principal behind an Authorization header value, or null. `beforeLookup` runs only when
   * the answer needs Postgres (a token not in the cache), and may throw to refuse that cost.
   */
  async authenticate(
    header: string | undefined,
    beforeLookup: () => void = () => {},
  ): Promise<Principal | null> {
    const hash = tokenHashOf(header);
    if (!hash) return null;
    const known = this.known(hash);
    if (known !== undefined) return known;
    beforeLookup();
    const principal = await this.lookup(hash);
    const key = hash.toString("hex");
    if (this.cache.size >= CACHE_ENTRIES_MAX) this.cache.clear();
    this.cache.set(key, {
      principal,
      expires: Date.now() + (principal ? CACHE_TTL_MS : CACHE_NEGATIVE_TTL_MS),
    });
    return principal;
  }

  /**
   * The principal when it is known without Postgres (the admin token or a cached token), else
   * undefined: for the GET balance fast path, which leaves everything else to `authenticate`.
   */
  knownPrincipal(header: string | undefined): Principal | null | undefined {
    const hash = tokenHashOf(header);
    return hash ? this.known(hash) : null;
  }

  private known(hash: Buffer): Principal | null | undefined {
    if (timingSafeEqual(hash, this.adminHash)) return ADMIN;
    const cached = this.cache.get(hash.toString("hex"));
    return cached && cached.expires > Date.now() ? cached.principal : undefined;
  }

  invalidate(): void {
    this.cache.clear();
  }

  private async lookup(hash: Buffer): Promise<Principal | null> {
    const { rows } = await this.pool.query<{
      role: "partner" | "member";
      subject: string;
      token_hash: Buffer;
    }>("SELECT role, subject, token_hash FROM tokens WHERE token_hash = $1", [hash]);
    const row = rows[0];
    // The index found it by hash; the constant-time compare keeps the check itself timing-safe.
    if (!row || !timingSafeEqual(row.token_hash, hash)) return null;
    return { role: row.role, id: row.subject };
  }
}

/** Replaces the subject's token with a new one (the old stops working) and returns it. */
export async function issueToken(
  db: { query: Pool["query"] },
  role: "partner" | "member",
  subject: string,
): Promise<string> {
  const token = newToken(role);
  await db.query(
    `INSERT INTO tokens (token_hash, role, subject) VALUES ($1, $2, $3)
     ON CONFLICT (role, subject) DO UPDATE SET token_hash = excluded.token_hash, created_at = now()`,
    [hashToken(token), role, subject],
  );
  return token;
}
