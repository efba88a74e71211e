import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestApp } from "../../test-app.test-support";
import { type MembersHarness, memberBody, memberPath, startMembersHarness } from "./members.test-support";

/** Every field rule of the contract, each as an accepted and a refused value, plus OPTIONS. */
let harness: MembersHarness;
let app: TestApp;

beforeAll(async () => {
  harness = await startMembersHarness();
  app = harness.app;
});
afterAll(() => harness?.stop());

let seq = 0;
const nextId = () => `f${++seq}`;
const post = (body: unknown) => app.request("POST", "/v1/members", { token: app.adminToken, body });
const get = (id: string) => app.request("GET", memberPath(id), { token: app.adminToken });
const dayOffset = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

async function expectRefused(fields: Record<string, unknown>, field: string) {
  const id = nextId();
  const res = await post({ ...memberBody(id), ...fields });
  expect(res.status, JSON.stringify(fields)).toBe(400);
  expect(res.body.error.code).toBe("validation_failed");
  expect(Object.keys(res.body.error.fields), JSON.stringify(res.body)).toEqual([field]);
  expect(res.body.error.fields[field][0]).toEqual(expect.any(String));
  expect((await get(id)).status).toBe(404);
}

async function stored(fields: Record<string, unknown>) {
  const id = typeof fields.loyalty_id === "string" ? fields.loyalty_id : nextId();
  const res = await post({ ...memberBody(id), ...fields });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return (await get(id)).body;
}

describe("loyalty_id", () => {
  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["51 characters", "x".repeat(51)],
    ["a slash", "a/b"],
    ["a question mark", "a?b"],
    ["a control character", "a\tb"],
    ["a number", 42],
    ["null", null],
  ])("refuses %s", async (_name, loyalty_id) => {
    const res = await post({ ...memberBody("x"), loyalty_id });
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.fields)).toEqual(["loyalty_id"]);
  });

  it("accepts 50 characters", async () => {
    const id = "y".repeat(50);
    expect((await stored({ loyalty_id: id })).loyalty_id).toBe(id);
  });
});

describe("cardno", () => {
  it("accepts up to 20 characters, and null", async () => {
    expect((await stored({ cardno: "1".repeat(20) })).cardno).toBe("1".repeat(20));
    expect((await stored({ cardno: null })).cardno).toBeNull();
  });
  it.each([
    ["21 characters", "1".repeat(21)],
    ["a number", 12345],
    ["a NUL character", "12\u000034"],
  ])("refuses %s", (_name, cardno) => expectRefused({ cardno }, "cardno"));
});

describe("discount", () => {
  it.each([
    ["12.5", "12.5000"],
    ["-3.25", "-3.2500"],
    ["0", "0.0000"],
    ["9999999999999999.9999", "9999999999999999.9999"],
    [12.5, "12.5000"],
    [7, "7.0000"],
    [123456789012.345, "123456789012.3450"],
    [null, null],
  ])("stores %j as %j", async (discount, expected) => {
    expect((await stored({ discount })).discount).toBe(expected);
  });

  it.each([
    ["5 fraction digits", "12.34567"],
    ["17 integer digits", "12345678901234567"],
    ["letters", "abc"],
    ["an exponent", "1e5"],
    ["a bare point", "1."],
    ["a JSON number with 16 significant digits", 1234567890123.456],
    ["a JSON number with 5 fraction digits", 0.00001],
    ["a boolean", true],
  ])("refuses %s", (_name, discount) => expectRefused({ discount }, "discount"));

  it("refuses a JSON number that parsing would round, rather than store another value", async () => {
    const raw =
      '{"loyalty_id":"raw-number","client_name":"r","client_birthday":"1990-01-01","discount":1234567890123456.7891}';
    const res = await post(raw);
    expect(res.status).toBe(400);
    expect(Object.keys(res.body.error.fields)).toEqual(["discount"]);
  });
});

describe("client_name", () => {
  it("accepts 1 to 200 characters, counted as characters not UTF-16 units", async () => {
    expect((await stored({ client_name: "J" })).client_name).toBe("J");
    expect((await stored({ client_name: "n".repeat(200) })).client_name).toHaveLength(200);
    const emoji = "😀".repeat(200);
    expect((await stored({ client_name: emoji })).client_name).toBe(emoji);
  });
  it.each([
    ["missing", undefined],
    ["empty", ""],
    ["201 characters", "n".repeat(201)],
    ["null", null],
    ["a NUL character", "a\u0000b"],
    ["a number", 5],
  ])("refuses %s", (_name, client_name) => expectRefused({ client_name }, "client_name"));
});

