import { createHash } from "node:crypto";
import {
  GatewayConfig,
  IngestConfig,
  LedgerConfig,
  parseConfig,
  redisKeys,
  topicNames,
} from "@points/shared";
import { Kafka, Partitioners, type Producer } from "@points/shared/kafka";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { Api, TEST_ADMIN_TOKEN } from "@points/testing/stack";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningIngest, startIngest } from "../../../ingest/src/ingest";
import { signPartnerEvent } from "../../../ingest/src/verify-partner-event";
import { type RunningLedger, startLedger } from "../../../ledger/src/ledger";
import { type RunningGateway, startGateway } from "../gateway";

/**
 * Credentials at rest and in logs. Gateway, ledger and ingest run in this process at the most
 * verbose log level, writing to a buffer instead of stdout, while partners are created and
 * rotated, member tokens issued, requests made with good and bad tokens, and partner events sent
 * signed, mis-signed and malformed. Then: no token or signing secret is in any log line; tokens
 * are in Postgres only as SHA-256 hashes (no table holds a token's text); Redis holds none. A
 * partner's signing secret is stored in clear in partners.signing_secret, and only there: the
 * ingest service needs it to compute the HMAC.
 */
let env: TestEnv;
let gateway: RunningGateway;
let ledger: RunningLedger;
let ingest: RunningIngest;
let api: Api;
let producer: Producer;
let db: pg.Client;
const lines: string[] = [];
const destination = { write: (line: string) => void lines.push(line) };
/** Every credential this test saw; none may be logged or stored in clear (secrets: see above). */
const tokens: string[] = [TEST_ADMIN_TOKEN];
const secrets: string[] = [];
const admin = TEST_ADMIN_TOKEN;

function configOf<T>(result: { ok: true; config: T } | { ok: false; message: string }): T {
  if (!result.ok) throw new Error(result.message);
  return result.config;
}

beforeAll(async () => {
  env = await createTestEnv();
  const base = { ADMIN_TOKEN: admin, PORT: "0", METRICS_PORT: "0" };
  const vars = (service: "gateway" | "ingest" | "ledger") => ({ ...env.serviceEnvFor(service), ...base });
  ledger = await startLedger(
    configOf(parseConfig(LedgerConfig, vars("ledger"))),
    createLogger("ledger", "trace", destination),
  );
  gateway = await startGateway(
    configOf(parseConfig(GatewayConfig, vars("gateway"))),
    createLogger("gateway", "trace", destination),
  );
  ingest = await startIngest(
    configOf(parseConfig(IngestConfig, vars("ingest"))),
    createLogger("ingest", "trace", destination),
  );
  api = new Api(gateway.url);
  db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  const kafka = new Kafka({
    clientId: "test-secrets",
    brokers: env.kafkaBrokers,
    sasl: env.saslOf("partner"),
  });
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await exercise();
});

afterAll(async () => {
  await producer?.disconnect();
  await ingest?.stop();
  await gateway?.stop();
  await ledger?.stop();
  await db?.end();
  await env?.cleanup();
});

