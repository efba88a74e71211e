import type { IncomingMessage, ServerResponse } from "node:http";
import { redisKeys } from "@points/shared";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { balanceFastPath } from "./balance-fast-path";
import { RateLimiter } from "./rate-limit";
import { memberBody, startMembersHarness } from "./routes/members/members.test-support";
import type { TestApp } from "./test-app.test-support";

/**
 * The fast path answers only the happy path and leaves every other request, untouched, to the
 * express app; through HTTP, both give the same answers.
 */
let app: TestApp;
let stop: () => Promise<void>;
let own: string;
let partner: string;
const CACHED = '{"DANNON":700,"UNILEVER":300}';

beforeAll(async () => {
  const harness = await startMembersHarness({ RATE_LIMIT_PER_SECOND: "1", RATE_LIMIT_BURST: "2" });
  app = harness.app;
  stop = harness.stop;
  const seeded = await app.request("POST", "/v1/members", {
    token: app.adminToken,
    body: ["fp-own", "fp-other", "fp-uncached", "fp-limited"].map((id) => memberBody(id)),
  });
  expect(seeded.status).toBe(201);
  own = await app.memberToken("fp-own");
  partner = await app.partnerToken("DANNON");
  // A token is known without Postgres once the general path has authenticated it.
  for (const token of [own, partner]) await app.request("GET", "/v1/users/fp-own/balance", { token });
  const keys = redisKeys(app.ctx.config.REDIS_KEY_PREFIX);
  for (const id of ["fp-own", "fp-other", "fp-limited"])
    await app.ctx.redis.set(keys.balance(id), `7:${CACHED}`);
  await app.ctx.redis.del(keys.balance("fp-uncached"));
});
afterAll(() => stop?.());

interface Captured {
  status?: number;
  headers?: Record<string, unknown>;
  body?: string;
}

async function tryFast(
  method: string,
  url: string,
  headers: Record<string, string>,
  limiter = new RateLimiter(1_000, 1_000),
): Promise<{ answered: boolean; captured: Captured; observed: number }> {
  const captured: Captured = {};
  let observed = 0;
  const fast = balanceFastPath(app.ctx, limiter, () => observed++);
  const req = { method, url, headers } as unknown as IncomingMessage;
  const res = {
    writeHead: (status: number, h: Record<string, unknown>) =>
      Object.assign(captured, { status, headers: h }),
    end: (body: string) => Object.assign(captured, { body }),
  } as unknown as ServerResponse;
  return { answered: await (fast(req, res) || false), captured, observed };
}

describe("balance fast path", () => {
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it("answers the admin and the member itself from the cache, with the general path's headers", async () => {
    for (const headers of [bearer(app.adminToken), bearer(own)]) {
      const { answered, captured, observed } = await tryFast("GET", "/v1/users/fp-own/balance", headers);
      expect(answered).toBe(true);
      expect(captured).toEqual({
        status: 200,
        headers: { "content-type": "application/json; charset=utf-8", "content-length": CACHED.length },
        body: CACHED,
      });
      expect(observed).toBe(1);
    }
  });

  type Who = "admin" | "member" | "partner" | "nobody";
  const tokenOf = (who: Who) => ({ admin: app.adminToken, member: own, partner, nobody: undefined })[who];
  const declined: [string, Who, string, string, Record<string, string>][] = [
    ["another member's balance", "member", "GET", "/v1/users/fp-other/balance", {}],
    ["a partner (may not read balances)", "partner", "GET", "/v1/users/fp-own/balance", {}],
    ["no token", "nobody", "GET", "/v1/users/fp-own/balance", {}],
    ["a token never seen (needs Postgres)", "nobody", "GET", "/v1/users/fp-own/balance", bearer("mt_never")],
    [
      "a malformed Authorization header",
      "nobody",
      "GET",
      "/v1/users/fp-own/balance",
      { authorization: "Basic x" },
    ],
    ["a cache miss", "admin", "GET", "/v1/users/fp-uncached/balance", {}],
    ["a percent-encoded id", "admin", "GET", "/v1/users/fp%2Down/balance", {}],
    ["a query string", "admin", "GET", "/v1/users/fp-own/balance?x=1", {}],
    ["a trailing slash", "admin", "GET", "/v1/users/fp-own/balance/", {}],
    ["an id over 50 characters", "admin", "GET", `/v1/users/${"a".repeat(51)}/balance`, {}],
    ["HEAD", "admin", "HEAD", "/v1/users/fp-own/balance", {}],
    ["POST", "admin", "POST", "/v1/users/fp-own/balance", {}],
    ["a GET with a body", "admin", "GET", "/v1/users/fp-own/balance", { "content-length": "2" }],
    [
      "a GET with a chunked body",
      "admin",
      "GET",
      "/v1/users/fp-own/balance",
      { "transfer-encoding": "chunked" },
    ],
  ];
  it.each(declined)("leaves %s to express, writing nothing", async (_name, who, method, url, extra) => {
    const token = tokenOf(who);
    const headers = { ...(token ? bearer(token) : {}), ...extra };
    const { answered, captured, observed } = await tryFast(method, url, headers);
    expect(answered).toBe(false);
    expect(captured).toEqual({});
    expect(observed).toBe(0);
  });

  it("leaves a request to express once the token's rate bucket is empty", async () => {
    const limiter = new RateLimiter(0.001, 1);
    const first = await tryFast("GET", "/v1/users/fp-own/balance", bearer(own), limiter);
    const second = await tryFast("GET", "/v1/users/fp-own/balance", bearer(own), limiter);
    expect([first.answered, second.answered]).toEqual([true, false]);
  });
});

