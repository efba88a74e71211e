/**
 * The accounting report figures (migration 009, contract 7): a batch's movements summed per
 * (Kafka partition, payer, UTC day) in memory, then added to that day's, month's and year's rows
 * of `report_figures` by one statement (a data-modifying CTE of the batch write). Only the writer
 * of a partition writes its rows, so no row is shared between writers; a late-recorded expiry
 * counts on the day it expired (Movement.at), updating a past period's row of the same partition.
 * The same rows also move the running totals (`report_totals`, migration 011) the payer report
 * reads: two rows per (partition, payer) for any period.
 */
import type { Movement, MovementCategory } from "@points/core";
import { assert, MovementCategory as MovementCategoryEnum } from "@points/shared";
import type { Statement, TableWrite } from "./storage/unnest";

/** The report columns: the movement categories of the wire schema, in its order. */
export const FIGURE_CATEGORIES: readonly MovementCategory[] = MovementCategoryEnum.options;

const DAY_MS = 86_400_000;

/** One (partition, payer, day) of a batch: the sums of its movements per category. */
export interface FigureRow {
  kafka_partition: number;
  payer: string;
  /** YYYY-MM-DD (UTC). */
  day: string;
  sums: Record<MovementCategory, bigint>;
}

function zeroSums(): Record<MovementCategory, bigint> {
  return {
    earned: 0n,
    adjusted: 0n,
    spent: 0n,
    spend_reversed: 0n,
    earn_reversed: 0n,
    expired: 0n,
    held: 0n,
  };
}

/** Accumulates a batch's movements; `rows()` is what the batch write sends. */
export class ReportFigures {
  private readonly byKey = new Map<string, FigureRow>();