/** Everything that handles a credential, with the services logging at trace level. */
async function exercise(): Promise<void> {
  const acme = await api.createPartner("ACME");
  tokens.push(acme.token);
  secrets.push(acme.signing_secret);
  const rotated = await api.call("POST", "/v1/partners/ACME/tokens", { token: admin });
  expect(rotated.status).toBe(201);
  tokens.push(rotated.body.token);
  const globex = await api.createPartner("GLOBEX");
  tokens.push(globex.token);
  secrets.push(globex.signing_secret);
  await api.createMember("alice");
  tokens.push(await api.memberToken("alice"));
  tokens.push(await api.memberToken("alice")); // the first one stops working
  const member = tokens.at(-1)!;
  const partner = rotated.body.token as string;

  // Requests that carry tokens: accepted, refused by role, stale, unknown, malformed, failing.
  const sent = [
    api.call("POST", "/v1/users/alice/transactions", {
      token: partner,
      body: { payer: "ACME", points: 100, timestamp: "2024-01-01T00:00:00Z" },
    }),
    api.call("POST", "/v1/users/alice/spend", { token: member, body: { points: 1 } }),
    api.call("GET", "/v1/users/alice/balance", { token: member }),
    api.call("GET", "/v1/partners", { token: partner }),
    api.call("GET", "/v1/users/alice/balance", { token: acme.token }),
    api.call("GET", "/v1/users/alice/balance", { token: "pt_unknown-but-secret-looking-0123456789" }),
    api.call("POST", "/v1/users/alice/spend", {
      token: member,
      rawBody: "{nope",
      headers: { "content-type": "application/json" },
    }),
    api.call("POST", "/v1/users/alice/spend", { token: admin, body: { points: 1_000_000 } }),
    api.call("GET", "/v1/members?search=%00", { token: admin }),
  ];
  tokens.push("pt_unknown-but-secret-looking-0123456789");
  for (const res of await Promise.all(sent)) expect(res.status).toBeLessThan(600);

  // Partner events: good, re-sent, badly signed, signed with the secret but malformed.
  const topic = topicNames(env.topicPrefix).partnerTransactions;
  const event = (id: string) =>
    JSON.stringify({ event_id: id, user_id: "alice", points: 5, timestamp: "2024-01-01T00:00:00Z" });
  const signed = (value: string, secret = globex.signing_secret) => ({
    key: "alice",
    value,
    headers: { "x-partner-id": "GLOBEX", "x-signature": signPartnerEvent(secret, value) },
  });
  await producer.send({
    topic,
    acks: -1,
    messages: [
      signed(event("e-1")),
      signed(event("e-1")),
      signed(event("e-2"), acme.signing_secret),
      signed("{not json"),
      signed(JSON.stringify({ event_id: "e-3", user_id: "alice", points: 0, timestamp: "x" })),
      {
        key: "alice",
        value: event("e-4"),
        headers: { "x-partner-id": "GLOBEX", "x-signature": `sha256=${globex.signing_secret}` },
      },
    ],
  });
  await waitFor("the good event applied and the bad ones dead-lettered", async () => {
    const { rows } = await db.query(
      "SELECT count(*)::int AS n FROM entries WHERE user_id = 'alice' AND authority_id = 'GLOBEX'",
    );
    return rows[0].n === 1 && lines.some((l) => l.includes("partner messages dead-lettered"));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 45_000;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

describe("logs", () => {
  it("were captured from all three services, at trace level", () => {
    const text = lines.join("");
    for (const expected of [
      "gateway listening",
      "ledger consuming",
      "ingest consuming",
      "partner messages dead-lettered",
    ]) {
      expect(text).toContain(expected);
    }
    expect(new Set(lines.map((l) => JSON.parse(l).name))).toEqual(new Set(["gateway", "ledger", "ingest"]));
  });

  it("hold no token, no signing secret, no Kafka password and no command signing key", () => {
    expect(tokens.length).toBeGreaterThanOrEqual(7);
    expect(secrets).toHaveLength(2);
    const kafkaPasswords = (["gateway", "ingest", "ledger", "partner"] as const).map(
      (p) => env.saslOf(p).password,
    );
    const commandKeys = env.commandSigningKeys.split(",").map((k) => k.slice(k.indexOf(":") + 1));
    for (const credential of [...tokens, ...secrets, ...kafkaPasswords, ...commandKeys]) {
      const leaked = lines.filter((l) => l.includes(credential));
      expect(leaked, `a log line holds ${credential.slice(0, 6)}...`).toEqual([]);
    }
  });

  it("redact credentials a caller puts in a logged object", () => {
    const seen: string[] = [];
    const log = createLogger("redaction", "info", { write: (l: string) => void seen.push(l) });
    log.info(
      { token: "t-1", req: { headers: { authorization: "Bearer t-2" } }, partner: { signing_secret: "s-1" } },
      "x",
    );
    log.info({ config: { ADMIN_TOKEN: "t-3" }, ADMIN_TOKEN: "t-4", signing_secret: "s-2" }, "y");
    const text = seen.join("");
    for (const credential of ["t-1", "t-2", "t-3", "t-4", "s-1", "s-2"])
      expect(text).not.toContain(credential);
    expect(text).toContain("[redacted]");
  });
});

describe("storage", () => {
  it("keeps tokens only as SHA-256 hashes", async () => {
    const { rows } = await db.query<{ token_hash: Buffer; role: string; subject: string }>(
      "SELECT token_hash, role, subject FROM tokens ORDER BY role, subject",
    );
    expect(rows.map((r) => `${r.role}:${r.subject}`)).toEqual([
      "member:alice",
      "partner:ACME",
      "partner:GLOBEX",
    ]);
    const current = [tokens[2]!, tokens[3]!, tokens[5]!]; // ACME after rotation, GLOBEX, alice's second
    const stored = rows.map((r) => r.token_hash.toString("hex")).sort();
    expect(stored).toEqual(current.map((t) => sha256(t).toString("hex")).sort());
    for (const row of rows) expect(row.token_hash).toHaveLength(32);
  });

  it("holds no token's text in any table", async () => {
    for (const table of await tables()) {
      for (const token of tokens) {
        const { rows } = await db.query(
          `SELECT count(*)::int AS n FROM "${table}" t WHERE t::text LIKE '%' || $1 || '%'`,
          [token],
        );
        expect(rows[0].n, `${table} holds a token`).toBe(0);
      }
    }
  });

  it("holds each signing secret in clear in partners.signing_secret, and nowhere else", async () => {
    const { rows } = await db.query("SELECT id, signing_secret FROM partners ORDER BY id");
    expect(rows.map((r) => r.signing_secret)).toEqual(secrets);
    for (const table of (await tables()).filter((t) => t !== "partners")) {
      for (const secret of secrets) {
        const { rows: found } = await db.query(
          `SELECT count(*)::int AS n FROM "${table}" t WHERE t::text LIKE '%' || $1 || '%'`,
          [secret],
        );
        expect(found[0].n, `${table} holds a signing secret`).toBe(0);
      }
    }
  });

  it("keeps no token or secret in Redis", async () => {
    const redis = new Redis(env.redisUrl);
    try {
      const keys: string[] = [];
      let cursor = "0";
      do {
        const [next, batch] = await redis.scan(cursor, "MATCH", `${env.redisKeyPrefix}*`, "COUNT", 1000);
        cursor = next;
        keys.push(...batch);
      } while (cursor !== "0");
      expect(keys).toContain(redisKeys(env.redisKeyPrefix).balance("alice"));
      const values = await Promise.all(keys.map((k) => redis.get(k)));
      for (const credential of [...tokens, ...secrets]) {
        expect(values.filter((v) => v?.includes(credential))).toEqual([]);
      }
    } finally {
      redis.disconnect();
    }
  });
});

async function tables(): Promise<string[]> {
  const { rows } = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
  );
  expect(rows.length).toBeGreaterThan(5);
  return rows.map((r) => r.table_name);
}
