import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test-app.test-support";
import {
  type MemberBody,
  type MembersHarness,
  memberBody,
  startMembersHarness,
} from "./members.test-support";
import { ListQuery, ORDER_FIELDS } from "./schema";
import { listStatement } from "./store";

/**
 * GET /v1/members: pages and their links, search, every ordering, the is_male filter. Values
 * are lowercase letters and equal-length digits so the expected order is the same under any
 * database collation.
 */
const NAMES = [
  "delta",
  "alpha",
  "charlie",
  "bravo",
  "alpha",
  "echo",
  "bravo",
  "delta",
  "foxtrot",
  "alpha",
  "golf",
  "charlie",
];
const CARDS = ["300", null, "100", "200", "100", null, "400", "250", null, "500", "150", "300"];
const BIRTHDAYS = ["1990-05-01", "1985-01-01", "1990-05-01", "2001-12-31", "1970-07-07", "1985-01-01"];
const MALE = [true, false, null];
const MEMBERS: MemberBody[] = NAMES.map((client_name, i) =>
  memberBody(`m${String(i + 1).padStart(2, "0")}`, {
    client_name,
    cardno: CARDS[i],
    client_birthday: BIRTHDAYS[i % BIRTHDAYS.length],
    is_male: MALE[i % MALE.length],
  }),
);

let harness: MembersHarness;
let app: TestApp;

beforeAll(async () => {
  harness = await startMembersHarness();
  app = harness.app;
  const seeded = await app.request("POST", "/v1/members", { token: app.adminToken, body: MEMBERS });
  expect(seeded.body).toEqual({ inserted: MEMBERS.length, updated: 0 });
});
afterAll(() => harness?.stop());

const list = (query = "") => app.request("GET", `/v1/members${query}`, { token: app.adminToken });
const ids = (res: { body: { results: { loyalty_id: string }[] } }) =>
  res.body.results.map((m) => m.loyalty_id);
const link = (path: string, params: Record<string, string>) =>
  `${app.url}${path}?${new URLSearchParams(params).toString()}`;

