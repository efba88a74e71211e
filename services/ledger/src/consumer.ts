/**
 * The ledger's loop over `ledger.commands`. Each partition holds whole users, so applying a
 * partition's messages in offset order applies each user's commands in the order accepted.
 * Order of effects per chunk: Postgres commit, then outcomes published (both by the group
 * committer), then the Kafka offset resolved (and committed soon after). A crash anywhere redelivers the chunk; the commands
 * table makes that harmless.
 */
import { AnyLedgerCommand } from "@points/shared";
import type { CommandSigningKey } from "@points/shared/command-auth";
import { deadLetter } from "@points/shared/dead-letter";
import type { Consumer, EachBatchPayload, KafkaMessage, Message } from "@points/shared/kafka";
import { consumeInChunks } from "@points/shared/kafka";
import type { Logger } from "@points/shared/logger";
import { authenticateMessage, type PartnerRegistry } from "./command-guard";
import type { GroupCommitter } from "./group-commit";
import { isProgrammerError } from "./isolate";
import type { LedgerMetrics } from "./metrics";

const CHUNK_COMMANDS_MAX = 2_000;
/**
 * Offsets are committed at most this often (and on rebalance and shutdown), not after every
 * chunk: a crash redelivers at most this much, which the commands table answers without
 * re-applying, and the commit's round trip stays off the path of every batch.
 */
const OFFSET_COMMIT_INTERVAL_MS = 500;

export interface ConsumerDeps {
  consumer: Consumer;
  committer: GroupCommitter;
  log: Logger;
  metrics: LedgerMetrics;
  commandsTopic: string;
  partitionsConcurrency: number;
  /** Writes copies of unusable messages to ledger.commands.dlq; resolves once Kafka has them. */
  deadLetters: (messages: Message[]) => Promise<void>;
  /** Keys the gateway and ingest sign commands with (COMMAND_SIGNING_KEYS). */
  signingKeys: readonly CommandSigningKey[];
  partners: PartnerRegistry;
}

export async function runLedgerConsumer(deps: ConsumerDeps): Promise<void> {
  await deps.consumer.subscribe({ topic: deps.commandsTopic, fromBeginning: true });
  await deps.consumer.run({
    autoCommit: true,
    autoCommitInterval: OFFSET_COMMIT_INTERVAL_MS,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: deps.partitionsConcurrency,
    eachBatch: (payload) => applyKafkaBatch(deps, payload),
  });
}

/** Only after a chunk is applied (Postgres committed, outcomes acknowledged) may its offset move. */
function applyKafkaBatch(deps: ConsumerDeps, payload: EachBatchPayload): Promise<void> {
  return consumeInChunks(payload, {
    chunkMessagesMax: CHUNK_COMMANDS_MAX,
    log: deps.log,
    process: (chunk) => applyChunk(deps, payload, chunk),
    commit: () => payload.commitOffsetsIfNecessary(),
    // Faults of single commands never get here (isolate.ts): a programmer error that does is in
    // the shell itself, and retrying it would stall the partition silently.
    isFatal: isProgrammerError,
    onRetry: () => deps.metrics.batchRetries.inc(),
  });
}

async function applyChunk(
  deps: ConsumerDeps,
  payload: EachBatchPayload,
  chunk: KafkaMessage[],
): Promise<void> {
  const started = performance.now();
  const partition = payload.batch.partition;
  const parsed = parseChunk(deps, partition, chunk);
  const { commands, replyTo, messages, invalid } = await refuseUnknownPayers(deps, partition, parsed);
  const result = await deps.committer.apply(commands, replyTo, () => payload.heartbeat(), partition);
  for (const fault of result.faults) {
    // Recorded as rejected and answered already (isolate.ts); here it becomes visible.
    deps.log.error(
      { partition, command_id: fault.command_id, code: fault.code, reason: fault.reason },
      "command could not be applied; dead-lettered",
    );
    deps.metrics.commandFaults.inc({ code: fault.code });
    invalid.push(deadLetter(messages.get(fault.command_id)!, partition, fault.code, fault.reason));
  }
  // Before the offset moves past them; a retry may write a copy twice, never none.
  if (invalid.length > 0) await deps.deadLetters(invalid);
  deps.metrics.observeBatch(result.outcomes, performance.now() - started);
}

