/**
 * What the security tests send and how they judge an answer: the contract's error envelope with
 * the code that belongs to the status, never a 5xx, never a stack trace, SQL or driver text, never
 * a header the client smuggled in.
 */

import { connect } from "node:net";
import { ERROR_STATUS } from "@points/shared";

export interface Sent {
  method: string;
  /** Path and query, already percent-encoded as it goes on the wire. */
  path: string;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  text: string;
}

/** Statuses of the contract's table (section 2), 500 excluded: a client never sees it. */
const DOCUMENTED_ERROR_STATUSES = new Set(
  Object.values(ERROR_STATUS as Record<string, number>).filter((s) => s < 500 || s === 503),
);

/**
 * Text that must never reach a client: stack frames, source paths, driver and SQL messages.
 * Checked only when the request itself did not contain the text (an echoed id is not a leak).
 */
const LEAKS: [string, RegExp][] = [
  ["a stack frame", /\bat \S+ \(?\S+:\d+:\d+\)?/],
  ["a source path", /\.(ts|js|mjs|cjs):\d+/],
  ["node_modules", /node_modules/],
  ["a JS error name", /\b(TypeError|RangeError|ReferenceError|SyntaxError)\b/],
  ["a stack overflow", /Maximum call stack/i],
  [
    "a Postgres error",
    /syntax error at or near|invalid input syntax|invalid byte sequence|violates .*constraint|duplicate key value|unsupported Unicode escape|relation "|column "|\bSQLSTATE\b/i,
  ],
  [
    "SQL text",
    /\b(SELECT\b[\s\S]*\bFROM|INSERT INTO|UPDATE\s+\w+\s+SET|DELETE FROM|unnest\(|ON CONFLICT)\b/i,
  ],
  ["a driver name", /\b(kafkajs|ioredis|node-postgres|pg-pool|body-parser|raw-body)\b/i],
  ["a network error", /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)\b/],
];

export interface Expectation {
  /** Extra statuses that are legitimate here (e.g. 301 for /docs). */
  alsoAllowed?: number[];
}

/** Every problem with the answer to `sent`; an empty list means the answer is acceptable. */
export function problemsOf(sent: Sent, answer: Answer, expectation: Expectation = {}): string[] {
  const problems: string[] = [];
  const { status } = answer;
  const allowed =
    (status >= 200 && status < 300) ||
    DOCUMENTED_ERROR_STATUSES.has(status) ||
    (expectation.alsoAllowed ?? []).includes(status);
  if (!allowed) problems.push(`status ${status} is not one the contract documents`);
  if (status >= 400 && sent.method !== "HEAD") problems.push(...envelopeProblems(answer));
  if (status === 429 && !answer.headers["retry-after"]) problems.push("429 without Retry-After");
  const sentText = `${sent.path}\n${JSON.stringify(sent.headers ?? {})}\n${bodyText(sent.body)}`;
  // Echoed input is not a leak: compare with what was sent, each run of %-escapes decoded on its
  // own (a stray "%" or bad UTF-8 elsewhere must not keep the rest encoded).
  const decodedSent = percentDecoded(sentText.replace(/\+/g, " "));
  for (const [what, pattern] of LEAKS) {
    if (pattern.test(answer.text) && !pattern.test(sentText) && !pattern.test(decodedSent)) {
      problems.push(`the body shows ${what}`);
    }
  }
  for (const name of Object.keys(answer.headers)) {
    if (name.startsWith("x-injected")) problems.push(`the answer carries a smuggled header ${name}`);
  }
  return problems;
}

/** Every run of valid %XX escapes decoded; invalid ones (a stray "%", bad UTF-8) left as they are. */
function percentDecoded(text: string): string {
  return text.replace(/(%[0-9A-Fa-f]{2})+/g, (run) => {
    try {
      return decodeURIComponent(run);
    } catch {
      return run;
    }
  });
}

