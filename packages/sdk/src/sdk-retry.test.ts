import net from "node:net";
import { type RunningLedger, startLedger } from "@points/ledger/ledger";
import { LedgerConfig, parseConfig } from "@points/shared";
import { createLogger } from "@points/shared/logger";
import { createTestEnv, type TestEnv } from "@points/testing";
import { Api, startStack, startTestGateway, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WalletClient } from "./client.js";
import { WalletAPIError } from "./errors.js";
import { type ProxyMode, startProxy, type TestProxy } from "./test-proxy.js";

/**
 * Retries against the real stack, through a TCP proxy that loses answers or fakes 503s. The
 * point: a retried call is applied once, because its Idempotency-Key stays the same.
 */
let env: TestEnv;
let stack: TestStack;
let api: Api;
let partnerToken: string;
let admin: WalletClient;
const proxies: TestProxy[] = [];
/** Short waits: these tests are about how often a call is sent, not about how long it waits. */
const FAST_RETRY = { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 };

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  partnerToken = (await api.createPartner("ACME")).token;
  admin = new WalletClient({ baseUrl: api.url, token: TEST_ADMIN_TOKEN });
  for (const user of ["drop", "drop-use", "busy", "down"]) await api.createMember(user);
});
afterEach(async () => {
  for (const proxy of proxies.splice(0)) await proxy.close();
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

async function viaProxy(modeOf: (connection: number) => ProxyMode) {
  const proxy = await startProxy(api.url, modeOf);
  proxies.push(proxy);
  const client = new WalletClient({
    baseUrl: proxy.url,
    token: partnerToken,
    authorityId: "ACME",
    retry: FAST_RETRY,
  });
  return { proxy, client };
}

const keyOf = (head: string | undefined) => /\r\nidempotency-key: ([^\r]+)/i.exec(head ?? "")?.[1];

describe("a dropped connection", () => {
  it("is retried with the same Idempotency-Key, answered with the first result, applied once", async () => {
    const { proxy, client } = await viaProxy((n) => (n === 0 ? "drop-answer" : "forward"));
    const entry = await client.createEntry({ user_id: "drop", amount: 25, reason: "retried" });
    expect(proxy.heads).toHaveLength(2);
    expect(keyOf(proxy.heads[0])).toBeDefined();
    expect(keyOf(proxy.heads[1])).toBe(keyOf(proxy.heads[0]));
    const entries = await api.call("GET", "/v1/users/drop/entries", { token: TEST_ADMIN_TOKEN });
    expect(entries.body.count).toBe(1);
    expect(entries.body.results[0]).toMatchObject({
      entry_id: entry.entry_id,
      amount: 25,
      reason: "retried",
    });
    expect(await admin.getBalance("drop")).toEqual({ ACME: 25 });
  });

  it("keeps a caller's key across retries: a lost use is answered 200, not item_already_used", async () => {
    const item = await new WalletClient({ baseUrl: api.url, token: partnerToken }).createEntry({
      user_id: "drop-use",
      amount: 1,
      reason: "gift",
      item: { name: "mug" },
    });
    const { proxy, client } = await viaProxy((n) => (n === 0 ? "drop-answer" : "forward"));
    const used = await client.useItem(item.entry_id, { idempotencyKey: "use-mug-1" });
    expect(used.item).toEqual({ name: "mug", used: true });
    expect(proxy.heads.map(keyOf)).toEqual(["use-mug-1", "use-mug-1"]);
  });

  it("gives up after the attempts with a network_error WalletAPIError (status 0)", async () => {
    const { proxy, client } = await viaProxy(() => "drop-answer");
    const error = await client.createEntry({ user_id: "drop", amount: 5, reason: "lost" }).catch((e) => e);
    expect(error).toBeInstanceOf(WalletAPIError);
    expect([error.status, error.code]).toEqual([0, "network_error"]);
    expect(proxy.heads).toHaveLength(FAST_RETRY.attempts);
    // Every attempt reached the gateway with one key: the entry exists once.
    expect(await admin.getBalance("drop")).toEqual({ ACME: 30 });
  });

  it("reports a server that does not answer at all as network_error", async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const { port } = closed.address() as net.AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new WalletClient({ baseUrl: `http://127.0.0.1:${port}`, token: "t", retry: FAST_RETRY });
    const error = await client.getWallets({ user_ids: ["x"] }).catch((e) => e);
    expect([error.status, error.code]).toEqual([0, "network_error"]);
    expect(error.message).toMatch(/after 3 attempt/);
  });
});

describe("503 unavailable", () => {
  it("is retried with the same key and then succeeds", async () => {
    const { proxy, client } = await viaProxy((n) => (n === 0 ? "answer-503" : "forward"));
    const entry = await client.createEntry({ user_id: "busy", amount: 9, reason: "after 503" });
    expect(entry.amount).toBe(9);
    expect(proxy.heads).toHaveLength(2);
    expect(keyOf(proxy.heads[1])).toBe(keyOf(proxy.heads[0]));
    expect(await admin.getBalance("busy")).toEqual({ ACME: 9 });
  });

  it("surfaces as a WalletAPIError once the attempts run out", async () => {
    const { proxy, client } = await viaProxy(() => "answer-503");
    const error = await client.getWallets({ user_ids: ["busy"] }).catch((e) => e);
    expect(error).toBeInstanceOf(WalletAPIError);
    expect([error.status, error.code]).toEqual([503, "unavailable"]);
    expect(proxy.heads).toHaveLength(FAST_RETRY.attempts);
  });

  it("is an answer, not an error, for checkServiceHealth", async () => {
    const { proxy, client } = await viaProxy(() => "answer-503");
    const error = await client.checkServiceHealth().catch((e) => e);
    // The proxy's 503 body is an error envelope, not a health report: unreadable, and not retried.
    expect([error.status, error.code]).toEqual([503, "invalid_response"]);
    expect(proxy.heads).toHaveLength(1);
  });
});

describe("an answer of the wrong shape", () => {
  it("is an invalid_response WalletAPIError", async () => {
    const { client } = await viaProxy(() => "answer-garbage");
    const error = await client.getWallets({ user_ids: ["x"] }).catch((e) => e);
    expect(error).toBeInstanceOf(WalletAPIError);
    expect([error.status, error.code]).toEqual([200, "invalid_response"]);
  });
});

describe("a ledger that has not decided yet (202 Accepted)", () => {
  // A stack of its own whose ledger starts only mid-test: until then every command is answered 202.
  let lateEnv: TestEnv;
  let gateway: Awaited<ReturnType<typeof startTestGateway>>;
  let ledger: RunningLedger | undefined;
  let lateApi: Api;
  let token: string;

  beforeAll(async () => {
    lateEnv = await createTestEnv();
    gateway = await startTestGateway(lateEnv, { SYNC_WAIT_MS: "1" });
    lateApi = new Api(gateway.url);
    token = (await lateApi.createPartner("ACME")).token;
    await lateApi.createMember("late");
  });
  afterAll(async () => {
    await gateway?.stop();
    await ledger?.stop();
    await lateEnv?.cleanup();
  });

  it("gives up with command_pending and the command id after commandWaitMs", async () => {
    const client = new WalletClient({ baseUrl: gateway.url, token, commandWaitMs: 100 });
    const error = await client
      .createEntry({ user_id: "late", amount: 12, reason: "first" }, { idempotencyKey: "late-1" })
      .catch((e) => e);
    expect(error).toBeInstanceOf(WalletAPIError);
    expect([error.status, error.code]).toEqual([202, "command_pending"]);
    expect(error.commandId).toMatch(/^k_/);
  });

  it("follows the command to its outcome, and a repeat with the same key gets that outcome", async () => {
    const requests: string[] = [];
    const recording: typeof fetch = (input, init) => {
      requests.push(`${init?.method} ${String(input)}`);
      return fetch(input, init);
    };
    const client = new WalletClient({ baseUrl: gateway.url, token, fetch: recording });
    const second = client.createEntry({ user_id: "late", amount: 30, reason: "second" });
    while (!requests.some((r) => r.startsWith("GET ") && r.includes("/v1/commands/"))) await sleep(10);
    ledger = await startLedger(
      must(parseConfig(LedgerConfig, { ...lateEnv.serviceEnvFor("ledger"), METRICS_PORT: "0" })),
      createLogger("ledger", "warn"),
    );
    expect(await second).toMatchObject({ amount: 30, reason: "second" });
    const first = await client.createEntry(
      { user_id: "late", amount: 12, reason: "first" },
      { idempotencyKey: "late-1" },
    );
    expect(first).toMatchObject({ amount: 12, reason: "first" });
    const late = new WalletClient({ baseUrl: gateway.url, token: TEST_ADMIN_TOKEN });
    expect(await late.getBalance("late")).toEqual({ ACME: 42 });
    const spend = await failure(client.createEntry({ user_id: "late", amount: -43, reason: "too much" }));
    expect([spend.status, spend.code]).toEqual([409, "not_enough_funds"]);
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function failure(promise: Promise<unknown>): Promise<WalletAPIError> {
  const error = await promise.then(
    () => new Error("expected the call to fail"),
    (e: unknown) => e,
  );
  if (!(error instanceof WalletAPIError)) throw error;
  return error;
}

function must<T>(result: { ok: true; config: T } | { ok: false; message: string }): T {
  if (!result.ok) throw new Error(result.message);
  return result.config;
}
