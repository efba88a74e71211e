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
 * transaction as the member's first change of the day: the one statement below stores it only if
 * no movement stored for the member counts after the day's start (else it would miss that
 * change), so a ledger started mid-day, or a member whose only earlier change of the day was
 * refused, never gets an inexact one. Rows are one per member and active day, never updated.
 */
import { type BalanceSnapshot, daySnapshot } from "@points/core";
import { assert } from "@points/shared";
import type { PoolClient } from "@points/shared/db";
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
   * Call after deciding and before the batch's own rows are written (its movements would count
   * after the day's start): stores the snapshot of each member the batch changed, unless a stored
   * movement says this is not the member's first change since that instant. Returns rows stored.
   */
  async write(db: PoolClient): Promise<number> {
    const changed = this.taken.filter((t) => t.account.seq > t.seq);
    if (changed.length === 0) return 0;
    const result = await db.query(
      `INSERT INTO balance_snapshots (user_id, at, balances)
       SELECT s.user_id, s.at, s.balances
         FROM unnest($1::text[], $2::timestamptz[], $3::jsonb[]) AS s(user_id, at, balances)
        WHERE NOT EXISTS (SELECT 1 FROM movements m WHERE m.user_id = s.user_id AND m.at > s.at)
       ON CONFLICT (user_id, at) DO NOTHING`,
      [
        changed.map((t) => t.userId),
        changed.map((t) => new Date(t.snapshot.at).toISOString()),
        changed.map((t) => balancesJson(t.snapshot)),
      ],
    );
    return result.rowCount ?? 0;
  }
}

/**
 * `[{payer, points}]` in first-seen order, points as decimal strings: a balance may pass 2^53
 * (TOTAL_MAX is 2^63 - 1), which a JSON number read by JavaScript would round. The gateway reads
 * both forms (book-reads.ts chooseBase).
 */
export function balancesJson(snapshot: BalanceSnapshot): string {
  return JSON.stringify(snapshot.balances.map((b) => ({ payer: b.payer, points: b.points.toString() })));
}
