import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { envelopeProblems } from "./answers.test-support";

/**
 * Contract section 5 (and the README's permission table), walked route by route for every role:
 * the admin, a partner, another partner, a member, another member, and no token at all. The
 * partner is ACME and the member is alice; "other" callers are GLOBEX and bob. Targets are alice,
 * ACME-paid points and an ACME item of alice's, so "own" means partner ACME and member alice.
 *
 *   Y  allowed: a 2xx (the set-up makes success possible)
 *   N  refused by role: 403 forbidden
 *   H  hidden: the caller may use the route but cannot see this target, 404 not_found
 *   A  anonymous: 401 unauthenticated
 */
type Cell = "Y" | "N" | "H" | "A";
const ROLES = ["admin", "partner", "otherPartner", "member", "otherMember", "anonymous"] as const;
type Role = (typeof ROLES)[number];

interface Row {
  action: string;
  /** "METHOD /path" as written in the matrix ({new}, {item}, {id}: prepared per role). */
  route: string;
  method: string;
  /** A path, or a function that prepares a fresh target for this role and returns its path. */
  path: string | ((role: Role) => Promise<string>);
  body?: (role: Role, path: string) => unknown;
  /** admin, partner, other partner, member, other member, anonymous */
  expect: string;
}

let env: TestEnv;
let stack: TestStack;
let api: Api;
const token: Record<Role, string | undefined> = {
  admin: TEST_ADMIN_TOKEN,
  partner: undefined,
  otherPartner: undefined,
  member: undefined,
  otherMember: undefined,
  anonymous: undefined,
};
let acmeCommand: string;
let spare = 0;

const member = (id: string) => ({
  loyalty_id: id,
  client_name: `Member ${id}`,
  client_birthday: "1990-01-01",
});
const admin = TEST_ADMIN_TOKEN;

async function newMember(): Promise<string> {
  const id = `spare-${++spare}`;
  await api.createMember(id);
  return id;
}

/** A fresh unused item on alice's account, created by ACME (so ACME and alice own it). */
async function aliceItem(): Promise<string> {
  const res = await api.call("POST", "/v1/entries", {
    token: token.partner,
    body: { user_id: "alice", amount: 1, reason: "item", item: { name: "mug" } },
  });
  expect(res.status).toBe(201);
  return res.body.entry_id;
}

/** A fresh 1-point ACME earn of alice's, created by ACME (so ACME may reverse it). */
async function acmeEarn(): Promise<string> {
  const res = await api.call("POST", "/v1/users/alice/transactions", {
    token: token.partner,
    body: { payer: "ACME", points: 1, timestamp: "2022-01-03T00:00:00Z" },
  });
  expect(res.status).toBe(201);
  return res.body.entry_id;
}

/** A fresh 1-point hold on alice's points, placed by the admin. */
async function aliceHold(): Promise<string> {
  const res = await api.call("POST", "/v1/users/alice/holds", { token: admin, body: { points: 1 } });
  expect(res.status).toBe(201);
  return res.body.hold_id;
}

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  token.partner = (await api.createPartner("ACME")).token;
  token.otherPartner = (await api.createPartner("GLOBEX")).token;
  await api.createPartner("ROTATED");
  for (const id of ["alice", "bob"]) await api.createMember(id);
  token.member = await api.memberToken("alice");
  token.otherMember = await api.memberToken("bob");
  const earned = await api.call("POST", "/v1/users/alice/transactions", {
    token: admin,
    body: { payer: "ACME", points: 1_000, timestamp: "2022-01-01T00:00:00Z" },
  });
  expect(earned.status).toBe(201);
  const pending = await api.call("POST", "/v1/users/alice/transactions", {
    token: token.partner,
    body: { payer: "ACME", points: 1, timestamp: "2022-01-01T00:00:00Z" },
    headers: { Prefer: "respond-async" },
  });
  expect(pending.status).toBe(202);
  acmeCommand = pending.body.id;
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const row = (action: string, route: string, expect: string, more: Partial<Row> = {}): Row => {
  const [method, path] = route.split(" ") as [string, string];
  return { action, route, method, path, expect, ...more };
};
const fresh = (prepare: () => Promise<string>) => ({ path: prepare });
const newMemberPath = (suffix = "") => fresh(async () => `/v1/members/${await newMember()}${suffix}`);
const wholeMember = { body: (_role: Role, path: string) => member(path.split("/").pop()!) };

