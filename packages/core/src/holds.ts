import { assert } from "./assert";
import { effectiveNow, settleExpiry } from "./expiry";
import { GiveBack } from "./give-back";
import { Movements } from "./movements";
import { minPoints } from "./points";
import { takeOldestFirst } from "./spend";
import type {
  Book,
  ExpireOutcome,
  Hold,
  HoldStatus,
  LedgerError,
  LotChange,
  Movement,
  PayerPoints,
  Result,
} from "./types";
import { ok, rejected } from "./types";

/**
 * Holds (contract 6.3): points taken exactly as a spend would, into `held` instead of spent, so
 * they leave the balance at once, stay owed by their payer, and do not expire while held.
 */

export interface PlaceHoldInput {
  holdId: string;
  points: bigint;
  /** Epoch ms: now + ttl_s. */
  expiresAt: number;
  now: number;
}

export interface HoldOutcome {
  /** A copy of the hold after the command. */
  hold: Hold;
  changes: LotChange[];
  /** Place: held per payer (negative). Capture: captured per payer (negative), the spend entry's allocations. */
  byPayer: PayerPoints[];
  /** Released per payer (positive), in the order given back. */
  released: PayerPoints[];
  movements: Movement[];
  expiry?: ExpireOutcome;
  reexpired?: ExpireOutcome;
}

const copyHold = (hold: Hold): Hold => ({ ...hold, takes: hold.takes.map((take) => ({ ...take })) });

export function placeHold(book: Book, input: PlaceHoldInput): Result<HoldOutcome> {
  assert(input.points > 0n, `hold points must be > 0, got ${input.points}`);
  assert(!book.holds?.has(input.holdId), `hold ${input.holdId} already exists`);
  const expiry = settleExpiry(book, input.now);
  const at = effectiveNow(book, input.now);
  assert(input.expiresAt > at, `hold ${input.holdId} would expire before it is placed`);
  if (book.total < input.points) {
    return rejected(
      {
        code: "not_enough_funds",
        message: `user ${book.userId} has ${book.total} points, ${input.points} requested for a hold`,
        requested: input.points,
        available: book.total,
      },
      expiry,
    );
  }
  const { changes, taken } = takeOldestFirst(book, input.points, "hold");
  book.total -= input.points;
  const takes = changes.map((c) => ({
    arrival: c.arrival,
    ts: 0,
    payer: c.payer,
    points: -c.remainingDelta,
  }));
  const hold: Hold = {
    holdId: input.holdId,
    points: input.points,
    takes,
    expiresAt: input.expiresAt,
    status: "held",
  };
  fillTakeStamps(book, hold);
  book.holds ??= new Map();
  book.holds.set(hold.holdId, hold);
  const moves = new Movements();
  for (const [payer, points] of taken) moves.add(payer, "held", points, at);
  return ok({
    hold: copyHold(hold),
    changes,
    byPayer: [...taken].map(([payer, points]) => ({ payer, points: -points })),
    released: [],
    movements: moves.list(),
    ...(expiry ? { expiry } : {}),
  });
}

/** The takes need each lot's ts to find it again in O(log lots); held lots stay in the book. */
function fillTakeStamps(book: Book, hold: Hold): void {
  let i = 0;
  for (const take of hold.takes) {
    while (book.lots[i]!.arrival !== take.arrival) i++;
    take.ts = book.lots[i]!.ts;
  }
}

function notActive(book: Book, holdId: string, why: string): LedgerError {
  const status: HoldStatus | "unknown" = book.holds?.get(holdId)?.status ?? "unknown";
  return { code: "hold_not_active", message: `hold ${holdId} of user ${book.userId} ${why}`, holdId, status };
}

/** The open hold, or why it cannot be captured or voided at `at`. */
function activeHold(book: Book, holdId: string, at: number): Hold | LedgerError {
  const hold = book.holds?.get(holdId);
  if (hold === undefined || hold.status !== "held") return notActive(book, holdId, "is not held");
  if (hold.expiresAt <= at) return notActive(book, holdId, "has expired");
  return hold;
}

export interface CaptureHoldInput {
  holdId: string;
  /** 1..held; default all. */
  points?: bigint;
  now: number;
}

/**
 * Captures the oldest of the held points as a spend; the rest go back to their lots (and expire
 * at once where their lot expired meanwhile). More than held is `not_enough_funds`.
 */