describe("GET balance through HTTP", () => {
  it("gives the same answer on the fast path and the general one", async () => {
    const fast = await app.request("GET", "/v1/users/fp-own/balance", { token: app.adminToken });
    // A query string sends the same read through express.
    const general = await app.request("GET", "/v1/users/fp-own/balance?via=express", {
      token: app.adminToken,
    });
    for (const res of [fast, general]) {
      expect(res.status).toBe(200);
      expect(res.body).toEqual(JSON.parse(CACHED));
      expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    }
  });

  it("fills the cache on a miss and answers from it afterwards", async () => {
    const first = await app.request("GET", "/v1/users/fp-uncached/balance", { token: app.adminToken });
    expect(first).toMatchObject({ status: 200, body: {} });
    const keys = redisKeys(app.ctx.config.REDIS_KEY_PREFIX);
    // "<seq>:<staleAt>:<json>": nothing of it expires, so no stale instant.
    expect(await app.ctx.redis.get(keys.balance("fp-uncached"))).toBe("0::{}");
  });

  it("never answers a cached balance at or after its next expiry (contract 6.1)", async () => {
    const keys = redisKeys(app.ctx.config.REDIS_KEY_PREFIX);
    const stale = `9:${Date.now() - 1}:${CACHED}`;
    const fresh = `9:${Date.now() + 3_600_000}:${CACHED}`;
    await app.ctx.redis.set(keys.balance("fp-other"), fresh);
    expect(
      (await tryFast("GET", "/v1/users/fp-other/balance", { authorization: `Bearer ${app.adminToken}` }))
        .answered,
    ).toBe(true);
    await app.ctx.redis.set(keys.balance("fp-other"), stale);
    const declined = await tryFast("GET", "/v1/users/fp-other/balance", {
      authorization: `Bearer ${app.adminToken}`,
    });
    expect([declined.answered, declined.captured]).toEqual([false, {}]);
    // The general path reads Postgres instead (this member has no points) and caches that.
    const read = await app.request("GET", "/v1/users/fp-other/balance", { token: app.adminToken });
    expect([read.status, read.body]).toEqual([200, {}]);
    await app.ctx.redis.set(keys.balance("fp-other"), `7:${CACHED}`);
  });

  it("keeps one rate bucket per token across both paths (burst 2, then 429 with Retry-After)", async () => {
    const limited = await app.memberToken("fp-limited");
    // The first request authenticates through express (and takes a token); the second is fast.
    const statuses: number[] = [];
    let last: Awaited<ReturnType<TestApp["request"]>> | undefined;
    for (let i = 0; i < 3; i++) {
      last = await app.request("GET", "/v1/users/fp-limited/balance", { token: limited });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(last?.body.error.code).toBe("rate_limited");
    expect(Number(last?.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
  });

  it("renders errors through express: another member's balance is 403, an unknown member 404", async () => {
    const other = await app.request("GET", "/v1/users/fp-other/balance", { token: own });
    expect(other.status).toBe(403);
    expect(other.body.error.code).toBe("forbidden");
    const missing = await app.request("GET", "/v1/users/nobody/balance", { token: app.adminToken });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("not_found");
  });
});
