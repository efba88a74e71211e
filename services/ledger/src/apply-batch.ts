/**
 * Applies a batch of commands (in arrival order, possibly for many users) in ONE Postgres
 * transaction, in three steps: prefetch (lock the users, load their decided commands and just
 * the lots the batch may walk), decide each command in memory with the pure core (asserting it
 * walked only what was prefetched), write everything with one statement per table. Each command
 * id is recorded with its request hash in the same transaction, so a redelivered batch is
 * answered, not re-applied.
 */
import { balances } from "@points/core";
import { balanceJson, type HttpResponse, type LedgerCommand, type LedgerOutcome } from "@points/shared";
import { inTransaction, type Pool } from "@points/shared/db";
import { type ApplyContext, applyCommand, type Decision, reject } from "./apply-command";
import { BatchWrites } from "./batch-writes";
import type { CommandRecord } from "./command-record";
import type { CommandFault } from "./isolate";
import { commandKey } from "./keys";
import { type Heartbeat, lotNeeds, prefetchLots } from "./prefetch";
import { type Account, loadAccounts, loadCommands, loadEntries } from "./store";

export interface BatchResult {
  outcomes: LedgerOutcome[];
  /** New cached balance of each user this batch changed: version and JSON body. */
  balances: { userId: string; seq: number; json: string }[];
  /** Commands that could not be applied and were recorded as rejected (see isolate.ts). */
  faults: CommandFault[];
}

export interface ApplyOptions {
  now?: Date;
  /** Decisions taken instead of applying (by commandKey): commands at fault (see isolate.ts). */
  forced?: ReadonlyMap<string, Decision>;
  /** Keeps the Kafka group membership alive while a long prefetch runs. */
  heartbeat?: Heartbeat;
}

export async function applyBatch(
  pool: Pool,
  commands: LedgerCommand[],
  options: ApplyOptions = {},
): Promise<BatchResult> {
  const now = options.now ?? new Date();
  const forced = options.forced ?? new Map<string, Decision>();
  return inTransaction(pool, async (db) => {
    // Lock the users first: a second ledger still holding a revoked partition then waits, and
    // sees this batch's commands as decided when it gets the locks.
    const accounts = await loadAccounts(db, unique(commands.map((c) => c.user_id)));
    const known = await loadCommands(db, commands);
    const fresh = commands.filter((c) => !known.has(commandKey(c.user_id, c.command_id)));
    const needs = lotNeeds(fresh, accounts);
    const { coverage, loaded } = await prefetchLots(db, accounts, needs, options.heartbeat);
    const writes = new BatchWrites(loaded);
    const itemKeys = fresh.flatMap((c) =>
      c.type === "use_item" ? [{ user_id: c.user_id, entry_id: c.entry_id }] : [],
    );
    const entries = await loadEntries(db, itemKeys);
    const ctx: ApplyContext = { now, accounts, writes, entries, coverage };

    const decided = new Map<string, CommandRecord>(known);
    const outcomes = commands.map((cmd) => decideOne(ctx, decided, cmd, now, forced));
    await writes.write(db);
    // Every user of the batch, not only those changed now: a redelivered command is "known" and
    // changes nothing, but its first delivery may have committed and died before the cache write.
    return { outcomes, balances: cachedBalances(accounts, [...accounts.keys()]), faults: [] };
  });
}

function decideOne(
  ctx: ApplyContext,
  decided: Map<string, CommandRecord>,
  cmd: LedgerCommand,
  now: Date,
  forced: ReadonlyMap<string, Decision>,
): LedgerOutcome {
  const key = commandKey(cmd.user_id, cmd.command_id);
  const prior = decided.get(key);
  if (prior) {
    if (prior.request_hash === cmd.request_hash) return toOutcome(cmd, prior, now);
    const reused = reject("idempotency_key_reused", "this Idempotency-Key was used with a different request");
    return toOutcome(cmd, recordOf(cmd, reused), now);
  }
  const decision = forced.get(key) ?? applyCommand(ctx, cmd);
  const record = recordOf(cmd, decision);
  decided.set(key, record);
  ctx.writes.commands.push(record);
  return toOutcome(cmd, record, now);
}

function recordOf(cmd: LedgerCommand, d: Decision): CommandRecord {
  return {
    user_id: cmd.user_id,
    command_id: cmd.command_id,
    request_hash: cmd.request_hash,
    type: cmd.type,
    status: d.status,
    actor: actorName(cmd),
    response: d.response,
    seq: d.status === "applied" ? d.seq : null,
  };
}

function toOutcome(cmd: LedgerCommand, d: CommandRecord, now: Date): LedgerOutcome {
  return {
    v: 1,
    command_id: cmd.command_id,
    user_id: cmd.user_id,
    type: cmd.type,
    status: d.status,
    ...(d.status === "rejected" ? { code: errorCodeOf(d.response) } : {}),
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

function actorName(cmd: LedgerCommand): string {
  return `${cmd.actor.role}:${cmd.actor.id}`;
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
