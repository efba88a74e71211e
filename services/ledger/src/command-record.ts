/**
 * One shape for a decided command, wherever it is: loaded from the commands table, decided in
 * this batch, written back. A redelivered command is answered from it, never applied again.
 */
import type { HttpResponse } from "@points/shared";

export interface CommandRecord {
  user_id: string;
  command_id: string;
  /** Hash of what the client sent: the same command id with another hash is a reused key. */
  request_hash: string;
  type: string;
  status: "applied" | "rejected";
  /** `role:id` of who sent it. */
  actor: string;
  /** The rendered HTTP answer, replayed byte for byte. */
  response: HttpResponse;
  /** The user's version after it (applied commands only). */
  seq: number | null;
}
