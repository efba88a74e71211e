import { createTestEnv, type TestEnv } from "@points/testing";
import { Api, startStack, startTestGateway, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The Fetch-style points API end to end: gateway -> Kafka -> ledger -> Postgres/Redis -> gateway. */
let env: TestEnv;
let stack: TestStack;
let api: Api;
const admin = TEST_ADMIN_TOKEN;
const partners: Record<string, { token: string }> = {};

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  for (const id of ["DANNON", "UNILEVER", "MILLER COORS"]) partners[id] = await api.createPartner(id);
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const tx = (user: string, payer: string, points: number, timestamp: string, token = admin) =>
  api.call("POST", `/v1/users/${encodeURIComponent(user)}/transactions`, {
    token,
    body: { payer, points, timestamp },
  });
const spend = (user: string, points: number, token = admin, headers: Record<string, string> = {}) =>
  api.call("POST", `/v1/users/${encodeURIComponent(user)}/spend`, { token, body: { points }, headers });
const balance = (user: string, token = admin) =>
  api.call("GET", `/v1/users/${encodeURIComponent(user)}/balance`, { token });

const CANONICAL = [
  ["DANNON", 300, "2022-10-31T10:00:00Z"],
  ["UNILEVER", 200, "2022-10-31T11:00:00Z"],
  ["DANNON", -200, "2022-10-31T15:00:00Z"],
  ["MILLER COORS", 10000, "2022-11-01T14:00:00Z"],
  ["DANNON", 1000, "2022-11-02T14:00:00Z"],
] as const;
const FETCH_ORDER = [4, 1, 2, 3, 0];

describe("the canonical example", () => {
  it.each([
    ["timestamp order", [0, 1, 2, 3, 4]],
    ["the original exercise's order", FETCH_ORDER],
  ])("gives the same spend and balance in %s", async (_name, order) => {
    const user = `canon-${order.join("")}`;
    await api.createMember(user);
    for (const i of order) {
      const [payer, points, ts] = CANONICAL[i]!;
      const res = await tx(user, payer, points, ts);
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toMatchObject({ payer, points, timestamp: new Date(ts).toISOString() });
      expect(res.body.entry_id).toMatch(/^[0-9a-f-]{36}$/);
    }
    const spent = await spend(user, 5000);
    expect(spent.status).toBe(200);
    expect(spent.body).toEqual([
      { payer: "DANNON", points: -100 },
      { payer: "UNILEVER", points: -200 },
      { payer: "MILLER COORS", points: -4700 },
    ]);
    const bal = await balance(user);
    expect(bal.status).toBe(200);
    expect(bal.body).toEqual({ DANNON: 1000, UNILEVER: 0, "MILLER COORS": 5300 });
  });
});

describe("domain rules over HTTP", () => {
  it("spends equal timestamps in arrival order, and a late old lot only in later spends", async () => {
    await api.createMember("rules-1");
    await tx("rules-1", "UNILEVER", 10, "2022-01-01T00:00:00Z");
    await tx("rules-1", "DANNON", 10, "2022-01-01T00:00:00Z");
    expect((await spend("rules-1", 5)).body).toEqual([{ payer: "UNILEVER", points: -5 }]);
    await tx("rules-1", "MILLER COORS", 7, "2021-01-01T00:00:00Z");
    expect((await spend("rules-1", 10)).body).toEqual([
      { payer: "MILLER COORS", points: -7 },
      { payer: "UNILEVER", points: -3 },
    ]);
    expect((await balance("rules-1")).body).toEqual({ UNILEVER: 2, DANNON: 10, "MILLER COORS": 0 });
  });

  it("rejects a negative transaction beyond the payer's points and changes nothing", async () => {
    await api.createMember("rules-2");
    await tx("rules-2", "DANNON", 100, "2022-01-01T00:00:00Z");
    await tx("rules-2", "UNILEVER", 1000, "2022-01-01T00:00:00Z");
    const res = await tx("rules-2", "DANNON", -101, "2022-01-02T00:00:00Z");
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("payer_points_insufficient");
    expect((await balance("rules-2")).body).toEqual({ DANNON: 100, UNILEVER: 1000 });
  });

  it("rejects a spend beyond the total with not_enough_funds and changes nothing", async () => {
    await api.createMember("rules-3");
    await tx("rules-3", "DANNON", 100, "2022-01-01T00:00:00Z");
    const res = await spend("rules-3", 101);
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: { code: "not_enough_funds", message: expect.any(String) } });
    expect((await balance("rules-3")).body).toEqual({ DANNON: 100 });
  });

  it("tells a partner that points are short, never how many the member has", async () => {
    await api.createMember("rules-3p");
    await tx("rules-3p", "DANNON", 104442, "2022-01-01T00:00:00Z");
    const partner = partners.DANNON!.token;
    const viaSpend = await spend("rules-3p", 9007199254740991, partner);
    const viaWallet = await api.call("POST", "/v1/entries", {
      token: partner,
      body: { user_id: "rules-3p", amount: -9007199254740991, reason: "too much" },
    });
    for (const res of [viaSpend, viaWallet]) {
      expect([res.status, res.body.error.code]).toEqual([409, "not_enough_funds"]);
      expect(JSON.stringify(res.body)).not.toContain("104442");
    }
    // The admin may read balances, so its answer may say how many there are.
    expect((await spend("rules-3p", 9007199254740991)).body.error.message).toContain("104442");
  });

  it("refuses transactions dated more than 5 minutes ahead of the server's clock", async () => {
    await api.createMember("rules-future");
    const ahead = (ms: number) => new Date(Date.now() + ms).toISOString();
    for (const timestamp of ["9999-12-31T23:59:59Z", ahead(10 * 60_000)]) {
      for (const points of [5, -5]) {
        const res = await tx("rules-future", "DANNON", points, timestamp);
        expect([res.status, res.body.error.code]).toEqual([400, "validation_failed"]);
        expect(Object.keys(res.body.error.fields)).toEqual(["timestamp"]);
      }
    }
    expect((await tx("rules-future", "DANNON", 5, ahead(60_000))).status).toBe(201);
  });

  it("refuses a change that would push a total past 2^63-1", async () => {
    await api.createMember("rules-4");
    const big = 9007199254740991;
    const near = (2n ** 63n - 1n - 5n).toString();
    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    // A book close to the limit, built directly: 1,024 HTTP earns of 2^53-1 would only be slower.
    await db.query("INSERT INTO accounts (user_id, seq, next_arrival, total) VALUES ($1, 1, 2, $2)", [
      "rules-4",
      near,
    ]);
    await db.query("INSERT INTO payer_balances VALUES ($1, 'DANNON', $2, 0, 1)", ["rules-4", near]);
    await db.query(`INSERT INTO lots VALUES ($1, 1, gen_random_uuid(), 'DANNON', '2022-01-01Z', $2, $2, 0)`, [
      "rules-4",
      near,
    ]);
    await db.end();
    const res = await tx("rules-4", "UNILEVER", big, "2022-01-02T00:00:00Z");
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("balance_limit_exceeded");
    expect((await tx("rules-4", "UNILEVER", 5, "2022-01-02T00:00:00Z")).status).toBe(201);
    const raw = await fetch(`${api.url}/v1/users/rules-4/balance`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await raw.text()).toBe('{"DANNON":9223372036854775802,"UNILEVER":5}');
  });

  it("answers 404 for an unknown member and an unknown payer", async () => {
    const unknownMember = await tx("nobody-here", "DANNON", 5, "2022-01-01T00:00:00Z");
    expect(unknownMember.status).toBe(404);
    expect(unknownMember.body.error.code).toBe("not_found");
    await api.createMember("rules-5");
    const unknownPayer = await tx("rules-5", "NOT A PARTNER", 5, "2022-01-01T00:00:00Z");
    expect(unknownPayer.status).toBe(404);
    expect((await balance("nobody-here")).status).toBe(404);
  });
});

