export { adjust } from "./adjust";
export type { BalanceAsOfInput } from "./balance-as-of";
export { balanceAsOf } from "./balance-as-of";
export type { BookRows } from "./book";
export {
  assertBookConsistent,
  balances,
  bookProblems,
  cloneBook,
  emptyBook,
  FIRST_ARRIVAL,
  restoreBook,
} from "./book";
export { earn } from "./earn";
export {
  admitLots,
  balancesAt,
  dueExpiry,
  effectiveNow,
  expire,
  expiring,
  lotExpiry,
} from "./expiry";
export type { CaptureHoldInput, HoldOutcome, PlaceHoldInput } from "./holds";
export { captureHold, dueHolds, expireHold, placeHold, voidHold } from "./holds";
export { compareLots, findLotIndex, insertionIndex, insertLot, isExpiredAt, isSettled } from "./lots";
export { balanceEffect, outstandingEffect } from "./movements";
export type { ReversedEntry, ReverseInput, ReverseOutcome, SpendTake } from "./reverse";
export { reverse } from "./reverse";
export { mergeChanges, mergeChangesSteps, nextDue } from "./schedule";
export type { BalanceSnapshot } from "./snapshot";
export { daySnapshot, SNAPSHOT_PERIOD_MS, snapshotInstant } from "./snapshot";
export { spend, spendSteps } from "./spend";
export type { Steps } from "./steps";
export { finish, ONE_STEP } from "./steps";
export type {
  AdjustInput,
  AdjustOutcome,
  Book,
  EarnInput,
  EarnOutcome,
  ExpireOutcome,
  Hold,
  HoldStatus,
  HoldTake,
  LedgerError,
  LedgerErrorCode,
  Lot,
  LotChange,
  Movement,
  MovementCategory,
  PayerPoints,
  PayerState,
  Result,
  SpendInput,
  SpendOutcome,
} from "./types";
export { POINTS_MAX, TOTAL_MAX } from "./types";
