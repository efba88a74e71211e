/**
 * A stand-in service process for kafka-containment.test.ts: installs the services' rejection
 * policy (runService's containKafkaRejections), then leaves one rejection unhandled, the way
 * kafkajs does on a broker loss. Modes:
 *   broker-down <host:port>: a real kafkajs connect to a closed port, rejected and not awaited;
 *     prints "contained 1" and the services' metric line, and exits 0 once the policy has absorbed it.
 *   refused-login <brokers>: a real kafkajs connect with a wrong password, not awaited (exit 1).
 *   bug: a TypeError, not awaited (exit 1).
 */
import { containKafkaRejections, createKafka, kafkaRejectionsContained } from "@points/shared/kafka";
import { registerKafkaRejections } from "@points/shared/kafka-metrics";
import { createLogger } from "@points/shared/logger";
import { Registry } from "prom-client";

const POLL_MS = 20;
const [mode, brokers = ""] = process.argv.slice(2);
const log = createLogger("containment-child", "info");
containKafkaRejections(log);
const metrics = new Registry();
registerKafkaRejections(metrics);
setInterval(async () => {
  if (kafkaRejectionsContained() === 0) return;
  console.log(`contained ${kafkaRejectionsContained()}`);
  console.log(await metrics.getSingleMetricAsString("kafka_rejections_contained_total"));
  process.exit(0);
}, POLL_MS);

const producerOf = (password: string) =>
  createKafka(
    "containment-child",
    brokers.split(","),
    undefined,
    {
      mechanism: "scram-sha-512",
      username: "admin",
      password,
    },
    { retries: 0 },
  ).producer();

switch (mode) {
  case "broker-down":
    void producerOf("unused").connect();
    break;
  case "refused-login":
    void producerOf("not-the-password").connect();
    break;
  case "bug":
    void Promise.reject(new TypeError("a bug, not a broker loss"));
    break;
  default:
    console.error(`unknown mode ${mode}`);
    process.exit(2);
}
