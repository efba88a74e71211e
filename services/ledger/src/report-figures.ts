/**
 * The accounting report figures (migration 009, contract 7): a batch's movements summed per
 * (Kafka partition, payer, UTC day) in memory, then added to that day's, month's and year's rows
 * of `report_figures` by one statement (a data-modifying CTE of the batch write). Only the writer
 * of a partition writes its rows, so no row is shared between writers; a late-recorded expiry
 * counts on the day it expired (Movement.at), updating a past period's row of the same partition.
 */
import type { Movement, MovementCategory } from "@points/core";
import { assert, MovementCategory as MovementCategoryEnum } from "@points/shared";
import type { TableWrite } from "./storage/unnest";

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