describe("pagination", () => {
  it("links the first, middle and last pages with absolute URLs", async () => {
    const first = await list("?page_size=5");
    expect(first.status).toBe(200);
    expect(first.body.count).toBe(12);
    expect(ids(first)).toEqual(["m01", "m02", "m03", "m04", "m05"]);
    expect(first.body.previous).toBeNull();
    expect(first.body.next).toBe(link("/v1/members", { page_size: "5", page: "2" }));

    const middle = await app.request(
      "GET",
      new URL(first.body.next).pathname + new URL(first.body.next).search,
      {
        token: app.adminToken,
      },
    );
    expect(ids(middle)).toEqual(["m06", "m07", "m08", "m09", "m10"]);
    expect(middle.body.previous).toBe(link("/v1/members", { page_size: "5", page: "1" }));
    expect(middle.body.next).toBe(link("/v1/members", { page_size: "5", page: "3" }));

    const last = await list("?page_size=5&page=3");
    expect(ids(last)).toEqual(["m11", "m12"]);
    expect(last.body.next).toBeNull();
    expect(last.body.previous).toBe(link("/v1/members", { page_size: "5", page: "2" }));
  });

  it("keeps the other query parameters in the links", async () => {
    const res = await list("?ordering=-client_name&is_male=true&page_size=2");
    expect(res.body.count).toBe(4);
    expect(res.body.next).toBe(
      link("/v1/members", { ordering: "-client_name", is_male: "true", page_size: "2", page: "2" }),
    );
  });

  it("has one page with no links when everything fits", async () => {
    const res = await list();
    expect(res.body).toMatchObject({ count: 12, next: null, previous: null });
    expect(res.body.results).toHaveLength(12);
  });

  it("answers an empty page past the end, linking back to the last page", async () => {
    const res = await list("?page_size=5&page=9");
    expect(res.status).toBe(200);
    expect(res.body.results).toEqual([]);
    expect(res.body.next).toBeNull();
    expect(res.body.previous).toBe(link("/v1/members", { page_size: "5", page: "3" }));
  });

  it("gives every result its absolute url and the member's fields", async () => {
    const res = await list("?page_size=1");
    expect(res.body.results[0]).toEqual({
      loyalty_id: "m01",
      cardno: "300",
      discount: null,
      client_name: "delta",
      client_birthday: "1990-05-01",
      is_male: true,
      url: `${app.url}/v1/members/m01`,
    });
  });

  it.each(["page=0", "page=x", "page_size=0", "page_size=1001", "page_size=2.5"])("refuses %s", async (q) => {
    const res = await list(`?${q}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
  });

  it("allows page_size 1000 and defaults to 50", async () => {
    expect((await list("?page_size=1000")).status).toBe(200);
    const many = await app.request("POST", "/v1/members", {
      token: app.adminToken,
      body: Array.from({ length: 60 }, (_, i) => memberBody(`z${String(i).padStart(2, "0")}`)),
    });
    expect(many.status).toBe(201);
    const res = await list();
    expect(res.body.results).toHaveLength(50);
    expect(res.body.next).toBe(link("/v1/members", { page: "2", page_size: "50" }));
    await app.pool.query("DELETE FROM members WHERE loyalty_id LIKE 'z%'");
  });
});

/** What the contract promises: by the field (no value last), ties by loyalty_id; '-' reverses. */
function expectedOrder(field: (typeof ORDER_FIELDS)[number]): string[] {
  const key = (m: MemberBody) => (m[field] ?? null) as string | null;
  return [...MEMBERS]
    .sort((a, b) => {
      const [x, y] = [key(a), key(b)];
      if (x !== y) return x === null ? 1 : y === null ? -1 : x < y ? -1 : 1;
      return a.loyalty_id < b.loyalty_id ? -1 : 1;
    })
    .map((m) => m.loyalty_id);
}

describe("ordering", () => {
  it.each(ORDER_FIELDS)("by %s, ascending and descending", async (field) => {
    const expected = expectedOrder(field);
    expect(ids(await list(`?ordering=${field}`))).toEqual(expected);
    expect(ids(await list(`?ordering=-${field}`))).toEqual([...expected].reverse());
  });

  it.each(ORDER_FIELDS)("by %s within a search, both directions", async (field) => {
    const matching = new Set(MEMBERS.filter((m) => m.client_name.includes("a")).map((m) => m.loyalty_id));
    const expected = expectedOrder(field).filter((id) => matching.has(id));
    expect(ids(await list(`?search=a&ordering=${field}`))).toEqual(expected);
    expect(ids(await list(`?search=a&ordering=-${field}`))).toEqual([...expected].reverse());
  });

  it("is stable across pages when the field has ties", async () => {
    const expected = expectedOrder("client_name");
    const pages = await Promise.all(
      [1, 2, 3].map((p) => list(`?ordering=client_name&page_size=5&page=${p}`)),
    );
    expect(pages.flatMap(ids)).toEqual(expected);
  });

  it("defaults to loyalty_id", async () => {
    expect(ids(await list())).toEqual(expectedOrder("loyalty_id"));
  });

  it.each(["name", "client_name,loyalty_id", "+cardno", "--cardno", "discount"])("refuses %s", async (o) => {
    const res = await list(`?ordering=${encodeURIComponent(o)}`);
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.fields)).toEqual(["query.ordering"]);
  });
});

describe("search", () => {
  it("matches a case-insensitive substring of client_name", async () => {
    expect(ids(await list("?search=ALPHA"))).toEqual(["m02", "m05", "m10"]);
    expect(ids(await list("?search=lph"))).toEqual(["m02", "m05", "m10"]);
    expect(ids(await list("?search=Ar"))).toEqual(["m03", "m12"]);
  });

  it("matches a substring of cardno", async () => {
    expect(ids(await list("?search=25"))).toEqual(["m08"]);
    expect(ids(await list("?search=00"))).toEqual(["m01", "m03", "m04", "m05", "m07", "m10", "m12"]);
  });

  it("matches either field", async () => {
    await app.request("POST", "/v1/members", {
      token: app.adminToken,
      body: memberBody("s1", { client_name: "card 777 holder", cardno: "001" }),
    });
    const res = await list("?search=77");
    expect(ids(res)).toEqual(["s1"]);
    expect(ids(await list("?search=holder"))).toEqual(["s1"]);
    await app.request("DELETE", "/v1/members/s1", { token: app.adminToken });
  });

  it("combines with ordering, is_male and pagination", async () => {
    const res = await list("?search=a&ordering=-client_name&is_male=false&page_size=2");
    // names containing "a" among is_male=false (m02 alpha, m05 alpha, m08 delta, m11 golf has no "a")
    expect(res.body.count).toBe(3);
    expect(ids(res)).toEqual(["m08", "m05"]);
    expect(res.body.next).toContain("search=a");
  });

  it("answers an empty page when nothing matches", async () => {
    expect((await list("?search=zzz")).body).toEqual({ count: 0, next: null, previous: null, results: [] });
  });

  it("treats an empty search as no search", async () => {
    expect((await list("?search=&ordering=")).body.count).toBe(12);
  });

  it("refuses a search longer than 200 characters", async () => {
    expect((await list(`?search=${"a".repeat(201)}`)).status).toBe(400);
  });
});

describe("is_male filter", () => {
  it.each([
    ["true", true],
    ["false", false],
  ])("is_male=%s", async (query, value) => {
    const expected = MEMBERS.filter((m) => m.is_male === value).map((m) => m.loyalty_id);
    const res = await list(`?is_male=${query}`);
    expect(ids(res)).toEqual(expected);
    expect(res.body.count).toBe(expected.length);
  });

  it("lists members of unknown sex only without the filter", async () => {
    const res = await list();
    expect(res.body.results.filter((m: { is_male: unknown }) => m.is_male === null)).toHaveLength(4);
  });

  it.each(["yes", "1", "TRUE"])("refuses %s", async (v) => {
    expect((await list(`?is_male=${v}`)).status).toBe(400);
  });
});

describe("search escaping and the index", () => {
  let other: MembersHarness;
  beforeAll(async () => {
    other = await startMembersHarness({ PUBLIC_URL: "https://points.example/" });
    await other.app.request("POST", "/v1/members", {
      token: other.app.adminToken,
      body: [
        memberBody("e1", { client_name: "100% pure" }),
        memberBody("e2", { client_name: "1000 pure" }),
        memberBody("e3", { client_name: "snake_case" }),
        memberBody("e4", { client_name: "snakeXcase" }),
        memberBody("e5", { client_name: "back\\slash" }),
      ],
    });
  });
  afterAll(() => other?.stop());
  const search = async (s: string) =>
    ids(
      await other.app.request("GET", `/v1/members?search=${encodeURIComponent(s)}`, {
        token: other.app.adminToken,
      }),
    );

  it("takes % _ and \\ literally", async () => {
    expect(await search("%")).toEqual(["e1"]);
    expect(await search("0%")).toEqual(["e1"]);
    expect(await search("_")).toEqual(["e3"]);
    expect(await search("e_c")).toEqual(["e3"]);
    expect(await search("\\")).toEqual(["e5"]);
    expect(await search("pure")).toEqual(["e1", "e2"]);
  });

  it("builds links and urls on PUBLIC_URL when it is set", async () => {
    const res = await other.app.request("GET", "/v1/members?page_size=2", { token: other.app.adminToken });
    expect(res.body.next).toBe("https://points.example/v1/members?page_size=2&page=2");
    expect(res.body.results[0].url).toBe("https://points.example/v1/members/e1");
  });

  it("uses the trigram indexes for a search", async () => {
    const db = await other.app.pool.connect();
    try {
      await db.query("BEGIN");
      await db.query("SET LOCAL enable_seqscan = off"); // a tiny table would be scanned otherwise
      const { text, values } = listStatement(ListQuery.parse({ search: "pure" }));
      const plan = (await db.query(`EXPLAIN ${text}`, values)).rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(plan).toContain("members_client_name_trgm");
      expect(plan).toContain("members_cardno_trgm");
    } finally {
      await db.query("ROLLBACK");
      db.release();
    }
  });
});
