import type { LotChange } from "@points/core";
import type { EntryRecord, HttpResponse } from "@points/shared";
import type { PoolClient } from "@points/shared/db";

/**
 * Everything one batch writes, accumulated in memory while the domain core decides, then
 * written with one statement per table. Lots and payer balances are kept as final values, so a
 * lot touched by ten commands in a batch is written once.
 */
interface LotState {
  user_id: string;
  arrival: bigint;
  remaining: bigint;
  adjusted: bigint;
  dirty: boolean;
  /** Set for lots created in this batch (inserted, not updated). */
  created?: { entry_id: string; payer: string; ts: string; points: bigint };
}

interface AllocationRow {
  user_id: string;
  entry_id: string;
  arrival: bigint;
  payer: string;
  remaining_delta: bigint;
  adjusted_delta: bigint;
}

export class BatchWrites {
  readonly commands: {
    user_id: string;
    command_id: string;
    request_hash: string;
    type: string;
    status: string;
    actor: string;
    response: HttpResponse;
    seq: number | null;
  }[] = [];
  readonly entries: (EntryRecord & { seq: number; command_id: string })[] = [];
  readonly allocations: AllocationRow[] = [];
  readonly itemsUsed: { user_id: string; entry_id: string }[] = [];
  private readonly lots = new Map<string, LotState>();
  private readonly payers = new Map<
    string,
    { user_id: string; payer: string; available: bigint; adjusted: bigint; first_seen: bigint }
  >();
  private readonly accounts = new Map<string, { seq: number; next_arrival: bigint; total: bigint }>();

  /** Remembers a loaded lot's starting values, so later deltas land on the right base. */
  knowLot(userId: string, arrival: bigint, remaining: bigint, adjusted: bigint): void {
    const key = `${userId}\u0000${arrival}`;
    if (!this.lots.has(key))
      this.lots.set(key, { user_id: userId, arrival, remaining, adjusted, dirty: false });
  }

  createLot(
    userId: string,
    lot: { arrival: bigint; payer: string; ts: string; points: bigint },
    entryId: string,
  ): void {
    this.lots.set(`${userId}\u0000${lot.arrival}`, {
      user_id: userId,
      arrival: lot.arrival,
      remaining: lot.points,
      adjusted: 0n,
      dirty: true,
      created: { entry_id: entryId, payer: lot.payer, ts: lot.ts, points: lot.points },
    });
  }

  applyChanges(userId: string, entryId: string, changes: LotChange[]): void {
    for (const c of changes) {
      const lot = this.lots.get(`${userId}\u0000${c.arrival}`);
      if (!lot) throw new Error(`lot ${userId}/${c.arrival} changed but was never loaded`);
      lot.remaining += c.remainingDelta;
      lot.adjusted += c.adjustedDelta;
      lot.dirty = true;
      this.allocations.push({
        user_id: userId,
        entry_id: entryId,
        arrival: c.arrival,
        payer: c.payer,
        remaining_delta: c.remainingDelta,
        adjusted_delta: c.adjustedDelta,
      });
    }
  }

  /** firstSeen (the arrival of the payer's first lot) orders payers in answers; used on insert only. */
  setPayer(
    userId: string,
    payer: string,
    state: { available: bigint; adjusted: bigint },
    firstSeen: bigint,
  ): void {
    const key = `${userId}\u0000${payer}`;
    const first_seen = this.payers.get(key)?.first_seen ?? firstSeen;
    this.payers.set(key, { user_id: userId, payer, ...state, first_seen });
  }

  setAccount(userId: string, seq: number, nextArrival: bigint, total: bigint): void {
    this.accounts.set(userId, { seq, next_arrival: nextArrival, total });
  }

  touchedUsers(): string[] {
    return [...this.accounts.keys()];
  }

  /**
   * Writes the whole batch in ONE statement: each table's write is a data-modifying CTE. They
   * touch different rows (an entry used in the same batch is inserted already marked used), so
   * sharing one snapshot is safe, and the batch costs one round trip however large it is.
   */
  async write(db: PoolClient): Promise<void> {
    const parts = [
      this.commandsPart(),
      this.entriesPart(),
      ...this.lotsParts(),
      this.allocationsPart(),
      this.payersPart(),
      this.itemsUsedPart(),
      this.accountsPart(),
    ].filter((p): p is Part => p !== null);
    if (parts.length === 0) return;
    const { sql, params } = combine(parts);
    await db.query(sql, params);
  }

  private commandsPart(): Part | null {
    const c = this.commands;
    if (c.length === 0) return null;
    return part(
      `INSERT INTO commands (user_id, command_id, request_hash, type, status, actor, response, seq)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[], $8::bigint[])`,
      [
        c.map((x) => x.user_id),
        c.map((x) => x.command_id),
        c.map((x) => x.request_hash),
        c.map((x) => x.type),
        c.map((x) => x.status),
        c.map((x) => x.actor),
        c.map((x) => JSON.stringify(x.response)),
        c.map((x) => x.seq),
      ],
    );
  }

