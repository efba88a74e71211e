import { describe, expect, it } from "vitest";
import { CommonConfig, GatewayConfig, LedgerConfig, parseConfig } from "./config";

const KEYS = { COMMAND_SIGNING_KEYS: `k1:${"s".repeat(32)}` };
const ADMIN = { ADMIN_TOKEN: "a-long-enough-admin-token", ...KEYS };

describe("parseConfig", () => {
  it("gives working defaults for a developer machine", () => {
    const r = parseConfig(GatewayConfig, ADMIN);
    expect(r.ok && r.config).toMatchObject({
      PORT: 8080,
      DATABASE_URL: "postgres://postgres@127.0.0.1:5432/points",
      REDIS_URL: "redis://127.0.0.1:6379",
      KAFKA_BROKERS: ["127.0.0.1:9092"],
      KAFKA_TOPIC_PREFIX: "",
    });
  });

  it("splits broker lists and coerces numbers", () => {
    const r = parseConfig(GatewayConfig, { ...ADMIN, KAFKA_BROKERS: "a:1, b:2", PORT: "9000" });
    expect(r.ok && r.config.KAFKA_BROKERS).toEqual(["a:1", "b:2"]);
    expect(r.ok && r.config.PORT).toBe(9000);
  });

  it("treats empty strings as unset", () => {
    const r = parseConfig(LedgerConfig, { ...KEYS, DATABASE_URL: "" });
    expect(r.ok && r.config.DATABASE_URL).toBe("postgres://postgres@127.0.0.1:5432/points");
  });

  it.each([
    [CommonConfig, { DATABASE_URL: "not a url" }, "DATABASE_URL"],
    [CommonConfig, { DATABASE_URL: "mysql://x@y/z" }, "DATABASE_URL"],
    [CommonConfig, { REDIS_URL: "http://x" }, "REDIS_URL"],
    [CommonConfig, { KAFKA_BROKERS: "no-port" }, "KAFKA_BROKERS"],
    [CommonConfig, { KAFKA_TOPIC_PREFIX: "bad prefix!" }, "KAFKA_TOPIC_PREFIX"],
    [CommonConfig, { LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [GatewayConfig, {}, "ADMIN_TOKEN"],
    [GatewayConfig, { ADMIN_TOKEN: "short" }, "ADMIN_TOKEN"],
    [GatewayConfig, { ...ADMIN, PORT: "70000" }, "PORT"],
    [GatewayConfig, { ...ADMIN, SYNC_WAIT_MS: "-1" }, "SYNC_WAIT_MS"],
    [LedgerConfig, { ...KEYS, LEDGER_PARTITIONS_CONCURRENCY: "0" }, "LEDGER_PARTITIONS_CONCURRENCY"],
    [LedgerConfig, {}, "COMMAND_SIGNING_KEYS"],
    [GatewayConfig, { ...ADMIN, COMMAND_SIGNING_KEYS: "k1:too-short" }, "COMMAND_SIGNING_KEYS"],
    [CommonConfig, { KAFKA_SASL_MECHANISM: "gssapi" }, "KAFKA_SASL_MECHANISM"],
  ])("rejects a bad variable and names it (%#)", (schema, env, name) => {
    const r = parseConfig(schema, env);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(name);
  });
});

describe("kafkaSasl", () => {
  it("gives the service's principal, none without one, and refuses half a pair", async () => {
    const { kafkaSasl } = await import("./kafka");
    const base = { KAFKA_SASL_MECHANISM: "scram-sha-512" as const };
    expect(kafkaSasl({ ...base, KAFKA_SASL_USERNAME: "ledger", KAFKA_SASL_PASSWORD: "pw" })).toEqual({
      mechanism: "scram-sha-512",
      username: "ledger",
      password: "pw",
    });
    expect(kafkaSasl(base)).toBeUndefined();
    expect(() => kafkaSasl({ ...base, KAFKA_SASL_USERNAME: "ledger" })).toThrow(/together/);
  });
});
