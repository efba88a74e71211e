import { describe, expect, it } from "vitest";
import { CommonConfig, GatewayConfig, LedgerConfig, parseConfig } from "./config";

const ADMIN = { ADMIN_TOKEN: "a-long-enough-admin-token" };

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
    const r = parseConfig(LedgerConfig, { DATABASE_URL: "" });
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
    [LedgerConfig, { LEDGER_PARTITIONS_CONCURRENCY: "0" }, "LEDGER_PARTITIONS_CONCURRENCY"],
  ])("rejects a bad variable and names it (%#)", (schema, env, name) => {
    const r = parseConfig(schema, env);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.message).toContain(name);
  });
});