describe("client_birthday", () => {
  it("accepts a past date, a leap day and today", async () => {
    expect((await stored({ client_birthday: "2000-02-29" })).client_birthday).toBe("2000-02-29");
    expect((await stored({ client_birthday: "0001-01-01" })).client_birthday).toBe("0001-01-01");
    const today = dayOffset(0);
    expect((await stored({ client_birthday: today })).client_birthday).toBe(today);
  });
  it.each([
    ["missing", undefined],
    ["a future date", dayOffset(2)],
    ["not YYYY-MM-DD", "31/01/1990"],
    ["a date-time", "1990-01-31T00:00:00Z"],
    ["month 13", "1990-13-01"],
    ["February 30", "1990-02-30"],
    ["a non-leap February 29", "1900-02-29"],
    ["year 0000", "0000-01-01"],
    ["null", null],
  ])("refuses %s", (_name, client_birthday) => expectRefused({ client_birthday }, "client_birthday"));
});

describe("is_male", () => {
  it.each([true, false, null])("stores %j", async (is_male) => {
    expect((await stored({ is_male })).is_male).toBe(is_male);
  });
  it("is optional", async () => {
    const id = nextId();
    await post(memberBody(id));
    expect((await get(id)).body.is_male).toBeNull();
  });
  it.each([
    ["a string", "true"],
    ["a number", 1],
  ])("refuses %s", (_name, is_male) => expectRefused({ is_male }, "is_male"));
});

describe("the body as a whole", () => {
  it("refuses unknown fields by name", () => expectRefused({ nickname: "x" }, "nickname"));

  it("accepts and ignores the read-only url", async () => {
    const member = await stored({ url: "https://elsewhere.example/v1/members/zzz" });
    expect(member.url).toBe(`${app.url}/v1/members/${member.loyalty_id}`);
  });

  it("reports every invalid field at once", async () => {
    const res = await post({ loyalty_id: "", client_name: "", client_birthday: "soon", is_male: "no" });
    expect(Object.keys(res.body.error.fields).sort()).toEqual([
      "client_birthday",
      "client_name",
      "is_male",
      "loyalty_id",
    ]);
  });

  it.each([
    ["a string", "member"],
    ["a number", 42],
    ["null", null],
  ])("refuses %s as the body", async (_n, body) => {
    const res = await post(JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe("validation_failed");
  });

  it("refuses malformed JSON with 400 and a body that is not JSON with 415", async () => {
    expect((await post("{ not json")).status).toBe(400);
    const form = await app.request("POST", "/v1/members", {
      token: app.adminToken,
      body: "loyalty_id=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(form.status).toBe(415);
    expect(form.body.error.code).toBe("unsupported_media_type");
  });
});

describe("OPTIONS", () => {
  const fields = {
    loyalty_id: { type: "string", required: true, read_only: false, max_length: 50 },
    cardno: { type: "string", required: false, read_only: false, max_length: 20 },
    discount: { type: "decimal", required: false, read_only: false, max_digits: 20, decimal_places: 4 },
    client_name: { type: "string", required: true, read_only: false, max_length: 200 },
    client_birthday: { type: "date", required: true, read_only: false },
    is_male: { type: "boolean", required: false, read_only: false },
    url: { type: "url", required: false, read_only: true },
  };

  it("describes the POST fields of the list", async () => {
    const res = await app.request("OPTIONS", "/v1/members", { token: app.adminToken });
    expect(res.status).toBe(200);
    expect(res.headers.get("allow")).toBe("GET, HEAD, POST, OPTIONS");
    expect(res.body).toMatchObject({ name: expect.any(String), actions: { POST: fields } });
    expect(Object.keys(res.body.actions.POST)).toEqual(Object.keys(fields));
    expect(res.body.actions.POST.client_birthday).not.toHaveProperty("max_length");
  });

  it("describes the PUT fields of one member", async () => {
    const res = await app.request("OPTIONS", memberPath("anyone"), { token: app.adminToken });
    expect(res.status).toBe(200);
    expect(res.headers.get("allow")).toBe("GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
    expect(res.body).toMatchObject({ name: expect.any(String), actions: { PUT: fields } });
  });

  it("needs a token", async () => {
    expect((await app.request("OPTIONS", "/v1/members")).status).toBe(401);
  });
});
