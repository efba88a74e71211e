/**
 * The console's one door to the API: same origin, the signed-in token as a bearer token, and every
 * failure turned into an ApiError carrying the API's own message (error envelope
 * `{"error":{"code","message"}}`), so no page ever fails blank.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type Role = "admin" | "partner";

export interface Session {
  token: string;
  role: Role;
}

const SESSION_KEY = "points-console-session";
export const UNAUTHENTICATED_EVENT = "console:unauthenticated";
/** A request that takes longer is shown as failed rather than spinning for ever. */
const REQUEST_TIMEOUT_MS = 30_000;

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(SESSION_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw) as Partial<Session>;
    if (typeof parsed.token !== "string" || (parsed.role !== "admin" && parsed.role !== "partner"))
      return null;
    return { token: parsed.token, role: parsed.role };
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

interface CallOptions {
  method?: string;
  body?: unknown;
  accept?: string;
  idempotent?: boolean;
}

export async function call(token: string, path: string, options: CallOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  headers.accept = options.accept ?? "application/json";
  if (options.body !== undefined) headers["content-type"] = "application/json";
  // A double click or a retried submit must not change points twice.
  if (options.idempotent) headers["idempotency-key"] = crypto.randomUUID();
  let res: Response;
  try {
    res = await fetch(path, {
      method: options.method ?? "GET",
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ApiError(
      0,
      "network",
      `cannot reach the API: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (!res.ok) {
    const error = await errorOf(res);
    // The token stopped working (rotated, or the stack was reset): back to the sign-in page.
    if (res.status === 401)
      window.dispatchEvent(new CustomEvent(UNAUTHENTICATED_EVENT, { detail: error.message }));
    throw error;
  }
  return res;
}

/** JSON answer of a call; a 202 (accepted, still pending) is reported with its command link. */
export async function json<T>(token: string, path: string, options: CallOptions = {}): Promise<T> {
  const res = await call(token, path, options);
  if (res.status === 202) {
    const location = res.headers.get("location") ?? "";
    throw new ApiError(202, "accepted", `accepted, not applied yet: look it up under Commands (${location})`);
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

async function errorOf(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (body.error && typeof body.error.message === "string") {
      return new ApiError(res.status, String(body.error.code ?? "error"), body.error.message);
    }
  } catch {}
  return new ApiError(res.status, "http_error", `HTTP ${res.status} ${res.statusText}`.trim());
}

export const enc = encodeURIComponent;

/**
 * What a token may do, found with read-only calls: the partner list answers the admin only; a
 * member read of an unknown id is a 404 for a partner and a 403 for a member token, which the
 * console does not serve (contract section 5).
 */
export async function roleOf(token: string): Promise<Role> {
  try {
    await call(token, "/v1/partners");
    return "admin";
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 403) throw err;
  }
  try {
    await call(token, "/v1/members/~console-role-probe~");
    return "partner";
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return "partner";
    if (err instanceof ApiError && err.status === 403) {
      throw new ApiError(
        403,
        "forbidden",
        "member tokens cannot use the console: sign in with an admin or partner token",
      );
    }
    throw err;
  }
}