interface ParsedChunk {
  commands: AnyLedgerCommand[];
  /** The message each command came from, by command id, for a dead letter after parsing. */
  messages: Map<string, KafkaMessage>;
  replyTo: Map<string, string>;
  invalid: Message[];
}

function parseChunk(deps: ConsumerDeps, partition: number, chunk: KafkaMessage[]): ParsedChunk {
  const commands: AnyLedgerCommand[] = [];
  const replyTo = new Map<string, string>();
  const invalid: Message[] = [];
  const messages = new Map<string, KafkaMessage>();
  for (const message of chunk) {
    // Authenticated before it is parsed: nothing from an unknown producer is interpreted.
    const auth = authenticateMessage(deps.signingKeys, message);
    const parsed = auth.ok ? parseCommand(message) : auth;
    if (!parsed.ok) {
      // Nothing can be applied or answered without a valid command: it goes to the DLQ, visibly.
      deps.log.error({ offset: message.offset, reason: parsed.reason }, "invalid command dead-lettered");
      deps.metrics.invalidCommands.inc();
      invalid.push(deadLetter(message, partition, parsed.code, parsed.reason));
      continue;
    }
    commands.push(parsed.command);
    messages.set(parsed.command.command_id, message);
    const gateway = "reply_to" in parsed.command ? parsed.command.reply_to : undefined;
    if (gateway) replyTo.set(parsed.command.command_id, gateway);
  }
  return { commands, replyTo, messages, invalid };
}

/** An earn must name a registered partner as its payer; otherwise it is dead-lettered, not applied. */
async function refuseUnknownPayers(
  deps: ConsumerDeps,
  partition: number,
  chunk: ParsedChunk,
): Promise<ParsedChunk> {
  const payers = chunk.commands.flatMap((c) => (c.type === "earn" ? [c.payer] : []));
  const unknown = payers.length > 0 ? await deps.partners.unknown(payers) : new Set<string>();
  if (unknown.size === 0) return chunk;
  const commands: AnyLedgerCommand[] = [];
  const invalid = [...chunk.invalid];
  for (const command of chunk.commands) {
    if (command.type !== "earn" || !unknown.has(command.payer)) {
      commands.push(command);
      continue;
    }
    const source = chunk.messages.get(command.command_id)!;
    const reason = `payer "${command.payer}" is not a registered partner`;
    deps.log.error({ offset: source.offset, reason }, "command dead-lettered");
    deps.metrics.invalidCommands.inc();
    chunk.replyTo.delete(command.command_id);
    invalid.push(deadLetter(source, partition, "unknown_payer", reason));
  }
  return { ...chunk, commands, invalid };
}

/** x-error-code of a dead-lettered command. */
export type InvalidCommandCode =
  | "empty_value"
  | "invalid_json"
  | "invalid_command"
  | "key_mismatch"
  | "unauthenticated_command"
  | "unknown_payer";

function parseCommand(
  message: KafkaMessage,
): { ok: true; command: AnyLedgerCommand } | { ok: false; code: InvalidCommandCode; reason: string } {
  if (!message.value) return { ok: false, code: "empty_value", reason: "empty value" };
  let json: unknown;
  try {
    json = JSON.parse(message.value.toString("utf8"));
  } catch {
    return { ok: false, code: "invalid_json", reason: "not JSON" };
  }
  const result = AnyLedgerCommand.safeParse(json);
  if (!result.success) {
    return {
      ok: false,
      code: "invalid_command",
      reason: result.error.issues.map((i) => i.message).join("; "),
    };
  }
  // Expiry and hold timeouts are applied by the ledger itself (scheduler.ts), never read from Kafka.
  if ("origin" in result.data) {
    return { ok: false, code: "invalid_command", reason: "scheduler commands are not accepted from Kafka" };
  }
  if (message.key && message.key.toString("utf8") !== result.data.user_id) {
    return { ok: false, code: "key_mismatch", reason: "key is not the command's user_id" };
  }
  return { ok: true, command: result.data };
}
