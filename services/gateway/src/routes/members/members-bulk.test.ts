import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test-app.test-support";
import { type MembersHarness, memberBody, memberPath, startMembersHarness } from "./members.test-support";

/** Bulk upsert (all or nothing, with per-item errors) and Idempotency-Key on the register's writes. */
let harness: MembersHarness;
let app: TestApp;

beforeAll(async () => {
  harness = await startMembersHarness();
  app = harness.app;
});
afterAll(() => harness?.stop());

const post = (body: unknown, headers: Record<string, string> = {}, token = app.adminToken) =>
  app.request("POST", "/v1/members", { token, body, headers });
const get = (id: string) => app.request("GET", memberPath(id), { token: app.adminToken });
const countWhere = async (prefix: string) =>
  Number(
    (await app.pool.query("SELECT count(*) FROM members WHERE loyalty_id LIKE $1", [`${prefix}%`])).rows[0]
      .count,
  );
const many = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => memberBody(`${prefix}${String(i).padStart(5, "0")}`));

describe("bulk upsert", () => {
  it("counts inserts and updates, unchanged members included in updated", async () => {
    expect((await post([memberBody("b1"), memberBody("b2"), memberBody("b3")])).body).toEqual({
      inserted: 3,
      updated: 0,
    });
    const res = await post([
      memberBody("b1"), // unchanged
      memberBody("b2", { client_name: "renamed b2", discount: "4.5" }),
      memberBody("b4"),
    ]);
    expect(res).toMatchObject({ status: 201, body: { inserted: 1, updated: 2 } });
    expect((await get("b2")).body).toMatchObject({ client_name: "renamed b2", discount: "4.5000" });
    expect((await get("b4")).status).toBe(200);
  });

  it("takes 10,000 members in one request and counts them", async () => {
    const members = many("big", 10_000);
    expect((await post(members)).body).toEqual({ inserted: 10_000, updated: 0 });
    expect(await countWhere("big")).toBe(10_000);
    members[9_999] = { ...members[9_999]!, client_name: "the last one" };
    expect((await post(members)).body).toEqual({ inserted: 0, updated: 10_000 });
    expect((await get("big09999")).body.client_name).toBe("the last one");
  });

  it("refuses more than 10,000 members and writes nothing", async () => {
    const res = await post(many("over", 10_001));
    expect(res.status).toBe(400);
    expect(res.body.error.fields.body[0]).toContain("10000");
    expect(await countWhere("over")).toBe(0);
  });

  it("writes nothing for an empty array", async () => {
    expect(await post([])).toMatchObject({ status: 201, body: { inserted: 0, updated: 0 } });
  });

  it("refuses a body over 16 MiB with 413", async () => {
    const padding = "x".repeat(200);
    const huge = Array.from({ length: 9_000 }, (_, i) =>
      memberBody(`huge${i}`, { client_name: padding, pad: padding.repeat(10) }),
    );
    const res = await post(huge);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe("payload_too_large");
  });
});

describe("bulk errors", () => {
  it("lists errors per item, {} for valid ones, and writes nothing", async () => {
    await post([memberBody("keep", { client_name: "original" })]);
    const res = await post([
      memberBody("e-ok-1"),
      memberBody("e-bad-1", { client_name: "" }),
      memberBody("keep", { client_name: "overwritten" }),
      { loyalty_id: "e-bad-2", client_birthday: "2999-01-01", cardno: "x".repeat(21), extra: 1 },
      "not an object",
    ]);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
    const items = res.body.error.items;
    expect(items).toHaveLength(5);
    expect(items[0]).toEqual({});
    expect(Object.keys(items[1])).toEqual(["client_name"]);
    expect(items[2]).toEqual({});
    expect(Object.keys(items[3]).sort()).toEqual(["cardno", "client_birthday", "client_name", "extra"]);
    expect(Object.keys(items[4])).toEqual(["item"]);
    expect((await get("e-ok-1")).status).toBe(404);
    expect((await get("keep")).body.client_name).toBe("original");
  });

  it("flags a repeated loyalty_id on the later item only", async () => {
    const res = await post([
      memberBody("dup"),
      memberBody("other"),
      memberBody("dup", { client_name: "second" }),
    ]);
    expect(res.status).toBe(400);
    expect(res.body.error.items).toEqual([{}, {}, { loyalty_id: [expect.stringContaining("item 0")] }]);
    expect((await get("dup")).status).toBe(404);
    expect((await get("other")).status).toBe(404);
  });

  it("fails a single object with fields, not items", async () => {
    const res = await post(memberBody("single", { client_name: "" }));
    expect(res.body.error.fields).toEqual({ client_name: [expect.any(String)] });
    expect(res.body.error).not.toHaveProperty("items");
  });

  it("fails a 10,000-item request on its last item, writing none of the others", async () => {
    const members: unknown[] = many("all-or-none", 10_000);
    members[9_999] = { ...(members[9_999] as object), client_birthday: "yesterday" };
    const res = await post(members);
    expect(res.status).toBe(400);
    expect(res.body.error.items.filter((i: object) => Object.keys(i).length > 0)).toHaveLength(1);
    expect(Object.keys(res.body.error.items[9_999])).toEqual(["client_birthday"]);
    expect(await countWhere("all-or-none")).toBe(0);
  });
});

