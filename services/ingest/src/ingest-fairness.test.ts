import { IngestConfig, parseConfig, topicNames } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { startStack, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHUNK_MESSAGES_MAX } from "./consumer";
import { type RunningIngest, startIngest } from "./ingest";
import {
  collectTopic,
  type Partner,
  partnerMessage,
  partnerProducer,
  type TopicCollector,
  waitUntil,
} from "./test-support";
import { eventCommandId } from "./verify-partner-event";

/**
 * Issue 18 item 6: a partner flooding partner.transactions does not starve the others. A backlog
 * of FLOOD's events sits in front of QUIET's few on the same partition (same user key) before
 * ingest starts; ingest must forward QUIET's events before it has finished FLOOD's backlog, keep
 * each partner's own order, forward every event, and count FLOOD's held-back messages.
 */
const USER = "u-fair";
const TS = "2024-05-01T10:00:00Z";
// More than two chunks' worth, so plain offset order would put QUIET after at least two full chunks.
const FLOOD_EVENTS = 2 * CHUNK_MESSAGES_MAX + 500;
const QUIET_EVENTS = 3;
const SEND_MAX = 1_000;

let env: TestEnv;
let stack: TestStack;
let ingest: RunningIngest | undefined;
let commands: TopicCollector;
let partner: Awaited<ReturnType<typeof partnerProducer>>;
let flood: Partner;
let quiet: Partner;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  flood = { id: "FLOOD", ...(await stack.api.createPartner("FLOOD")) };
  quiet = { id: "QUIET", ...(await stack.api.createPartner("QUIET")) };
  await stack.api.createMember(USER);
  const topics = topicNames(env.topicPrefix);
  partner = await partnerProducer(env, topics.partnerTransactions);
  commands = await collectTopic(env, topics.commands, "commands");
});
afterAll(async () => {
  await partner?.stop();
  await commands?.stop();
  await ingest?.stop();
  await stack?.stop();
  await env?.cleanup();
});

const event = (eventId: string) => ({ event_id: eventId, user_id: USER, points: 1, timestamp: TS });

async function metricValue(port: number, name: string, partner: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{partner="${partner}"}`));
  return Number(line?.split(" ")[1] ?? 0);
}

describe("ingest fairness between partners", () => {
  it("forwards a quiet partner's events ahead of a flooding partner's backlog", async () => {
    const floodIds = Array.from({ length: FLOOD_EVENTS }, (_, i) => `flood-${i}`);
    const quietIds = Array.from({ length: QUIET_EVENTS }, (_, i) => `quiet-${i}`);
    for (let i = 0; i < floodIds.length; i += SEND_MAX) {
      await partner.send(floodIds.slice(i, i + SEND_MAX).map((id) => partnerMessage(flood, event(id))));
    }
    await partner.send(quietIds.map((id) => partnerMessage(quiet, event(id))));

    const parsed = parseConfig(IngestConfig, {
      ...env.serviceEnvFor("ingest"),
      METRICS_PORT: "0",
      LOG_LEVEL: "warn",
    });
    if (!parsed.ok) throw new Error(parsed.message);
    ingest = await startIngest(parsed.config, createLogger("ingest", "warn"));

    const expected = [
      ...floodIds.map((id) => eventCommandId("FLOOD", id)),
      ...quietIds.map((id) => eventCommandId("QUIET", id)),
    ];
    const order = await waitUntil("every event forwarded", () => {
      const seen = firstAppearances(commands.messages.map((m) => JSON.parse(m.value!.toString()).command_id));
      return seen.length >= expected.length ? seen : undefined;
    });
    expect(new Set(order)).toEqual(new Set(expected));
    const position = new Map(order.map((id, i) => [id, i]));
    const floodPositions = floodIds.map((id) => position.get(eventCommandId("FLOOD", id))!);
    const quietPositions = quietIds.map((id) => position.get(eventCommandId("QUIET", id))!);
    // Each partner's own order is kept.
    expect(floodPositions).toEqual([...floodPositions].sort((a, b) => a - b));
    expect(quietPositions).toEqual([...quietPositions].sort((a, b) => a - b));
    // QUIET did not wait for FLOOD's backlog: its last event went out before FLOOD's last chunk began.
    expect(Math.max(...quietPositions)).toBeLessThan(FLOOD_EVENTS - CHUNK_MESSAGES_MAX);
    expect(
      await metricValue(ingest.metricsPort, "ingest_partner_messages_deferred_total", "FLOOD"),
    ).toBeGreaterThan(0);
    expect(await metricValue(ingest.metricsPort, "ingest_partner_messages_total", "QUIET")).toBe(
      QUIET_EVENTS,
    );
  });
});

/** Command ids in the order they first appear (a retried publish may repeat one later). */
function firstAppearances(ids: string[]): string[] {
  const seen = new Set<string>();
  return ids.filter((id) => !seen.has(id) && seen.add(id));
}
