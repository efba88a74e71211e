import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test-app.test-support";
import { type MembersHarness, memberBody, memberPath, startMembersHarness } from "./members.test-support";

/**
 * Contract section 5 for the register: create/upsert/bulk for admin and partners; list, update,
 * delete and tokens for the admin only; read one for admin, partners and the member itself.
 */
let harness: MembersHarness;
let app: TestApp;
let partner: string;
let own: string;

beforeAll(async () => {
  harness = await startMembersHarness();
  app = harness.app;
  partner = await app.partnerToken("DANNON");
  const seeded = await app.request("POST", "/v1/members", {
    token: app.adminToken,
    body: [memberBody("m-own"), memberBody("m-other"), memberBody("m-spare")],
  });
  expect(seeded.status).toBe(201);
  own = await app.memberToken("m-own");
});
afterAll(() => harness?.stop());

type Who = "admin" | "partner" | "member" | "anonymous";
const tokenOf = (who: Who) => ({ admin: app.adminToken, partner, member: own, anonymous: undefined })[who];

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  /** Expected status per role; the success statuses prove the action really happened. */
  expect: Record<Who, number>;
}

const cases: Case[] = [
  {
    name: "list",
    method: "GET",
    path: "/v1/members",
    expect: { admin: 200, partner: 403, member: 403, anonymous: 401 },
  },
  {
    name: "upsert one",
    method: "POST",
    path: "/v1/members",
    body: memberBody("m-new"),
    expect: { admin: 201, partner: 201, member: 403, anonymous: 401 },
  },
  {
    name: "bulk upsert",
    method: "POST",
    path: "/v1/members",
    body: [memberBody("m-bulk-1"), memberBody("m-bulk-2")],
    expect: { admin: 201, partner: 201, member: 403, anonymous: 401 },
  },
  {
    name: "read own",
    method: "GET",
    path: memberPath("m-own"),
    expect: { admin: 200, partner: 200, member: 200, anonymous: 401 },
  },
  {
    name: "head own",
    method: "HEAD",
    path: memberPath("m-own"),
    expect: { admin: 200, partner: 200, member: 200, anonymous: 401 },
  },
  {
    name: "read another",
    method: "GET",
    path: memberPath("m-other"),
    expect: { admin: 200, partner: 200, member: 403, anonymous: 401 },
  },
  {
    name: "read an unknown member (a member learns nothing)",
    method: "GET",
    path: memberPath("nobody"),
    expect: { admin: 404, partner: 404, member: 403, anonymous: 401 },
  },
  {
    name: "replace own",
    method: "PUT",
    path: memberPath("m-own"),
    body: memberBody("m-own", { client_name: "changed" }),
    expect: { admin: 200, partner: 403, member: 403, anonymous: 401 },
  },
  {
    name: "patch own",
    method: "PATCH",
    path: memberPath("m-own"),
    body: { cardno: "123" },
    expect: { admin: 200, partner: 403, member: 403, anonymous: 401 },
  },
  {
    name: "issue a token",
    method: "POST",
    path: `${memberPath("m-other")}/tokens`,
    expect: { admin: 201, partner: 403, member: 403, anonymous: 401 },
  },
  {
    name: "options",
    method: "OPTIONS",
    path: "/v1/members",
    expect: { admin: 200, partner: 200, member: 200, anonymous: 401 },
  },
];

// Admin last: its successful writes must not change what the other roles are asked about.
const ROLES: Who[] = ["anonymous", "member", "partner", "admin"];

describe.each(cases)("$name", (c) => {
  it.each(ROLES)("as %s", async (who) => {
    const res = await app.request(c.method, c.path, { token: tokenOf(who), body: c.body });
    expect(res.status).toBe(c.expect[who]);
    if (c.method === "HEAD") return; // no body to look at
    if (res.status === 401) expect(res.body.error.code).toBe("unauthenticated");
    if (res.status === 403) expect(res.body.error.code).toBe("forbidden");
  });
});

describe("delete", () => {
  it("is refused to a member (even its own record), a partner and anonymous; allowed to the admin", async () => {
    for (const [who, status] of [
      ["anonymous", 401],
      ["member", 403],
      ["partner", 403],
    ] as const) {
      const res = await app.request("DELETE", memberPath("m-own"), { token: tokenOf(who) });
      expect(res.status, who).toBe(status);
    }
    expect((await app.request("GET", memberPath("m-own"), { token: app.adminToken })).status).toBe(200);
    expect((await app.request("DELETE", memberPath("m-spare"), { token: app.adminToken })).status).toBe(204);
  });

  it("a refused write changes nothing", async () => {
    await app.request("PATCH", memberPath("m-other"), { token: partner, body: { client_name: "hijacked" } });
    const res = await app.request("GET", memberPath("m-other"), { token: app.adminToken });
    expect(res.body.client_name).toBe("client m-other");
  });

  it("an unknown token is 401, not a role", async () => {
    const res = await app.request("GET", memberPath("m-own"), { token: "mt_not-a-real-token" });
    expect(res.status).toBe(401);
  });
});

describe("a partner's upsert", () => {
  it("creates members and replaces those it created", async () => {
    const first = await app.request("POST", "/v1/members", { token: partner, body: memberBody("p-made") });
    expect([first.status, first.body]).toEqual([201, { inserted: 1, updated: 0 }]);
    const again = await app.request("POST", "/v1/members", {
      token: partner,
      body: { ...memberBody("p-made"), client_name: "renamed by its creator" },
    });
    expect([again.status, again.body]).toEqual([201, { inserted: 0, updated: 1 }]);
  });

  it("is 403 with fields for a member created by the admin, and writes nothing", async () => {
    const res = await app.request("POST", "/v1/members", {
      token: partner,
      body: { ...memberBody("m-other"), client_name: "overwritten" },
    });
    expect([res.status, res.body.error.code]).toEqual([403, "forbidden"]);
    expect(Object.keys(res.body.error.fields)).toEqual(["loyalty_id"]);
    const stored = await app.request("GET", memberPath("m-other"), { token: app.adminToken });
    expect(stored.body.client_name).toBe("client m-other");
  });

  it("is 403 with aligned items for a bulk naming another partner's member, and writes nothing", async () => {
    const rival = await app.partnerToken("RIVAL");
    expect(
      (await app.request("POST", "/v1/members", { token: rival, body: memberBody("r-made") })).status,
    ).toBe(201);
    const res = await app.request("POST", "/v1/members", {
      token: partner,
      body: [memberBody("p-new-in-bulk"), { ...memberBody("r-made"), client_name: "taken over" }],
    });
    expect([res.status, res.body.error.code]).toEqual([403, "forbidden"]);
    expect(res.body.error.items).toEqual([{}, { loyalty_id: [expect.any(String)] }]);
    expect((await app.request("GET", memberPath("p-new-in-bulk"), { token: app.adminToken })).status).toBe(
      404,
    );
    expect((await app.request("GET", memberPath("r-made"), { token: app.adminToken })).body.client_name).toBe(
      "client r-made",
    );
  });

  it("validates first: an invalid item is 400 even beside a forbidden one", async () => {
    const res = await app.request("POST", "/v1/members", {
      token: partner,
      body: [memberBody("m-other"), { loyalty_id: "" }],
    });
    expect([res.status, res.body.error.code]).toEqual([400, "validation_failed"]);
  });
});
