import { gzipSync } from "node:zlib";
import { createTestEnv, type TestEnv } from "@points/testing";
import { Api, startStack, startTestGateway, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BODY_BYTES_MAX } from "../app";
import { MEMBERS_BODY_BYTES_MAX } from "../routes/members/schema";
import { type Answer, envelopeProblems, problemsOf, type Sent, send, sendRaw } from "./answers.test-support";

/**
 * Bounds on what a client can make the gateway hold: bodies (1 MiB, 16 MiB for POST /v1/members,
 * also after decompression and without a Content-Length), query strings and id lists, the request
 * line and headers (Node's 16 KiB), malformed HTTP; and the per-token rate limit. Every refusal is
 * a 4xx in the contract's envelope.
 */
let env: TestEnv;
let stack: TestStack;
let api: Api;
let port: number;
const admin = TEST_ADMIN_TOKEN;
let partner: string;
const MiB = 1024 * 1024;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  port = Number(new URL(stack.gateway.url).port);
  partner = (await api.createPartner("ACME")).token;
  await api.createPartner("GLOBEX");
  await api.createMember("alice");
  // An entry, so the DELETE below is refused (409) instead of removing alice.
  const earned = await api.call("POST", "/v1/users/alice/transactions", {
    token: admin,
    body: { payer: "GLOBEX", points: 1, timestamp: "2022-01-01T00:00:00Z" },
  });
  expect(earned.status).toBe(201);
});

afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

const json = { "content-type": "application/json", authorization: `Bearer ${admin}` };

async function expectRefused(sent: Sent, status: number, code: string): Promise<Answer> {
  const answer = await send(stack.gateway.url, sent);
  expect([answer.status, answer.text.slice(0, 200)]).toEqual([status, expect.stringContaining(`"${code}"`)]);
  expect(problemsOf(sent, answer)).toEqual([]);
  return answer;
}

/** A JSON object of exactly `bytes` bytes: {"pad":"xxx..."} */
const bodyOf = (bytes: number) => `{"pad":"${"x".repeat(bytes - 10)}"}`;

