/**
 * Everything one batch writes, accumulated in memory while the domain core decides, then
 * written table by table. Lots and payer balances are kept as final values, so a lot touched by
 * ten commands in a batch is written once.
 */
import type { Lot, LotChange, Movement } from "@points/core";
import { assert } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
import type { CommandRecord } from "./command-record";
import { lotKey, payerKey } from "./keys";
import { type Heartbeat, nextTurn } from "./pace";
import type { LoadedLots } from "./prefetch";
import {
  carryStatement,
  lockTotalsStatement,
  ReportFigures,
  upsertFigures,
  upsertTotals,
} from "./report-figures";
import { insertSnapshots, type SnapshotRow } from "./snapshots";
import {
  type AccountRow,
  type HolderDelta,
  type PayerRow,
  updateAccounts,
  upsertHolders,
  upsertPayers,
} from "./storage/accounts";
import { type AllocationRow, insertAllocations } from "./storage/allocations";
import { insertCommands } from "./storage/commands";
import { insertEntries, markItemsUsed, type NewEntry } from "./storage/entries";
import {
  type HoldAllocationRow,
  type HoldRow,
  insertHoldAllocations,
  insertMovements,
  type MovementRow,
  updateAllocationsReversed,
  updateEntriesReversed,
  upsertHolds,
} from "./storage/lifecycle";
import { insertLots, type LotRow, type NewLot, updateLots } from "./storage/lots";
import { combine, type Statement, type TableWrite, tableStatement } from "./storage/unnest";

/**
 * Rows one statement writes, over all its tables. A usual batch is one statement (one round
 * trip); a huge one (a spend across 60,000 lots) becomes several, with the event loop given a
 * turn between them, since building and sending the parameters costs time linear in the rows:
 * pg serializes them in one synchronous call (~3 µs a row; 8,192 rows held the loop 25-90 ms
 * on a loaded 2-core machine, 4,096 half that).
 */
export const WRITE_ROWS_MAX = 4_096;

export class BatchWrites {
  readonly commands: CommandRecord[] = [];
  readonly entries: NewEntry[] = [];
  readonly itemsUsed: { user_id: string; entry_id: string }[] = [];
  /** By user, entry and lot: a reversal in the same batch updates the row before it is written. */
  private readonly allocations = new Map<string, AllocationRow>();
  readonly holds = new Map<string, HoldRow>();
  /** The report figures (report-figures.ts), summed from the same movements. */
  private readonly figures = new ReportFigures();
  readonly holdAllocations: HoldAllocationRow[] = [];
  /** Day snapshots (snapshots.ts): first, so their condition sees only earlier batches' movements. */
  readonly snapshots: SnapshotRow[] = [];
  private readonly movements = new Map<string, MovementRow>();
  /** Reversed entries and takes written before this batch: their final `reversed`. */
  private readonly entriesReversed = new Map<
    string,
    { user_id: string; entry_id: string; reversed: bigint }
  >();
  private readonly allocationsReversed = new Map<
    string,
    { user_id: string; entry_id: string; arrival: bigint; reversed: bigint }
  >();
  /** Lots created in this batch, per user and arrival (no string key built per lot change). */
  private readonly created = new Map<string, Map<bigint, NewLot>>();
  /** Loaded lots a change touched: the book's own lot objects, so their final values are read at write. */
  private readonly changed = new Map<Lot, string>();
  private readonly payers = new Map<string, PayerRow>();
  /** Per payer row: its partition and outstanding as stored before the batch (the holder counts). */
  private readonly holdersBefore = new Map<string, { partition: number; outstanding: bigint }>();
  private readonly accounts = new Map<string, AccountRow>();

  constructor(private readonly loaded: LoadedLots) {}

  /** A lot loaded for this batch (never one created in it), or undefined. */
  loadedLot(userId: string, arrival: bigint): Lot | undefined {
    return this.loaded.get(userId)?.get(arrival);
  }

  createLot(
    userId: string,
    lot: Omit<NewLot, "user_id" | "remaining" | "adjusted" | "held" | "expired" | "reversed">,
  ): void {
    const mine = this.created.get(userId) ?? new Map<bigint, NewLot>();
    this.created.set(userId, mine);
    mine.set(lot.arrival, {
      ...lot,
      user_id: userId,
      remaining: lot.points,
      adjusted: 0n,
      held: 0n,
      expired: 0n,
      reversed: 0n,
    });
  }

  /** The ts (epoch ms) of a lot created in this batch, or undefined. */
  createdLotTs(userId: string, arrival: bigint): number | undefined {
    const lot = this.created.get(userId)?.get(arrival);
    return lot === undefined ? undefined : Date.parse(lot.ts);
  }

