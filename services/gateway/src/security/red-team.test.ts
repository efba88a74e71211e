import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type MembersHarness, memberBody, startMembersHarness } from "../routes/members/members.test-support";
import type { TestApp } from "../test-app.test-support";

/** Issue 12, bug 7: inputs a red team found accepted, or answered outside the error envelope. */
let harness: MembersHarness;
let app: TestApp;

beforeAll(async () => {
  harness = await startMembersHarness();
  app = harness.app;
});
afterAll(() => harness?.stop());

/** A request with the path sent byte for byte (fetch would resolve dot segments first). */
function raw(
  method: string,
  path: string,
  token?: string,
): Promise<{ status: number; type: string; body: string }> {
  const { hostname, port } = new URL(app.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, method, path, headers: token ? { authorization: `Bearer ${token}` } : {} },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"] ?? "", body }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

const envelope = (body: string) => JSON.parse(body).error.code as string;

describe("ids that are path segments", () => {
  it.each([".", ".."])("refuses member id %j with 400, in a body and in a path", async (id) => {
    const created = await app.request("POST", "/v1/members", { token: app.adminToken, body: memberBody(id) });
    expect([created.status, Object.keys(created.body.error.fields)]).toEqual([400, ["loyalty_id"]]);
    const encoded = id.replaceAll(".", "%2E");
    const read = await raw("GET", `/v1/members/${encoded}`, app.adminToken);
    expect([read.status, envelope(read.body)]).toEqual([400, "validation_failed"]);
  });

  it.each([".", ".."])("refuses partner id %j with 400", async (id) => {
    const res = await app.request("POST", "/v1/partners", { token: app.adminToken, body: { id } });
    expect([res.status, Object.keys(res.body.error.fields)]).toEqual([400, ["id"]]);
  });
});

describe("text Postgres would change", () => {
  it("refuses a lone surrogate in client_name with 400 instead of storing U+FFFD", async () => {
    const res = await app.request("POST", "/v1/members", {
      token: app.adminToken,
      body: memberBody("surrogate", { client_name: "a\ud800b" }),
    });
    expect([res.status, Object.keys(res.body.error.fields)]).toEqual([400, ["client_name"]]);
    expect((await app.request("GET", "/v1/members/surrogate", { token: app.adminToken })).status).toBe(404);
  });
});

describe("every answer outside the docs page is JSON in the error envelope", () => {
  it.each([
    ["OPTIONS", "/v1/users/u1/spend"],
    ["OPTIONS", "/v1/users/u1/balance"],
    ["OPTIONS", "/v1/partners"],
    ["OPTIONS", "/v1/entries"],
  ])("%s %s", async (method, path) => {
    const res = await raw(method, path, app.adminToken);
    expect(res.type).toMatch(/^application\/json/);
    expect(envelope(res.body)).toBe("not_found");
  });

  it.each(["/docs/../..", "/docs/..", "/docs/%2E%2E/%2E%2E", "/docs/./x"])("GET %s", async (path) => {
    const res = await raw("GET", path);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.type).toMatch(/^application\/json/);
    expect(typeof envelope(res.body)).toBe("string");
  });
});
