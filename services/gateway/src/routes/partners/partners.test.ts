import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test-app.test-support";
import { type MembersHarness, startMembersHarness } from "../members/members.test-support";

/** GET /v1/partners pages like the member list: count, next, previous, results; nothing cut off. */
let harness: MembersHarness;
let app: TestApp;
const PARTNERS = 25;

beforeAll(async () => {
  harness = await startMembersHarness({ PUBLIC_URL: "https://api.example" });
  app = harness.app;
  // Many partners written at once: 10,000+ HTTP creations would only be slower.
  await app.pool.query(
    `INSERT INTO partners (id, name, signing_secret)
     SELECT 'P' || lpad(n::text, 3, '0'), 'Partner ' || n, 'secret' FROM generate_series(1, $1) n`,
    [PARTNERS],
  );
});
afterAll(() => harness?.stop());

describe("GET /v1/partners", () => {
  it("pages by id with absolute links, and the pages together hold every partner once", async () => {
    const first = await app.request("GET", "/v1/partners?page_size=10", { token: app.adminToken });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      count: PARTNERS,
      previous: null,
      next: "https://api.example/v1/partners?page_size=10&page=2",
    });
    expect(first.body.results[0]).toEqual({
      id: "P001",
      name: "Partner 1",
      points_validity_days: null,
      created_at: expect.any(String),
    });
    const seen: string[] = [];
    let next: string | null = "/v1/partners?page_size=10";
    while (next) {
      const page = await app.request("GET", next.replace("https://api.example", ""), {
        token: app.adminToken,
      });
      seen.push(...page.body.results.map((p: { id: string }) => p.id));
      next = page.body.next;
    }
    expect(seen).toEqual(Array.from({ length: PARTNERS }, (_, i) => `P${String(i + 1).padStart(3, "0")}`));
  });

  it("defaults to 50 a page and refuses a page size over 1000", async () => {
    const all = await app.request("GET", "/v1/partners", { token: app.adminToken });
    expect([all.body.results.length, all.body.next]).toEqual([PARTNERS, null]);
    const big = await app.request("GET", "/v1/partners?page_size=1001", { token: app.adminToken });
    expect([big.status, big.body.error.code]).toEqual([400, "validation_failed"]);
  });
});

describe("points_validity_days (contract 6.1)", () => {
  it("is set at creation (default null), changed with PATCH (admin), and listed", async () => {
    const plain = await app.request("POST", "/v1/partners", { token: app.adminToken, body: { id: "V0" } });
    expect([plain.status, plain.body.points_validity_days]).toEqual([201, null]);
    const made = await app.request("POST", "/v1/partners", {
      token: app.adminToken,
      body: { id: "V1", name: "Valid", points_validity_days: 365 },
    });
    expect([made.status, made.body.points_validity_days]).toEqual([201, 365]);
    const patched = await app.request("PATCH", "/v1/partners/V1", {
      token: app.adminToken,
      body: { points_validity_days: 30 },
    });
    expect([patched.status, patched.body]).toEqual([
      200,
      { id: "V1", name: "Valid", points_validity_days: 30 },
    ]);
    const renamed = await app.request("PATCH", "/v1/partners/V1", {
      token: app.adminToken,
      body: { name: "V" },
    });
    expect(renamed.body).toEqual({ id: "V1", name: "V", points_validity_days: 30 });
    const never = await app.request("PATCH", "/v1/partners/V1", {
      token: app.adminToken,
      body: { points_validity_days: null },
    });
    expect(never.body).toEqual({ id: "V1", name: "V", points_validity_days: null });
    const list = await app.request("GET", "/v1/partners?page_size=1000", { token: app.adminToken });
    const v1 = list.body.results.find((p: { id: string }) => p.id === "V1");
    expect(v1).toMatchObject({ name: "V", points_validity_days: null });
  });

  it("refuses out-of-range validity, unknown fields and unknown partners; only the admin may PATCH", async () => {
    for (const days of [0, 36501, 1.5, "30"]) {
      const bad = await app.request("POST", "/v1/partners", {
        token: app.adminToken,
        body: { id: "VX", points_validity_days: days },
      });
      expect([bad.status, bad.body.error.code]).toEqual([400, "validation_failed"]);
    }
    const extra = await app.request("PATCH", "/v1/partners/V0", { token: app.adminToken, body: { id: "Z" } });
    expect(extra.status).toBe(400);
    const missing = await app.request("PATCH", "/v1/partners/NOPE", {
      token: app.adminToken,
      body: { points_validity_days: 5 },
    });
    expect([missing.status, missing.body.error.code]).toEqual([404, "not_found"]);
    const made = await app.request("POST", "/v1/partners", { token: app.adminToken, body: { id: "V2" } });
    const asPartner = await app.request("PATCH", "/v1/partners/V2", {
      token: made.body.token,
      body: { points_validity_days: 5 },
    });
    expect([asPartner.status, asPartner.body.error.code]).toEqual([403, "forbidden"]);
  });
});
