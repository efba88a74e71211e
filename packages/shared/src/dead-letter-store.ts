import type pg from "pg";
import type { IHeaders, Message } from "./kafka";

/**
 * A readable copy of what a service dead-letters, for operators (GET /v1/dead-letters and the
 * console). The `.dlq` topics keep the full (already bounded) copy; the `dead_letters` table keeps
 * where it came from, why, and the first VALUE_EXCERPT_CHARS_MAX characters of its value, and only
 * the newest DEAD_LETTERS_KEPT_PER_SOURCE rows per source. Written by the service that
 * dead-letters (ingest: `partner`, ledger: `ledger`) after the DLQ topic has the copy.
 */
export const DEAD_LETTER_SOURCES = ["partner", "ledger"] as const;
export type DeadLetterSource = (typeof DEAD_LETTER_SOURCES)[number];
export const VALUE_EXCERPT_CHARS_MAX = 2_048;
export const DEAD_LETTERS_KEPT_PER_SOURCE = 10_000;
const PARTNER_ID_CHARS_MAX = 200;
const ERROR_CODE_CHARS_MAX = 100;
const ERROR_MESSAGE_CHARS_MAX = 1_000;

interface DeadLetterRecord {
  partition: number;
  offset: string;
  partnerId: string | null;
  errorCode: string;
  errorMessage: string;
  valueExcerpt: string;
}

type Queryable = Pick<pg.Pool, "query">;

/** Records DLQ messages built by `deadLetter()` (their headers say where from and why). */
export async function recordDeadLetters(
  db: Queryable,
  source: DeadLetterSource,
  messages: Message[],
): Promise<void> {
  if (messages.length === 0) return;
  const records = messages.map(recordOf);
  await db.query(
    `INSERT INTO dead_letters (source, "partition", "offset", partner_id, error_code, error_message, value_excerpt)
     SELECT $1, * FROM unnest($2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[])
     ON CONFLICT (source, "partition", "offset") DO NOTHING`,
    [
      source,
      records.map((r) => r.partition),
      records.map((r) => r.offset),
      records.map((r) => r.partnerId),
      records.map((r) => r.errorCode),
      records.map((r) => r.errorMessage),
      records.map((r) => r.valueExcerpt),
    ],
  );
  // Retention: everything older than the newest N of this source goes (an index range scan).
  await db.query(
    `DELETE FROM dead_letters WHERE source = $1 AND id <= (
       SELECT id FROM dead_letters WHERE source = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
    [source, DEAD_LETTERS_KEPT_PER_SOURCE],
  );
}

function recordOf(message: Message): DeadLetterRecord {
  const headers = message.headers ?? {};
  const partnerId = header(headers, "x-partner-id");
  return {
    partition: Number(header(headers, "x-original-partition") ?? -1),
    offset: header(headers, "x-original-offset") ?? "-1",
    partnerId: partnerId === null ? null : text(partnerId, PARTNER_ID_CHARS_MAX),
    errorCode: text(header(headers, "x-error-code") ?? "unknown", ERROR_CODE_CHARS_MAX),
    errorMessage: text(header(headers, "x-error-message") ?? "", ERROR_MESSAGE_CHARS_MAX),
    valueExcerpt: excerpt(message.value),
  };
}

function header(headers: IHeaders, name: string): string | null {
  const value = [headers[name]].flat()[0];
  if (value === undefined) return null;
  return Buffer.isBuffer(value) ? value.toString("utf8") : String(value);
}

/** Postgres text refuses NUL; anything else undecodable is already U+FFFD after toString. */
function text(value: string, charsMax: number): string {
  return value.replaceAll("\u0000", "\uFFFD").slice(0, charsMax);
}

function excerpt(value: Message["value"]): string {
  if (value === null || value === undefined) return "";
  // Decode at most 4 bytes per kept character: a bounded slice, whatever the value's size.
  const head = Buffer.isBuffer(value)
    ? value.subarray(0, VALUE_EXCERPT_CHARS_MAX * 4).toString("utf8")
    : value;
  return text(head, VALUE_EXCERPT_CHARS_MAX);
}
