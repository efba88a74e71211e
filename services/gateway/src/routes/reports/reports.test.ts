import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Contract 7 and 8 over HTTP against real Kafka/Postgres/Redis: every field of the payer report
 * and the row identity on a scripted sequence (earns, a negative, a spend, both reversals, a
 * hold, an expiry), the CSV, the members report's order and pages, the daily rows, permissions.
 * This file's database is its own, so the payers PA and PB hold exactly the scripted points.
 */
let env: TestEnv;
let stack: TestStack;
let api: Api;
const admin = TEST_ADMIN_TOKEN;
const tokens: Record<string, string> = {};
const today = () => new Date().toISOString().slice(0, 10);
const yesterday = () => new Date(Date.now() - 24 * 3600 * 1000).toISOString().slice(0, 10);
const FIGURES = ["earned", "adjusted", "spent", "spend_reversed", "earn_reversed", "expired"] as const;

const earn = async (user: string, payer: string, points: number, extra: object = {}) => {
  const res = await api.call("POST", `/v1/users/${user}/transactions`, {
    token: admin,
    body: { payer, points, timestamp: "2022-01-01T00:00:00Z", ...extra },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.entry_id as string;
};
const post = async (path: string, body: object, status: number) => {
  const res = await api.call("POST", path, { token: admin, body });
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  return res.body;
};

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  for (const id of ["PA", "PB"]) tokens[id] = (await api.createPartner(id)).token;
  for (const id of ["m1", "m2", "m3", "m4"]) await api.createMember(id);
  tokens.m1 = await api.memberToken("m1");
  // m1: PA 100, PB 50; a negative of PA 10; a spend of 30 (PA's); 10 of it returned.
  await earn("m1", "PA", 100);
  await earn("m1", "PB", 50, { timestamp: "2022-01-02T00:00:00Z" });
  await earn("m1", "PA", -10, { timestamp: "2022-01-03T00:00:00Z" });
  await post("/v1/users/m1/spend", { points: 30 }, 200);
  const spendId = (await api.call("GET", "/v1/users/m1/entries", { token: admin })).body.results[0].entry_id;
  await post(`/v1/users/m1/entries/${spendId}/reversals`, { points: 10 }, 201);
  // m2: PA 40, 15 of it cancelled, 5 held.
  const m2Earn = await earn("m2", "PA", 40);
  await post(`/v1/users/m2/entries/${m2Earn}/reversals`, { points: 15 }, 201);
  await post("/v1/users/m2/holds", { points: 5, ttl_s: 604_800 }, 201);
  // m3: PB 20 already expired when applied (recorded by m3's next command at the latest), then 7.
  await earn("m3", "PB", 20, { expires_at: "2022-06-01T00:00:00Z" });
  await earn("m3", "PB", 7);
  await earn("m4", "PB", 7);
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const EXPECTED = {
  PA: {
    opening: 0,
    earned: 140,
    adjusted: 10,
    spent: 30,
    spend_reversed: 10,
    earn_reversed: 15,
    expired: 0,
    closing: 95,
    held: 5,
  },
  PB: {
    opening: 0,
    earned: 84,
    adjusted: 0,
    spent: 0,
    spend_reversed: 0,
    earn_reversed: 0,
    expired: 20,
    closing: 64,
    held: 0,
  },
};

describe("GET /v1/reports/payers", () => {
  it("gives every figure per payer, and each row satisfies the identity", async () => {
    const res = await api.call("GET", `/v1/reports/payers?from=${today()}&to=${today()}`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      from: today(),
      to: today(),
      payers: [
        { payer: "PA", ...EXPECTED.PA },
        { payer: "PB", ...EXPECTED.PB },
      ],
    });
    for (const row of res.body.payers) {
      const moved =
        row.earned - row.adjusted - row.spent + row.spend_reversed - row.earn_reversed - row.expired;
      expect(row.closing, row.payer).toBe(row.opening + moved);
    }
  });

  it("closes at the members' balances plus held points", async () => {
    const res = await api.call("GET", "/v1/reports/payers", { token: admin });
    expect([res.body.from, res.body.to]).toEqual([today(), today()]);
    let balances = 0;
    for (const user of ["m1", "m2", "m3", "m4"]) {
      const bal = await api.call("GET", `/v1/users/${user}/balance`, { token: admin });
      for (const points of Object.values(bal.body as Record<string, number>)) balances += points;
    }
    const held = res.body.payers.reduce((s: number, r: { held: number }) => s + r.held, 0);
    const closing = res.body.payers.reduce((s: number, r: { closing: number }) => s + r.closing, 0);
    expect([balances, held, closing]).toEqual([154, 5, 159]);
  });

  it("moves the figures out of a period that ends before them into the next one's opening", async () => {
    const before = await api.call("GET", `/v1/reports/payers?from=${yesterday()}&to=${yesterday()}`, {
      token: admin,
    });
    for (const row of before.body.payers) {
      expect(row, row.payer).toMatchObject({ opening: 0, closing: 0, held: 0 });
      for (const f of FIGURES) expect(row[f], `${row.payer} ${f}`).toBe(0);
    }
  });

  it("answers the same rows as CSV with a header line", async () => {
    const res = await api.call("GET", `/v1/reports/payers?from=${today()}&to=${today()}`, {
      token: admin,
      headers: { accept: "text/csv" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
    const line = (p: "PA" | "PB") =>
      ["opening", ...FIGURES, "closing", "held"].map((k) => EXPECTED[p][k as "held"]);
    expect(res.body).toBe(
      [
        "payer,opening,earned,adjusted,spent,spend_reversed,earn_reversed,expired,closing,held",
        ["PA", ...line("PA")].join(","),
        ["PB", ...line("PB")].join(","),
        "",
      ].join("\r\n"),
    );
  });

  it("refuses a reversed or future period", async () => {
    for (const q of [
      `from=${today()}&to=${yesterday()}`,
      "to=2999-01-01",
      "from=2022-02-30",
      "from=20220101",
    ]) {
      const res = await api.call("GET", `/v1/reports/payers?${q}`, { token: admin });
      expect([res.status, res.body.error.code], q).toEqual([400, "validation_failed"]);
    }
  });
});

describe("GET /v1/reports/payers/{payer}/members", () => {
  it("lists the members holding the payer's points, most first, then user_id, in pages", async () => {
    const pa = await api.call("GET", "/v1/reports/payers/PA/members", { token: admin });
    expect(pa.body).toEqual({
      count: 2,
      next: null,
      previous: null,
      results: [
        { user_id: "m1", outstanding: 70 },
        { user_id: "m2", outstanding: 25 },
      ],
    });
    const first = await api.call("GET", "/v1/reports/payers/PB/members?page_size=2", { token: admin });
    expect(first.body.count).toBe(3);
    expect(first.body.results).toEqual([
      { user_id: "m1", outstanding: 50 },
      { user_id: "m3", outstanding: 7 },
    ]);
    expect(first.body.next).toMatch(/page=2/);
    const second = await api.call("GET", "/v1/reports/payers/PB/members?page_size=2&page=2", {
      token: admin,
    });
    expect(second.body.results).toEqual([{ user_id: "m4", outstanding: 7 }]);
    const early = await api.call("GET", "/v1/reports/payers/PB/members?as_of=2022-01-01T00:00:00Z", {
      token: admin,
    });
    expect(early.body).toMatchObject({ count: 0, results: [] });
    const future = await api.call("GET", "/v1/reports/payers/PB/members?as_of=2999-01-01T00:00:00Z", {
      token: admin,
    });
    expect(future.status).toBe(400);
  });
});

describe("GET /v1/reports/payers/{payer}/daily", () => {
  it("gives each UTC day's movements and closing", async () => {
    const res = await api.call("GET", `/v1/reports/payers/PA/daily?from=${yesterday()}&to=${today()}`, {
      token: admin,
    });
    expect(res.status).toBe(200);
    const { opening: _o, held: _h, ...pa } = EXPECTED.PA;
    expect(res.body).toEqual([
      {
        day: yesterday(),
        earned: 0,
        adjusted: 0,
        spent: 0,
        spend_reversed: 0,
        earn_reversed: 0,
        expired: 0,
        closing: 0,
      },
      { day: today(), ...pa },
    ]);
  });
});

describe("report permissions (contract 5)", () => {
  it("shows a partner only its own row, members list and days; members nothing", async () => {
    const own = await api.call("GET", `/v1/reports/payers?from=${today()}&to=${today()}`, {
      token: tokens.PA,
    });
    expect(own.body.payers).toEqual([{ payer: "PA", ...EXPECTED.PA }]);
    const csv = await api.call("GET", `/v1/reports/payers?from=${today()}`, {
      token: tokens.PA,
      headers: { accept: "text/csv" },
    });
    expect(csv.body.split("\r\n").filter(Boolean)).toHaveLength(2);
    expect((await api.call("GET", "/v1/reports/payers/PA/members", { token: tokens.PA })).status).toBe(200);
    expect((await api.call("GET", "/v1/reports/payers/PA/daily", { token: tokens.PA })).status).toBe(200);
    for (const path of ["/v1/reports/payers/PB/members", "/v1/reports/payers/PB/daily"]) {
      const res = await api.call("GET", path, { token: tokens.PA });
      expect([res.status, res.body.error.code], path).toEqual([403, "forbidden"]);
    }
    for (const path of [
      "/v1/reports/payers",
      "/v1/reports/payers/PA/members",
      "/v1/reports/payers/PA/daily",
    ]) {
      const res = await api.call("GET", path, { token: tokens.m1 });
      expect([res.status, res.body.error.code], path).toEqual([403, "forbidden"]);
      expect((await api.call("GET", path)).status).toBe(401);
    }
  });
});
