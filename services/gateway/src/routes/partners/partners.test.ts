import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MembersHarness, startMembersHarness } from "../../members/members.test-support";
import type { TestApp } from "../../test-app.test-support";

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
    expect(first.body.results[0]).toEqual({ id: "P001", name: "Partner 1", created_at: expect.any(String) });
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