  /** Adds one outcome's movements of a member whose commands this partition's writer applies. */
  add(kafkaPartition: number, movements: readonly Movement[]): void {
    assert(Number.isInteger(kafkaPartition) && kafkaPartition >= 0, `bad kafka partition ${kafkaPartition}`);
    for (const m of movements) {
      assert(m.at !== null, "a movement without an instant cannot be reported");
      const day = new Date(Math.floor(m.at / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
      const key = `${kafkaPartition}\u0000${m.payer}\u0000${day}`;
      let row = this.byKey.get(key);
      if (row === undefined) {
        row = { kafka_partition: kafkaPartition, payer: m.payer, day, sums: zeroSums() };
        this.byKey.set(key, row);
      }
      row.sums[m.category] += m.points;
    }
  }

  rows(): FigureRow[] {
    return [...this.byKey.values()];
  }
}

const sumColumns = FIGURE_CATEGORIES.map((c) => ({
  name: c,
  type: "bigint",
  value: (r: FigureRow) => r.sums[c].toString(),
}));
const names = FIGURE_CATEGORIES.join(", ");

/**
 * Each day row is added to its day, month and year rows; the GROUP BY merges the days of a batch
 * that share a month (ON CONFLICT may touch a row once per statement).
 */
export const upsertFigures: TableWrite<FigureRow> = {
  columns: [
    { name: "kafka_partition", type: "integer", value: (r) => r.kafka_partition },
    { name: "payer", type: "text", value: (r) => r.payer },
    { name: "day", type: "date", value: (r) => r.day },
    ...sumColumns,
  ],
  sql: (from) =>
    `INSERT INTO report_figures (kafka_partition, payer, span, period, ${names})
     SELECT v.kafka_partition, v.payer, s.span, date_trunc(s.span, v.day::timestamp)::date,
            ${FIGURE_CATEGORIES.map((c) => `sum(v.${c})`).join(", ")}
       FROM ${from} CROSS JOIN (VALUES ('day'), ('month'), ('year')) AS s(span)
      GROUP BY 1, 2, 3, 4
     ON CONFLICT (kafka_partition, payer, span, period) DO UPDATE SET
       ${FIGURE_CATEGORIES.map((c) => `${c} = report_figures.${c} + excluded.${c}`).join(",\n       ")}`,
};

/**
 * The running totals (migration 011): for each (partition, payer) of the batch, its rows from the
 * batch's first day on (the batch's days and the later days already kept, which a late expiry
 * reaches) are set to the totals through that day: the latest kept row at or before it plus the
 * batch's sums of the days up to it. One statement, one snapshot, each row written once. The
 * values are read, then written: a second writer of the same partition in between would lose
 * its change (or have this one lost), so `lockTotalsStatement` runs first.
 */
export const upsertTotals: TableWrite<FigureRow> = {
  columns: upsertFigures.columns,
  sql: (from) =>
    `INSERT INTO report_totals AS t (kafka_partition, payer, day, ${names})
     SELECT d.kafka_partition, d.payer, d.day,
            ${FIGURE_CATEGORIES.map((c) => `coalesce(k.${c}, 0) + s.${c}`).join(", ")}
       FROM (SELECT kafka_partition, payer, day FROM ${from}
             UNION
             SELECT k.kafka_partition, k.payer, k.day
               FROM (SELECT kafka_partition, payer, min(day) AS first FROM ${from} GROUP BY 1, 2) f
               JOIN report_totals k
                 ON k.kafka_partition = f.kafka_partition AND k.payer = f.payer AND k.day > f.first) d
       LEFT JOIN LATERAL (SELECT * FROM report_totals k
                           WHERE k.kafka_partition = d.kafka_partition AND k.payer = d.payer AND k.day <= d.day
                           ORDER BY k.day DESC LIMIT 1) k ON true
      CROSS JOIN LATERAL (SELECT ${FIGURE_CATEGORIES.map((c) => `sum(v.${c}) AS ${c}`).join(", ")} FROM ${from}
                           WHERE v.kafka_partition = d.kafka_partition AND v.payer = d.payer AND v.day <= d.day) s
     ON CONFLICT (kafka_partition, payer, day) DO UPDATE SET
       ${FIGURE_CATEGORIES.map((c) => `${c} = excluded.${c}`).join(",\n       ")}`,
};

/** The advisory-lock class (first key) of the report totals of one partition (second key). */
export const TOTALS_LOCK_CLASS = 15_011;

/**
 * Locks the partitions of the batch's figures until the transaction ends, in ascending order
 * (two writers never wait on each other in a cycle). Two transactions can write one partition's
 * figures at once: the expiry scheduler's group (scheduler.ts) runs beside a Kafka batch's group
 * in the same process (GROUPS_IN_FLIGHT_MAX), with members of the same partitions, and during a
 * rebalance an instance can still be applying a partition another has just been given. The
 * account locks order them per member, not per partition. The running totals and the carry read
 * a partition's rows and write values computed from them, so two such writers would overwrite
 * each other's totals (the chaos run found a hold's release lost from a day's totals that way,
 * while the additive figures were right). One round trip per batch; a wait only when two groups
 * share a partition. Its own statement, before the carry and the totals (a statement's snapshot
 * is taken when it starts, before any lock it takes).
 */
export function lockTotalsStatement(rows: readonly FigureRow[]): Statement | null {
  const partitions = [...new Set(rows.map((r) => r.kafka_partition))].sort((a, b) => a - b);
  if (partitions.length === 0) return null;
  return {
    sql: "SELECT count(pg_advisory_xact_lock($1::int, p)) FROM unnest($2::int[]) AS p",
    params: [TOTALS_LOCK_CLASS, partitions],
  };
}

/**
 * (partition, day)s this process has carried forward (or found carried): the carry costs one
 * statement per partition and day, not one per batch. Losing an entry (a restart, a rolled-back
 * batch) only repeats a statement that then finds the day carried; a carry that did not happen
 * only makes reads of that partition take the longer range (correct either way).
 */
const carriedHere = new Set<string>();
const CARRIED_HERE_MAX = 10_000;

/**
 * Carries the running totals forward (migration 014): for each partition of the batch not yet
 * carried on its latest day, marks (partition, day) carried and copies each payer's latest totals
 * before that day to that day (a payer with a row on that day keeps it). The copy reads from the
 * partition's previous carried day on, so it costs the payers, not the history. Its own statement,
 * before the batch's writes: the batch's totals then add to the carried rows of its day.
 */
export function carryStatement(rows: readonly FigureRow[]): Statement | null {
  const latest = new Map<number, string>();
  for (const r of rows) {
    const day = latest.get(r.kafka_partition);
    if (day === undefined || r.day > day) latest.set(r.kafka_partition, r.day);
  }
  const todo = [...latest].filter(([partition, day]) => !carriedHere.has(`${partition}|${day}`));
  if (todo.length === 0) return null;
  if (carriedHere.size + todo.length > CARRIED_HERE_MAX) carriedHere.clear();
  for (const [partition, day] of todo) carriedHere.add(`${partition}|${day}`);
  return {
    sql: `WITH todo AS (
            INSERT INTO report_carried (kafka_partition, day)
            SELECT * FROM unnest($1::int[], $2::date[]) ON CONFLICT DO NOTHING
            RETURNING kafka_partition, day)
          INSERT INTO report_totals (kafka_partition, payer, day, ${names})
          SELECT todo.kafka_partition, k.payer, todo.day, ${FIGURE_CATEGORIES.map((c) => `k.${c}`).join(", ")}
            FROM todo CROSS JOIN LATERAL (
              SELECT DISTINCT ON (t.payer) t.* FROM report_totals t
               WHERE t.kafka_partition = todo.kafka_partition AND t.day < todo.day
                 AND t.day >= coalesce((SELECT max(c.day) FROM report_carried c
                                         WHERE c.kafka_partition = todo.kafka_partition AND c.day < todo.day),
                                       '-infinity'::date)
               ORDER BY t.payer, t.day DESC) k
          ON CONFLICT (kafka_partition, payer, day) DO NOTHING`,
    params: [todo.map(([partition]) => partition), todo.map(([, day]) => day)],
  };
}