// biome-ignore format: the matrix is laid out like the contract's table
const MATRIX: Row[] = [
  //  action                              route                                   admin partner other-p member other-m anon
  row("partners: create",                 "POST /v1/partners",                      "Y  N  N  N  N  A", { body: () => ({ id: `P-${++spare}` }) }),
  row("partners: list",                   "GET /v1/partners",                       "Y  N  N  N  N  A"),
  row("partners: rotate token",           "POST /v1/partners/ROTATED/tokens",       "Y  N  N  N  N  A"),
  row("members: create / upsert",         "POST /v1/members",                       "Y  Y  Y  N  N  A", { body: () => member(`new-${++spare}`) }),
  row("members: bulk upsert",             "POST /v1/members",                       "Y  Y  Y  N  N  A", { body: () => [member(`new-${++spare}`), member(`new-${++spare}`)] }),
  row("members: list",                    "GET /v1/members",                        "Y  N  N  N  N  A"),
  row("members: field metadata",          "OPTIONS /v1/members",                    "Y  Y  Y  Y  Y  A"),
  row("members: read one",                "GET /v1/members/alice",                  "Y  Y  Y  Y  N  A"),
  row("members: read one (HEAD)",         "HEAD /v1/members/alice",                 "Y  Y  Y  Y  N  A"),
  row("members: update (PUT)",            "PUT /v1/members/{new}",                  "Y  N  N  N  N  A", { ...newMemberPath(), ...wholeMember }),
  row("members: update own (PUT)",        "PUT /v1/members/alice",                  "Y  N  N  N  N  A", wholeMember),
  row("members: update own (PATCH)",      "PATCH /v1/members/alice",                "Y  N  N  N  N  A", { body: () => ({ cardno: "C-1" }) }),
  row("members: delete",                  "DELETE /v1/members/{new}",               "Y  N  N  N  N  A", newMemberPath()),
  row("members: issue token",             "POST /v1/members/{new}/tokens",          "Y  N  N  N  N  A", newMemberPath("/tokens")),
  row("members: field metadata of one",   "OPTIONS /v1/members/alice",              "Y  Y  Y  Y  Y  A"),
  row("transactions (payer ACME)",        "POST /v1/users/alice/transactions",      "Y  Y  N  N  N  A", { body: () => ({ payer: "ACME", points: 5, timestamp: "2022-01-02T00:00:00Z" }) }),
  row("spend",                            "POST /v1/users/alice/spend",             "Y  Y  Y  Y  N  A", { body: () => ({ points: 1 }) }),
  row("balance",                          "GET /v1/users/alice/balance",            "Y  N  N  Y  N  A"),
  row("entries",                          "GET /v1/users/alice/entries",            "Y  N  N  Y  N  A"),
  row("wallet entries",                   "POST /v1/entries",                       "Y  Y  Y  N  N  A", { body: (role) => ({ user_id: "alice", amount: 2, reason: "r", ...(role === "admin" ? { payer: "ACME" } : {}) }) }),
  row("wallets",                          "GET /v1/wallets?user_ids=alice",         "Y  Y  Y  Y  N  A"),
  row("inventory",                        "GET /v1/inventory?user_ids=alice",       "Y  Y  Y  Y  N  A"),
  row("use item (ACME's, alice's)",       "POST /v1/inventory/{item}/use",          "Y  Y  H  Y  H  A", fresh(async () => `/v1/inventory/${await aliceItem()}/use`)),
  row("command status (ACME's)",          "GET /v1/commands/{id}",                  "Y  Y  H  H  H  A", fresh(async () => `/v1/commands/${acmeCommand}`)),
  row("partners: change (PATCH)",         "PATCH /v1/partners/ROTATED",             "Y  N  N  N  N  A", { body: () => ({ points_validity_days: 365 }) }),
  row("reverse an entry (ACME's)",        "POST /v1/users/alice/entries/{e}/reversals", "Y  Y  H  N  N  A", fresh(async () => `/v1/users/alice/entries/${await acmeEarn()}/reversals`)),
  row("holds: place",                     "POST /v1/users/alice/holds",             "Y  Y  Y  Y  N  A", { body: () => ({ points: 1 }) }),
  row("holds: capture",                   "POST /v1/users/alice/holds/{h}/capture", "Y  Y  Y  Y  N  A", fresh(async () => `/v1/users/alice/holds/${await aliceHold()}/capture`)),
  row("holds: void",                      "POST /v1/users/alice/holds/{h}/void",    "Y  Y  Y  Y  N  A", fresh(async () => `/v1/users/alice/holds/${await aliceHold()}/void`)),
  row("holds: read one",                  "GET /v1/users/alice/holds/{h}",          "Y  Y  Y  Y  N  A", fresh(async () => `/v1/users/alice/holds/${await aliceHold()}`)),
  row("holds: list",                      "GET /v1/users/alice/holds?status=held",  "Y  Y  Y  Y  N  A"),
  row("expiring points",                  "GET /v1/users/alice/expiring",           "Y  N  N  Y  N  A"),
  row("balance as_of",                    "GET /v1/users/alice/balance?as_of=2022-06-01T00:00:00Z", "Y  N  N  Y  N  A"),
  row("payer report",                     "GET /v1/reports/payers",                 "Y  Y  Y  N  N  A"),
  row("payer's members (ACME)",           "GET /v1/reports/payers/ACME/members",    "Y  Y  N  N  N  A"),
  row("payer's daily (ACME)",             "GET /v1/reports/payers/ACME/daily",      "Y  Y  N  N  N  A"),
  row("dead letters",                     "GET /v1/dead-letters",                   "Y  N  N  N  N  A"),
  row("health",                           "GET /health",                            "Y  Y  Y  Y  Y  Y"),
  row("metrics",                          "GET /metrics",                           "Y  Y  Y  Y  Y  Y"),
  row("openapi",                          "GET /openapi.json",                      "Y  Y  Y  Y  Y  Y"),
  row("docs",                             "GET /docs/",                             "Y  Y  Y  Y  Y  Y"),
];

