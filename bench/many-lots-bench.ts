// One spend across 60,000 one-point lots (issue 12, bug 1): `KAFKA_BROKERS=... npx tsx
// bench/many-lots-bench.ts`, or `npm run bench -- --only manylots`. A fresh stack (bench/lib/stack.ts:
// database, topic prefix, a real Kafka); a member with 60,000 one-point lots written straight into
// Postgres; the ledger runs in this process so that perf_hooks.monitorEventLoopDelay sees its
// event loop. Sends `spend 59,999` through Kafka as the gateway does and reports the time until
// Postgres holds the outcome, and the event loop's longest block meanwhile (BENCH_LOTS: lots).
import { monitorEventLoopDelay } from "node:perf_hooks";
import { type LedgerCommand, LedgerConfig, parseConfig } from "@points/shared";
import { createPool } from "@points/shared/db";
import { createLogger } from "@points/shared/logger";
import type pg from "pg";
import { startLedger } from "../services/ledger/src/ledger";
import { manyLotsSpendAnswer, seedManyLots } from "../services/ledger/src/many-lots.test-support";
import type { Row } from "./lib/report";
import { type BenchStack, gatewayCommandProducer, startBenchStack } from "./lib/stack";

const LOTS = Number(process.env.BENCH_LOTS ?? 60_000);
const USER = "whale";
const POLL_MS = 50;
const SPEND_WAIT_MS_MAX = 10 * 60_000;
const GROUP_JOIN_WAIT_MS = 3_000;
/** Histogram resolution of the event-loop monitor; blocks shorter than this are not resolved. */
const LOOP_RESOLUTION_MS = 10;
/** The issue's bounds: a few seconds in all, no block of the event loop past ~100 ms. */
const SPEND_MS_TARGET = 5_000;
const LOOP_BLOCK_MS_TARGET = 100;
const log = (m: string) => process.stderr.write(`[many-lots-bench] ${m}\n`);

export interface ManyLotsFigures {
  lots: number;
  status: string;
  answerRight: boolean;
  /** From producing the spend to its outcome committed in Postgres. */
  spendMs: number;
  loopBlockMaxMs: number;
  loopBlockP99Ms: number;
}

/** The ledger's configuration on the stack, with the ledger's own Kafka principal. */
function ledgerConfig(stack: BenchStack): LedgerConfig {
  const sasl = stack.kafkaSasl("ledger");
  const config = parseConfig(LedgerConfig, {
    ...stack.env,
    KAFKA_SASL_USERNAME: sasl.username,
    KAFKA_SASL_PASSWORD: sasl.password,
  });
  if (!config.ok) throw new Error(config.message);
  return config.config;
}

function spendCommand(points: number): LedgerCommand {
  return {
    v: 1,
    type: "spend",
    command_id: `bench-spend-${Date.now()}`,
    user_id: USER,
    actor: { role: "admin", id: "admin" },
    request_hash: "bench",
    sent_at: Date.now(),
    points,
    authority_id: "admin",
    render: "spend",
  };
}

async function waitForOutcome(pool: pg.Pool, commandId: string) {
  const deadline = Date.now() + SPEND_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const { rows } = await pool.query("SELECT status, response FROM commands WHERE command_id = $1", [
      commandId,
    ]);
    if (rows[0]) return rows[0] as { status: string; response: { body: unknown } };
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new Error("the spend was not applied in time");
}

/** Seeds the member, runs the ledger in this process, and measures one spend of all but one lot. */
export async function measureManyLotsSpend(stack: BenchStack): Promise<ManyLotsFigures> {
  const pool = createPool(stack.databaseUrl, { max: 2 });
  await seedManyLots(pool, USER, LOTS);
  log(`seeded ${LOTS} lots; starting the ledger in this process`);
  const ledger = await startLedger(ledgerConfig(stack), createLogger("ledger", "warn"));
  const { producer, topic } = gatewayCommandProducer(stack, "many-lots-bench");
  await producer.connect();
  await new Promise((r) => setTimeout(r, GROUP_JOIN_WAIT_MS));
  try {
    const spend = spendCommand(LOTS - 1);
    const loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    loop.enable();
    const started = performance.now();
    await producer.send({ topic, messages: [{ key: USER, value: JSON.stringify(spend) }] });
    const outcome = await waitForOutcome(pool, spend.command_id);
    const spendMs = performance.now() - started;
    loop.disable();
    return {
      lots: LOTS,
      status: outcome.status,
      answerRight: JSON.stringify(outcome.response.body) === JSON.stringify(manyLotsSpendAnswer(LOTS)),
      spendMs,
      loopBlockMaxMs: loop.max / 1e6,
      loopBlockP99Ms: loop.percentile(99) / 1e6,
    };
  } finally {
    await producer.disconnect();
    await ledger.stop();
    await pool.end();
  }
}

/** The figures as rows of the bench report (bench/lib/report.ts). */
export function manyLotsRows(f: ManyLotsFigures): Row[] {
  const what = `spend ${(f.lots - 1).toLocaleString("en-US")} across ${f.lots.toLocaleString("en-US")} one-point lots`;
  const wrong = f.answerRight && f.status === "applied" ? "" : ` (${f.status.toUpperCase()}, ANSWER WRONG)`;
  return [
    {
      scenario: `${what}, produce to committed outcome${wrong}`,
      value: f.spendMs,
      unit: "ms",
      target: SPEND_MS_TARGET,
      lowerIsBetter: true,
      p99: null,
      p99Target: null,
    },
    {
      scenario: `${what}, the ledger's event loop: longest block`,
      value: f.loopBlockMaxMs,
      unit: "ms",
      target: LOOP_BLOCK_MS_TARGET,
      lowerIsBetter: true,
      p99: f.loopBlockP99Ms,
      p99Target: null,
    },
  ];
}

/** Its own stack and report: `npm run bench -- --only manylots` and the command line. */
export async function manyLotsBench(): Promise<ManyLotsFigures> {
  const stack = await startBenchStack("lots");
  try {
    const f = await measureManyLotsSpend(stack);
    process.stdout.write(
      `${[
        `spend ${f.lots - 1} across ${f.lots} lots: ${f.status}, answer ${f.answerRight ? "right" : "WRONG"}`,
        `time from produce to committed outcome: ${Math.round(f.spendMs)} ms`,
        `event loop longest block: ${Math.round(f.loopBlockMaxMs)} ms (p99 ${Math.round(f.loopBlockP99Ms)} ms)`,
      ].join("\n")}\n`,
    );
    if (!f.answerRight || f.status !== "applied") process.exitCode = 1;
    return f;
  } finally {
    await stack.shutdown();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await manyLotsBench();