describe("Idempotency-Key", () => {
  it("answers a repeat with the first answer and writes nothing again", async () => {
    const body = [memberBody("idem-1"), memberBody("idem-2")];
    const first = await post(body, { "Idempotency-Key": "k-bulk" });
    expect(first).toMatchObject({ status: 201, body: { inserted: 2, updated: 0 } });
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    await app.request("PATCH", memberPath("idem-1"), {
      token: app.adminToken,
      body: { client_name: "later" },
    });
    const again = await post(body, { "Idempotency-Key": "k-bulk" });
    expect(again).toMatchObject({ status: 201, body: { inserted: 2, updated: 0 } });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect((await get("idem-1")).body.client_name).toBe("later");
  });

  it("refuses the same key with a different body with 422", async () => {
    await post(memberBody("idem-3"), { "Idempotency-Key": "k-one" });
    const res = await post(memberBody("idem-4"), { "Idempotency-Key": "k-one" });
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe("idempotency_key_reused");
    expect((await get("idem-4")).status).toBe(404);
  });

  it("scopes keys to the caller", async () => {
    const partner = await app.partnerToken("IDEM");
    await post(memberBody("idem-5"), { "Idempotency-Key": "k-shared" });
    const res = await post(memberBody("idem-6"), { "Idempotency-Key": "k-shared" }, partner);
    expect(res).toMatchObject({ status: 201, body: { inserted: 1, updated: 0 } });
  });

  it("does not keep refusals: the key stays free after a 400", async () => {
    const bad = await post(memberBody("idem-7", { client_name: "" }), { "Idempotency-Key": "k-fix" });
    expect(bad.status).toBe(400);
    const fixed = await post(memberBody("idem-7"), { "Idempotency-Key": "k-fix" });
    expect(fixed).toMatchObject({ status: 201, body: { inserted: 1, updated: 0 } });
  });

  it("gives concurrent repeats one write and the same answer", async () => {
    const body = many("race", 500);
    const answers = await Promise.all([1, 2, 3, 4].map(() => post(body, { "Idempotency-Key": "k-race" })));
    for (const a of answers) expect(a).toMatchObject({ status: 201, body: { inserted: 500, updated: 0 } });
    expect(answers.filter((a) => a.headers.get("idempotent-replayed") === "true")).toHaveLength(3);
  });

  it("replays PUT, PATCH and DELETE answers", async () => {
    await post(memberBody("idem-8"));
    const key = { "Idempotency-Key": "k-put" };
    const put = () =>
      app.request("PUT", memberPath("idem-8"), {
        token: app.adminToken,
        body: memberBody("idem-8"),
        headers: key,
      });
    expect((await put()).status).toBe(200);
    expect((await put()).headers.get("idempotent-replayed")).toBe("true");
    const del = () =>
      app.request("DELETE", memberPath("idem-8"), {
        token: app.adminToken,
        headers: { "Idempotency-Key": "k-del" },
      });
    expect((await del()).status).toBe(204);
    const replay = await del();
    expect(replay.status).toBe(204);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const patch = await app.request("PATCH", memberPath("idem-8"), {
      token: app.adminToken,
      body: {},
      headers: { "Idempotency-Key": "k-del" },
    });
    expect(patch.status).toBe(422);
  });

  it.each([
    ["too long", "k".repeat(256)],
    ["with a space", "a b"],
  ])("refuses a key %s", async (_n, key) => {
    const res = await post(memberBody("idem-9"), { "Idempotency-Key": key });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.fields)).toEqual(["Idempotency-Key"]);
  });
});
