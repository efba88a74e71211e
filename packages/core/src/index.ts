export { adjust } from "./adjust";
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
export { compareLots, insertionIndex, insertLot, isSettled } from "./lots";
export { spend } from "./spend";
export type {
  AdjustInput,
  AdjustOutcome,
  Book,
  EarnInput,
  EarnOutcome,
  LedgerError,
  Lot,
  LotChange,
  PayerPoints,
  PayerState,
  Result,
  SpendInput,
  SpendOutcome,
} from "./types";
export { POINTS_MAX, TOTAL_MAX } from "./types";