/** `{"error":{"code","message","fields"?,"items"?}}` with the code that belongs to the status. */
export function envelopeProblems(answer: Answer): string[] {
  if (!/^application\/json\b/.test(answer.headers["content-type"] ?? "")) {
    return [`a ${answer.status} that is not JSON (content-type ${answer.headers["content-type"]})`];
  }
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return [`a ${answer.status} whose body is not JSON`];
  }
  const envelope = body as { error?: Record<string, unknown> };
  if (!isObject(body) || Object.keys(body).join() !== "error" || !isObject(envelope.error)) {
    return [`a ${answer.status} without the error envelope`];
  }
  const { code, message, fields, items, ...rest } = envelope.error;
  const problems: string[] = [];
  const expected = (ERROR_STATUS as Record<string, number>)[String(code)];
  if (expected !== answer.status) problems.push(`code ${String(code)} does not belong to ${answer.status}`);
  if (typeof message !== "string" || message === "") problems.push("no message");
  if (fields !== undefined && !isFields(fields)) problems.push("fields is not {name: [messages]}");
  if (items !== undefined && !(Array.isArray(items) && items.every(isObject)))
    problems.push("items is not [{}]");
  if (Object.keys(rest).length > 0) problems.push(`unexpected keys ${Object.keys(rest).join(",")}`);
  return problems;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);
const isFields = (v: unknown) =>
  isObject(v) && Object.values(v).every((m) => Array.isArray(m) && m.every((s) => typeof s === "string"));

function bodyText(body: Sent["body"]): string {
  if (body === undefined) return "";
  return typeof body === "string" ? body : Buffer.from(body).toString("latin1");
}

/** Headers fetch would refuse to send (control characters, > U+00FF) are left out (sendRaw sends them). */
export function sendableHeaders(headers: Record<string, string>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (/[\u0000-\u0008\u000a-\u001f\u007f]|[^\u0000-\u00ff]/.test(value)) continue;
    try {
      new Headers([[name, value]]);
      kept[name] = value;
    } catch {}
  }
  return kept;
}

/** One request with fetch; never throws on an HTTP status; redirects are answers, not followed. */
export async function send(base: string, sent: Sent): Promise<Answer> {
  const withBody = sent.body !== undefined && sent.method !== "GET" && sent.method !== "HEAD";
  const res = await fetch(`${base}${sent.path}`, {
    method: sent.method,
    headers: sendableHeaders(sent.headers ?? {}),
    redirect: "manual",
    ...(withBody ? { body: sent.body as string } : {}),
  });
  const headers: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return { status: res.status, headers, text: await res.text() };
}

/**
 * Bytes straight onto a socket, for what fetch refuses to send (raw control characters, CR/LF in
 * a header, an invalid method). Parses the status line, headers and body of one answer.
 */
export function sendRaw(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error("no answer on the raw socket"));
    }, timeoutMs);
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", () => {}); // a reset after the answer is fine; no answer is judged below
    socket.on("close", () => {
      clearTimeout(timer);
      const raw = Buffer.concat(chunks).toString("latin1");
      const answer = parseRawAnswer(raw);
      if (answer) resolve(answer);
      else reject(new Error(`no HTTP answer, got ${JSON.stringify(raw.slice(0, 200))}`));
    });
    socket.write(request);
    // Half-close after the request so a server that waits for more bytes still answers.
    socket.end();
  });
}

function parseRawAnswer(raw: string): Answer | null {
  const end = raw.indexOf("\r\n\r\n");
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  if (!match || end === -1) return null;
  const headers: Record<string, string> = {};
  for (const line of raw.slice(0, end).split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.slice(end + 4);
  if (headers["transfer-encoding"] === "chunked") body = unchunk(body);
  return { status: Number(match[1]), headers, text: Buffer.from(body, "latin1").toString("utf8") };
}

/** Chunked transfer coding, on latin1 text so chunk sizes count bytes. */
function unchunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (eol === -1 || !(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}
