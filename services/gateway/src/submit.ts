/**
 * The path of every points-changing request: Idempotency-Key handling, produce to Kafka, wait
 * for the ledger (or answer 202), and answer with the ledger's own rendered response.
 */

import { createHash, randomUUID } from "node:crypto";
import type { LedgerOutcome } from "@points/shared";
import type { Request, Response } from "express";
import { z } from "zod";
import { principalName } from "./auth";
import type { AnyLedgerCommand } from "./command-bus";
import { recordPending } from "./command-outbox";
import type { GatewayContext } from "./context";
import { httpError } from "./http-errors";
import { claimIdempotencyKey } from "./idempotency-keys";
import { principalOf } from "./permissions";

const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, "1-255 printable ASCII characters");

type CommandBody = DistributiveOmit<
  AnyLedgerCommand,
  "v" | "command_id" | "actor" | "request_hash" | "reply_to" | "sent_at"
>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The request's Idempotency-Key, validated (400 when malformed), or undefined. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.get("Idempotency-Key");
  if (key === undefined) return undefined;
  const parsed = IdempotencyKey.safeParse(key);
  if (parsed.success) return parsed.data;
  throw httpError("validation_failed", "bad Idempotency-Key", {
    fields: { "Idempotency-Key": [parsed.error.issues[0]!.message] },
  });
}

/**
 * "The same request" for an Idempotency-Key: the same route as routed (its pattern and decoded
 * params, so the spelling of the path does not matter) and the same JSON value (key order and
 * whitespace do not matter).
 */
export function requestHash(req: Request): string {
  let text: string;
  try {
    const route = (req.route?.path as string | undefined) ?? req.path;
    text = `${req.method} ${req.baseUrl}${route}\n${canonicalJson(req.params)}\n${canonicalJson(req.body ?? null)}`;
  } catch {
    // Only a body nested deeper than the stack allows gets here; no valid request is that deep.
    throw httpError("validation_failed", "the request body is nested too deeply");
  }
  return createHash("sha256").update(text).digest("hex");
}

/** JSON with object keys sorted at every depth: one text per JSON value. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export async function submitCommand(ctx: GatewayContext, req: Request, res: Response, body: CommandBody) {
  const principal = principalOf(req);
  const actor = principalName(principal);
  const hash = requestHash(req);
  const key = idempotencyKeyOf(req);
  let commandId: string = randomUUID();
  if (key !== undefined) {
    commandId = `k_${createHash("sha256").update(`${actor}\n${key}`).digest("hex").slice(0, 40)}`;
    const claimed = await claimIdempotencyKey(ctx.pool, {
      actor,
      key,
      requestHash: hash,
      userId: body.user_id,
      commandId,
    });
    // Claimed before: the ledger's answer if it has decided, else the command is sent again with
    // the same id and the ledger de-duplicates it.
    const replay = claimed && (await ctx.bus.storedOutcome(body.user_id, commandId));
    if (replay) return respond(res, replay);
  }
  const command = {
    ...body,
    v: 1,
    command_id: commandId,
    actor: { role: principal.role, id: principal.id },
    request_hash: hash,
    reply_to: ctx.bus.gatewayId,
    sent_at: Date.now(),
  } as AnyLedgerCommand;
  if (/\brespond-async\b/i.test(req.get("Prefer") ?? "")) {
    // Produce first: when Kafka refuses (503) no "pending" record may be left behind for a
    // command that was never accepted. If the ledger decides before the record is written,
    // GET /v1/commands/{id} finds the decision first anyway.
    await ctx.bus.produce(command);
    await markPending(ctx, command, actor);
    return accepted(res, commandId, true);
  }
  const outcome = await ctx.bus.send(command, ctx.config.SYNC_WAIT_MS);
  if (outcome) return respond(res, outcome);
  await markPending(ctx, command, actor);
  return accepted(res, commandId, false);
}

/** Records the 202 with the command itself: the outbox sends it again if it is not decided in time. */
function markPending(ctx: GatewayContext, command: AnyLedgerCommand, actor: string): Promise<void> {
  return recordPending(ctx.pool, command, actor, ctx.config.COMMAND_RESEND_AFTER_MS);
}

function respond(res: Response, outcome: LedgerOutcome): void {
  res.status(outcome.response.status).json(outcome.response.body);
}

function accepted(res: Response, commandId: string, preferred: boolean): void {
  if (preferred) res.setHeader("Preference-Applied", "respond-async");
  res
    .status(202)
    .location(`/v1/commands/${encodeURIComponent(commandId)}`)
    .json({ id: commandId, status: "pending" });
}
