/**
 * A batch write declares each table's columns once (name, Postgres type, how to read the value
 * from a row); the column list, the `unnest($n::type[], ...)` casts and the parameter arrays are
 * all built from that one declaration, so they cannot drift apart.
 */

export interface Column<R> {
  name: string;
  /** The Postgres element type the array parameter is cast to. */
  type: string;
  value: (row: R) => unknown;
}

/** A table's write: its columns, and its statement around `from` (the unnest over the rows). */
export interface TableWrite<R> {
  columns: readonly Column<R>[];
  /** `from` is `unnest(...) AS v(<names>)`; `names` the comma-separated column names. */
  sql: (from: string, names: string) => string;
}

/** SQL with its own $1..$n placeholders, and their values. */
export interface Statement {
  sql: string;
  params: unknown[];
}

export function tableStatement<R>(write: TableWrite<R>, rows: readonly R[]): Statement {
  const names = write.columns.map((c) => c.name).join(", ");
  const casts = write.columns.map((c, i) => `$${i + 1}::${c.type}[]`).join(", ");
  const params = write.columns.map((c) => rows.map(c.value));
  return { sql: write.sql(`unnest(${casts}) AS v(${names})`, names), params };
}

/** Joins statements into one of data-modifying CTEs, renumbering placeholders. */
export function combine(statements: Statement[]): Statement {
  const params: unknown[] = [];
  const ctes = statements.map((s, i) => {
    const offset = params.length;
    params.push(...s.params);
    const sql = s.sql.replace(/\$(\d+)/g, (_m, n: string) => `$${Number(n) + offset}`);
    return `w${i} AS (${sql})`;
  });
  return { sql: `WITH ${ctes.join(",\n")}\nSELECT 1`, params };
}
