import { registerKafkaRejections } from "@points/shared/kafka-metrics";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { DLQ_CODES, type DlqCode } from "./verify-partner-event";

export interface PartitionLag {
  partition: number;
  committed: bigint;
  high: bigint;
}

export class IngestMetrics {
  readonly registry = new Registry();
  private lagQuery: Promise<void> | null = null;
  readonly kafkaRejectionsContained = registerKafkaRejections(this.registry);
  readonly accepted = new Counter({
    name: "ingest_events_accepted_total",
    help: "Partner events forwarded to ledger.commands (acknowledged by Kafka)",
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: "ingest_events_dead_lettered_total",
    help: "Partner messages written to partner.transactions.dlq, by x-error-code",
    labelNames: ["code"],
    registers: [this.registry],
  });
  readonly lag = new Gauge({
    name: "ingest_consumer_lag_messages",
    help: "High watermark minus the group's committed offset, per partition of partner.transactions",
    labelNames: ["partition"],
    registers: [this.registry],
    // Read from Kafka at scrape time, so a stalled consumer shows growing lag instead of its last value.
    collect: () => this.collectLag(),
  });
  readonly committedOffset = new Gauge({
    name: "ingest_committed_offset",
    help: "The group's committed offset (next offset to read) per partition of partner.transactions",
    labelNames: ["partition"],
    registers: [this.registry],
    collect: () => this.collectLag(),
  });
  readonly highWatermark = new Gauge({
    name: "ingest_high_watermark",
    help: "High watermark per partition of partner.transactions",
    labelNames: ["partition"],
    registers: [this.registry],
    collect: () => this.collectLag(),
  });
  readonly chunkSeconds = new Histogram({
    name: "ingest_chunk_seconds",
    help: "Time to verify, claim and publish one chunk of partner messages",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly chunkRetries = new Counter({
    name: "ingest_chunk_retries_total",
    help: "Failed chunk attempts (Postgres or Kafka unavailable); the chunk is retried, never skipped",
    registers: [this.registry],
  });
  readonly partnerMessages = new Counter({
    name: "ingest_partner_messages_total",
    help: 'Messages fetched from partner.transactions, by the partner they claim ("unknown" for ids that are no partner)',
    labelNames: ["partner"],
    registers: [this.registry],
  });
  readonly partnerDeferred = new Counter({
    name: "ingest_partner_messages_deferred_total",
    help: "Messages the fair schedule processed in a later chunk than offset order would have, so other partners went first (a flooding partner shows here)",
    labelNames: ["partner"],
    registers: [this.registry],
  });
  readonly secretReloads = new Counter({
    name: "ingest_partner_secret_reloads_total",
    help: "Loads of the partners' signing secrets",
    registers: [this.registry],
  });

  constructor(private readonly lagSource?: () => Promise<PartitionLag[]>) {
    collectDefaultMetrics({ register: this.registry });
    // Every code is exported from the start, so an alert on a rate sees 0 rather than nothing.
    for (const code of DLQ_CODES) this.deadLettered.inc({ code }, 0);
  }

  observeChunk(accepted: number, deadLetters: DlqCode[], elapsedMs: number): void {
    this.accepted.inc(accepted);
    for (const code of deadLetters) this.deadLettered.inc({ code });
    this.chunkSeconds.observe(elapsedMs / 1000);
  }

  /** Per partner: messages fetched and messages held back by the fair schedule. Labels only for known partners (bounded). */
  observeSchedule(
    partners: readonly string[],
    deferred: Map<string, number>,
    known: (id: string) => boolean,
  ): void {
    const label = (id: string) => (known(id) ? id : "unknown");
    const counts = new Map<string, number>();
    for (const id of partners) counts.set(label(id), (counts.get(label(id)) ?? 0) + 1);
    for (const [partner, n] of counts) this.partnerMessages.inc({ partner }, n);
    for (const [id, n] of deferred) this.partnerDeferred.inc({ partner: label(id) }, n);
  }

  /** The three offset gauges are collected concurrently; one Kafka query serves all of them. */
  private collectLag(): Promise<void> {
    this.lagQuery ??= this.queryLag().finally(() => {
      this.lagQuery = null;
    });
    return this.lagQuery;
  }

  private async queryLag(): Promise<void> {
    if (!this.lagSource) return;
    try {
      for (const p of await this.lagSource()) {
        const labels = { partition: String(p.partition) };
        this.committedOffset.set(labels, Number(p.committed));
        this.highWatermark.set(labels, Number(p.high));
        this.lag.set(labels, Number(p.high - p.committed));
      }
    } catch {
      // Kafka unreachable: keep the last values; /health reports the outage.
    }
  }
}
