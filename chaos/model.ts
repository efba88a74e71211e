import {
  adjust,
  admitLots,
  type Book,
  balancesAt,
  captureHold,
  type ExpireOutcome,
  earn,
  emptyBook,
  expire,
  expireHold,
  findLotIndex,
  type HoldOutcome,
  type Lot,
  type LotChange,
  type Movement,
  mergeChanges,
  type PayerPoints,
  placeHold,
  type Result,
  type ReversedEntry,
  reverse,
  type SpendTake,
  spend,
  voidHold,
} from "@points/core";
import { balanceJson } from "@points/shared";

/**
 * The model: every command that changed a member, in the ledger's order (the seqs its entries and
 * hold steps took), replayed through the pure domain core from an empty book, each at the instant
 * the ledger applied it (its entries' / hold's created_on or closed_on), with the payloads the
 * CLIENTS sent (the scheduler's expire_due / hold_expire commands carry theirs in their ids).
 * Every change the core makes is a step that takes the next seq: an `expire` entry, the command's
 * own entry, a hold step (no entry), an `expire` entry after it (re-expiry). Whatever Postgres holds
 * (entries, allocation rows, movements, lots, payer balances, holds, accounts) must equal what the
 * core derives. Rejected commands are replayed too when they recorded expiry first.
 */
export type ModelOp =
  | "earn"
  | "negative"
  | "spend"
  | "reverse"
  | "hold_place"
  | "hold_capture"
  | "hold_void"
  | "hold_expire"
  | "expire_due";

export interface ModelCommand {
  commandId: string;
  op: ModelOp;
  status: "applied" | "rejected";
  /** The instant the ledger applied it (epoch ms). */
  now: number;
  /** The seq of its last change as stored (commands.seq, or its last entry's for a rejection). */
  seq: number;
  payer?: string;
  /** Absolute points asked; undefined = the default (all). */
  points?: number;
  timestamp?: string;
  /** An earn's expires_at as sent; undefined = the payer's validity (none in the run). */
  expiresAt?: string;
  /** The entry a reversal names; the hold a hold command names (place: as stored). */
  entryId?: string;
  holdId?: string;
  ttlS?: number;
  /** expire_due: the due instant in its id. */
  dueAt?: number;
  /** Its own entry as stored (earn, adjust, spend, reversal, capture), so reversals can name it. */
  ownEntryId?: string;
}

/** One change: takes one seq. `entryType` null: a hold step (place, void, expiry), no entry. */
export interface Step {
  seq: number;
  entryType: "expire" | "earn" | "adjust" | "spend" | "reversal" | null;
  /** The entry's allocation rows (merged per lot), or the hold step's lot changes. */
  changes: LotChange[];
  /** Per payer, as the entry's `allocations` (spend, capture, expire, reversal). */
  byPayer?: PayerPoints[];
  movements: Movement[];
}

export interface CreatedLot {
  payer: string;
  tsMs: number;
  points: bigint;
  expiresAt: number | null;
}

type EntryTarget =
  | { type: "earn"; arrival: bigint; points: bigint; reversed: bigint }
  | { type: "spend"; takes: SpendTake[] }
  | { type: "adjust" | "reversal" };

export interface UserReplay {
  book: Book;
  /** The seq of the last step. */
  seq: number;
  /** Every lot ever created, in its latest state (a spend drops emptied lots from the book). */
  lots: Map<bigint, Lot>;
  created: Map<bigint, CreatedLot>;
  /** Hold statuses, open or closed, by hold id. */
  holdStatus: Map<string, string>;
  /** What reversals need of the entries the replay created, by stored entry id. */
  entries: Map<string, EntryTarget>;
  /** The steps of each replayed command, by command id. */
  steps: Map<string, Step[]>;
  /** Movements summed per `seq|payer|category|at`. */
  movements: Map<string, bigint>;
  problems: string[];
}

export function movementKey(seq: number, m: { payer: string; category: string; at: number | null }): string {
  return `${seq}|${m.payer}|${m.category}|${m.at}`;
}

export function replayUser(userId: string, commands: ModelCommand[]): UserReplay {
  const replay: UserReplay = {
    book: emptyBook(userId),
    seq: 0,
    lots: new Map(),
    created: new Map(),
    holdStatus: new Map(),
    entries: new Map(),
    steps: new Map(),
    movements: new Map(),
    problems: [],
  };
  for (const c of commands) {
    const steps: Step[] = [];
    replay.steps.set(c.commandId, steps);
    applyOne(replay, c, steps);
    for (const lot of replay.book.lots) replay.lots.set(lot.arrival, lot);
    if (steps.length > 0 && replay.seq !== c.seq) {
      replay.problems.push(`${where(replay, c)}: stored last seq ${c.seq}, model ${replay.seq}`);
      replay.seq = c.seq; // keep comparing the rest in the ledger's numbering
    }
  }
  return replay;
}

