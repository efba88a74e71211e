import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalletClient } from "./client.js";
import {
  HoldNotActiveError,
  NotReversibleError,
  PayerPointsInsufficientError,
  ReversalExceedsEntryError,
  WalletAPIError,
} from "./errors.js";

/** The SDK's lifecycle and report methods against the real stack (contract 6 and 7). */
let env: TestEnv;
let stack: TestStack;
let api: Api;
let acme: WalletClient;
let admin: WalletClient;

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
  const { token } = await api.createPartner("ACME");
  acme = new WalletClient({ baseUrl: api.url, token, authorityId: "ACME" });
  admin = new WalletClient({ baseUrl: api.url, token: TEST_ADMIN_TOKEN, authorityId: "admin" });
  for (const user of ["ann", "bob"]) await api.createMember(user);
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

describe("lifecycle methods", () => {
  it("earns with expires_at, lists expiring points, reverses, and reads the balance at an instant", async () => {
    const expiresAt = new Date(Date.now() + 5 * 24 * 3600 * 1000);
    const earned = await acme.addTransaction("ann", {
      points: 100,
      timestamp: "2022-01-01T00:00:00Z",
      expires_at: expiresAt,
    });
    expect(earned.expires_at).toBe(expiresAt.toISOString());
    expect(await admin.expiring("ann")).toEqual([
      { payer: "ACME", points: 100, expires_at: expiresAt.toISOString() },
    ]);
    const afterEarn = new Date();
    await new Promise((r) => setTimeout(r, 5));
    const spend = await acme.createEntry({ user_id: "ann", amount: -40, reason: "order" });
    const back = await acme.reverse("ann", spend.entry_id, { points: 15, reason: "return" });
    expect(back).toMatchObject({ type: "reversal", reverses: spend.entry_id, amount: 15 });
    expect((await failure(acme.reverse("ann", spend.entry_id, { points: 26 }))).constructor).toBe(
      ReversalExceedsEntryError,
    );
    expect(await failure(acme.reverse("ann", back.entry_id))).toBeInstanceOf(NotReversibleError);
    expect(await failure(admin.reverse("ann", earned.entry_id))).toBeInstanceOf(PayerPointsInsufficientError);
    expect(await admin.balanceAsOf("ann", afterEarn)).toEqual({ ACME: 100 });
    expect(await admin.getBalance("ann")).toEqual({ ACME: 75 });
  });

  it("holds, captures, voids, and lists holds", async () => {
    await acme.addTransaction("bob", { points: 50, timestamp: "2022-01-01T00:00:00Z" });
    const held = await acme.hold("bob", 20, { reason: "checkout", ttl_s: 600 });
    expect(held).toMatchObject({ status: "held", points: 20, allocations: [{ payer: "ACME", points: -20 }] });
    const captured = await acme.capture("bob", held.hold_id, 5);
    expect(captured).toMatchObject({ amount: -5, hold_id: held.hold_id });
    expect(await failure(acme.void("bob", held.hold_id))).toBeInstanceOf(HoldNotActiveError);
    const second = await acme.hold("bob", 10);
    expect((await acme.void("bob", second.hold_id)).status).toBe("voided");
    expect((await acme.getHold("bob", held.hold_id)).status).toBe("captured");
    expect((await acme.listHolds("bob", "voided")).map((h) => h.hold_id)).toEqual([second.hold_id]);
    expect(await admin.getBalance("bob")).toEqual({ ACME: 45 });
  });
});

describe("report methods", () => {
  it("reads the payer report, its members and its days", async () => {
    const report = await acme.payerReport();
    expect(report.payers.map((r) => r.payer)).toEqual(["ACME"]);
    const row = report.payers[0]!;
    const moved =
      row.earned - row.adjusted - row.spent + row.spend_reversed - row.earn_reversed - row.expired;
    expect(row.closing).toBe(row.opening + moved);
    expect(row.closing).toBe(75 + 45);
    const members = await acme.payerMembers("ACME", { page_size: 1 });
    expect(members).toMatchObject({ count: 2, results: [{ user_id: "ann", outstanding: 75 }] });
    const days = await acme.payerDaily("ACME", { from: report.to, to: report.to });
    expect(days).toEqual([expect.objectContaining({ day: report.to, closing: row.closing })]);
  });
});