describe("a member deleted or renamed while it earns", () => {
  it("answers each request cleanly (never 500), whichever comes first", async () => {
    for (let round = 0; round < 15; round++) {
      const user = `racing-${round}`;
      await api.createMember(user);
      const member = `/v1/members/${user}`;
      const removal =
        round % 2 === 0
          ? api.call("DELETE", member, { token: admin })
          : api.call("PATCH", member, { token: admin, body: { loyalty_id: `${user}-renamed` } });
      const [earned, removed] = await Promise.all([tx(user, "DANNON", 5, "2022-01-01T00:00:00Z"), removal]);
      expect([201, 404], JSON.stringify(earned.body)).toContain(earned.status);
      expect([200, 204, 409], JSON.stringify(removed.body)).toContain(removed.status);
      if (removed.status === 409) expect(removed.body.error.code).toBe("member_has_entries");
      // Exactly one of them won.
      expect(earned.status === 201, JSON.stringify([earned.body, removed.body])).toBe(removed.status === 409);
    }
  });
});

describe("50 concurrent spends of 100 against 1000", () => {
  it("gives exactly 10 successes and a final balance of 0", async () => {
    await api.createMember("race");
    await tx("race", "DANNON", 600, "2022-01-01T00:00:00Z");
    await tx("race", "UNILEVER", 400, "2022-01-02T00:00:00Z");
    const results = await Promise.all(Array.from({ length: 50 }, () => spend("race", 100)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 409)).toHaveLength(40);
    expect(
      results.filter((r) => r.status === 409).every((r) => r.body.error.code === "not_enough_funds"),
    ).toBe(true);
    expect((await balance("race")).body).toEqual({ DANNON: 0, UNILEVER: 0 });
  });
});

