import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/** The wallet API over HTTP, end to end: validation, permissions, scoping, paging, the document. */
let env: TestEnv;
let stack: TestStack;
let api: Api;
const admin = TEST_ADMIN_TOKEN;
let acme: string;
let globex: string;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  acme = (await api.createPartner("ACME")).token;
  globex = (await api.createPartner("GLOBEX")).token;
  for (const user of ["w1", "w2", "w,3", "i1", "i2", "big"]) await api.createMember(user);
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const entry = (body: unknown, token = acme, headers: Record<string, string> = {}) =>
  api.call("POST", "/v1/entries", { token, body, headers });
const get = (path: string, token = admin) => api.call("GET", path, { token });
const use = (entryId: string, token = acme, headers: Record<string, string> = {}) =>
  api.call("POST", `/v1/inventory/${entryId}/use`, { token, headers });

describe("POST /v1/entries", () => {
  it("earns for the calling partner and spends oldest-first, answering the Entry", async () => {
    const earned = await entry({
      user_id: "w1",
      amount: 10,
      reason: "hello",
      item: { name: "pin", data: [1] },
    });
    expect(earned.status, JSON.stringify(earned.body)).toBe(201);
    expect(earned.body).toEqual({
      entry_id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      authority_id: "ACME",
      user_id: "w1",
      created_on: expect.any(Number),
      amount: 10,
      reason: "hello",
      item: { name: "pin", used: false, data: [1] },
      // Contract 6.1: earn entries show when their points expire; ACME has no validity set.
      expires_at: null,
    });
    await entry({ user_id: "w1", amount: 5, reason: "more" }, globex);
    const spent = await entry({ user_id: "w1", amount: -12, reason: "spend" }, globex);
    expect(spent.status).toBe(201);
    expect(spent.body).toMatchObject({
      authority_id: "GLOBEX",
      amount: -12,
      allocations: [
        { payer: "ACME", points: -10 },
        { payer: "GLOBEX", points: -2 },
      ],
    });
    expect(spent.body.item).toBeUndefined();
  });

  it("answers 409 not_enough_funds and changes nothing", async () => {
    const res = await entry({ user_id: "w1", amount: -4, reason: "too much" });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: { code: "not_enough_funds", message: expect.any(String) } });
    expect((await get("/v1/users/w1/balance")).body).toEqual({ ACME: 0, GLOBEX: 3 });
  });

  it.each([
    [{ user_id: "w1", amount: 0, reason: "r" }, "amount"],
    [{ user_id: "w1", amount: 1.5, reason: "r" }, "amount"],
    [{ user_id: "w1", amount: 9007199254740992, reason: "r" }, "amount"],
    [{ user_id: "w1", amount: 1 }, "reason"],
    [{ amount: 1, reason: "r" }, "user_id"],
    [{ user_id: "w1", amount: 1, reason: "r", item: { name: "" } }, "item.name"],
    [{ user_id: "w1", amount: 1, reason: "r", item: { name: "x", extra: 1 } }, "item"],
    [{ user_id: "w1", amount: 1, reason: "r", surprise: true }, "body"],
    [{ user_id: "w1", amount: -1, reason: "r", payer: "ACME" }, "payer"],
  ])("400 validation_failed names the field (%#)", async (body, field) => {
    const res = await entry(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(Object.keys(res.body.error.fields)).toContain(field);
  });

  it("needs a payer from the admin, and only the partner itself may pay for a partner", async () => {
    const missing = await entry({ user_id: "w2", amount: 1, reason: "r" }, admin);
    expect([missing.status, Object.keys(missing.body.error.fields)]).toEqual([400, ["payer"]]);
    const unknown = await entry({ user_id: "w2", amount: 1, reason: "r", payer: "NOBODY" }, admin);
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "not_found"]);
    const byAdmin = await entry({ user_id: "w2", amount: 2, reason: "r", payer: "GLOBEX" }, admin);
    expect(byAdmin.body).toMatchObject({ authority_id: "admin", amount: 2 });
    const other = await entry({ user_id: "w2", amount: 1, reason: "r", payer: "GLOBEX" });
    expect([other.status, other.body.error.code]).toEqual([403, "forbidden"]);
    const self = await entry({ user_id: "w2", amount: 1, reason: "r", payer: "ACME" });
    expect(self.status).toBe(201);
    expect((await get("/v1/users/w2/balance")).body).toEqual({ GLOBEX: 2, ACME: 1 });
  });

  it("is refused to members (403) and for unknown users (404)", async () => {
    const member = await api.memberToken("w2");
    const res = await entry({ user_id: "w2", amount: 1, reason: "r" }, member);
    expect([res.status, res.body.error.code]).toEqual([403, "forbidden"]);
    const unknown = await entry({ user_id: "nobody", amount: 1, reason: "r" });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "not_found"]);
  });

  it("refuses item data JSON cannot keep (1e400 parses as Infinity) instead of dropping it", async () => {
    const res = await api.call("POST", "/v1/entries", {
      token: acme,
      rawBody: '{"user_id":"w1","amount":1,"reason":"r","item":{"name":"mug","data":{"size":1e400}}}',
      headers: { "content-type": "application/json" },
    });
    expect([res.status, res.body.error.code, Object.keys(res.body.error.fields)]).toEqual([
      400,
      "validation_failed",
      ["item.data"],
    ]);
  });

  it("replays the first answer for a repeated Idempotency-Key", async () => {
    const body = { user_id: "w2", amount: 4, reason: "once" };
    const first = await entry(body, acme, { "Idempotency-Key": "wallet-1" });
    const again = await entry(body, acme, { "Idempotency-Key": "wallet-1" });
    expect(again).toMatchObject({ status: 201, body: first.body });
    const reused = await entry({ ...body, amount: 5 }, acme, { "Idempotency-Key": "wallet-1" });
    expect([reused.status, reused.body.error.code]).toEqual([422, "idempotency_key_reused"]);
    expect((await get("/v1/users/w2/balance")).body).toEqual({ GLOBEX: 2, ACME: 5 });
  });
});

