/**
 * The failure policy for applying commands (README, "When a command cannot be applied").
 *
 * - A fault of one command: the core or the shell tripped an assert (or another programmer
 *   error: a TypeError, a RangeError), or Postgres refused the batch's data (SQLSTATE class 22,
 *   data exception; 23, integrity constraint violation: the ledger decided something the schema
 *   forbids; 54, program limit exceeded). Retrying the same batch can never succeed, so the batch
 *   is bisected in separate transactions until the command at fault stands alone; it is then
 *   recorded as rejected (`validation_failed` for data Postgres cannot store, `internal` for the
 *   rest) so that a waiting client gets a terminal answer, and returned as a fault, which the
 *   consumer dead-letters to ledger.commands.dlq with the reason, counts and logs at error level.
 *   Every other command of the batch is applied, in order.
 * - Anything else (Postgres or Kafka down, a connection lost, a serialization failure) is an
 *   infrastructure error: thrown, and the partition retries the chunk with backoff.
 */
import { AssertionError } from "@points/core/assert";
import type { AnyLedgerCommand } from "@points/shared";
import type { Pool } from "@points/shared/db";
import { applyBatch, type BatchResult } from "./apply-batch";
import { reject } from "./apply-command";
import { commandKey } from "./keys";
import type { Heartbeat } from "./prefetch";

/** A command that could not be applied: rejected, and dead-lettered with this reason. */
export interface CommandFault {
  command_id: string;
  code: "validation_failed" | "internal";
  reason: string;
}

const PROGRAMMER_ERRORS = [AssertionError, TypeError, RangeError, ReferenceError];

export function isProgrammerError(err: unknown): boolean {
  return PROGRAMMER_ERRORS.some((type) => err instanceof type);
}

/** Postgres refused the data itself: class 22 (data exception) or 54 (program limit exceeded). */
function isUnstorableDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code.startsWith("22") || code.startsWith("54");
}

/** A fault of some command of the batch, which the same batch would hit again (see above). */
export function isCommandFault(err: unknown): boolean {
  return isProgrammerError(err) || isUnstorableDataError(err) || sqlState(err).startsWith("23");
}

function sqlState(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "";
}

/**
 * Applies a batch that failed with a command fault: halves in order, each in its own
 * transaction, down to the command at fault. Costs about 2 log2(n) transactions per faulty
 * command; the Kafka group gets a heartbeat between them.
 */
export async function applyBisecting(
  pool: Pool,
  commands: AnyLedgerCommand[],
  fault: unknown,
  heartbeat: Heartbeat = async () => {},
  partitions?: ReadonlyMap<string, number>,
): Promise<BatchResult> {
  if (commands.length === 1) return applyFaulted(pool, commands[0]!, fault, partitions);
  const middle = commands.length >>> 1;
  const results: BatchResult[] = [];
  for (const half of [commands.slice(0, middle), commands.slice(middle)]) {
    await heartbeat().catch(() => {}); // refused while rebalancing: the offset commit notices
    results.push(await applyOrBisect(pool, half, heartbeat, partitions));
  }
  return mergeResults(results);
}

/**
 * Applies a batch in one transaction, or bisects it when a command of it is at fault.
 * `partitions` (each user's Kafka partition) goes to every transaction: without it a member new
 * to the ledger would count its report figures in partition 0 (found by the 3-broker chaos run).
 */
export async function applyOrBisect(
  pool: Pool,
  commands: AnyLedgerCommand[],
  heartbeat?: Heartbeat,
  partitions?: ReadonlyMap<string, number>,
): Promise<BatchResult> {
  try {
    return await applyBatch(pool, commands, { heartbeat, ...(partitions ? { partitions } : {}) });
  } catch (err) {
    if (!isCommandFault(err)) throw err;
    return applyBisecting(pool, commands, err, heartbeat, partitions);
  }
}

/** Records the command as rejected, without applying it. */
async function applyFaulted(
  pool: Pool,
  command: AnyLedgerCommand,
  fault: unknown,
  partitions?: ReadonlyMap<string, number>,
): Promise<BatchResult> {
  const code = isUnstorableDataError(fault) ? "validation_failed" : "internal";
  const decision =
    code === "validation_failed"
      ? reject(code, "the command holds a value the ledger cannot store; nothing was applied")
      : reject(code, "the ledger failed to apply this command; nothing was applied");
  const forced = new Map([[commandKey(command.user_id, command.command_id), decision]]);
  const result = await applyBatch(pool, [command], { forced, ...(partitions ? { partitions } : {}) });
  // A redelivered command decided before is answered from its record: not a fault again.
  if (result.outcomes[0]?.code !== code) return result;
  const reason = fault instanceof Error ? `${fault.name}: ${fault.message}` : String(fault);
  return { ...result, faults: [{ command_id: command.command_id, code, reason }] };
}

/** Results of consecutive batches as one: outcomes in order, each user's latest balance. */
export function mergeResults(results: BatchResult[]): BatchResult {
  const balances = new Map<string, BatchResult["balances"][number]>();
  for (const r of results) for (const b of r.balances) balances.set(b.userId, b);
  return {
    outcomes: results.flatMap((r) => r.outcomes),
    balances: [...balances.values()],
    faults: results.flatMap((r) => r.faults),
  };
}