function where(replay: UserReplay, c: ModelCommand): string {
  return `user ${replay.book.userId} ${c.op} ${c.commandId} (seq ${c.seq})`;
}

function step(replay: UserReplay, steps: Step[], s: Omit<Step, "seq">): void {
  replay.seq += 1;
  steps.push({ ...s, seq: replay.seq });
  for (const m of s.movements) {
    const key = movementKey(replay.seq, m);
    replay.movements.set(key, (replay.movements.get(key) ?? 0n) + m.points);
  }
}

function expiryStep(replay: UserReplay, steps: Step[], outcome: ExpireOutcome | undefined): void {
  if (!outcome || outcome.changes.length === 0) return;
  step(replay, steps, {
    entryType: "expire",
    changes: mergeChanges(outcome.changes),
    byPayer: outcome.byPayer,
    movements: outcome.movements,
  });
}

/** A rejection by the core: fine for a rejected command (its expiry is still recorded). */
function rejected<T>(
  replay: UserReplay,
  steps: Step[],
  c: ModelCommand,
  r: Result<T>,
): r is Result<T> & { ok: false } {
  if (r.ok) {
    if (c.status === "rejected")
      replay.problems.push(`${where(replay, c)}: rejected, but the model applies it`);
    return false;
  }
  if (c.status === "applied" && !(c.op === "hold_expire" && r.error.code === "hold_not_active"))
    replay.problems.push(`${where(replay, c)}: applied, but the model rejects it (${r.error.code})`);
  expiryStep(replay, steps, r.expiry);
  return true;
}

function applyOne(replay: UserReplay, c: ModelCommand, steps: Step[]): void {
  const book = replay.book;
  const now = c.now;
  switch (c.op) {
    case "earn": {
      const ts = Date.parse(c.timestamp!);
      const expiresAt = c.expiresAt === undefined ? null : Date.parse(c.expiresAt);
      const r = earn(book, { payer: c.payer!, points: BigInt(c.points!), ts, expiresAt, now });
      if (rejected(replay, steps, c, r)) return;
      const { lot } = r.value;
      replay.created.set(lot.arrival, {
        payer: c.payer!,
        tsMs: ts,
        points: lot.points,
        expiresAt: lot.expiresAt ?? null,
      });
      step(replay, steps, {
        entryType: "earn",
        changes: mergeChanges(r.value.changes),
        movements: r.value.movements,
      });
      if (c.ownEntryId)
        replay.entries.set(c.ownEntryId, {
          type: "earn",
          arrival: lot.arrival,
          points: lot.points,
          reversed: 0n,
        });
      expiryStep(replay, steps, r.value.expiry); // an earn settles expiry after adding its lot
      return;
    }
    case "negative": {
      const r = adjust(book, {
        payer: c.payer!,
        points: BigInt(c.points!),
        ts: Date.parse(c.timestamp!),
        now,
      });
      if (rejected(replay, steps, c, r)) return;
      expiryStep(replay, steps, r.value.expiry);
      step(replay, steps, {
        entryType: "adjust",
        changes: mergeChanges(r.value.changes),
        movements: r.value.movements,
      });
      if (c.ownEntryId) replay.entries.set(c.ownEntryId, { type: "adjust" });
      return;
    }
    case "spend": {
      const r = spend(book, { points: BigInt(c.points!), now });
      if (rejected(replay, steps, c, r)) return;
      expiryStep(replay, steps, r.value.expiry);
      const changes = mergeChanges(r.value.changes);
      step(replay, steps, {
        entryType: "spend",
        changes,
        byPayer: r.value.byPayer,
        movements: r.value.movements,
      });
      if (c.ownEntryId) replay.entries.set(c.ownEntryId, { type: "spend", takes: takesOf(replay, changes) });
      return;
    }
    case "reverse":
      applyReverse(replay, c, steps);
      return;
    case "hold_place": {
      const holdId = c.holdId!;
      const r = placeHold(book, { holdId, points: BigInt(c.points!), expiresAt: now + c.ttlS! * 1_000, now });
      if (rejected(replay, steps, c, r)) return;
      replay.holdStatus.set(holdId, "held");
      expiryStep(replay, steps, r.value.expiry);
      step(replay, steps, {
        entryType: null,
        changes: mergeChanges(r.value.changes),
        movements: r.value.movements,
      });
      return;
    }
    case "hold_capture":
      applyCapture(replay, c, steps);
      return;
    case "hold_void":
    case "hold_expire": {
      const input = { holdId: c.holdId!, now };
      const r = c.op === "hold_void" ? voidHold(book, input) : expireHold(book, input);
      if (rejected(replay, steps, c, r)) return;
      replay.holdStatus.set(c.holdId!, r.value.hold.status);
      expiryStep(replay, steps, r.value.expiry);
      step(replay, steps, {
        entryType: null,
        changes: mergeChanges(r.value.changes),
        movements: r.value.movements,
      });
      expiryStep(replay, steps, r.value.reexpired);
      return;
    }
    case "expire_due":
      expiryStep(replay, steps, expire(book, Math.max(c.dueAt!, now)));
      return;
  }
}

