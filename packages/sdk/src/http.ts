import { randomUUID } from "node:crypto";
import type { z } from "zod";
import {
  COMMAND_PENDING,
  errorFromEnvelope,
  INVALID_RESPONSE,
  NETWORK_ERROR,
  WalletAPIError,
} from "./errors.js";
import { CommandStatus, ErrorEnvelope } from "./schemas.js";

/**
 * One HTTP exchange with the gateway, made safe to repeat: every POST carries an Idempotency-Key
 * (the caller's, or one generated here) that stays the same across its retries, so a retry after
 * a dropped connection or a 503 returns the first answer instead of applying twice. A 202 (the
 * ledger was slow) is followed to its outcome by polling the command.
 */
export interface RetryOptions {
  /** Tries in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const RETRY_DEFAULTS: RetryOptions = { attempts: 4, baseDelayMs: 100, maxDelayMs: 2_000 };
/** Longer than the gateway's default wait for the ledger (5 s), so a slow answer is not cut short. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How long a 202 is followed before giving up with command_pending. */
export const COMMAND_WAIT_MS = 30_000;
const POLL_DELAY_MS_MIN = 50;
const POLL_DELAY_MS_MAX = 1_000;
const STATUS_UNAVAILABLE = 503;
const STATUS_ACCEPTED = 202;

export interface TransportOptions {
  baseUrl: string;
  token: string;
  retry?: Partial<RetryOptions>;
  timeoutMs?: number;
  commandWaitMs?: number;
  /** A fetch to use instead of the global one (custom agent, proxy, instrumentation). */
  fetch?: typeof fetch;
}

export interface RequestSpec<T> {
  method: "GET" | "POST";
  /** Path and query, starting with "/". */
  path: string;
  body?: unknown;
  idempotencyKey?: string;
  schema: z.ZodType<T>;
  /** Statuses besides 2xx whose body is an answer, not an error (GET /health's 503). */
  answerStatuses?: number[];
}

interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
}

type Outcome = { kind: "answer"; answer: Answer } | { kind: "failure"; error: unknown };

export class Transport {
  private readonly baseUrl: string;
  private readonly retry: RetryOptions;
  private readonly timeoutMs: number;
  private readonly commandWaitMs: number;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: TransportOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.retry = { ...RETRY_DEFAULTS, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.commandWaitMs = options.commandWaitMs ?? COMMAND_WAIT_MS;
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async request<T>(spec: RequestSpec<T>): Promise<T> {
    const key = spec.method === "POST" ? (spec.idempotencyKey ?? randomUUID()) : undefined;
    const retryUnavailable = !spec.answerStatuses?.includes(STATUS_UNAVAILABLE);
    let answer = await this.exchange(spec, key, retryUnavailable);
    if (answer.status === STATUS_ACCEPTED) answer = await this.awaitCommand(answer);
    return readAnswer(answer, spec);
  }

  /** Sends until an answer other than 503 arrives or the attempts run out. */
  private async exchange(spec: RequestSpec<unknown>, key: string | undefined, retryUnavailable: boolean) {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.once(spec, key);
      const last = attempt >= this.retry.attempts;
      if (outcome.kind === "answer") {
        const unavailable = outcome.answer.status === STATUS_UNAVAILABLE && retryUnavailable;
        if (!unavailable || last) return outcome.answer;
      } else if (last) {
        throw networkError(spec, attempt, outcome.error);
      }
      await sleep(this.backoffMs(attempt, outcome));
    }
  }

  private async once(spec: RequestSpec<unknown>, key: string | undefined): Promise<Outcome> {
    const headers: Record<string, string> = {
      accept: "application/json",
      authorization: `Bearer ${this.options.token}`,
    };
    if (key !== undefined) headers["idempotency-key"] = key;
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    try {
      const res = await this.fetch(`${this.baseUrl}${spec.path}`, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // Reading the body is part of the exchange: a connection cut mid-answer is a network failure.
      const text = await res.text();
      return { kind: "answer", answer: { status: res.status, body: parseJson(text), headers: res.headers } };
    } catch (error) {
      return { kind: "failure", error };
    }
  }

  /** Exponential backoff with jitter (spreads retries of many clients), or the server's Retry-After. */
  private backoffMs(attempt: number, outcome: Outcome): number {
    const retryAfterS = outcome.kind === "answer" ? Number(outcome.answer.headers.get("retry-after")) : NaN;
    if (Number.isFinite(retryAfterS) && retryAfterS > 0) {
      return Math.min(retryAfterS * 1_000, this.retry.maxDelayMs);
    }
    const ceiling = Math.min(this.retry.baseDelayMs * 2 ** (attempt - 1), this.retry.maxDelayMs);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  /** A 202 names the command; its outcome is the answer the caller would have had. */
  private async awaitCommand(accepted: Answer): Promise<Answer> {
    const location = accepted.headers.get("location");
    const id = (accepted.body as { id?: unknown } | undefined)?.id;
    if (!location || typeof id !== "string") return accepted; // readAnswer reports it as unreadable
    const deadline = Date.now() + this.commandWaitMs;
    for (
      let delay = POLL_DELAY_MS_MIN;
      Date.now() < deadline;
      delay = Math.min(delay * 2, POLL_DELAY_MS_MAX)
    ) {
      await sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
      const status = await this.request({ method: "GET", path: location, schema: CommandStatus });
      if (status.status === "failed") return neverApplied(id);
      if (status.status !== "pending" && status.response) {
        return { status: status.response.status, body: status.response.body, headers: new Headers() };
      }
    }
    throw new WalletAPIError(
      STATUS_ACCEPTED,
      COMMAND_PENDING,
      `command ${id} was accepted but not decided within ${this.commandWaitMs} ms; ` +
        "repeat the call with the same idempotencyKey, or poll GET /v1/commands/{id}",
      { commandId: id },
    );
  }
}

/**
 * A 202 whose command ended "failed" is the answer the gateway would have given had it known in
 * time: 503, nothing applied. Calling again with the same idempotencyKey sends it again.
 */
function neverApplied(commandId: string): Answer {
  const message = `command ${commandId} never reached the ledger; nothing was applied`;
  return {
    status: STATUS_UNAVAILABLE,
    body: { error: { code: "unavailable", message } },
    headers: new Headers(),
  };
}

function readAnswer<T>(answer: Answer, spec: RequestSpec<T>): T {
  const isAnswer =
    (answer.status >= 200 && answer.status < 300) || spec.answerStatuses?.includes(answer.status);
  if (!isAnswer) {
    const envelope = ErrorEnvelope.safeParse(answer.body);
    if (envelope.success) throw errorFromEnvelope(answer.status, envelope.data.error);
    throw new WalletAPIError(answer.status, INVALID_RESPONSE, `${describe(spec)}: HTTP ${answer.status}`);
  }
  const parsed = spec.schema.safeParse(answer.body);
  if (parsed.success) return parsed.data;
  throw new WalletAPIError(
    answer.status,
    INVALID_RESPONSE,
    `${describe(spec)}: the answer does not match the expected shape: ${parsed.error.message}`,
    { cause: parsed.error },
  );
}

function networkError(spec: RequestSpec<unknown>, attempts: number, error: unknown): WalletAPIError {
  const cause = error instanceof Error ? (error.cause ?? error) : error;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new WalletAPIError(
    0,
    NETWORK_ERROR,
    `${describe(spec)}: no answer after ${attempts} attempt(s): ${reason}`,
    { cause: error },
  );
}

function describe(spec: RequestSpec<unknown>): string {
  return `${spec.method} ${spec.path.split("?")[0]}`;
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