  /** A lot a reversal brought back into the book: its object is the one the core changes. */
  admitLoaded(userId: string, lot: Lot): void {
    const mine = this.loaded.get(userId) ?? new Map<bigint, Lot>();
    this.loaded.set(userId, mine);
    const before = mine.get(lot.arrival);
    if (before === lot) return;
    mine.set(lot.arrival, lot);
    // The book now holds a copy (admitLots): changes made to the old object so far are in it.
    if (before !== undefined && this.changed.delete(before)) this.changed.set(lot, userId);
  }

  /** Marks the lots changed, and, for an entry, writes its allocation rows (null: a hold step). */
  applyChanges(userId: string, entryId: string | null, changes: LotChange[]): void {
    for (const c of changes) {
      const created = this.created.get(userId)?.get(c.arrival);
      if (created) {
        created.remaining += c.remainingDelta;
        created.adjusted += c.adjustedDelta;
        created.held += c.heldDelta ?? 0n;
        created.expired += c.expiredDelta ?? 0n;
        created.reversed += c.reversedDelta ?? 0n;
      } else {
        const lot = this.loadedLot(userId, c.arrival);
        if (lot === undefined) assert(false, `lot ${lotKey(userId, c.arrival)} changed but was never loaded`);
        this.changed.set(lot, userId);
      }
    }
    if (entryId !== null) this.allocate(userId, entryId, changes);
  }

  /** The allocation rows of an entry (the audit trail of the lot changes it explains). */
  allocate(userId: string, entryId: string, changes: LotChange[]): void {
    for (const c of changes) {
      const key = `${entryId}\u0000${c.arrival}`;
      assert(!this.allocations.has(key), `lot ${lotKey(userId, c.arrival)} twice in entry ${entryId}`);
      this.allocations.set(key, {
        user_id: userId,
        entry_id: entryId,
        arrival: c.arrival,
        payer: c.payer,
        remaining_delta: c.remainingDelta,
        adjusted_delta: c.adjustedDelta,
        held_delta: c.heldDelta ?? 0n,
        expired_delta: c.expiredDelta ?? 0n,
        reversed_delta: c.reversedDelta ?? 0n,
        reversed: 0n,
      });
    }
  }

  /**
   * The report movements of one change (entry or hold step), at the member's version `seq`, and
   * the figures of the member's partition (whose one writer this batch is).
   */
  addMovements(
    userId: string,
    partition: number,
    seq: number,
    source: string,
    movements: readonly Movement[],
  ): void {
    this.figures.add(partition, movements);
    for (const m of movements) {
      assert(m.at !== null, "lifecycle-aware calls always pass now, so every movement has an instant");
      const key = `${userId}\u0000${seq}\u0000${source}\u0000${m.payer}\u0000${m.category}\u0000${m.at}`;
      const row = this.movements.get(key);
      if (row) row.points += m.points;
      else
        this.movements.set(key, {
          user_id: userId,
          seq,
          source,
          payer: m.payer,
          category: m.category,
          at: m.at,
          points: m.points,
        });
    }
  }

  /** Sets a reversed entry's `reversed` (the final value), in place when the entry is new. */
  setEntryReversed(userId: string, entryId: string, reversed: bigint): void {
    const created = this.entries.find((e) => e.entry_id === entryId);
    if (created) created.reversed = Number(reversed);
    else this.entriesReversed.set(entryId, { user_id: userId, entry_id: entryId, reversed });
  }

  /** Sets a reversed take's `reversed` (the final value), in place when the row is new. */
  setTakeReversed(userId: string, entryId: string, arrival: bigint, reversed: bigint): void {
    const key = `${entryId}\u0000${arrival}`;
    const created = this.allocations.get(key);
    if (created) created.reversed = reversed;
    else this.allocationsReversed.set(key, { user_id: userId, entry_id: entryId, arrival, reversed });
  }

  setPayer(
    userId: string,
    payer: string,
    state: { available: bigint; adjusted: bigint; held?: bigint },
    firstSeen: bigint,
    now: Date,
    before: { partition: number; outstanding: bigint },
  ): void {
    const key = payerKey(userId, payer);
    const prior = this.payers.get(key);
    if (!this.holdersBefore.has(key)) this.holdersBefore.set(key, before);
    this.payers.set(key, {
      user_id: userId,
      payer,
      available: state.available,
      adjusted: state.adjusted,
      held: state.held ?? 0n,
      first_seen: prior?.first_seen ?? firstSeen,
      first_seen_at: prior?.first_seen_at ?? now,
    });
  }