/** A spend-like entry's takes, as the ledger reads them back: per lot, in lot order. */
function takesOf(replay: UserReplay, changes: LotChange[]): SpendTake[] {
  const takes: SpendTake[] = [];
  for (const ch of changes) {
    const points = -(ch.remainingDelta + (ch.heldDelta ?? 0n));
    if (points <= 0n) continue;
    const lot = lotNow(replay, ch.arrival);
    takes.push({ arrival: ch.arrival, ts: lot?.ts ?? 0, payer: ch.payer, points, reversed: 0n });
  }
  return takes.sort((a, b) => a.ts - b.ts || (a.arrival < b.arrival ? -1 : a.arrival > b.arrival ? 1 : 0));
}

function lotNow(replay: UserReplay, arrival: bigint): Lot | undefined {
  return replay.book.lots.find((l) => l.arrival === arrival) ?? replay.lots.get(arrival);
}

/** Lots a reversal needs back in the book, as the ledger admits them (emptied lots are not kept). */
function admit(replay: UserReplay, arrivals: bigint[]): void {
  const book = replay.book;
  const missing = arrivals
    .map((a) => replay.lots.get(a))
    .filter((lot): lot is Lot => lot !== undefined && findLotIndex(book.lots, lot) < 0);
  admitLots(book, missing);
}

function applyReverse(replay: UserReplay, c: ModelCommand, steps: Step[]): void {
  const target = replay.entries.get(c.entryId!);
  if (!target) {
    replay.problems.push(`${where(replay, c)}: reverses ${c.entryId}, an entry the model never made`);
    return;
  }
  let entry: ReversedEntry;
  if (target.type === "spend") {
    admit(
      replay,
      target.takes.map((t) => t.arrival),
    );
    entry = { type: "spend", takes: target.takes.map((t) => ({ ...t })) };
  } else if (target.type === "earn") {
    admit(replay, [target.arrival]);
    const lot = replay.lots.get(target.arrival)!;
    entry = {
      type: "earn",
      arrival: lot.arrival,
      ts: lot.ts,
      payer: lot.payer,
      points: lot.points,
      reversed: target.reversed,
    };
  } else entry = { type: target.type };
  const r = reverse(replay.book, {
    entryId: c.entryId!,
    entry,
    ...(c.points !== undefined ? { points: BigInt(c.points) } : {}),
    now: c.now,
  });
  if (rejected(replay, steps, c, r)) return;
  const outcome = r.value;
  expiryStep(replay, steps, outcome.expiry);
  step(replay, steps, {
    entryType: "reversal",
    changes: mergeChanges(outcome.changes),
    byPayer: outcome.byPayer,
    movements: outcome.movements,
  });
  if (c.ownEntryId) replay.entries.set(c.ownEntryId, { type: "reversal" });
  if (target.type === "earn") target.reversed += outcome.points;
  if (target.type === "spend") {
    for (const back of outcome.takesReversed) {
      const take = target.takes.find((t) => t.arrival === back.arrival);
      if (take) take.reversed += back.points;
    }
  }
  expiryStep(replay, steps, outcome.reexpired);
}

function applyCapture(replay: UserReplay, c: ModelCommand, steps: Step[]): void {
  const r = captureHold(replay.book, {
    holdId: c.holdId!,
    ...(c.points !== undefined ? { points: BigInt(c.points) } : {}),
    now: c.now,
  });
  if (rejected(replay, steps, c, r)) return;
  const outcome: HoldOutcome = r.value;
  replay.holdStatus.set(c.holdId!, "captured");
  expiryStep(replay, steps, outcome.expiry);
  // The spend entry's allocations are the captured takes; what went back is the hold's close step.
  const allocated = outcome.changes.filter((ch) => ch.remainingDelta === 0n && ch.adjustedDelta === 0n);
  const changes = mergeChanges(allocated);
  step(replay, steps, {
    entryType: "spend",
    changes,
    byPayer: outcome.byPayer,
    movements: outcome.movements,
  });
  if (c.ownEntryId) replay.entries.set(c.ownEntryId, { type: "spend", takes: takesOf(replay, changes) });
  expiryStep(replay, steps, outcome.reexpired);
}

