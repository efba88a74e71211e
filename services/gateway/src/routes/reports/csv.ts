/** The payer report as CSV (contract 7, `Accept: text/csv`): a header line, then one line per payer. */

import type { ReportRow } from "@points/shared";
import { REPORT_COLUMNS } from "./schema";

/**
 * RFC 4180 quoting for fields that need it. A field a spreadsheet would read as a formula
 * (starting with = + - @, or a tab or CR) is quoted and prefixed with ' so opening the file
 * never runs anything a partner chose as its id.
 */
export function csvField(value: string | number): string {
  let text = String(value);
  if (typeof value === "string" && /^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n']/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function reportCsv(rows: readonly ReportRow[]): string {
  const lines = [REPORT_COLUMNS.join(",")];
  for (const row of rows) lines.push(REPORT_COLUMNS.map((c) => csvField(row[c])).join(","));
  return `${lines.join("\r\n")}\r\n`;
}
