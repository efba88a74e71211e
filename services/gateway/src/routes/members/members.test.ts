import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test-app.test-support";
import {
  addLedgerEntry,
  type MembersHarness,
  memberBody,
  memberPath,
  startMembersHarness,
} from "./members.test-support";

/** One member at a time: create, read, replace, patch, delete, and the database's refusals. */
let harness: MembersHarness;
let app: TestApp;
let admin: string;

beforeAll(async () => {
  harness = await startMembersHarness();
  app = harness.app;
  admin = app.adminToken;
});
afterAll(() => harness?.stop());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  app.request("POST", "/v1/members", { token: admin, body, headers });
const get = (id: string) => app.request("GET", memberPath(id), { token: admin });

describe("create and read", () => {
  it("inserts, then updates the same loyalty_id", async () => {
    const body = memberBody("alice", { cardno: "C-1", discount: "12.5", is_male: false });
    expect(await post(body)).toMatchObject({ status: 201, body: { inserted: 1, updated: 0 } });
    expect(await post({ ...body, client_name: "Alice B" })).toMatchObject({
      status: 201,
      body: { inserted: 0, updated: 1 },
    });
    const read = await get("alice");
    expect(read.status).toBe(200);
    expect(read.body).toEqual({
      loyalty_id: "alice",
      cardno: "C-1",
      discount: "12.5000",
      client_name: "Alice B",
      client_birthday: "1990-01-31",
      is_male: false,
      url: `${app.url}/v1/members/alice`,
    });
  });

  it("replaces the whole member on upsert: left-out optional fields become null", async () => {
    await post(memberBody("replaced", { cardno: "X", discount: 3, is_male: true }));
    await post(memberBody("replaced"));
    expect((await get("replaced")).body).toMatchObject({ cardno: null, discount: null, is_male: null });
  });

  it("answers 404 in the error envelope for an unknown member", async () => {
    const res = await get("nobody");
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ error: { code: "not_found", message: expect.any(String) } });
  });

  it("encodes ids with spaces and unicode in the url, and finds them by it", async () => {
    const id = "Zoë 100%";
    await post(memberBody(id));
    const res = await app.request("GET", memberPath(id), { token: admin });
    expect(res.body.url).toBe(`${app.url}/v1/members/Zo%C3%AB%20100%25`);
    expect((await app.request("GET", new URL(res.body.url).pathname, { token: admin })).status).toBe(200);
  });
});

describe("HEAD", () => {
  it("answers 200 without a body for a member, 404 without a body for none", async () => {
    await post(memberBody("headed"));
    const found = await app.request("HEAD", memberPath("headed"), { token: admin });
    expect(found.status).toBe(200);
    expect(found.body).toBeNull();
    expect(found.headers.get("content-type")).toMatch(/application\/json/);
    const missing = await app.request("HEAD", memberPath("nobody"), { token: admin });
    expect(missing.status).toBe(404);
    expect(missing.body).toBeNull();
  });
});

describe("PUT", () => {
  it("replaces every field and answers the stored member", async () => {
    await post(memberBody("bob", { cardno: "B-1", discount: "1", is_male: true }));
    const res = await app.request("PUT", memberPath("bob"), {
      token: admin,
      body: memberBody("bob", { client_name: "Robert", discount: "0.25" }),
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      client_name: "Robert",
      cardno: null,
      discount: "0.2500",
      is_male: null,
    });
    expect((await get("bob")).body).toEqual(res.body);
  });

  it("answers 404 for an unknown member and creates nothing", async () => {
    const res = await app.request("PUT", memberPath("ghost"), { token: admin, body: memberBody("ghost") });
    expect(res.status).toBe(404);
    expect((await get("ghost")).status).toBe(404);
  });

  it("requires the full representation", async () => {
    await post(memberBody("partial-put"));
    const res = await app.request("PUT", memberPath("partial-put"), {
      token: admin,
      body: { loyalty_id: "partial-put" },
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.fields).sort()).toEqual(["client_birthday", "client_name"]);
  });

  it("renames a member without entries, and its token follows", async () => {
    await post(memberBody("old-name"));
    const token = await app.memberToken("old-name");
    const res = await app.request("PUT", memberPath("old-name"), {
      token: admin,
      body: memberBody("new-name"),
    });
    expect(res.status).toBe(200);
    expect(res.body.url).toBe(`${app.url}/v1/members/new-name`);
    expect((await get("old-name")).status).toBe(404);
    expect((await app.request("GET", memberPath("new-name"), { token })).status).toBe(200);
  });

  it("refuses to rename onto a taken loyalty_id with 409 already_exists", async () => {
    await post([memberBody("taken-a"), memberBody("taken-b")]);
    const res = await app.request("PUT", memberPath("taken-a"), {
      token: admin,
      body: memberBody("taken-b"),
    });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("already_exists");
    expect((await get("taken-a")).status).toBe(200);
  });
});

