import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalletClient } from "./client.js";
import { ItemAlreadyUsedError, NotEnoughFundsError, WalletAPIError } from "./errors.js";

/** The SDK against the real stack: gateway -> Kafka -> ledger -> Postgres/Redis. */
let env: TestEnv;
let stack: TestStack;
let api: Api;
let dir: string;
let acme: WalletClient;
let globex: WalletClient;
let admin: WalletClient;

function writeConfig(name: string, config: unknown): string {
  const path = join(dir, `${name}.json`);
  writeFileSync(path, typeof config === "string" ? config : JSON.stringify(config));
  return path;
}

async function partnerClient(id: string): Promise<WalletClient> {
  const { token } = await api.createPartner(id);
  return WalletClient.loadFromConfig(writeConfig(id, { base_url: api.url, authority_id: id, token }));
}

/** What a caller's promise rejected with, for assertions on typed errors. */
async function failure(promise: Promise<unknown>): Promise<WalletAPIError> {
  const error = await promise.then(
    () => new Error("expected the call to fail"),
    (e: unknown) => e,
  );
  if (!(error instanceof WalletAPIError)) throw error;
  return error;
}

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  dir = mkdtempSync(join(tmpdir(), "points-sdk-"));
  acme = await partnerClient("ACME");
  globex = await partnerClient("GLOBEX");
  admin = new WalletClient({ baseUrl: api.url, token: TEST_ADMIN_TOKEN, authorityId: "admin" });
  for (const user of ["ann", "bob", "cy", "dee", "eve", "fay"]) await api.createMember(user);
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("loadFromConfig", () => {
  it("reads base_url, authority_id and token", async () => {
    expect(acme.authorityId).toBe("ACME");
    expect((await acme.checkServiceHealth()).ok).toBe(true);
  });

  it("names what is wrong with a bad file", async () => {
    const missing = writeConfig("missing", { base_url: api.url, authority_id: "ACME" });
    await expect(WalletClient.loadFromConfig(missing)).rejects.toThrow(/not valid: token/);
    const badUrl = writeConfig("bad-url", { base_url: "ftp://x", authority_id: "A", token: "t" });
    await expect(WalletClient.loadFromConfig(badUrl)).rejects.toThrow(/base_url/);
    await expect(WalletClient.loadFromConfig(writeConfig("not-json", "{"))).rejects.toThrow(/not JSON/);
    await expect(WalletClient.loadFromConfig(join(dir, "absent.json"))).rejects.toThrow(/ENOENT/);
  });
});

describe("checkServiceHealth", () => {
  it("reports every dependency", async () => {
    const health = await acme.checkServiceHealth();
    expect(health).toEqual({
      ok: true,
      status: "ok",
      checks: { postgres: "ok", redis: "ok", kafka: "ok" },
    });
  });
});

describe("createEntry", () => {
  it("gives points paid by the partner, with an unused item", async () => {
    const entry = await acme.createEntry({
      user_id: "ann",
      amount: 500,
      reason: "welcome",
      item: { name: "mug", data: { color: "red" } },
    });
    expect(entry).toMatchObject({
      authority_id: "ACME",
      user_id: "ann",
      amount: 500,
      reason: "welcome",
      item: { name: "mug", used: false, data: { color: "red" } },
    });
    expect(entry.allocations).toBeUndefined();
    expect(Number.isInteger(entry.created_on)).toBe(true);
    expect(await admin.getBalance("ann")).toEqual({ ACME: 500 });
  });

  it("spends oldest first and lists the points taken per payer", async () => {
    await globex.createEntry({ user_id: "bob", amount: 30, reason: "first" });
    await acme.createEntry({ user_id: "bob", amount: 100, reason: "second" });
    const spent = await acme.createEntry({
      user_id: "bob",
      amount: -50,
      reason: "voucher",
      item: { name: "coffee" },
    });
    expect(spent).toMatchObject({
      authority_id: "ACME",
      amount: -50,
      item: { name: "coffee", used: false },
      allocations: [
        { payer: "GLOBEX", points: -30 },
        { payer: "ACME", points: -20 },
      ],
    });
    expect(await admin.getBalance("bob")).toEqual({ GLOBEX: 0, ACME: 80 });
  });

  it("lets the admin give points for a named payer", async () => {
    const entry = await admin.createEntry({ user_id: "cy", amount: 7, reason: "goodwill", payer: "GLOBEX" });
    expect(entry).toMatchObject({ authority_id: "admin", amount: 7 });
    expect(await admin.getBalance("cy")).toEqual({ GLOBEX: 7 });
  });

  it("throws NotEnoughFundsError (a WalletAPIError) and changes nothing", async () => {
    const error = await failure(acme.createEntry({ user_id: "cy", amount: -8, reason: "too much" }));
    expect(error).toBeInstanceOf(NotEnoughFundsError);
    expect([error.status, error.code, error.name]).toEqual([409, "not_enough_funds", "NotEnoughFundsError"]);
    expect(await admin.getBalance("cy")).toEqual({ GLOBEX: 7 });
  });

  it("returns the first answer for a repeated idempotency key, 422 for another body", async () => {
    const input = { user_id: "cy", amount: 3, reason: "once" };
    const first = await acme.createEntry(input, { idempotencyKey: "sdk-key-1" });
    const again = await acme.createEntry(input, { idempotencyKey: "sdk-key-1" });
    expect(again).toEqual(first);
    const reused = await failure(acme.createEntry({ ...input, amount: 4 }, { idempotencyKey: "sdk-key-1" }));
    expect([reused.status, reused.code]).toEqual([422, "idempotency_key_reused"]);
    expect(await admin.getBalance("cy")).toEqual({ GLOBEX: 7, ACME: 3 });
  });

  it("throws WalletAPIError with status, code and fields for other refusals", async () => {
    const zero = await failure(acme.createEntry({ user_id: "cy", amount: 0, reason: "nothing" }));
    expect([zero.status, zero.code]).toEqual([400, "validation_failed"]);
    expect(zero.fields?.amount).toEqual(["must not be 0"]);
    const unknown = await failure(acme.createEntry({ user_id: "nobody", amount: 1, reason: "x" }));
    expect([unknown.status, unknown.code]).toEqual([404, "not_found"]);
    const member = new WalletClient({ baseUrl: api.url, token: await api.memberToken("cy") });
    const forbidden = await failure(member.createEntry({ user_id: "cy", amount: 1, reason: "x" }));
    expect([forbidden.status, forbidden.code]).toEqual([403, "forbidden"]);
    const stranger = new WalletClient({ baseUrl: api.url, token: "not-a-token" });
    const unauthenticated = await failure(stranger.getWallets({ user_ids: ["cy"] }));
    expect([unauthenticated.status, unauthenticated.code]).toEqual([401, "unauthenticated"]);
  });
});

