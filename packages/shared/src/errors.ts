/**
 * The one list of stable error codes a client can see, and the one place they map to HTTP.
 * Services return these as values ({ code, message }); only the gateway turns them into a status.
 */
export const ERROR_STATUS = {
  validation_failed: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  not_enough_funds: 409,
  payer_points_insufficient: 409,
  item_already_used: 409,
  member_has_entries: 409,
  already_exists: 409,
  balance_limit_exceeded: 409,
  // Points lifecycle (contract section 6).
  reversal_exceeds_entry: 409,
  not_reversible: 409,
  hold_not_active: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  idempotency_key_reused: 422,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface ApiErrorBody {
  code: ErrorCode;
  message: string;
  fields?: Record<string, string[]>;
  items?: Record<string, unknown>[];
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_STATUS, value);
}

export function errorEnvelope(body: ApiErrorBody): { error: ApiErrorBody } {
  return { error: body };
}
