import { COMMAND_VERSION, type EarnCommand } from "@points/shared";
import type { Message, Producer } from "@points/shared/kafka";
import { messageBytes, SEND_BYTES_MAX, sendAll } from "@points/shared/kafka";
import type { AcceptedEvent } from "./verify-partner-event";

/**
 * Writes a chunk's results: earn commands to `ledger.commands` (keyed by user) and dead letters to
 * `partner.transactions.dlq` (as received), in as few produce requests as possible, each fully
 * acknowledged (acks -1) before the caller commits the source offsets.
 *
 * Sends are split by bytes (SEND_BYTES_MAX, see shared/kafka.ts), so a chunk whose events all
 * belong to one user cannot become an unsendable (stalling) request.
 */
export function earnCommand(accepted: AcceptedEvent, now = Date.now()): EarnCommand {
  const { partnerId, event } = accepted;
  return {
    v: COMMAND_VERSION,
    type: "earn",
    command_id: accepted.commandId,
    user_id: event.user_id,
    actor: { role: "partner", id: partnerId },
    request_hash: accepted.requestHash,
    sent_at: now,
    payer: partnerId,
    points: event.points,
    timestamp: event.timestamp,
    authority_id: partnerId,
    ...(event.reason !== undefined ? { reason: event.reason } : {}),
    ...(event.expires_at !== undefined ? { expires_at: event.expires_at } : {}),
    render: "transaction",
    event_id: event.event_id,
  };
}

export function commandMessage(command: EarnCommand): Message {
  return { key: command.user_id, value: JSON.stringify(command) };
}

export class IngestPublisher {
  constructor(
    private readonly producer: Producer,
    private readonly commandsTopic: string,
    private readonly dlqTopic: string,
  ) {}

  /** Resolves once Kafka acknowledged every message; order within each topic is kept. */
  async publish(commands: Message[], deadLetters: Message[]): Promise<void> {
    for (const group of splitByBytes(commands, deadLetters)) {
      // Per partition (sendAll): one multi-broker request can be acknowledged in part only (kafkajs#1303).
      await Promise.all([
        sendAll(this.producer, this.commandsTopic, group.commands),
        sendAll(this.producer, this.dlqTopic, group.dlq),
      ]);
    }
  }
}

interface SendGroup {
  commands: Message[];
  dlq: Message[];
  bytes: number;
}

function splitByBytes(commands: Message[], deadLetters: Message[]): SendGroup[] {
  const groups: SendGroup[] = [];
  let current: SendGroup = { commands: [], dlq: [], bytes: 0 };
  const add = (message: Message, into: "commands" | "dlq") => {
    const bytes = messageBytes(message);
    if (current.bytes > 0 && current.bytes + bytes > SEND_BYTES_MAX) {
      groups.push(current);
      current = { commands: [], dlq: [], bytes: 0 };
    }
    current[into].push(message);
    current.bytes += bytes;
  };
  for (const m of commands) add(m, "commands");
  for (const m of deadLetters) add(m, "dlq");
  if (current.bytes > 0) groups.push(current);
  return groups;
}