describe("getWallets", () => {
  it("gives the balance per user, in order, 0 for users without points", async () => {
    await acme.createEntry({ user_id: "dee", amount: 40, reason: "a" });
    await globex.createEntry({ user_id: "dee", amount: 60, reason: "b" });
    await globex.createEntry({ user_id: "dee", amount: -70, reason: "c" });
    expect(await admin.getWallets({ user_ids: ["dee", "eve", "dee"] })).toEqual([
      { user_id: "dee", total: 30 },
      { user_id: "eve", total: 0 },
    ]);
  });

  it("counts only the named authorities' entries, and a partner only its own", async () => {
    // dee: ACME +40; GLOBEX +60 and -70 (the spend took ACME's 40 first, then 30 of GLOBEX's).
    expect(await admin.getWallets({ user_ids: ["dee"], authority_ids: ["ACME"] })).toEqual([
      { user_id: "dee", total: 40 },
    ]);
    expect(await admin.getWallets({ user_ids: ["dee"], authority_ids: ["GLOBEX"] })).toEqual([
      { user_id: "dee", total: -10 },
    ]);
    expect(await globex.getWallets({ user_ids: ["dee"] })).toEqual([{ user_id: "dee", total: -10 }]);
    expect(await acme.getWallets({ user_ids: ["dee"] })).toEqual([{ user_id: "dee", total: 40 }]);
    expect(await acme.getWallets({ user_ids: ["dee"], authority_ids: ["GLOBEX"] })).toEqual([
      { user_id: "dee", total: 0 },
    ]);
  });

  it("lets a member read only its own wallet", async () => {
    const dee = new WalletClient({ baseUrl: api.url, token: await api.memberToken("dee") });
    expect(await dee.getWallets({ user_ids: ["dee"] })).toEqual([{ user_id: "dee", total: 30 }]);
    const other = await failure(dee.getWallets({ user_ids: ["dee", "ann"] }));
    expect([other.status, other.code]).toEqual([403, "forbidden"]);
  });

  it("splits a long list of users over several requests", async () => {
    const users = Array.from({ length: 2_500 }, (_, i) => `u,${i}`);
    const totals = await admin.getWallets({ user_ids: ["dee", ...users] });
    expect(totals).toHaveLength(2_501);
    expect(totals[0]).toEqual({ user_id: "dee", total: 30 });
    expect(totals[2_500]).toEqual({ user_id: "u,2499", total: 0 });
  });
});

