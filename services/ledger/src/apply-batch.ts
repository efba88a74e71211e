import { balances } from "@points/core";
import { balanceJson, type HttpResponse, type LedgerCommand, type LedgerOutcome } from "@points/shared";
import { inTransaction, type Pool } from "@points/shared/db";
import { type ApplyContext, applyCommand, type Decision, reject } from "./apply-command";
import { BatchWrites } from "./batch-writes";
import {
  type Account,
  commandKey,
  type LotNeed,
  loadAccounts,
  loadCommands,
  loadEntries,
  loadLots,
} from "./store";

/**
 * Applies a batch of commands (in arrival order, possibly for many users) in ONE Postgres
 * transaction: load state for all users at once, decide each command in memory with the pure
 * core, write everything with one statement per table. Each command id is recorded with its
 * request hash in the same transaction, so a redelivered batch is answered, not re-applied.
 */
export interface BatchResult {
  outcomes: LedgerOutcome[];
  /** New cached balance of each user this batch changed: version and JSON body. */
  balances: { userId: string; seq: number; json: string }[];
}

interface Decided {
  request_hash: string;
  type: string;
  status: "applied" | "rejected";
  response: HttpResponse;
  seq: number | null;
  code?: LedgerOutcome["code"];
}

export async function applyBatch(
  pool: Pool,
  commands: LedgerCommand[],
  now = new Date(),
  /** Commands (by commandKey) Postgres refused to store: rejected instead of applied. */
  unstorable: ReadonlySet<string> = new Set(),
): Promise<BatchResult> {
  return inTransaction(pool, async (db) => {
    // Lock the users first: a second ledger still holding a revoked partition then waits, and
    // sees this batch's commands as decided when it gets the locks.
    const accounts = await loadAccounts(db, unique(commands.map((c) => c.user_id)));
    const known = await loadCommands(db, commands);
    const fresh = commands.filter((c) => !known.has(commandKey(c.user_id, c.command_id)));
    const writes = new BatchWrites();
    await loadLots(db, accounts, lotNeeds(fresh, accounts));
    for (const [userId, { book }] of accounts) {
      for (const lot of book.lots) writes.knowLot(userId, lot.arrival, lot.remaining, lot.adjusted);
    }
    const itemKeys = fresh.flatMap((c) =>
      c.type === "use_item" ? [{ user_id: c.user_id, entry_id: c.entry_id }] : [],
    );
    const ctx: ApplyContext = { now, accounts, writes, entries: await loadEntries(db, itemKeys) };

    const decided = new Map<string, Decided>(known);
    const outcomes = commands.map((cmd) => decideOne(ctx, decided, cmd, now, unstorable));
    await writes.write(db);
    // Every user of the batch, not only those changed now: a redelivered command is "known" and
    // changes nothing, but its first delivery may have committed and died before the cache write.
    return { outcomes, balances: cachedBalances(accounts, [...accounts.keys()]) };
  });
}

function decideOne(
  ctx: ApplyContext,
  decided: Map<string, Decided>,
  cmd: LedgerCommand,
  now: Date,
  unstorable: ReadonlySet<string>,
): LedgerOutcome {
  const key = commandKey(cmd.user_id, cmd.command_id);
  const prior = decided.get(key);
  if (prior) {
    if (prior.request_hash === cmd.request_hash) return toOutcome(cmd, prior, now);
    const reused = reject("idempotency_key_reused", "this Idempotency-Key was used with a different request");
    return toOutcome(cmd, { ...fromDecision(cmd, reused) }, now);
  }
  const decision = unstorable.has(key)
    ? reject("validation_failed", "the command holds a value the ledger cannot store; nothing was applied")
    : applyCommand(ctx, cmd);
  const record = fromDecision(cmd, decision);
  decided.set(key, record);
  ctx.writes.commands.push({
    user_id: cmd.user_id,
    command_id: cmd.command_id,
    request_hash: cmd.request_hash,
    type: cmd.type,
    status: record.status,
    actor: actorName(cmd),
    response: record.response,
    seq: record.seq,
  });
  return toOutcome(cmd, record, now);
}

function fromDecision(cmd: LedgerCommand, d: Decision): Decided {
  return {
    request_hash: cmd.request_hash,
    type: cmd.type,
    status: d.status,
    response: d.response,
    seq: d.status === "applied" ? d.seq : null,
    ...(d.status === "rejected" ? { code: d.code } : {}),
  };
}

function toOutcome(cmd: LedgerCommand, d: Decided, now: Date): LedgerOutcome {
  return {
    v: 1,
    command_id: cmd.command_id,
    user_id: cmd.user_id,
    type: cmd.type,
    status: d.status,
    ...(d.status === "rejected" ? { code: d.code ?? errorCodeOf(d.response) } : {}),
    response: d.response,
    ...(d.seq !== null ? { seq: d.seq } : {}),
    actor: actorName(cmd),
    ...(cmd.type === "earn" && cmd.event_id ? { event_id: cmd.event_id } : {}),
    applied_at: now.toISOString(),
  };
}

/** A stored rejection keeps its code inside the rendered error body. */
function errorCodeOf(response: HttpResponse): LedgerOutcome["code"] {
  const body = response.body as { error?: { code?: LedgerOutcome["code"] } } | undefined;
  return body?.error?.code;
}

export function actorName(cmd: LedgerCommand): string {
  return `${cmd.actor.role}:${cmd.actor.id}`;
}

/**
 * What each user's commands in this batch may walk (see LotNeed). A batch of plain earns of
 * payers without negatives needs no lots at all.
 */
function lotNeeds(commands: LedgerCommand[], accounts: Map<string, Account>): Map<string, LotNeed> {
  const needs = new Map<string, LotNeed>();
  const needOf = (userId: string) => {
    const need = needs.get(userId) ?? { spend: 0n, negatives: 0n, payers: new Map() };
    needs.set(userId, need);
    return need;
  };
  for (const c of commands) {
    const book = accounts.get(c.user_id)?.book;
    if (!book || c.type === "use_item") continue;
    if (c.type === "spend") {
      needOf(c.user_id).spend += BigInt(c.points);
    } else if (c.points < 0) {
      const need = needOf(c.user_id);
      const payer = need.payers.get(c.payer) ?? { live: 0n, adjusted: true };
      need.payers.set(c.payer, { live: payer.live - BigInt(c.points), adjusted: true });
      need.negatives -= BigInt(c.points);
    } else if ((book.payers.get(c.payer)?.adjusted ?? 0n) > 0n || needs.get(c.user_id)?.payers.has(c.payer)) {
      const need = needOf(c.user_id);
      need.payers.set(c.payer, { live: need.payers.get(c.payer)?.live ?? 0n, adjusted: true });
    }
  }
  // Spends may take a payer's lots too, so a negative's cover includes the user's spends.
  for (const need of needs.values()) {
    for (const p of need.payers.values()) if (p.live > 0n) p.live += need.spend;
  }
  return needs;
}

function cachedBalances(accounts: Map<string, Account>, userIds: string[]): BatchResult["balances"] {
  return userIds.map((userId) => {
    const account = accounts.get(userId)!;
    return { userId, seq: account.seq, json: balanceJson(balances(account.book)) };
  });
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
