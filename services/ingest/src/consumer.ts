import type { Pool } from "@points/shared/db";
import { deadLetter } from "@points/shared/dead-letter";
import { recordDeadLetters } from "@points/shared/dead-letter-store";
import type { Consumer, EachBatchPayload, KafkaMessage, Message } from "@points/shared/kafka";
import { isGroupMembershipError, processWithRetry } from "@points/shared/kafka";
import type { Logger } from "@points/shared/logger";
import { claimEvents, eventKey } from "./event-claims";
import { CommitFrontier, fairChunks } from "./fair-schedule";
import type { IngestMetrics } from "./metrics";
import type { PartnerSecrets } from "./partner-secrets";
import { commandMessage, earnCommand, type IngestPublisher } from "./publisher";
import { type DlqCode, PARTNER_ID_HEADER, type Verdict, verifyPartnerEvent } from "./verify-partner-event";

/**
 * The ingest loop over `partner.transactions`. Per chunk of a fetched batch: verify every message
 * (signature, JSON, schema, key), claim the event ids, publish commands and dead letters, and only
 * then commit the chunk's offsets. A crash anywhere redelivers the chunk; the deterministic command
 * id makes the ledger answer a repeat instead of applying it again.
 *
 * Bad input never throws here: it becomes a dead letter. Only infrastructure failures (Postgres,
 * Kafka) throw, and those pause this partition with backoff rather than skip anything.
 */
export const CHUNK_MESSAGES_MAX = 2_000;

export interface IngestDeps {
  consumer: Consumer;
  pool: Pool;
  secrets: PartnerSecrets;
  publisher: IngestPublisher;
  metrics: IngestMetrics;
  log: Logger;
  topic: string;
  partitionsConcurrency: number;
}

export async function runIngestConsumer(deps: IngestDeps): Promise<void> {
  // From the beginning: a new deployment must not skip events produced before it first ran.
  await deps.consumer.subscribe({ topic: deps.topic, fromBeginning: true });
  await deps.consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: deps.partitionsConcurrency,
    eachBatch: (payload) => ingestKafkaBatch(deps, payload),
  });
}

/**
 * One fetched batch, in chunks scheduled fairly between partners (see fair-schedule.ts), so a
 * partner's flood does not hold the other partners' messages behind it. Offsets are committed
 * only up to the first message not yet processed.
 */
async function ingestKafkaBatch(deps: IngestDeps, payload: EachBatchPayload): Promise<void> {
  const { batch } = payload;
  const partners = batch.messages.map(claimedPartner);
  const plan = fairChunks(partners, CHUNK_MESSAGES_MAX);
  deps.metrics.observeSchedule(partners, plan.deferred, (id) => deps.secrets.get(id) !== undefined);
  const frontier = new CommitFrontier(batch.messages.length);
  let committed = 0;
  for (const indices of plan.chunks) {
    if (!payload.isRunning() || payload.isStale()) return;
    const chunk = indices.map((i) => batch.messages[i]!);
    await processWithRetry(
      payload,
      {
        log: deps.log,
        process: (messages) => ingestChunk(deps, batch.partition, messages),
        onRetry: () => deps.metrics.chunkRetries.inc(),
      },
      chunk,
    );
    const doneCount = frontier.complete(indices);
    if (doneCount > committed) {
      committed = doneCount;
      if (!(await commitThrough(deps, payload, batch.messages[doneCount - 1]!.offset))) return;
    }
    await payload.heartbeat();
  }
}

/** Commits up to and including `lastOffset`; false when the group moved on (stop quietly). */
async function commitThrough(
  deps: IngestDeps,
  payload: EachBatchPayload,
  lastOffset: string,
): Promise<boolean> {
  const { batch } = payload;
  payload.resolveOffset(lastOffset);
  try {
    await deps.consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(lastOffset) + 1n).toString() },
    ]);
    return true;
  } catch (err) {
    if (!isGroupMembershipError(err)) throw err;
    deps.log.warn(
      { err: String(err), partition: batch.partition },
      "offset commit refused: the group moved on",
    );
    return false;
  }
}

/** The partner a message claims to come from (verified later, per chunk); "" when none. */
function claimedPartner(message: KafkaMessage): string {
  const raw = message.headers?.[PARTNER_ID_HEADER];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value === undefined ? "" : String(value);
}

async function ingestChunk(deps: IngestDeps, partition: number, chunk: KafkaMessage[]): Promise<void> {
  const started = performance.now();
  const verdicts = await verifyChunk(deps, chunk);
  const accepted = verdicts.flatMap((v) => (v.ok ? [v.accepted] : []));
  const owners = accepted.length > 0 ? await claimEvents(deps.pool, accepted) : new Map<string, string>();
  const now = Date.now();
  const commands: Message[] = [];
  const deadLetters: Message[] = [];
  const codes: DlqCode[] = [];
  chunk.forEach((message, i) => {
    const route = routeOf(verdicts[i]!, owners);
    if (route.ok) {
      commands.push(commandMessage(earnCommand(route.accepted, now)));
    } else {
      deadLetters.push(deadLetter(message, partition, route.code, route.message));
      codes.push(route.code);
    }
  });
  await deps.publisher.publish(commands, deadLetters);
  // Before the offsets move: a readable copy for operators (GET /v1/dead-letters).
  await recordDeadLetters(deps.pool, "partner", deadLetters);
  deps.metrics.observeChunk(commands.length, codes, performance.now() - started);
  if (codes.length > 0) {
    deps.log.warn({ partition, dead_letters: codes.length }, "partner messages dead-lettered");
  }
}

/**
 * Verifies with the cached secrets; messages that fail only because the cache may predate a new
 * or rotated partner are checked again against secrets loaded after this verification began.
 */
async function verifyChunk(deps: IngestDeps, chunk: KafkaMessage[]): Promise<Verdict[]> {
  const verifiedAt = Date.now();
  const verdicts = chunk.map((m) => verifyPartnerEvent(m, deps.secrets.get));
  if (!verdicts.some((v) => !v.ok && v.secretMayBeStale)) return verdicts;
  await deps.secrets.refreshSince(verifiedAt);
  return verdicts.map((v, i) =>
    !v.ok && v.secretMayBeStale ? verifyPartnerEvent(chunk[i]!, deps.secrets.get) : v,
  );
}

/** An accepted event still goes to the DLQ when its event id already belongs to other content. */
function routeOf(verdict: Verdict, owners: Map<string, string>): Verdict {
  if (!verdict.ok) return verdict;
  const { partnerId, event, requestHash } = verdict.accepted;
  if (owners.get(eventKey(partnerId, event.event_id)) === requestHash) return verdict;
  return {
    ok: false,
    code: "event_id_reused",
    message: `event_id ${event.event_id} was already used with other content (user, points, timestamp or reason)`,
  };
}
