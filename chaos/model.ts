import { adjust, type Book, balances, earn, emptyBook, type LotChange, spend } from "@points/core";
import { balanceJson } from "@points/shared";

/**
 * The model: the commands the ledger says it applied for one user, taken in its applied order
 * (commands.seq = entries.seq) with the payloads the CLIENTS sent, replayed through the pure
 * domain core from an empty book. Whatever Postgres holds must equal what the core derives.
 */
export interface ModelCommand {
  commandId: string;
  seq: number;
  op: "earn" | "negative" | "spend";
  payer?: string;
  points: number;
  timestamp?: string;
}

export interface CreatedLot {
  payer: string;
  tsMs: number;
  points: bigint;
}

export interface UserReplay {
  book: Book;
  /** Lots created by earns, settled or not, by arrival. */
  created: Map<bigint, CreatedLot>;
  /** Points taken per payer (negative numbers), per applied spend, in first-touched order. */
  spends: Map<string, { payer: string; points: number }[]>;
  /** Lot changes each command made, by command id. */
  changes: Map<string, LotChange[]>;
  problems: string[];
}

export function replayUser(userId: string, commands: ModelCommand[]): UserReplay {
  const replay: UserReplay = {
    book: emptyBook(userId),
    created: new Map(),
    spends: new Map(),
    changes: new Map(),
    problems: [],
  };
  for (const c of commands) applyOne(replay, c);
  return replay;
}

function applyOne(replay: UserReplay, c: ModelCommand): void {
  const book = replay.book;
  const where = `user ${book.userId} seq ${c.seq} (${c.op} ${c.points}${c.payer ? ` ${c.payer}` : ""})`;
  switch (c.op) {
    case "earn": {
      const ts = Date.parse(c.timestamp!);
      const r = earn(book, { payer: c.payer!, points: BigInt(c.points), ts });
      if (!r.ok)
        return void replay.problems.push(`${where}: applied, but the model rejects it (${r.error.code})`);
      replay.created.set(r.value.lot.arrival, { payer: c.payer!, tsMs: ts, points: BigInt(c.points) });
      replay.changes.set(c.commandId, r.value.changes);
      return;
    }
    case "negative": {
      const r = adjust(book, { payer: c.payer!, points: BigInt(-c.points), ts: Date.parse(c.timestamp!) });
      if (!r.ok)
        return void replay.problems.push(`${where}: applied, but the model rejects it (${r.error.code})`);
      replay.changes.set(c.commandId, r.value.changes);
      return;
    }
    case "spend": {
      const r = spend(book, { points: BigInt(c.points) });
      if (!r.ok)
        return void replay.problems.push(`${where}: applied, but the model rejects it (${r.error.code})`);
      replay.spends.set(
        c.commandId,
        r.value.byPayer.map((p) => ({ payer: p.payer, points: Number(p.points) })),
      );
      replay.changes.set(c.commandId, r.value.changes);
      return;
    }
  }
}

/** The cached/served balance body the model expects: payers in first-seen order, zeros included. */
export function modelBalanceJson(book: Book): string {
  return balanceJson(balances(book));
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
}
export interface StoredLot {
  arrival: bigint;
  payer: string;
  tsMs: number;
  points: bigint;
  remaining: bigint;
  adjusted: bigint;
}

/** Differences between the replayed book and what Postgres stores for the user. */
export function compareWithStore(
  replay: UserReplay,
  account: StoredAccount | undefined,
  payers: StoredPayer[],
  lots: StoredLot[],
  appliedCount: number,
): string[] {
  const { book } = replay;
  const u = `user ${book.userId}`;
  const out: string[] = [];
  if (!account) return appliedCount > 0 ? [`${u}: ${appliedCount} applied commands but no account row`] : [];
  if (account.seq !== appliedCount) out.push(`${u}: accounts.seq ${account.seq}, applied ${appliedCount}`);
  if (account.total !== book.total) out.push(`${u}: accounts.total ${account.total}, model ${book.total}`);
  if (account.nextArrival !== book.nextArrival) {
    out.push(`${u}: accounts.next_arrival ${account.nextArrival}, model ${book.nextArrival}`);
  }
  const modelPayers = [...book.payers];
  const order = payers.map((p) => p.payer).join("|");
  if (order !== modelPayers.map(([p]) => p).join("|")) out.push(`${u}: payers ${order}, model differs`);
  for (const p of payers) {
    const m = book.payers.get(p.payer);
    if (!m || m.available !== p.available || m.adjusted !== p.adjusted) {
      out.push(
        `${u} payer ${p.payer}: stored ${p.available}/${p.adjusted}, model ${m?.available}/${m?.adjusted}`,
      );
    }
  }
  out.push(...compareLots(replay, lots));
  return out;
}

function compareLots(replay: UserReplay, lots: StoredLot[]): string[] {
  const out: string[] = [];
  const u = `user ${replay.book.userId}`;
  const live = new Map(replay.book.lots.map((l) => [l.arrival, l]));
  const stored = new Set<bigint>();
  for (const l of lots) {
    stored.add(l.arrival);
    const created = replay.created.get(l.arrival);
    if (!created || created.payer !== l.payer || created.tsMs !== l.tsMs || created.points !== l.points) {
      out.push(
        `${u} lot ${l.arrival}: stored ${l.payer}/${l.tsMs}/${l.points}, model ${JSON.stringify(lotText(created))}`,
      );
      continue;
    }
    const m = live.get(l.arrival) ?? { remaining: 0n, adjusted: 0n };
    if (m.remaining !== l.remaining || m.adjusted !== l.adjusted) {
      out.push(
        `${u} lot ${l.arrival}: stored ${l.remaining}/${l.adjusted}, model ${m.remaining}/${m.adjusted}`,
      );
    }
  }
  for (const arrival of replay.created.keys()) {
    if (!stored.has(arrival)) out.push(`${u} lot ${arrival}: in the model, not stored`);
  }
  return out;
}

function lotText(lot: CreatedLot | undefined) {
  return lot ? `${lot.payer}/${lot.tsMs}/${lot.points}` : null;
}
