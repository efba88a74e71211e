import { spawnSync } from "node:child_process";
import net from "node:net";
import { join } from "node:path";
import {
  connectWithRetry,
  createKafka,
  createProducer,
  isRetriableKafkaError,
  type Producer,
} from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestEnv, type TestEnv } from "./env";
import { REPO_ROOT } from "./infra";

/**
 * A broker lost under a Kafka client (issue 18; kafkajs#702, #1686): retriable kafkajs errors are
 * retried or contained, so no service dies of one, while non-retriable ones still surface. On
 * the real test broker, reached through a local TCP proxy that is closed, then opened.
 */
let env: TestEnv;
const log = createLogger("containment-test", "silent");
const CHILD = join(REPO_ROOT, "packages/testing/src/kafka-containment.child.ts");
const CHILD_TIMEOUT_MS = 60_000;
/** Failed connects before the proxy opens: more than one, so the retry loop is exercised. */
const REFUSALS_BEFORE_OPEN = 2;

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await env?.cleanup();
});

describe("connectWithRetry", () => {
  it("waits out a broker that refuses connections, then connects and sends", async () => {
    const [brokerHost, brokerPort] = env.kafkaBrokers[0]!.split(":") as [string, string];
    const port = await freePort();
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(brokerPort), brokerHost);
      client.pipe(upstream).pipe(client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on("error", close);
      upstream.on("error", close);
    });
    // One kafkajs retry (an idempotent producer needs one): each connect gives up in ms.
    const kafka = createKafka("containment-test", [`127.0.0.1:${port}`], undefined, env.kafkaSasl, {
      retries: 1,
    });
    const producer: Producer = createProducer(kafka);
    const refusals: unknown[] = [];
    try {
      await connectWithRetry("test producer", () => producer.connect(), log, {
        onRetry: (err) => {
          refusals.push(err);
          if (refusals.length === REFUSALS_BEFORE_OPEN) proxy.listen(port, "127.0.0.1");
        },
      });
      expect(refusals.length).toBe(REFUSALS_BEFORE_OPEN);
      expect(refusals.every(isRetriableKafkaError)).toBe(true);
      const [sent] = await producer.send({
        topic: `${env.topicPrefix}ledger.events`,
        acks: -1,
        messages: [{ key: "k", value: "after the broker came back" }],
      });
      expect(sent?.errorCode).toBe(0);
    } finally {
      await producer.disconnect();
      proxy.close();
    }
  });

  it("does not retry a refused login: it surfaces at once", async () => {
    const kafka = createKafka("containment-test", env.kafkaBrokers, undefined, {
      ...env.kafkaSasl,
      password: "not-the-password",
    });
    const producer = createProducer(kafka);
    let retries = 0;
    const failed = await connectWithRetry("test producer", () => producer.connect(), log, {
      onRetry: () => retries++,
    }).then(
      () => null,
      (err: unknown) => err,
    );
    await producer.disconnect();
    expect((failed as Error | null)?.name).toBe("KafkaJSSASLAuthenticationError");
    expect(isRetriableKafkaError(failed)).toBe(false);
    expect(retries).toBe(0);
  });
});

describe("a service process's unhandled rejections (containKafkaRejections)", () => {
  it("contains a retriable kafkajs rejection: the process lives on and counts it", async () => {
    const closed = await freePort();
    const run = child("broker-down", `127.0.0.1:${closed}`);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain("kafkajs left a retriable error unhandled");
    expect(run.stdout).toContain("contained 1");
    expect(run.stdout).toMatch(/^kafka_rejections_contained_total 1$/m); // what /metrics shows
  });

  it("ends the process on a non-retriable kafkajs rejection (a refused login)", () => {
    const run = child("refused-login", env.kafkaBrokers.join(","));
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("unhandled rejection; exiting");
    expect(run.stdout).toContain("KafkaJSSASLAuthenticationError");
  });

  it("ends the process on any other unhandled rejection (a bug)", () => {
    const run = child("bug", "");
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("a bug, not a broker loss");
  });
});

function child(mode: string, brokers: string) {
  return spawnSync(process.execPath, ["--import", "tsx", CHILD, mode, brokers], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH },
    encoding: "utf8",
    timeout: CHILD_TIMEOUT_MS,
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen({ port: 0, host: "127.0.0.1" }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
