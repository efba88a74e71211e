/**
 * Daily balance snapshots (contract 6.4; docs/lifecycle-design.md section 4). The gateway answers
 * `balance?as_of=` from the nearest snapshot at or before the instant when fewer movements follow
 * it than precede now, so a snapshot must be exact: the core's balancesAt at the start of the UTC
 * day (held points out, points due by then out, recorded or not), payers in first-seen order.
 *
 * The ledger is the one writer of a member's rows, so it takes the snapshot from the book it has
 * already loaded, before the batch's commands change it: the payers' sums, and every lot that can
 * be due by the day's start (a batch loads the whole book when the stored next expiry has come,
 * and the day's start is before the batch). No history is read. It is written in the same
 * transaction as the member's first change of the day: insertSnapshots below stores it only if
 * no movement stored for the member counts after the day's start (else it would miss that
 * change), so a ledger started mid-day, or a member whose only earlier change of the day was
 * refused, never gets an inexact one. Rows are one per member and active day, never updated.
 */
import { type BalanceSnapshot, daySnapshot } from "@points/core";
import { assert } from "@points/shared";
import type { TableWrite } from "./storage/unnest";
import type { Account } from "./store";

interface Taken {
  userId: string;
  account: Account;
  /** The member's version when the snapshot was taken: a change of the batch moves it. */
  seq: number;
  snapshot: BalanceSnapshot;
}

export class DaySnapshots {
  private readonly taken: Taken[] = [];

  /**
   * Call before the batch's commands are decided: the books as the day's first change finds them.
   * `whole`: the members whose every lot with points was loaded (Coverage.full).
   */
  constructor(accounts: ReadonlyMap<string, Account>, whole: ReadonlySet<string>, now: number) {
    for (const [userId, account] of accounts) {
      const snapshot = daySnapshot(account.book, now);
      if (snapshot === null) continue;
      // Lots due by the day's start must be in the book, or their points would count in it.
      const due = account.storedNextExpiry;
      assert(
        due === null || due > snapshot.at || whole.has(userId),
        `the book of ${userId} has points due by ${snapshot.at} but was not loaded whole`,
      );
      this.taken.push({ userId, account, seq: account.seq, snapshot });
    }
  }

  /**
   * Call after deciding: the snapshot rows of the members the batch changed. BatchWrites sends
   * them in the batch's first statement, with insertSnapshots' condition judged on the movements
   * stored before it (the statement's own are not visible to it).
   */
  rows(): SnapshotRow[] {
    return this.taken
      .filter((t) => t.account.seq > t.seq)
      .map((t) => ({ user_id: t.userId, at: t.snapshot.at, balances: balancesJson(t.snapshot) }));
  }
}

export interface SnapshotRow {
  user_id: string;
  at: number;
  balances: string;
}

/**
 * Stores a snapshot unless a stored movement of the member counts after its instant (then this is
 * not the member's first change since the day's start, and the snapshot would miss that change).
 * A data-modifying CTE sees the rows as they were before its statement, so the batch's own
 * movements, written in the same statement, do not count.
 */
export const insertSnapshots: TableWrite<SnapshotRow> = {
  columns: [
    { name: "user_id", type: "text", value: (r) => r.user_id },
    { name: "at", type: "timestamptz", value: (r) => new Date(r.at).toISOString() },
    { name: "balances", type: "jsonb", value: (r) => r.balances },
  ],
  sql: (from, names) =>
    `INSERT INTO balance_snapshots (${names}) SELECT ${names} FROM ${from}
      WHERE NOT EXISTS (SELECT 1 FROM movements m WHERE m.user_id = v.user_id AND m.at > v.at)
     ON CONFLICT (user_id, at) DO NOTHING`,
};

/**
 * `[{payer, points}]` in first-seen order, points as decimal strings: a balance may pass 2^53
 * (TOTAL_MAX is 2^63 - 1), which a JSON number read by JavaScript would round. The gateway reads
 * both forms (book-reads.ts chooseBase).
 */
export function balancesJson(snapshot: BalanceSnapshot): string {
  return JSON.stringify(snapshot.balances.map((b) => ({ payer: b.payer, points: b.points.toString() })));
}
