/**
 * Every failure of a call is a WalletAPIError: a refusal by the server (its status and stable
 * error code), a network failure after the retries ran out (status 0), or an answer the SDK
 * cannot read. The two outcomes partner applications branch on have their own subclasses, so
 * `catch (e) { if (e instanceof NotEnoughFundsError) ... }` needs no string compare.
 */

/** Codes the SDK itself gives, next to the server's (`not_found`, `forbidden`, ...). */
export const NETWORK_ERROR = "network_error";
export const INVALID_RESPONSE = "invalid_response";
export const COMMAND_PENDING = "command_pending";

export interface WalletAPIErrorDetails {
  /** Field name -> messages, for 400 validation_failed. */
  fields?: Record<string, string[]>;
  /** Per-item errors of bulk requests, aligned with the input. */
  items?: Record<string, unknown>[];
  /** For command_pending: the command to look up later (GET /v1/commands/{id}). */
  commandId?: string;
  cause?: unknown;
}

export class WalletAPIError extends Error {
  override name = "WalletAPIError";
  readonly fields?: Record<string, string[]>;
  readonly items?: Record<string, unknown>[];
  readonly commandId?: string;

  constructor(
    /** HTTP status; 0 when no answer arrived (network failure). */
    readonly status: number,
    readonly code: string,
    message: string,
    details: WalletAPIErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    if (details.fields) this.fields = details.fields;
    if (details.items) this.items = details.items;
    if (details.commandId) this.commandId = details.commandId;
  }
}

/** 409: the user's total is below the points a spend asks for. Nothing changed. */
export class NotEnoughFundsError extends WalletAPIError {
  override name = "NotEnoughFundsError";
}

/** 409: the item was already marked used (by this or another caller). Nothing changed. */
export class ItemAlreadyUsedError extends WalletAPIError {
  override name = "ItemAlreadyUsedError";
}

/** 409: a negative or an earn reversal needs more of that payer's points than the member has. */
export class PayerPointsInsufficientError extends WalletAPIError {
  override name = "PayerPointsInsufficientError";
}

/** 409: the reversal asks for more than the entry has left to reverse. Nothing changed. */
export class ReversalExceedsEntryError extends WalletAPIError {
  override name = "ReversalExceedsEntryError";
}

/** 409: adjust, expire, use_item and reversal entries cannot be reversed. */
export class NotReversibleError extends WalletAPIError {
  override name = "NotReversibleError";
}

/** 409: the hold was already captured, voided or expired. */
export class HoldNotActiveError extends WalletAPIError {
  override name = "HoldNotActiveError";
}

const TYPED_ERRORS: Record<string, typeof WalletAPIError> = {
  not_enough_funds: NotEnoughFundsError,
  item_already_used: ItemAlreadyUsedError,
  payer_points_insufficient: PayerPointsInsufficientError,
  reversal_exceeds_entry: ReversalExceedsEntryError,
  not_reversible: NotReversibleError,
  hold_not_active: HoldNotActiveError,
};

/** The typed error for a server's error envelope. */
export function errorFromEnvelope(
  status: number,
  error: {
    code: string;
    message: string;
    fields?: Record<string, string[]>;
    items?: Record<string, unknown>[];
  },
): WalletAPIError {
  const details = { fields: error.fields, items: error.items };
  const Typed = Object.hasOwn(TYPED_ERRORS, error.code) ? TYPED_ERRORS[error.code]! : WalletAPIError;
  return new Typed(status, error.code, error.message, details);
}