const STATUS_OF: Record<Exclude<Cell, "Y">, [number, string]> = {
  N: [403, "forbidden"],
  H: [404, "not_found"],
  A: [401, "unauthenticated"],
};

function cells(row: Row): Record<Role, Cell> {
  const parsed = row.expect.split(/\s+/) as Cell[];
  expect(parsed, row.action).toHaveLength(ROLES.length);
  return Object.fromEntries(ROLES.map((role, i) => [role, parsed[i]!])) as Record<Role, Cell>;
}

// Refused callers first, the admin last: a success must not change what the others are asked.
const ORDER: Role[] = ["anonymous", "otherMember", "member", "otherPartner", "partner", "admin"];

describe("the permission matrix (contract section 5)", () => {
  it("has a row for every operation of the OpenAPI document", async () => {
    const doc = (await api.call("GET", "/openapi.json")).body;
    const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    const template = (p: string) =>
      p
        .split("?")[0]!
        .replace(/^\/v1\/partners\/[^/]+\/tokens$/, "/v1/partners/{id}/tokens")
        .replace(/^\/v1\/partners\/[A-Z]+$/, "/v1/partners/{id}")
        .replace(/^\/v1\/users\/[^/]+/, "/v1/users/{userId}")
        .replace(/\/entries\/[^/]+\/reversals$/, "/entries/{entry_id}/reversals")
        .replace(/\/holds\/[^/]+/, "/holds/{hold_id}")
        .replace(/^\/v1\/reports\/payers\/[^/]+/, "/v1/reports/payers/{payer}")
        .replace(/^\/v1\/members\/[^/]+/, "/v1/members/{loyalty_id}")
        .replace(/^\/v1\/inventory\/[^/]+\/use$/, "/v1/inventory/{entry_id}/use")
        .replace(/^\/v1\/commands\/[^/]+$/, "/v1/commands/{id}")
        .replace(/^\/docs\/$/, "/docs");
    const covered = new Set(MATRIX.map((r) => `${r.method} ${template(r.route.split(" ")[1]!)}`));
    expect(documented.filter((op) => !covered.has(op))).toEqual([]);
  });

  describe.each(MATRIX.map((row) => [row.action, row] as const))("%s", (_action, row) => {
    it.each(ORDER)("as %s", async (role) => {
      const expected = cells(row)[role];
      const path = typeof row.path === "string" ? row.path : await row.path(role);
      const res = await api.call(row.method, path, {
        ...(token[role] ? { token: token[role] } : {}),
        ...(row.body ? { body: row.body(role, path) } : {}),
      });
      const seen = `${row.method} ${path} as ${role}: ${res.status} ${JSON.stringify(res.body)?.slice(0, 200)}`;
      if (expected === "Y") {
        expect(res.status, seen).toBeGreaterThanOrEqual(200);
        expect(res.status, seen).toBeLessThan(300);
        return;
      }
      const [status, code] = STATUS_OF[expected];
      expect(res.status, seen).toBe(status);
      if (row.method === "HEAD") return; // no body
      expect(res.body.error.code, seen).toBe(code);
      const headers: Record<string, string> = {};
      res.headers.forEach((v, k) => {
        headers[k] = v;
      });
      expect(envelopeProblems({ status: res.status, headers, text: JSON.stringify(res.body) }), seen).toEqual(
        [],
      );
    });
  });

  it("treats an unknown or malformed bearer token as no token (401), never as a role", async () => {
    for (const authorization of [
      "Bearer pt_not-a-real-token",
      "Bearer mt_not-a-real-token",
      `Bearer ${TEST_ADMIN_TOKEN}x`,
      `Basic ${Buffer.from(`admin:${TEST_ADMIN_TOKEN}`).toString("base64")}`,
      "Bearer",
    ]) {
      const res = await api.call("GET", "/v1/members/alice", { headers: { authorization } });
      expect([res.status, res.body.error.code], authorization).toEqual([401, "unauthenticated"]);
    }
  });

  it("reads the auth scheme case-insensitively (RFC 7235)", async () => {
    const res = await api.call("GET", "/v1/members/alice", {
      headers: { authorization: `bearer ${TEST_ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(200);
  });

  it("stops accepting a partner's old token once it is rotated", async () => {
    const old = (await api.call("POST", "/v1/partners", { token: admin, body: { id: "ROT2" } })).body.token;
    expect((await api.call("GET", "/v1/wallets?user_ids=alice", { token: old })).status).toBe(200);
    const rotated = await api.call("POST", "/v1/partners/ROT2/tokens", { token: admin });
    expect(rotated.status).toBe(201);
    expect((await api.call("GET", "/v1/wallets?user_ids=alice", { token: old })).status).toBe(401);
    expect((await api.call("GET", "/v1/wallets?user_ids=alice", { token: rotated.body.token })).status).toBe(
      200,
    );
  });
});