describe("GET /v1/wallets", () => {
  it("gives each user's balance, in order, once per user, 0 for unknown users", async () => {
    await entry({ user_id: "w,3", amount: 8, reason: "comma" });
    const res = await get("/v1/wallets?user_ids=w2,w1,w%2C3,w2,ghost");
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { user_id: "w2", total: 7 },
      { user_id: "w1", total: 3 },
      { user_id: "w,3", total: 8 },
      { user_id: "ghost", total: 0 },
    ]);
    const repeated = await get("/v1/wallets?user_ids=w1&user_ids=w2");
    expect(repeated.body).toEqual([
      { user_id: "w1", total: 3 },
      { user_id: "w2", total: 7 },
    ]);
  });

  it("nets the named authorities' entries; a partner always sees only its own", async () => {
    // w1: ACME +10; GLOBEX +5 and -12. w2: admin +2 (GLOBEX pays), ACME +1 and +4.
    const byAuthority = await get("/v1/wallets?user_ids=w1,w2&authority_ids=GLOBEX,admin");
    expect(byAuthority.body).toEqual([
      { user_id: "w1", total: -7 },
      { user_id: "w2", total: 2 },
    ]);
    expect((await get("/v1/wallets?user_ids=w1,w2", acme)).body).toEqual([
      { user_id: "w1", total: 10 },
      { user_id: "w2", total: 5 },
    ]);
    expect((await get("/v1/wallets?user_ids=w1&authority_ids=GLOBEX", acme)).body).toEqual([
      { user_id: "w1", total: 0 },
    ]);
  });

  it("lets a member read its own wallet only", async () => {
    const member = await api.memberToken("w1");
    expect((await get("/v1/wallets?user_ids=w1", member)).body).toEqual([{ user_id: "w1", total: 3 }]);
    const other = await get("/v1/wallets?user_ids=w1,w2", member);
    expect([other.status, other.body.error.code]).toEqual([403, "forbidden"]);
  });

  it("writes totals past 2^53 exactly", async () => {
    const db = new pg.Client({ connectionString: env.databaseUrl });
    await db.connect();
    await db.query("INSERT INTO accounts (user_id, seq, next_arrival, total) VALUES ('big', 1, 2, $1)", [
      (2n ** 63n - 1n).toString(),
    ]);
    await db.end();
    const raw = await fetch(`${api.url}/v1/wallets?user_ids=big`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(await raw.text()).toBe('[{"user_id":"big","total":9223372036854775807}]');
  });

  it.each([
    ["", "user_ids"],
    ["?user_ids=", "user_ids.0"],
    ["?user_ids=w1&authority_ids=", "authority_ids.0"],
    [`?user_ids=${Array.from({ length: 1001 }, (_, i) => i).join(",")}`, "user_ids"],
    ["?user_ids=w1&user_id=w2", "query"],
    ["?user_ids=%E0%A4%A", "query.user_ids"],
  ])("400 validation_failed for a bad query (%#)", async (query, field) => {
    const res = await get(`/v1/wallets${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    expect(Object.keys(res.body.error.fields).join(",")).toContain(field);
  });
});

describe("inventory", () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    await entry({ user_id: "i1", amount: 100, reason: "stock" });
    for (const [name, user, token] of [
      ["a", "i1", acme],
      ["b", "i1", globex],
      ["c", "i2", acme],
      ["d", "i1", acme],
    ] as const) {
      const res = await entry(
        { user_id: user, amount: 1, reason: "item", item: { name, data: { n: name } } },
        token,
      );
      ids[name] = res.body.entry_id;
    }
    ids.plain = (await entry({ user_id: "i1", amount: 1, reason: "no item" })).body.entry_id;
  });

  const names = (res: { body: { item: { name: string } }[] }) => res.body.map((i) => i.item.name);

  it("lists unused items oldest first, with the contract's fields", async () => {
    const res = await get("/v1/inventory?user_ids=i1");
    expect(res.status).toBe(200);
    expect(res.body[0]).toEqual({
      entry_id: ids.a,
      authority_id: "ACME",
      user_id: "i1",
      item: { name: "a", used: false, data: { n: "a" } },
    });
    expect(names(res)).toEqual(["a", "b", "d"]);
    expect(res.headers.get("link")).toBeNull();
    expect(names(await get(`/v1/inventory?entry_ids=${ids.c},${ids.b}`))).toEqual(["b", "c"]);
    expect(names(await get("/v1/inventory?authority_ids=ACME&user_ids=i1,i2"))).toEqual(["a", "c", "d"]);
  });

  it("uses an item once, ordered through the ledger; replays a repeated key", async () => {
    const first = await use(ids.a!, acme, { "Idempotency-Key": "use-a" });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      entry_id: ids.a,
      user_id: "i1",
      amount: 1,
      item: { name: "a", used: true },
    });
    expect(await use(ids.a!, acme, { "Idempotency-Key": "use-a" })).toMatchObject({
      status: 200,
      body: first.body,
    });
    const second = await use(ids.a!);
    expect([second.status, second.body.error.code]).toEqual([409, "item_already_used"]);
  });

  it("filters used=true|false|any and refuses anything else", async () => {
    expect(names(await get("/v1/inventory?user_ids=i1&used=true"))).toEqual(["a"]);
    expect(names(await get("/v1/inventory?user_ids=i1&used=false"))).toEqual(["b", "d"]);
    expect(names(await get("/v1/inventory?user_ids=i1&used=any"))).toEqual(["a", "b", "d"]);
    const bad = await get("/v1/inventory?used=yes");
    expect([bad.status, Object.keys(bad.body.error.fields)]).toEqual([400, ["query.used"]]);
  });

  it("pages with a Link header that keeps the query as sent", async () => {
    const first = await get("/v1/inventory?used=any&user_ids=i1,w%2C3&page_size=2");
    expect(names(first)).toEqual(["a", "b"]);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get("link") ?? "")?.[1];
    expect(next).toMatch(/\/v1\/inventory\?used=any&user_ids=i1,w%2C3&page=2&page_size=2$/);
    const second = await get(new URL(next!).pathname + new URL(next!).search);
    expect(names(second)).toEqual(["d"]);
    expect(second.headers.get("link")).toMatch(/page=1&page_size=2>; rel="prev"$/);
    const tooBig = await get("/v1/inventory?page_size=1001");
    expect([tooBig.status, Object.keys(tooBig.body.error.fields)]).toEqual([400, ["query.page_size"]]);
  });

  it("shows a partner only its own items, and lets it use only those", async () => {
    expect(names(await get("/v1/inventory?used=any", globex))).toEqual(["b"]);
    expect(names(await get("/v1/inventory?used=any&authority_ids=ACME", globex))).toEqual([]);
    const foreign = await use(ids.d!, globex);
    expect([foreign.status, foreign.body.error.code]).toEqual([404, "not_found"]);
  });

  it("shows a member only its own items, and lets it use only those", async () => {
    const member = await api.memberToken("i2");
    expect(names(await get("/v1/inventory?used=any", member))).toEqual(["c"]);
    const other = await get("/v1/inventory?user_ids=i1", member);
    expect([other.status, other.body.error.code]).toEqual([403, "forbidden"]);
    expect((await use(ids.d!, member)).status).toBe(404);
    expect((await use(ids.c!, member)).body.item).toEqual({ name: "c", used: true, data: { n: "c" } });
  });

  it("answers 404 for entries without an item or unknown, 400 for a bad id or a body", async () => {
    expect((await use(ids.plain!)).status).toBe(404);
    expect((await use("00000000-0000-4000-8000-000000000000")).status).toBe(404);
    const badId = await use("not-a-uuid");
    expect([badId.status, Object.keys(badId.body.error.fields)]).toEqual([400, ["path.entry_id"]]);
    const withBody = await api.call("POST", `/v1/inventory/${ids.b}/use`, {
      token: admin,
      body: { used: false },
    });
    expect(withBody.status).toBe(400);
    const empty = await api.call("POST", `/v1/inventory/${ids.b}/use`, { token: admin, body: {} });
    expect(empty.status).toBe(200);
  });
});

describe("the OpenAPI document", () => {
  it("describes every wallet route with its request and answers", async () => {
    const doc = (await api.call("GET", "/openapi.json")).body;
    const op = (path: string, method: string) => doc.paths[path]?.[method];
    expect(op("/v1/entries", "post").requestBody.content["application/json"].schema).toBeDefined();
    expect(op("/v1/entries", "post").responses["201"].content["application/json"].schema.$ref).toBe(
      "#/components/schemas/WalletEntry",
    );
    expect(op("/v1/entries", "post").responses["409"]).toBeDefined();
    expect(op("/v1/wallets", "get").parameters.map((p: { name: string }) => p.name)).toEqual([
      "user_ids",
      "authority_ids",
    ]);
    expect(op("/v1/inventory", "get").responses["200"].headers.link).toBeDefined();
    expect(op("/v1/inventory/{entry_id}/use", "post").responses["200"]).toBeDefined();
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["WalletEntry", "WalletTotal", "InventoryItem", "Item"]),
    );
  });
});