  /** Per (payer, partition), members who started (+1) or stopped (-1) holding its points. */
  private holderDeltas(): HolderDelta[] {
    const deltas = new Map<string, HolderDelta>();
    for (const [key, row] of this.payers) {
      const before = this.holdersBefore.get(key);
      assert(before !== undefined, `payer row ${key} without its stored outstanding`);
      const held = before.outstanding > 0n;
      const holds = row.available + row.held > 0n;
      if (held === holds) continue;
      const at = `${row.payer}\u0000${before.partition}`;
      const delta = deltas.get(at) ?? { payer: row.payer, kafka_partition: before.partition, holders: 0 };
      delta.holders += holds ? 1 : -1;
      deltas.set(at, delta);
    }
    return [...deltas.values()].filter((d) => d.holders !== 0);
  }

  setAccount(row: AccountRow): void {
    this.accounts.set(row.user_id, row);
  }

  /**
   * Writes the batch: each table's write is a data-modifying CTE, and CTEs share a statement up
   * to WRITE_ROWS_MAX rows. They touch different rows (an entry used in the same batch is
   * inserted already marked used), so sharing one snapshot is safe, and so is splitting.
   */
  async write(db: PoolClient, heartbeat?: Heartbeat): Promise<void> {
    const figures = this.figures.rows();
    // Each its own statement: the lock before anything reads the totals, and the carry before
    // the totals' upsert below adds to the rows it carries.
    for (const statement of [lockTotalsStatement(figures), carryStatement(figures)]) {
      if (statement) await db.query(statement.sql, statement.params);
    }
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
      if (start < slices.length) await nextTurn(heartbeat);
    }
  }

  /**
   * Every table's rows, cut into slices of at most WRITE_ROWS_MAX; each slice's rows are built
   * only when it is sent, so no one turn of the event loop builds every row of a huge batch.
   */
  private tableSlices(): Slice[] {
    const changedLots = [...this.changed.keys()];
    const changedUsers = [...this.changed.values()];
    // Entries created in this batch are inserted already marked used (one snapshot: an UPDATE in
    // the same statement would not see them).
    const createdEntries = new Set(this.entries.map((e) => e.entry_id));
    assert(this.snapshots.length <= WRITE_ROWS_MAX, "day snapshots must fit the batch's first statement");
    return [
      ...slicesOf(insertSnapshots, this.snapshots),
      ...slicesOf(insertCommands, this.commands),
      ...slicesOf(insertEntries, this.entries),
      ...slicesOf(
        insertLots,
        [...this.created.values()].flatMap((lots) => [...lots.values()]),
      ),
      ...slicesOf(updateLots, changedLots, (lot, i) => changedRow(lot, changedUsers[i]!)),
      ...slicesOf(insertAllocations, [...this.allocations.values()]),
      ...slicesOf(upsertPayers, [...this.payers.values()]),
      ...slicesOf(upsertHolders, this.holderDeltas()),
      ...slicesOf(
        markItemsUsed,
        this.itemsUsed.filter((u) => !createdEntries.has(u.entry_id)),
      ),
      ...slicesOf(updateAccounts, [...this.accounts.values()]),
      ...slicesOf(upsertHolds, [...this.holds.values()]),
      ...slicesOf(insertHoldAllocations, this.holdAllocations),
      ...slicesOf(insertMovements, [...this.movements.values()]),
      ...slicesOf(upsertFigures, this.figures.rows()),
      ...slicesOf(upsertTotals, this.figures.rows()),
      ...slicesOf(updateEntriesReversed, [...this.entriesReversed.values()]),
      ...slicesOf(updateAllocationsReversed, [...this.allocationsReversed.values()]),
    ];
  }
}

interface Slice {
  rows: number;
  build: () => Statement;
}

/** Slices of `items` as rows of `write` (`toRow`: how an item becomes its row, given its index). */
function slicesOf<R, I = R>(
  write: TableWrite<R>,
  items: readonly I[],
  toRow: (item: I, index: number) => R = (item) => item as unknown as R,
): Slice[] {
  const slices: Slice[] = [];
  for (let start = 0; start < items.length; start += WRITE_ROWS_MAX) {
    const end = Math.min(start + WRITE_ROWS_MAX, items.length);
    const build = () => {
      const rows: R[] = [];
      for (let i = start; i < end; i++) rows.push(toRow(items[i]!, i));
      return tableStatement(write, rows);
    };
    slices.push({ rows: end - start, build });
  }
  return slices;
}

/** A changed lot's row: its final values, read when its slice is built. */
function changedRow(lot: Lot, userId: string): LotRow {
  return {
    user_id: userId,
    arrival: lot.arrival,
    remaining: lot.remaining,
    adjusted: lot.adjusted,
    held: lot.held ?? 0n,
    expired: lot.expired ?? 0n,
    reversed: lot.reversed ?? 0n,
  };
}
