/** The Prometheus counter every Kafka-using service exposes for the rejections kafka.ts contains. */
import { Counter, type Registry } from "prom-client";
import { kafkaRejectionsContained } from "./kafka";

/** kafka_rejections_contained_total, read from kafka.ts's process-wide count at scrape time. */
export function registerKafkaRejections(registry: Registry): Counter {
  return new Counter({
    name: "kafka_rejections_contained_total",
    help: "Retriable Kafka client errors the client library left unhandled (a broker loss), contained",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(kafkaRejectionsContained());
    },
  });
}