describe("request bodies", () => {
  const ONE_MIB_ROUTES = [
    ["POST", "/v1/partners"],
    ["POST", "/v1/partners/GLOBEX/tokens"],
    ["POST", "/v1/users/alice/transactions"],
    ["POST", "/v1/users/alice/spend"],
    ["POST", "/v1/entries"],
    ["POST", "/v1/inventory/00000000-0000-0000-0000-000000000000/use"],
    ["PUT", "/v1/members/alice"],
    ["PATCH", "/v1/members/alice"],
    ["DELETE", "/v1/members/alice"],
    ["POST", "/v1/members/alice/tokens"],
  ] as const;

  it.each(ONE_MIB_ROUTES)("%s %s refuses 1 MiB + 1 byte with 413, and reads 1 MiB", async (method, path) => {
    expect(BODY_BYTES_MAX).toBe(MiB);
    await expectRefused({ method, path, headers: json, body: bodyOf(MiB + 1) }, 413, "payload_too_large");
    const read = await send(stack.gateway.url, { method, path, headers: json, body: bodyOf(MiB) });
    expect(read.status, read.text.slice(0, 200)).not.toBe(413);
    expect(problemsOf({ method, path }, read)).toEqual([]);
  });

  it("takes up to 16 MiB on POST /v1/members, and refuses more with 413", async () => {
    expect(MEMBERS_BODY_BYTES_MAX).toBe(16 * MiB);
    const path = "/v1/members";
    await expectRefused(
      { method: "POST", path, headers: json, body: bodyOf(16 * MiB + 1) },
      413,
      "payload_too_large",
    );
    const read = await send(stack.gateway.url, {
      method: "POST",
      path,
      headers: json,
      body: bodyOf(2 * MiB),
    });
    expect([read.status, read.text.slice(0, 100)]).toEqual([
      400,
      expect.stringContaining("validation_failed"),
    ]);
  });

  it("bounds the decompressed size: a 20 MiB gzip bomb of a few KiB is 413", async () => {
    const bomb = gzipSync(Buffer.from(bodyOf(20 * MiB)));
    expect(bomb.length).toBeLessThan(100 * 1024);
    for (const path of ["/v1/users/alice/spend", "/v1/members"]) {
      await expectRefused(
        { method: "POST", path, headers: { ...json, "content-encoding": "gzip" }, body: bomb },
        413,
        "payload_too_large",
      );
    }
  });

  it("refuses an unknown content encoding with 415 and a broken gzip stream with 400", async () => {
    const path = "/v1/users/alice/spend";
    await expectRefused(
      { method: "POST", path, headers: { ...json, "content-encoding": "x-zip" }, body: '{"points":1}' },
      415,
      "unsupported_media_type",
    );
    await expectRefused(
      { method: "POST", path, headers: { ...json, "content-encoding": "gzip" }, body: '{"points":1}' },
      400,
      "validation_failed",
    );
  });

  it("bounds a chunked body without Content-Length (413 past 1 MiB)", async () => {
    const chunk = "x".repeat(64 * 1024);
    const chunks = Array.from({ length: 20 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join("");
    const answer = await sendRaw(
      port,
      `POST /v1/users/alice/spend HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${admin}\r\n` +
        `Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n` +
        `${"1\r\n{\r\n"}${chunks}0\r\n\r\n`,
    );
    expect(answer.status).toBe(413);
    expect(envelopeProblems(answer)).toEqual([]);
  });
});

describe("query strings and id lists", () => {
  it("refuses a long search (8 KiB) with 400 in the envelope", async () => {
    await expectRefused(
      { method: "GET", path: `/v1/members?search=${"a".repeat(8 * 1024)}`, headers: json },
      400,
      "validation_failed",
    );
  });

  it("refuses more than 1,000 user ids and more than 100 authority ids with 400", async () => {
    const ids = (n: number, p: string) => Array.from({ length: n }, (_, i) => `${p}${i}`).join(",");
    await expectRefused(
      { method: "GET", path: `/v1/wallets?user_ids=${ids(1_001, "u")}`, headers: json },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "GET", path: `/v1/wallets?user_ids=alice&authority_ids=${ids(101, "A")}`, headers: json },
      400,
      "validation_failed",
    );
    await expectRefused(
      { method: "GET", path: `/v1/inventory?entry_ids=${ids(1_001, "e")}`, headers: json },
      400,
      "validation_failed",
    );
    const ok = await send(stack.gateway.url, {
      method: "GET",
      path: `/v1/wallets?user_ids=${ids(1_000, "u")}`,
      headers: json,
    });
    expect(ok.status).toBe(200);
  });

  it("answers 1,500 query parameters with a 2xx or a 4xx in the envelope", async () => {
    const many = Array.from({ length: 1_500 }, (_, i) => `p${i}=1`).join("&");
    for (const path of [
      `/v1/members?${many}`,
      `/v1/wallets?user_ids=alice&${many}`,
      `/v1/users/alice/entries?${many}`,
    ]) {
      const sent = { method: "GET", path, headers: json };
      expect(problemsOf(sent, await send(stack.gateway.url, sent))).toEqual([]);
    }
  });

  // Node refuses a request line plus headers past 16 KiB (--max-http-header-size) before express
  // sees it. It must still be an answer in the envelope, not a bare status line.
  it("answers a 20 KiB query string in the envelope", async () => {
    const answer = await send(stack.gateway.url, {
      method: "GET",
      path: `/v1/members?search=${"a".repeat(20 * 1024)}`,
      headers: json,
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(envelopeProblems(answer)).toEqual([]);
  });

  it("answers 1,000 user ids of 50 characters (documented as allowed, 50 KiB of URL) in the envelope", async () => {
    const ids = Array.from({ length: 1_000 }, (_, i) => String(i).padStart(50, "u")).join(",");
    const answer = await send(stack.gateway.url, {
      method: "GET",
      path: `/v1/wallets?user_ids=${ids}`,
      headers: json,
    });
    expect(answer.status).toBeLessThan(500);
    if (answer.status >= 400) expect(envelopeProblems(answer)).toEqual([]);
  });

  it("answers headers past the 64 KiB limit in the envelope", async () => {
    const answer = await send(stack.gateway.url, {
      method: "GET",
      path: "/v1/members/alice",
      headers: { ...json, "x-padding": "p".repeat(80 * 1024) },
    });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(envelopeProblems(answer)).toEqual([]);
  });
});

describe("malformed HTTP", () => {
  const auth = `Authorization: Bearer ${admin}\r\n`;
  const RAW: [string, string][] = [
    [
      "a CR inside a header value",
      `GET /v1/members/alice HTTP/1.1\r\nHost: x\r\n${auth}X-A: a\rX-Injected: 1\r\n\r\n`,
    ],
    ["a NUL in the path", `GET /v1/members/a\u0000b HTTP/1.1\r\nHost: x\r\n${auth}\r\n`],
    ["a space in the path", `GET /v1/members/a b HTTP/1.1\r\nHost: x\r\n${auth}\r\n`],
    ["raw UTF-8 in the path", `GET /v1/members/\u00e9 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`],
    ["an unknown method", `FOO /v1/members HTTP/1.1\r\nHost: x\r\n${auth}\r\n`],
    ["a bad HTTP version", `GET /v1/members HTTP/9.9\r\nHost: x\r\n${auth}\r\n`],
    ["a header without a colon", `GET /v1/members HTTP/1.1\r\nHost: x\r\n${auth}Nonsense\r\n\r\n`],
    ["an invalid header name", `GET /v1/members HTTP/1.1\r\nHost: x\r\n${auth}Bad Name: 1\r\n\r\n`],
    [
      "Content-Length and Transfer-Encoding together (request smuggling)",
      `POST /v1/users/alice/spend HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n`,
    ],
    [
      "two different Content-Lengths",
      `POST /v1/users/alice/spend HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n{"points":1}`,
    ],
    [
      "a bad chunk size",
      `POST /v1/users/alice/spend HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    ],
    [
      "20 KiB of request line",
      `GET /v1/members?search=${"a".repeat(20 * 1024)} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    ],
  ];

  it.each(RAW)("%s: a 4xx in the envelope, and the server stays up", async (_name, request) => {
    const answer = await sendRaw(port, Buffer.from(request, "latin1"));
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(envelopeProblems(answer)).toEqual([]);
    expect(Object.keys(answer.headers).filter((h) => h.startsWith("x-injected"))).toEqual([]);
    expect((await api.call("GET", "/health")).status).toBe(200);
  });
});

describe("rate limit", () => {
  it("answers 429 with Retry-After per partner token, for writes too, and applies nothing it refused", async () => {
    const limited = await startTestGateway(env, { RATE_LIMIT_PER_SECOND: "1", RATE_LIMIT_BURST: "3" });
    try {
      const client = new Api(limited.url);
      const earn = (token: string, payer: string) =>
        client.call("POST", "/v1/users/alice/transactions", {
          token,
          body: { payer, points: 1, timestamp: "2022-01-01T00:00:00Z" },
        });
      const answers = [];
      for (let i = 0; i < 8; i++) answers.push(await earn(partner, "ACME"));
      const refused = answers.filter((a) => a.status === 429);
      const applied = answers.filter((a) => a.status === 201);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect(applied.length + refused.length).toBe(answers.length);
      for (const r of refused) {
        expect(r.body).toEqual({ error: { code: "rate_limited", message: expect.any(String) } });
        expect(r.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      }
      const balance = await client.call("GET", "/v1/users/alice/balance", { token: admin });
      expect(balance.body.ACME).toBe(applied.length);
      // Another token has its own bucket; the admin has none.
      const globex = (await api.call("POST", "/v1/partners/GLOBEX/tokens", { token: admin })).body.token;
      expect((await earn(globex, "GLOBEX")).status).toBe(201);
      for (let i = 0; i < 5; i++) expect((await earn(admin, "ACME")).status).toBe(201);
    } finally {
      await limited.stop();
    }
  });

  it("limits Postgres lookups of unknown tokens per client address, not cached or admin tokens", async () => {
    const limited = await startTestGateway(env, { AUTH_LOOKUPS_PER_SECOND: "1", AUTH_LOOKUPS_BURST: "3" });
    try {
      const client = new Api(limited.url);
      const read = (token: string) => client.call("GET", "/v1/users/alice/balance", { token });
      await new Promise((r) => setTimeout(r, 1_100)); // the gateway's own start-up may have used some
      const known = (await api.call("POST", "/v1/members/alice/tokens", { token: admin })).body.token;
      expect((await read(known)).status).toBe(200); // looked up once, cached from now on
      const made = [];
      for (let i = 0; i < 6; i++) made.push(await read(`mt_made-up-${i}`));
      const statuses = made.map((a) => a.status);
      expect(statuses.slice(0, 2)).toEqual([401, 401]);
      expect(statuses.slice(3)).toEqual([429, 429, 429]);
      for (const r of made.filter((a) => a.status === 429)) {
        expect(r.body.error.code).toBe("rate_limited");
        expect(r.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      }
      // A cached token and the admin token need no lookup and are not held back.
      expect((await read(known)).status).toBe(200);
      expect((await read(admin)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });
});