/** The balance body the model expects at `now`: payers in first-seen order, zeros included. */
export function modelBalanceJson(book: Book, now: number): string {
  return balanceJson(balancesAt(book, now));
}

export interface StoredAccount {
  seq: number;
  nextArrival: bigint;
  total: bigint;
}
export interface StoredPayer {
  payer: string;
  available: bigint;
  adjusted: bigint;
  held: bigint;
}
export interface StoredLot {
  arrival: bigint;
  payer: string;
  tsMs: number;
  points: bigint;
  remaining: bigint;
  adjusted: bigint;
  held: bigint;
  expired: bigint;
  reversed: bigint;
  expiresAt: number | null;
}
export interface StoredHold {
  holdId: string;
  status: string;
  commandId: string;
}

/** Differences between the replayed book and what Postgres stores for the user. */
export function compareWithStore(
  replay: UserReplay,
  account: StoredAccount | undefined,
  payers: StoredPayer[],
  lots: StoredLot[],
  holds: StoredHold[],
): string[] {
  const { book } = replay;
  const u = `user ${book.userId}`;
  const out: string[] = [];
  if (!account) return replay.seq > 0 ? [`${u}: ${replay.seq} changes in the model but no account row`] : [];
  if (account.seq !== replay.seq) out.push(`${u}: accounts.seq ${account.seq}, model ${replay.seq}`);
  if (account.total !== book.total) out.push(`${u}: accounts.total ${account.total}, model ${book.total}`);
  if (account.nextArrival !== book.nextArrival) {
    out.push(`${u}: accounts.next_arrival ${account.nextArrival}, model ${book.nextArrival}`);
  }
  const order = payers.map((p) => p.payer).join("|");
  if (order !== [...book.payers.keys()].join("|")) out.push(`${u}: payers ${order}, model differs`);
  for (const p of payers) {
    const m = book.payers.get(p.payer);
    const model = m ? `${m.available}/${m.adjusted}/${m.held ?? 0n}` : "none";
    const stored = `${p.available}/${p.adjusted}/${p.held}`;
    if (model !== stored) out.push(`${u} payer ${p.payer}: stored ${stored}, model ${model}`);
  }
  out.push(...compareLots(replay, lots));
  const storedHolds = new Map(holds.map((h) => [h.holdId, h.status]));
  for (const [holdId, status] of replay.holdStatus) {
    if (storedHolds.get(holdId) !== status)
      out.push(`${u} hold ${holdId}: stored ${storedHolds.get(holdId)}, model ${status}`);
  }
  for (const [holdId, status] of storedHolds) {
    if (!replay.holdStatus.has(holdId)) out.push(`${u} hold ${holdId}: stored ${status}, not in the model`);
  }
  return out;
}

const lotState = (l: {
  remaining: bigint;
  adjusted: bigint;
  held?: bigint;
  expired?: bigint;
  reversed?: bigint;
}) => `${l.remaining}/${l.adjusted}/${l.held ?? 0n}/${l.expired ?? 0n}/${l.reversed ?? 0n}`;

function compareLots(replay: UserReplay, lots: StoredLot[]): string[] {
  const out: string[] = [];
  const u = `user ${replay.book.userId}`;
  const stored = new Set<bigint>();
  for (const l of lots) {
    stored.add(l.arrival);
    const created = replay.created.get(l.arrival);
    const made = created && `${created.payer}/${created.tsMs}/${created.points}/${created.expiresAt}`;
    const kept = `${l.payer}/${l.tsMs}/${l.points}/${l.expiresAt}`;
    if (made !== kept) {
      out.push(`${u} lot ${l.arrival}: stored ${kept}, model ${made ?? null}`);
      continue;
    }
    const m = replay.lots.get(l.arrival);
    const model = m ? lotState(m) : "none";
    if (model !== lotState(l)) out.push(`${u} lot ${l.arrival}: stored ${lotState(l)}, model ${model}`);
  }
  for (const arrival of replay.created.keys()) {
    if (!stored.has(arrival)) out.push(`${u} lot ${arrival}: in the model, not stored`);
  }
  return out;
}
