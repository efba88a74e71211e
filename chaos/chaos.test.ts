import { describe, expect, it } from "vitest";
import type { FaultKind } from "./faults";
import { runAllKillersSync } from "./infra";
import { formatReport, groupFindings } from "./report";
import { runChaos } from "./run";
import { ingestAvailable } from "./stack";

/**
 * The short bank run inside `npm test`: private Postgres, Redis and Kafka, the real services as
 * processes, a handful of faults, the lifecycle workload (short-lived lots, reversals, holds),
 * then the same checks as `npm run chaos`. Asserts correctness
 * only (no timing): zero violations, and the planted corruptions of the self-check are reported.
 */
const FAULTS: FaultKind[] = [
  "ledger-kill",
  "redis-restart",
  "gateway-kill",
  "ledger-scale-out",
  ...(ingestAvailable() ? (["ingest-kill"] as const) : []),
  "ledger-scale-in",
];

describe("chaos (short)", () => {
  it("loses nothing, doubles nothing and keeps the cache honest under a few faults", async () => {
    try {
      const report = await runChaos({
        durationS: 30,
        users: 40,
        faultsMin: 0,
        seed: 20_240_101,
        concurrency: 6,
        producers: 1,
        thinkMs: 20,
        ingest: true,
        faults: FAULTS,
        selfCheck: true,
        log: (m) => process.stderr.write(`[chaos] ${m}\n`),
      });
      process.stderr.write(`${formatReport(report)}\n`);
      expect(groupFindings(report.violations)).toEqual([]); // kinds, counts and a few examples
      // The schedule, then the tail fault: every ledger SIGKILLed while Redis writes stall, as the load stops.
      expect(report.faults.map((f) => f.kind)).toEqual([...FAULTS, "ledger-kill-redis-stalled"]);
      expect(report.selfCheck?.planted.length).toBeGreaterThanOrEqual(4);
      expect(report.selfCheck?.missed).toEqual([]);
      expect(report.requests.httpAcknowledged).toBeGreaterThan(0);
      // The lifecycle workload did happen: expiries recorded, reversals, holds closed (captured,
      // voided or expired: which of them depends on timing, so only their sum is asserted).
      const f = report.figures!;
      expect(f.entriesByType.expire ?? 0).toBeGreaterThan(0);
      expect(f.entriesByType.reversal ?? 0).toBeGreaterThan(0);
      const { captured = 0, voided = 0, expired = 0 } = f.holdsByStatus;
      expect(captured + voided + expired).toBeGreaterThan(0);
    } finally {
      runAllKillersSync(); // runChaos stops everything itself; this covers a failure half-way
    }
  });
});
