/**
 * Everything one batch writes, accumulated in memory while the domain core decides, then
 * written table by table. Lots and payer balances are kept as final values, so a lot touched by
 * ten commands in a batch is written once.
 */
import type { Lot, LotChange } from "@points/core";
import { assert } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
import type { CommandRecord } from "./command-record";
import { lotKey, payerKey } from "./keys";
import type { LoadedLots } from "./prefetch";
import { type AccountRow, type PayerRow, updateAccounts, upsertPayers } from "./storage/accounts";
import { type AllocationRow, insertAllocations } from "./storage/allocations";
import { insertCommands } from "./storage/commands";
import { insertEntries, markItemsUsed, type NewEntry } from "./storage/entries";
import { insertLots, type LotRow, type NewLot, updateLots } from "./storage/lots";
import { combine, type Statement, type TableWrite, tableStatement } from "./storage/unnest";

/**
 * Rows one statement writes, over all its tables. A usual batch is one statement (one round
 * trip); a huge one (a spend across 60,000 lots) becomes several, with the event loop given a
 * turn between them, since building and sending the parameters costs time linear in the rows.
 */
export const WRITE_ROWS_MAX = 8_192;

export class BatchWrites {
  readonly commands: CommandRecord[] = [];
  readonly entries: NewEntry[] = [];
  readonly itemsUsed: { user_id: string; entry_id: string }[] = [];
  private readonly allocations: AllocationRow[] = [];
  /** Lots created in this batch, per user and arrival (no string key built per lot change). */
  private readonly created = new Map<string, Map<bigint, NewLot>>();
  /** Loaded lots a change touched: the book's own lot objects, so their final values are read at write. */
  private readonly changed = new Map<Lot, string>();
  private readonly payers = new Map<string, PayerRow>();
  private readonly accounts = new Map<string, AccountRow>();

  constructor(private readonly loaded: LoadedLots) {}

  /** A lot loaded for this batch (never one created in it), or undefined. */
  loadedLot(userId: string, arrival: bigint): Lot | undefined {
    return this.loaded.get(userId)?.get(arrival);
  }

  createLot(userId: string, lot: Omit<NewLot, "user_id" | "remaining" | "adjusted">): void {
    const mine = this.created.get(userId) ?? new Map<bigint, NewLot>();
    this.created.set(userId, mine);
    mine.set(lot.arrival, { ...lot, user_id: userId, remaining: lot.points, adjusted: 0n });
  }

  applyChanges(userId: string, entryId: string, changes: LotChange[]): void {
    for (const c of changes) {
      const created = this.created.get(userId)?.get(c.arrival);
      if (created) {
        created.remaining += c.remainingDelta;
        created.adjusted += c.adjustedDelta;
      } else {
        const lot = this.loadedLot(userId, c.arrival);
        if (lot === undefined) assert(false, `lot ${lotKey(userId, c.arrival)} changed but was never loaded`);
        this.changed.set(lot, userId);
      }
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

  setPayer(
    userId: string,
    payer: string,
    state: { available: bigint; adjusted: bigint },
    firstSeen: bigint,
  ): void {
    const key = payerKey(userId, payer);
    const first_seen = this.payers.get(key)?.first_seen ?? firstSeen;
    this.payers.set(key, { user_id: userId, payer, ...state, first_seen });
  }

  setAccount(userId: string, seq: number, nextArrival: bigint, total: bigint): void {
    this.accounts.set(userId, { user_id: userId, seq, next_arrival: nextArrival, total });
  }

  /**
   * Writes the batch: each table's write is a data-modifying CTE, and CTEs share a statement up
   * to WRITE_ROWS_MAX rows. They touch different rows (an entry used in the same batch is
   * inserted already marked used), so sharing one snapshot is safe, and so is splitting.
   */
  async write(db: PoolClient): Promise<void> {
    const slices = this.tableSlices();
    for (let start = 0; start < slices.length; ) {
      let rows = 0;
      let end = start;
      while (end < slices.length && (end === start || rows + slices[end]!.rows <= WRITE_ROWS_MAX)) {
        rows += slices[end]!.rows;
        end += 1;
      }
      const { sql, params } = combine(slices.slice(start, end).map((s) => s.build()));
      await db.query(sql, params);
      start = end;
      if (start < slices.length) await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Every table's rows, cut into slices of at most WRITE_ROWS_MAX; each built only when sent. */
  private tableSlices(): { rows: number; build: () => Statement }[] {
    const lots: LotRow[] = [];
    for (const [lot, userId] of this.changed) {
      lots.push({ user_id: userId, arrival: lot.arrival, remaining: lot.remaining, adjusted: lot.adjusted });
    }
    // Entries created in this batch are inserted already marked used (one snapshot: an UPDATE in
    // the same statement would not see them).
    const createdEntries = new Set(this.entries.map((e) => e.entry_id));
    return [
      ...slicesOf(insertCommands, this.commands),
      ...slicesOf(insertEntries, this.entries),
      ...slicesOf(
        insertLots,
        [...this.created.values()].flatMap((lots) => [...lots.values()]),
      ),
      ...slicesOf(updateLots, lots),
      ...slicesOf(insertAllocations, this.allocations),
      ...slicesOf(upsertPayers, [...this.payers.values()]),
      ...slicesOf(
        markItemsUsed,
        this.itemsUsed.filter((u) => !createdEntries.has(u.entry_id)),
      ),
      ...slicesOf(updateAccounts, [...this.accounts.values()]),
    ];
  }
}

function slicesOf<R>(write: TableWrite<R>, rows: readonly R[]): { rows: number; build: () => Statement }[] {
  const slices: { rows: number; build: () => Statement }[] = [];
  for (let start = 0; start < rows.length; start += WRITE_ROWS_MAX) {
    const slice = rows.slice(start, start + WRITE_ROWS_MAX);
    slices.push({ rows: slice.length, build: () => tableStatement(write, slice) });
  }
  return slices;
}
