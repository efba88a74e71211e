import type { LedgerOutcome } from "@points/shared";
import { registerKafkaRejections } from "@points/shared/kafka-metrics";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

export class LedgerMetrics {
  readonly registry = new Registry();
  readonly commands = new Counter({
    name: "ledger_commands_total",
    help: "Commands decided, by type and status",
    labelNames: ["type", "status"],
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: "ledger_batch_seconds",
    help: "Time to apply and publish one chunk of commands",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: "ledger_batch_commands",
    help: "Commands per applied chunk",
    buckets: [1, 10, 50, 100, 250, 500, 1000, 2000],
    registers: [this.registry],
  });
  readonly batchRetries = new Counter({
    name: "ledger_batch_retries_total",
    help: "Failed chunk attempts",
    registers: [this.registry],
  });
  readonly invalidCommands = new Counter({
    name: "ledger_invalid_commands_total",
    help: "Messages on ledger.commands that failed validation",
    registers: [this.registry],
  });

  readonly kafkaRejectionsContained = registerKafkaRejections(this.registry);
  readonly prunedRows = new Counter({
    name: "ledger_pruned_rows_total",
    help: "Bookkeeping rows deleted by the retention pruner, by table",
    labelNames: ["table"],
    registers: [this.registry],
  });
  readonly commandFaults = new Counter({
    name: "ledger_command_faults_total",
    help: "Commands that could not be applied (a programmer error, or data Postgres refuses): rejected and dead-lettered",
    labelNames: ["code"],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  observeBatch(outcomes: LedgerOutcome[], elapsedMs: number): void {
    for (const o of outcomes) this.commands.inc({ type: o.type, status: o.status });
    this.batchSeconds.observe(elapsedMs / 1000);
    this.batchSize.observe(outcomes.length);
  }
}