export function captureHold(book: Book, input: CaptureHoldInput): Result<HoldOutcome> {
  const expiry = settleExpiry(book, input.now);
  const at = effectiveNow(book, input.now);
  const found = activeHold(book, input.holdId, at);
  if ("code" in found) return rejected(found, expiry);
  const hold = found;
  const points = input.points ?? hold.points;
  assert(points > 0n, `capture points must be > 0, got ${points}`);
  if (points > hold.points) {
    return rejected(
      {
        code: "not_enough_funds",
        message: `hold ${hold.holdId} holds ${hold.points} points, ${points} requested`,
        requested: points,
        available: hold.points,
      },
      expiry,
    );
  }
  const giveBack = new GiveBack(book, at);
  const moves = new Movements();
  const captured = new Map<string, bigint>();
  const capturedChanges: LotChange[] = [];
  let left = points;
  for (const take of hold.takes) {
    const capture = minPoints(take.points, left);
    left -= capture;
    if (capture > 0n) {
      captureFromLot(book, giveBack.lotAt(take), capture, capturedChanges);
      captured.set(take.payer, (captured.get(take.payer) ?? 0n) + capture);
      moves.add(take.payer, "spent", capture, at);
    }
    moves.add(take.payer, "held", -take.points, at);
    if (take.points > capture) giveBack.give(take, take.points - capture, "held");
  }
  return ok(closeHold(book, hold, "captured", { captured, capturedChanges, giveBack, moves, expiry }));
}

function captureFromLot(book: Book, index: number, points: bigint, changes: LotChange[]): void {
  const lot = book.lots[index]!;
  const state = book.payers.get(lot.payer)!;
  assert((lot.held ?? 0n) >= points, `lot ${lot.arrival} holds less than ${points}`);
  lot.held = (lot.held ?? 0n) - points;
  state.held = (state.held ?? 0n) - points;
  changes.push({
    arrival: lot.arrival,
    payer: lot.payer,
    remainingDelta: 0n,
    adjustedDelta: 0n,
    heldDelta: -points,
  });
}

interface Closing {
  captured: Map<string, bigint>;
  capturedChanges: LotChange[];
  giveBack: GiveBack;
  moves: Movements;
  expiry: ExpireOutcome | undefined;
}

function closeHold(book: Book, hold: Hold, status: HoldStatus, closing: Closing): HoldOutcome {
  hold.status = status;
  book.holds?.delete(hold.holdId);
  const released = new Map<string, bigint>();
  for (const change of closing.giveBack.changes) {
    if (change.heldDelta !== undefined)
      released.set(change.payer, (released.get(change.payer) ?? 0n) - change.heldDelta);
  }
  const reexpired = closing.giveBack.finish();
  // Captured lots that are now empty leave the book, as after a spend.
  book.lots = book.lots.filter((lot) => lot.remaining > 0n || lot.adjusted > 0n || (lot.held ?? 0n) > 0n);
  return {
    hold: copyHold(hold),
    changes: [...closing.capturedChanges, ...closing.giveBack.changes],
    byPayer: [...closing.captured].map(([payer, points]) => ({ payer, points: -points })),
    released: [...released].map(([payer, points]) => ({ payer, points })),
    movements: closing.moves.list(),
    ...(closing.expiry ? { expiry: closing.expiry } : {}),
    ...(reexpired ? { reexpired } : {}),
  };
}

/** Gives every held point back to its lot; `status` "voided" (a void) or "expired" (the ttl ran out). */
function release(
  book: Book,
  hold: Hold,
  status: HoldStatus,
  at: number,
  expiry: ExpireOutcome | undefined,
): HoldOutcome {
  const giveBack = new GiveBack(book, at);
  const moves = new Movements();
  for (const take of hold.takes) {
    giveBack.give(take, take.points, "held");
    moves.add(take.payer, "held", -take.points, at);
  }
  return closeHold(book, hold, status, { captured: new Map(), capturedChanges: [], giveBack, moves, expiry });
}

export function voidHold(book: Book, input: { holdId: string; now: number }): Result<HoldOutcome> {
  const expiry = settleExpiry(book, input.now);
  const at = effectiveNow(book, input.now);
  const found = activeHold(book, input.holdId, at);
  if ("code" in found) return rejected(found, expiry);
  return ok(release(book, found, "voided", at, expiry));
}

/** The ledger's hold timeout: voids a held hold whose expiresAt has come (status "expired"). */
export function expireHold(book: Book, input: { holdId: string; now: number }): Result<HoldOutcome> {
  const expiry = settleExpiry(book, input.now);
  const at = effectiveNow(book, input.now);
  const hold = book.holds?.get(input.holdId);
  if (hold === undefined || hold.status !== "held")
    return rejected(notActive(book, input.holdId, "is not held"), expiry);
  if (hold.expiresAt > at) return rejected(notActive(book, input.holdId, "has not expired yet"), expiry);
  return ok(release(book, hold, "expired", at, expiry));
}

/** Open holds whose ttl has run out at `now`, soonest first: what the hold-expire commands name. */
export function dueHolds(book: Book, now: number): Hold[] {
  return [...(book.holds?.values() ?? [])]
    .filter((hold) => hold.status === "held" && hold.expiresAt <= now)
    .sort((a, b) => a.expiresAt - b.expiresAt)
    .map(copyHold);
}
