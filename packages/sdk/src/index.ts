/**
 * @points/sdk: the client library for partner applications of the points ledger.
 * See README.md for the config file, an example and the reference.
 */
export {
  type CreateEntryInput,
  type HoldInput,
  type InventoryQuery,
  type MemberInput,
  type MutationOptions,
  type PeriodQuery,
  type TransactionInput,
  URL_IDS_CHARS_MAX,
  WALLET_USERS_PER_REQUEST_MAX,
  WalletClient,
  type WalletClientOptions,
  type WalletsQuery,
} from "./client.js";
export {
  COMMAND_PENDING,
  HoldNotActiveError,
  INVALID_RESPONSE,
  ItemAlreadyUsedError,
  NETWORK_ERROR,
  NotEnoughFundsError,
  NotReversibleError,
  PayerPointsInsufficientError,
  ReversalExceedsEntryError,
  WalletAPIError,
  type WalletAPIErrorDetails,
} from "./errors.js";
export { COMMAND_WAIT_MS, REQUEST_TIMEOUT_MS, RETRY_DEFAULTS, type RetryOptions } from "./http.js";
export {
  PARTNER_EVENTS_PER_SEND_MAX,
  PARTNER_TRANSACTIONS_TOPIC,
  type PartnerEventHeaders,
  type PartnerEventProducer,
  PartnerKafkaConfig,
  type ProduceOptions,
  partnerKafkaOptions,
  producePartnerEvents,
  type SignedPartnerEvent,
  signPartnerEvent,
} from "./kafka.js";
export * from "./schemas.js";