  private entriesPart(): Part | null {
    const e = this.entries;
    if (e.length === 0) return null;
    return part(
      `INSERT INTO entries (user_id, entry_id, seq, type, authority_id, payer, amount, ts, created_on, reason,
                            item_name, item_data, item_used, command_id, allocations)
       SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[],
                            $8::timestamptz[], $9::timestamptz[], $10::text[], $11::text[], $12::jsonb[], $13::boolean[],
                            $14::text[], $15::jsonb[])`,
      [
        e.map((x) => x.user_id),
        e.map((x) => x.entry_id),
        e.map((x) => x.seq),
        e.map((x) => x.type),
        e.map((x) => x.authority_id),
        e.map((x) => x.payer),
        e.map((x) => x.amount),
        e.map((x) => x.timestamp),
        e.map((x) => x.created_on.toISOString()),
        e.map((x) => x.reason),
        e.map((x) => x.item?.name ?? null),
        e.map((x) => (x.item?.data === undefined ? null : JSON.stringify(x.item.data))),
        e.map((x) => (x.item ? x.item.used : null)),
        e.map((x) => x.command_id),
        e.map((x) => (x.allocations ? JSON.stringify(x.allocations) : null)),
      ],
    );
  }

  private lotsParts(): Part[] {
    const all = [...this.lots.values()];
    const created = all.filter((l) => l.created);
    const changed = all.filter((l) => !l.created && l.dirty);
    const parts: Part[] = [];
    if (created.length > 0) {
      parts.push(
        part(
          `INSERT INTO lots (user_id, arrival, entry_id, payer, ts, points, remaining, adjusted)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::uuid[], $4::text[], $5::timestamptz[], $6::bigint[],
                              $7::bigint[], $8::bigint[])`,
          [
            created.map((l) => l.user_id),
            created.map((l) => l.arrival.toString()),
            created.map((l) => l.created!.entry_id),
            created.map((l) => l.created!.payer),
            created.map((l) => l.created!.ts),
            created.map((l) => l.created!.points.toString()),
            created.map((l) => l.remaining.toString()),
            created.map((l) => l.adjusted.toString()),
          ],
        ),
      );
    }
    if (changed.length === 0) return parts;
    parts.push(
      part(
        `UPDATE lots SET remaining = v.remaining, adjusted = v.adjusted
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(user_id, arrival, remaining, adjusted)
        WHERE lots.user_id = v.user_id AND lots.arrival = v.arrival`,
        [
          changed.map((l) => l.user_id),
          changed.map((l) => l.arrival.toString()),
          changed.map((l) => l.remaining.toString()),
          changed.map((l) => l.adjusted.toString()),
        ],
      ),
    );
    return parts;
  }

  private allocationsPart(): Part | null {
    const a = this.allocations;
    if (a.length === 0) return null;
    return part(
      `INSERT INTO allocations (user_id, entry_id, arrival, payer, remaining_delta, adjusted_delta)
       SELECT * FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[])`,
      [
        a.map((x) => x.user_id),
        a.map((x) => x.entry_id),
        a.map((x) => x.arrival.toString()),
        a.map((x) => x.payer),
        a.map((x) => x.remaining_delta.toString()),
        a.map((x) => x.adjusted_delta.toString()),
      ],
    );
  }

  private payersPart(): Part | null {
    const p = [...this.payers.values()];
    if (p.length === 0) return null;
    return part(
      `INSERT INTO payer_balances (user_id, payer, available, adjusted, first_seen)
       SELECT v.user_id, v.payer, v.available, v.adjusted, v.ord
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[]) AS v(user_id, payer, available, adjusted, ord)
       ON CONFLICT (user_id, payer) DO UPDATE SET available = excluded.available, adjusted = excluded.adjusted`,
      [
        p.map((x) => x.user_id),
        p.map((x) => x.payer),
        p.map((x) => x.available.toString()),
        p.map((x) => x.adjusted.toString()),
        p.map((x) => x.first_seen.toString()),
      ],
    );
  }

  private itemsUsedPart(): Part | null {
    // Entries created in this batch are inserted already marked used (one snapshot: an UPDATE
    // in the same statement would not see them).
    const created = new Set(this.entries.map((e) => e.entry_id));
    const u = this.itemsUsed.filter((x) => !created.has(x.entry_id));
    if (u.length === 0) return null;
    return part(
      `UPDATE entries SET item_used = true
         FROM unnest($1::text[], $2::uuid[]) AS v(user_id, entry_id)
        WHERE entries.user_id = v.user_id AND entries.entry_id = v.entry_id`,
      [u.map((x) => x.user_id), u.map((x) => x.entry_id)],
    );
  }

  private accountsPart(): Part | null {
    const ids = [...this.accounts.keys()];
    if (ids.length === 0) return null;
    const a = ids.map((id) => this.accounts.get(id)!);
    return part(
      `UPDATE accounts SET seq = v.seq, next_arrival = v.next_arrival, total = v.total
         FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS v(user_id, seq, next_arrival, total)
        WHERE accounts.user_id = v.user_id`,
      [ids, a.map((x) => x.seq), a.map((x) => x.next_arrival.toString()), a.map((x) => x.total.toString())],
    );
  }
}

/** One table's write: SQL with its own $1..$n placeholders, and their values. */
interface Part {
  sql: string;
  params: unknown[];
}

function part(sql: string, params: unknown[]): Part {
  return { sql, params };
}

/** Joins parts into one statement of data-modifying CTEs, renumbering placeholders. */
export function combine(parts: Part[]): Part {
  const params: unknown[] = [];
  const ctes = parts.map((p, i) => {
    const offset = params.length;
    params.push(...p.params);
    const sql = p.sql.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) + offset}`);
    return `w${i} AS (${sql})`;
  });
  return { sql: `WITH ${ctes.join(",\n")}\nSELECT 1`, params };
}