describe("PATCH", () => {
  it("changes only the given fields; null clears an optional one", async () => {
    await post(memberBody("carol", { cardno: "C-9", discount: "7.5", is_male: false }));
    const res = await app.request("PATCH", memberPath("carol"), {
      token: admin,
      body: { client_name: "Caroline", cardno: null },
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      loyalty_id: "carol",
      client_name: "Caroline",
      cardno: null,
      discount: "7.5000",
      is_male: false,
      client_birthday: "1990-01-31",
    });
  });

  it("accepts an empty patch and changes nothing", async () => {
    await post(memberBody("unchanged", { cardno: "U" }));
    const res = await app.request("PATCH", memberPath("unchanged"), { token: admin, body: {} });
    expect(res.status).toBe(200);
    expect(res.body).toEqual((await get("unchanged")).body);
  });

  it("refuses to clear a required field or set an unknown one", async () => {
    await post(memberBody("dave"));
    const res = await app.request("PATCH", memberPath("dave"), {
      token: admin,
      body: { client_name: null, nickname: "D" },
    });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.fields).sort()).toEqual(["client_name", "nickname"]);
  });

  it("answers 404 for an unknown member", async () => {
    const res = await app.request("PATCH", memberPath("ghost"), { token: admin, body: { client_name: "G" } });
    expect(res.status).toBe(404);
  });

  it("renames with loyalty_id alone", async () => {
    await post(memberBody("patch-old"));
    const res = await app.request("PATCH", memberPath("patch-old"), {
      token: admin,
      body: { loyalty_id: "patch-new" },
    });
    expect(res.status).toBe(200);
    expect((await get("patch-new")).body.client_name).toBe("client patch-old");
  });
});

describe("DELETE", () => {
  it("answers 204, then the member is gone and its token stops working", async () => {
    await post(memberBody("erin"));
    const token = await app.memberToken("erin");
    const res = await app.request("DELETE", memberPath("erin"), { token: admin });
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
    expect((await get("erin")).status).toBe(404);
    expect((await app.request("GET", memberPath("erin"), { token })).status).toBe(401);
    expect((await app.request("DELETE", memberPath("erin"), { token: admin })).status).toBe(404);
  });

  it("leaves no cached balance behind: GET balance of a deleted or renamed id is 404", async () => {
    await post([memberBody("cached-del"), memberBody("cached-old")]);
    const balance = (id: string) => app.request("GET", `/v1/users/${id}/balance`, { token: admin });
    // Reading a balance caches it ({} for a member without entries).
    for (const id of ["cached-del", "cached-old"])
      expect(await balance(id)).toMatchObject({ status: 200, body: {} });
    expect((await app.request("DELETE", memberPath("cached-del"), { token: admin })).status).toBe(204);
    const renamed = await app.request("PATCH", memberPath("cached-old"), {
      token: admin,
      body: { loyalty_id: "cached-new" },
    });
    expect(renamed.status).toBe(200);
    for (const id of ["cached-del", "cached-old"]) expect((await balance(id)).status).toBe(404);
    expect(await balance("cached-new")).toMatchObject({ status: 200, body: {} });
  });

  it("a re-created member does not inherit the deleted one's token", async () => {
    await post(memberBody("reborn"));
    const token = await app.memberToken("reborn");
    await app.request("DELETE", memberPath("reborn"), { token: admin });
    await post(memberBody("reborn"));
    expect((await app.request("GET", memberPath("reborn"), { token })).status).toBe(401);
  });
});

describe("members with ledger entries", () => {
  beforeAll(async () => {
    await post(memberBody("ledgered", { cardno: "L-1" }));
    await addLedgerEntry(app, "ledgered");
  });

  it("cannot be deleted: 409 member_has_entries, and the member stays", async () => {
    const res = await app.request("DELETE", memberPath("ledgered"), { token: admin });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe("member_has_entries");
    expect((await get("ledgered")).status).toBe(200);
  });

  it("cannot be renamed by PUT or PATCH", async () => {
    const put = await app.request("PUT", memberPath("ledgered"), {
      token: admin,
      body: memberBody("renamed"),
    });
    expect(put.status).toBe(409);
    expect(put.body.error.code).toBe("member_has_entries");
    const patch = await app.request("PATCH", memberPath("ledgered"), {
      token: admin,
      body: { loyalty_id: "renamed" },
    });
    expect(patch.status).toBe(409);
    expect((await get("renamed")).status).toBe(404);
    expect((await get("ledgered")).body.cardno).toBe("L-1");
  });

  it("can still have its other fields changed, also by a PUT naming the same id", async () => {
    const put = await app.request("PUT", memberPath("ledgered"), {
      token: admin,
      body: memberBody("ledgered", { client_name: "Still here" }),
    });
    expect(put.status).toBe(200);
    const patch = await app.request("PATCH", memberPath("ledgered"), {
      token: admin,
      body: { cardno: "L-2" },
    });
    expect(patch.body).toMatchObject({ client_name: "Still here", cardno: "L-2" });
  });

  it("is refused by the database itself, not only by the gateway", async () => {
    await expect(app.pool.query("DELETE FROM members WHERE loyalty_id = 'ledgered'")).rejects.toMatchObject({
      code: "23503",
    });
  });
});

describe("tokens", () => {
  it("issues a member token only for an existing member", async () => {
    await post(memberBody("frank"));
    const issued = await app.request("POST", `${memberPath("frank")}/tokens`, { token: admin });
    expect(issued.status).toBe(201);
    expect(issued.body.token).toMatch(/^mt_/);
    const missing = await app.request("POST", `${memberPath("nobody")}/tokens`, { token: admin });
    expect(missing.status).toBe(404);
  });

  it("a new token replaces the old one", async () => {
    await post(memberBody("grace"));
    const first = await app.memberToken("grace");
    const second = await app.memberToken("grace");
    expect((await app.request("GET", memberPath("grace"), { token: first })).status).toBe(401);
    expect((await app.request("GET", memberPath("grace"), { token: second })).status).toBe(200);
  });
});