describe("getInventory and useItem", () => {
  let mug: string;
  let hat: string;
  let pen: string;

  beforeAll(async () => {
    await acme.createEntry({ user_id: "eve", amount: 100, reason: "stock" });
    mug = (await acme.createEntry({ user_id: "eve", amount: -10, reason: "r", item: { name: "mug" } }))
      .entry_id;
    hat = (await acme.createEntry({ user_id: "eve", amount: 5, reason: "r", item: { name: "hat" } }))
      .entry_id;
    pen = (await globex.createEntry({ user_id: "eve", amount: 1, reason: "r", item: { name: "pen" } }))
      .entry_id;
  });

  const names = (items: { item: { name: string } }[]) => items.map((i) => i.item.name);

  it("lists unused items by default, filtered by user, entry and authority", async () => {
    expect(names(await admin.getInventory({ user_ids: ["eve"] }))).toEqual(["mug", "hat", "pen"]);
    expect(await admin.getInventory({ entry_ids: [hat] })).toEqual([
      { entry_id: hat, authority_id: "ACME", user_id: "eve", item: { name: "hat", used: false } },
    ]);
    expect(names(await admin.getInventory({ user_ids: ["eve"], authority_ids: ["GLOBEX"] }))).toEqual([
      "pen",
    ]);
    expect(names(await globex.getInventory({ user_ids: ["eve"] }))).toEqual(["pen"]);
    expect(await globex.getInventory({ entry_ids: [mug] })).toEqual([]);
  });

  it("marks an item used once; the second use is ItemAlreadyUsedError", async () => {
    const used = await acme.useItem(mug);
    expect(used).toMatchObject({
      entry_id: mug,
      user_id: "eve",
      amount: -10,
      item: { name: "mug", used: true },
    });
    const again = await failure(acme.useItem(mug));
    expect(again).toBeInstanceOf(ItemAlreadyUsedError);
    expect([again.status, again.code]).toEqual([409, "item_already_used"]);
  });

  it("filters used, unused and any", async () => {
    expect(names(await admin.getInventory({ user_ids: ["eve"], used: false }))).toEqual(["hat", "pen"]);
    expect(names(await admin.getInventory({ user_ids: ["eve"], used: true }))).toEqual(["mug"]);
    expect(names(await admin.getInventory({ user_ids: ["eve"], used: "any" }))).toEqual([
      "mug",
      "hat",
      "pen",
    ]);
  });

  it("pages through items", async () => {
    expect(
      names(await admin.getInventory({ user_ids: ["eve"], used: "any", page: 2, page_size: 2 })),
    ).toEqual(["pen"]);
    const pages: string[][] = [];
    for await (const page of admin.inventoryPages({ user_ids: ["eve"], used: "any", page_size: 2 })) {
      pages.push(names(page));
    }
    expect(pages).toEqual([["mug", "hat"], ["pen"]]);
  });

  it("refuses another partner's item and unknown entries with a 404 WalletAPIError", async () => {
    const foreign = await failure(globex.useItem(hat));
    expect([foreign.status, foreign.code]).toEqual([404, "not_found"]);
    const unknown = await failure(acme.useItem("00000000-0000-4000-8000-000000000000"));
    expect([unknown.status, unknown.code]).toEqual([404, "not_found"]);
  });

  it("lets a member use its own item", async () => {
    const eve = new WalletClient({ baseUrl: api.url, token: await api.memberToken("eve") });
    expect(names(await eve.getInventory())).toEqual(["hat", "pen"]);
    expect((await eve.useItem(pen)).item).toEqual({ name: "pen", used: true });
  });
});

describe("the points API", () => {
  it("adds transactions (payer defaults to the client's authority), spends and reads the balance", async () => {
    const tx = await acme.addTransaction("fay", { points: 300, timestamp: "2022-10-31T10:00:00Z" });
    expect(tx).toMatchObject({ payer: "ACME", points: 300, timestamp: "2022-10-31T10:00:00.000Z" });
    await admin.addTransaction("fay", {
      payer: "GLOBEX",
      points: 200,
      timestamp: new Date("2022-10-31T11:00:00Z"),
    });
    await acme.addTransaction("fay", { points: -200, timestamp: "2022-10-31T15:00:00Z" });
    expect(await acme.spend("fay", 250, { reason: "basket" })).toEqual([
      { payer: "ACME", points: -100 },
      { payer: "GLOBEX", points: -150 },
    ]);
    expect(await admin.getBalance("fay")).toEqual({ ACME: 0, GLOBEX: 50 });
    const insufficient = await failure(acme.spend("fay", 51));
    expect(insufficient).toBeInstanceOf(NotEnoughFundsError);
    const payerShort = await failure(acme.addTransaction("fay", { points: -1 }));
    expect([payerShort.status, payerShort.code]).toEqual([409, "payer_points_insufficient"]);
    const partnerBalance = await failure(acme.getBalance("fay"));
    expect([partnerBalance.status, partnerBalance.code]).toEqual([403, "forbidden"]);
  });

  it("registers members", async () => {
    const member = { loyalty_id: "gus", client_name: "Gus", client_birthday: "1980-02-03" };
    expect(await acme.upsertMembers(member)).toEqual({ inserted: 1, updated: 0 });
    expect(await acme.upsertMembers([member, { ...member, loyalty_id: "hal" }])).toEqual({
      inserted: 1,
      updated: 1,
    });
    expect(await acme.createEntry({ user_id: "hal", amount: 1, reason: "hi" })).toMatchObject({ amount: 1 });
  });
});