describe("validation, auth and the error envelope", () => {
  it.each([
    [{ payer: "DANNON", points: 0, timestamp: "2022-01-01T00:00:00Z" }, "points"],
    [{ payer: "DANNON", points: 1.5, timestamp: "2022-01-01T00:00:00Z" }, "points"],
    [{ payer: "DANNON", points: 9007199254740992, timestamp: "2022-01-01T00:00:00Z" }, "points"],
    [{ payer: "DANNON", points: "5", timestamp: "2022-01-01T00:00:00Z" }, "points"],
    [{ payer: "DANNON", points: 5, timestamp: "2022-01-01T00:00:00" }, "timestamp"],
    [{ payer: "DANNON", points: 5, timestamp: "yesterday" }, "timestamp"],
    [{ payer: "", points: 5, timestamp: "2022-01-01T00:00:00Z" }, "payer"],
    [{ points: 5, timestamp: "2022-01-01T00:00:00Z" }, "payer"],
    [{ payer: "DANNON", points: 5, timestamp: "2022-01-01T00:00:00Z", extra: 1 }, "body"],
  ])("400 validation_failed names the field (%#)", async (body, field) => {
    const res = await api.call("POST", "/v1/users/rules-5/transactions", { token: admin, body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(Object.keys(res.body.error.fields).join(",")).toContain(field);
  });

  it("400 for bad JSON, 415 for non-JSON, 413 over 1 MiB", async () => {
    const bad = await api.call("POST", "/v1/users/u/spend", {
      token: admin,
      rawBody: "{nope",
      headers: { "content-type": "application/json" },
    });
    expect([bad.status, bad.body.error.code]).toEqual([400, "validation_failed"]);
    const text = await api.call("POST", "/v1/users/u/spend", {
      token: admin,
      rawBody: "points=5",
      headers: { "content-type": "text/plain" },
    });
    expect([text.status, text.body.error.code]).toEqual([415, "unsupported_media_type"]);
    const huge = await api.call("POST", "/v1/users/u/spend", {
      token: admin,
      body: { points: 1, reason: "x".repeat(1_100_000) },
    });
    expect([huge.status, huge.body.error.code]).toEqual([413, "payload_too_large"]);
  });

  it("401 without or with an unknown token; 403 by role", async () => {
    expect((await api.call("GET", "/v1/users/rules-5/balance")).status).toBe(401);
    expect(
      (await api.call("GET", "/v1/users/rules-5/balance", { token: "nope-nope-nope" })).body.error.code,
    ).toBe("unauthenticated");
    const dannon = partners.DANNON!.token;
    expect((await balance("rules-5", dannon)).status).toBe(403);
    expect((await tx("rules-5", "UNILEVER", 5, "2022-01-01T00:00:00Z", dannon)).status).toBe(403);
    expect((await tx("rules-5", "DANNON", 5, "2022-01-01T00:00:00Z", dannon)).status).toBe(201);
    const member = await api.memberToken("rules-5");
    expect((await balance("rules-5", member)).body).toEqual({ DANNON: 5 });
    expect((await balance("rules-1", member)).status).toBe(403);
    expect((await tx("rules-5", "DANNON", 5, "2022-01-01T00:00:00Z", member)).status).toBe(403);
    expect((await spend("rules-5", 1, member)).status).toBe(200);
  });

  it("a rotated partner token stops working", async () => {
    await api.createPartner("ROTATED");
    const old = (await api.call("POST", "/v1/partners", { token: admin, body: { id: "ROTATED2" } })).body
      .token;
    const rotated = await api.call("POST", "/v1/partners/ROTATED2/tokens", { token: admin });
    expect(rotated.status).toBe(201);
    expect((await tx("rules-5", "ROTATED2", 1, "2022-01-01T00:00:00Z", old)).status).toBe(401);
    expect((await tx("rules-5", "ROTATED2", 1, "2022-01-01T00:00:00Z", rotated.body.token)).status).toBe(201);
    expect((await api.call("POST", "/v1/partners", { token: admin, body: { id: "ROTATED" } })).status).toBe(
      409,
    );
  });
});

describe("idempotency and async answers", () => {
  it("replays the first answer for the same key, 422 for another body", async () => {
    await api.createMember("idem");
    await tx("idem", "DANNON", 100, "2022-01-01T00:00:00Z");
    const first = await spend("idem", 10, admin, { "Idempotency-Key": "k-1" });
    const again = await spend("idem", 10, admin, { "Idempotency-Key": "k-1" });
    expect(first.status).toBe(200);
    expect(again).toMatchObject({ status: 200, body: first.body });
    const other = await spend("idem", 11, admin, { "Idempotency-Key": "k-1" });
    expect([other.status, other.body.error.code]).toEqual([422, "idempotency_key_reused"]);
    expect((await balance("idem")).body).toEqual({ DANNON: 90 });
  });

  it("treats the same JSON value on the same route as the same body (key order, spacing, path spelling)", async () => {
    await api.createMember("idem-same");
    await tx("idem-same", "DANNON", 100, "2022-01-01T00:00:00Z");
    const headers = { "Idempotency-Key": "same-1", "content-type": "application/json" };
    const first = await api.call("POST", "/v1/users/idem-same/spend", {
      token: admin,
      rawBody: '{"points":1,"reason":"a"}',
      headers,
    });
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    for (const [path, rawBody] of [
      ["/v1/users/idem-same/spend", '{"reason":"a","points":1}'],
      ["/v1/users/idem-same/spend", ' {\n "points" : 1 ,"reason":"a"}'],
      ["/v1/users/idem%2Dsame/spend", '{"points":1,"reason":"a"}'],
      ["/v1/users/idem-same/spend/", '{"points":1,"reason":"a"}'],
    ] as const) {
      const again = await api.call("POST", path, { token: admin, rawBody, headers });
      expect([path, rawBody, again.status, again.body]).toEqual([path, rawBody, 200, first.body]);
    }
    expect((await balance("idem-same")).body).toEqual({ DANNON: 99 });
  });

  it("answers every one of concurrent retries with one Idempotency-Key on one gateway", async () => {
    // A wait far past the test's timeout: a request left without the ledger's reply would hang.
    const patient = await startTestGateway(env, { SYNC_WAIT_MS: "60000" });
    try {
      const client = new Api(patient.url);
      await api.createMember("idem-together");
      await tx("idem-together", "DANNON", 100, "2022-01-01T00:00:00Z");
      for (let round = 0; round < 5; round++) {
        const headers = { "Idempotency-Key": `together-${round}` };
        const answers = await Promise.all(
          [0, 1, 2].map(() =>
            client.call("POST", "/v1/users/idem-together/spend", {
              token: admin,
              body: { points: 1 },
              headers,
            }),
          ),
        );
        for (const a of answers) expect([a.status, a.body]).toEqual([200, [{ payer: "DANNON", points: -1 }]]);
      }
      expect((await balance("idem-together")).body).toEqual({ DANNON: 95 });
    } finally {
      await patient.stop();
    }
  }, 30_000);

  it("answers 202 when a send's outcome is unknown, and the outbox keeps sending it, with nothing applied", async () => {
    // Topics that do not exist: the producer is connected, kafkajs keeps retrying the send, and
    // it finally fails. The gateway cannot know in time whether it landed, so it must not promise
    // "nothing applied": the command stays pending and the outbox sends it again.
    const lost = await startTestGateway(env, {
      KAFKA_TOPIC_PREFIX: "no-such-topics-",
      COMMAND_RESEND_AFTER_MS: "1000",
      COMMAND_RESEND_INTERVAL_MS: "200",
    });
    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    try {
      await api.createMember("lost-send");
      await tx("lost-send", "DANNON", 10, "2022-01-01T00:00:00Z");
      const client = new Api(lost.url);
      const res = await client.call("POST", "/v1/users/lost-send/spend", {
        token: admin,
        body: { points: 4 },
      });
      expect(res.status, JSON.stringify(res.body)).toBe(202);
      const location = res.headers.get("location")!;
      expect(location).toBe(`/v1/commands/${res.body.id}`);
      let resends = 0;
      for (let i = 0; i < 600 && resends < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const { rows } = await db.query<{ resends: number }>(
          "SELECT resends FROM command_requests WHERE command_id = $1",
          [res.body.id],
        );
        resends = rows[0]?.resends ?? 0;
      }
      expect(resends).toBeGreaterThanOrEqual(2);
      const status = await api.call("GET", location, { token: admin });
      expect(status.body).toEqual({ id: res.body.id, status: "pending" });
      expect((await balance("lost-send")).body).toEqual({ DANNON: 10 });
    } finally {
      await db.end();
      await lost.stop();
    }
  }, 180_000);

  it("answers 202 with Location for Prefer: respond-async, then the outcome", async () => {
    await api.createMember("async");
    const res = await api.call("POST", "/v1/users/async/transactions", {
      token: admin,
      body: { payer: "DANNON", points: 5, timestamp: "2022-01-01T00:00:00Z" },
      headers: { Prefer: "respond-async" },
    });
    expect(res.status).toBe(202);
    const location = res.headers.get("location")!;
    expect(location).toMatch(/^\/v1\/commands\//);
    let status = await api.call("GET", location, { token: admin });
    for (let i = 0; i < 100 && status.body.status === "pending"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await api.call("GET", location, { token: admin });
    }
    expect(status.body).toMatchObject({
      status: "applied",
      response: { status: 201, body: { payer: "DANNON", points: 5 } },
    });
    expect((await api.call("GET", location, { token: partners.UNILEVER!.token })).status).toBe(404);
    expect((await api.call("GET", "/v1/commands/unknown", { token: admin })).status).toBe(404);
  });
});

describe("entries", () => {
  it("lists a user's entries newest first with types and allocations", async () => {
    const res = await api.call("GET", "/v1/users/rules-1/entries?page_size=2", { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(5);
    expect(res.body.previous).toBeNull();
    expect(res.body.next).toMatch(/^http:\/\/.+\/v1\/users\/rules-1\/entries\?.*page=2/);
    expect(res.body.results[0]).toMatchObject({
      type: "spend",
      amount: -10,
      authority_id: "admin",
      user_id: "rules-1",
      allocations: [
        { payer: "MILLER COORS", points: -7 },
        { payer: "UNILEVER", points: -3 },
      ],
    });
    expect(res.body.results[1]).toMatchObject({
      type: "earn",
      payer: "MILLER COORS",
      amount: 7,
      timestamp: "2021-01-01T00:00:00.000Z",
    });
    const last = await api.call("GET", "/v1/users/rules-1/entries?page=3&page_size=2", { token: admin });
    expect(last.body.next).toBeNull();
    expect(last.body.results).toHaveLength(1);
  });
});

describe("a gateway restart", () => {
  it("replays an Idempotency-Key answer from before the restart and applies nothing", async () => {
    await api.createMember("restart");
    await tx("restart", "DANNON", 100, "2022-01-01T00:00:00Z");
    const first = await spend("restart", 30, admin, { "Idempotency-Key": "before-restart" });
    expect(first.status).toBe(200);
    await stack.gateway.stop();
    stack.gateway = await startTestGateway(env);
    api = new Api(stack.gateway.url);
    const replay = await spend("restart", 30, admin, { "Idempotency-Key": "before-restart" });
    expect(replay).toMatchObject({ status: 200, body: first.body });
    expect((await balance("restart")).body).toEqual({ DANNON: 70 });
  });
});

async function countPending(): Promise<number> {
  const db = new pg.Client({ connectionString: env.databaseUrl });
  await db.connect();
  const { rows } = await db.query("SELECT count(*)::int AS n FROM command_requests");
  await db.end();
  return rows[0].n;
}

describe("limits and degraded modes", () => {
  it("answers 429 with Retry-After past a token's rate, never for the admin", async () => {
    const limited = await startTestGateway(env, { RATE_LIMIT_PER_SECOND: "1", RATE_LIMIT_BURST: "3" });
    try {
      const client = new Api(limited.url);
      const member = await client.memberToken("rules-5");
      const answers = [];
      for (let i = 0; i < 5; i++)
        answers.push(await client.call("GET", "/v1/users/rules-5/balance", { token: member }));
      const refused = answers.filter((a) => a.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(refused[0]!.body.error.code).toBe("rate_limited");
      expect(Number(refused[0]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      for (let i = 0; i < 6; i++)
        expect((await client.call("GET", "/v1/users/rules-5/balance", { token: admin })).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it("answers 503 unavailable for commands when Kafka is unreachable, and still serves reads", async () => {
    const cut = await startTestGateway(env, { KAFKA_BROKERS: "127.0.0.1:1" });
    try {
      const client = new Api(cut.url);
      const res = await client.call("POST", "/v1/users/rules-5/spend", { token: admin, body: { points: 1 } });
      expect([res.status, res.body.error.code]).toEqual([503, "unavailable"]);
      const before = await countPending();
      const async = await client.call("POST", "/v1/users/rules-5/spend", {
        token: admin,
        body: { points: 1 },
        headers: { Prefer: "respond-async" },
      });
      expect([async.status, async.body.error.code]).toEqual([503, "unavailable"]);
      expect(await countPending()).toBe(before); // nothing left "pending" for a refused command
      expect((await client.call("GET", "/v1/users/rules-5/balance", { token: admin })).status).toBe(200);
      const health = await client.call("GET", "/health");
      expect(health.status).toBe(503);
      expect(health.body.checks.kafka).toMatch(/^down/);
      expect(health.body.checks.postgres).toBe("ok");
    } finally {
      await cut.stop();
    }
  });
});

describe("operations", () => {
  it("reports health of kafka, postgres and redis", async () => {
    const res = await api.call("GET", "/health");
    expect(res).toMatchObject({
      status: 200,
      body: { status: "ok", checks: { kafka: "ok", postgres: "ok", redis: "ok" } },
    });
  });

  it("describes every route in OpenAPI 3.1 and serves interactive docs", async () => {
    const doc = (await api.call("GET", "/openapi.json")).body;
    expect(doc.openapi).toBe("3.1.0");
    for (const path of [
      "/v1/partners",
      "/v1/partners/{id}/tokens",
      "/v1/users/{userId}/transactions",
      "/v1/users/{userId}/spend",
      "/v1/users/{userId}/balance",
      "/v1/users/{userId}/entries",
      "/v1/commands/{id}",
      "/v1/members",
      "/v1/members/{loyalty_id}/tokens",
      "/health",
      "/metrics",
    ]) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    expect(
      doc.paths["/v1/users/{userId}/spend"].post.requestBody.content["application/json"].schema,
    ).toBeDefined();
    const docs = await fetch(`${api.url}/docs/`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toContain("swagger-ui");
  });

  it("serves Prometheus metrics", async () => {
    const res = await fetch(`${api.url}/metrics`);
    expect(await res.text()).toMatch(
      /gateway_request_seconds_count\{method="POST",route="\/v1\/users\/:userId\/spend",status="200"\} \d+/,
    );
  });
});
