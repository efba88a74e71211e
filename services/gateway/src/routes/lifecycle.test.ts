import { createTestEnv, type TestEnv } from "@points/testing";
import { type Api, startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Contract section 6 over HTTP, end to end (gateway -> Kafka -> ledger -> Postgres/Redis):
 * expiry, reversals, holds and the balance at an instant. Lots that must be expired already are
 * earned with an `expires_at` in the past (a lot expires at max(expires_at, applied instant)), so
 * no test waits for a clock; only what the ledger records on its own (expire entries, expired
 * holds) is polled, with the contract's 60 s bound plus slack.
 */
let env: TestEnv;
let stack: TestStack;
let api: Api;
const admin = TEST_ADMIN_TOKEN;
let acme: string;
let globex: string;
const RECORDED_WITHIN_MS = 90_000;
const DAY_MS = 24 * 3600 * 1000;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  api = stack.api;
  acme = (await api.createPartner("ACME")).token;
  globex = (await api.createPartner("GLOBEX")).token;
  await api.createPartner("INITECH");
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
});

let members = 0;
async function newMember(): Promise<string> {
  const id = `lc-${++members}`;
  await api.createMember(id);
  return id;
}
const iso = (ms: number) => new Date(ms).toISOString();
const earn = (
  user: string,
  payer: string,
  points: number,
  timestamp: string,
  extra: object = {},
  token = admin,
) =>
  api.call("POST", `/v1/users/${user}/transactions`, { token, body: { payer, points, timestamp, ...extra } });
const spend = (user: string, points: number, token = admin) =>
  api.call("POST", `/v1/users/${user}/spend`, { token, body: { points } });
const balance = (user: string, query = "") =>
  api.call("GET", `/v1/users/${user}/balance${query}`, { token: admin });
const entries = async (user: string) =>
  (await api.call("GET", `/v1/users/${user}/entries?page_size=1000`, { token: admin })).body.results as Array<
    Record<string, unknown>
  >;
const reverse = (
  user: string,
  entryId: string,
  body?: object,
  token = admin,
  headers: Record<string, string> = {},
) =>
  api.call("POST", `/v1/users/${user}/entries/${entryId}/reversals`, {
    token,
    ...(body ? { body } : {}),
    headers,
  });
const hold = (user: string, body: object, token = admin) =>
  api.call("POST", `/v1/users/${user}/holds`, { token, body });

async function eventually<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + RECORDED_WITHIN_MS;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe("6.1 expiry", () => {
  it("takes expires_at from the partner's validity (a change applies to later earns), or as given, or null", async () => {
    const user = await newMember();
    const ts = "2022-03-01T00:00:00.000Z";
    const never = await earn(user, "ACME", 10, ts);
    expect([never.status, never.body.expires_at]).toEqual([201, null]);
    const patched = await api.call("PATCH", "/v1/partners/ACME", {
      token: admin,
      body: { points_validity_days: 365 },
    });
    expect(patched.body).toEqual({ id: "ACME", name: "ACME", points_validity_days: 365 });
    const later = await earn(user, "ACME", 10, iso(Date.now() - 1000));
    expect(later.status).toBe(201);
    expect(Date.parse(later.body.expires_at) - Date.parse(later.body.timestamp)).toBe(365 * DAY_MS);
    const given = await earn(user, "ACME", 10, iso(Date.now() - 1000), {
      expires_at: "2099-01-01T00:00:00+01:00",
    });
    expect(given.body.expires_at).toBe("2098-12-31T23:00:00.000Z");
    const forever = await earn(user, "ACME", 10, iso(Date.now() - 1000), { expires_at: null });
    expect(forever.body.expires_at).toBeNull();
    await api.call("PATCH", "/v1/partners/ACME", { token: admin, body: { points_validity_days: null } });
    const shown = await entries(user);
    expect(shown.filter((e) => e.type === "earn").map((e) => e.expires_at)).toEqual([
      null,
      "2098-12-31T23:00:00.000Z",
      later.body.expires_at,
      null,
    ]);
  });

  it("refuses an expires_at not later than the timestamp, or on a negative, on every earn input", async () => {
    const user = await newMember();
    const ts = "2022-03-01T00:00:00Z";
    for (const extra of [
      { expires_at: ts },
      { expires_at: "2022-02-01T00:00:00Z" },
      { expires_at: "soon" },
    ]) {
      const res = await earn(user, "ACME", 10, ts, extra);
      expect([res.status, res.body.error.code, Object.keys(res.body.error.fields ?? {})]).toEqual([
        400,
        "validation_failed",
        ["expires_at"],
      ]);
    }
    const negative = await earn(user, "ACME", -1, ts, { expires_at: "2099-01-01T00:00:00Z" });
    expect([negative.status, Object.keys(negative.body.error.fields)]).toEqual([400, ["expires_at"]]);
    const wallet = (amount: number, expires_at: string) =>
      api.call("POST", "/v1/entries", {
        token: acme,
        body: { user_id: user, amount, reason: "r", expires_at },
      });
    expect((await wallet(5, "2000-01-01T00:00:00Z")).status).toBe(400);
    expect((await wallet(-5, "2099-01-01T00:00:00Z")).status).toBe(400);
    const ok = await wallet(5, "2099-01-01T00:00:00Z");
    expect([ok.status, ok.body.expires_at]).toEqual([201, "2099-01-01T00:00:00.000Z"]);
  });

  it("counts expired points nowhere from the instant they expire, and records an expire entry", async () => {
    const user = await newMember();
    const ts = iso(Date.now() - 2 * DAY_MS);
    // Already past its expiry when applied: expires at the applied instant.
    const gone = await earn(user, "GLOBEX", 40, ts, { expires_at: iso(Date.now() - DAY_MS) });
    expect(gone.status).toBe(201);
    await earn(user, "ACME", 25, ts);
    expect((await balance(user)).body).toEqual({ GLOBEX: 0, ACME: 25 });
    // Read twice: the second read is the cached balance (fast path); both leave the points out.
    expect((await balance(user)).body).toEqual({ GLOBEX: 0, ACME: 25 });
    const tooMuch = await spend(user, 26);
    expect([tooMuch.status, tooMuch.body.error.code]).toEqual([409, "not_enough_funds"]);
    const wallets = await api.call("GET", `/v1/wallets?user_ids=${user}`, { token: admin });
    expect(wallets.body).toEqual([{ user_id: user, total: 25 }]);
    const heldTooMuch = await hold(user, { points: 26 });
    expect([heldTooMuch.status, heldTooMuch.body.error.code]).toEqual([409, "not_enough_funds"]);
    const recorded = await eventually(
      () => entries(user),
      (list) => list.some((e) => e.type === "expire"),
    );
    const expiry = recorded.find((e) => e.type === "expire");
    expect(expiry).toMatchObject({
      type: "expire",
      amount: -40,
      allocations: [{ payer: "GLOBEX", points: -40 }],
    });
    expect((await balance(user)).body).toEqual({ GLOBEX: 0, ACME: 25 });
  });

  it("never answers a cached balance or wallet total with points past their expiry", async () => {
    const user = await newMember();
    const expiresAt = Date.now() + 1_500;
    await earn(user, "ACME", 8, iso(Date.now() - 1000), { expires_at: iso(expiresAt) });
    await earn(user, "GLOBEX", 2, "2022-01-01T00:00:00Z");
    // Cached now (the second read is the fast path), with the lot's expiry as its stale instant.
    expect((await balance(user)).body).toEqual({ ACME: 8, GLOBEX: 2 });
    expect((await balance(user)).body).toEqual({ ACME: 8, GLOBEX: 2 });
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 50));
    // Whether or not the ledger has recorded the expiry yet, the points count nowhere.
    expect((await balance(user)).body).toEqual({ ACME: 0, GLOBEX: 2 });
    const wallets = await api.call("GET", `/v1/wallets?user_ids=${user}`, { token: admin });
    expect(wallets.body).toEqual([{ user_id: user, total: 2 }]);
    const tooMuch = await spend(user, 3);
    expect([tooMuch.status, tooMuch.body.error.code]).toEqual([409, "not_enough_funds"]);
  });

  it("lists the points expiring by `before`, per payer and instant, soonest first, then payer", async () => {
    const user = await newMember();
    const ts = iso(Date.now() - 1000);
    const soon = iso(Date.now() + 10 * DAY_MS);
    const later = iso(Date.now() + 20 * DAY_MS);
    await earn(user, "GLOBEX", 5, ts, { expires_at: soon });
    await earn(user, "ACME", 7, ts, { expires_at: soon });
    await earn(user, "ACME", 3, ts, { expires_at: soon });
    await earn(user, "ACME", 11, ts, { expires_at: later });
    await earn(user, "INITECH", 13, ts, { expires_at: iso(Date.now() + 60 * DAY_MS) });
    await earn(user, "INITECH", 17, ts);
    await spend(user, 4); // the oldest by timestamp then arrival: GLOBEX's first
    const res = await api.call("GET", `/v1/users/${user}/expiring`, { token: admin });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { payer: "ACME", points: 10, expires_at: new Date(soon).toISOString() },
      { payer: "GLOBEX", points: 1, expires_at: new Date(soon).toISOString() },
      { payer: "ACME", points: 11, expires_at: new Date(later).toISOString() },
    ]);
    const far = await api.call("GET", `/v1/users/${user}/expiring?before=${iso(Date.now() + 90 * DAY_MS)}`, {
      token: admin,
    });
    expect(far.body.map((r: { payer: string }) => r.payer)).toEqual(["ACME", "GLOBEX", "ACME", "INITECH"]);
    const tooFar = await api.call(
      "GET",
      `/v1/users/${user}/expiring?before=${iso(Date.now() + 11 * 366 * DAY_MS)}`,
      {
        token: admin,
      },
    );
    expect([tooFar.status, tooFar.body.error.code]).toEqual([400, "validation_failed"]);
    const missing = await api.call("GET", "/v1/users/nobody/expiring", { token: admin });
    expect(missing.status).toBe(404);
  });
});

describe("6.2 reversals", () => {
  it("gives a spend's points back to its lots, last taken first, and marks the spend reversed", async () => {
    const user = await newMember();
    await earn(user, "ACME", 100, "2022-01-01T00:00:00Z");
    await earn(user, "GLOBEX", 100, "2022-01-02T00:00:00Z");
    expect((await spend(user, 150)).body).toEqual([
      { payer: "ACME", points: -100 },
      { payer: "GLOBEX", points: -50 },
    ]);
    const spent = (await entries(user)).find((e) => e.type === "spend")!;
    const part = await reverse(user, spent.entry_id as string, { points: 60, reason: "return" });
    expect(part.status).toBe(201);
    expect(part.body).toMatchObject({
      type: "reversal",
      reverses: spent.entry_id,
      amount: 60,
      reason: "return",
      allocations: [
        { payer: "GLOBEX", points: 50 },
        { payer: "ACME", points: 10 },
      ],
    });
    expect((await balance(user)).body).toEqual({ ACME: 10, GLOBEX: 100 });
    const rest = await reverse(user, spent.entry_id as string);
    expect(rest.body).toMatchObject({ amount: 90, allocations: [{ payer: "ACME", points: 90 }] });
    expect((await balance(user)).body).toEqual({ ACME: 100, GLOBEX: 100 });
    const listed = (await entries(user)).find((e) => e.entry_id === spent.entry_id);
    expect(listed?.reversed).toBe(150);
    const again = await reverse(user, spent.entry_id as string, { points: 1 });
    expect([again.status, again.body.error.code]).toEqual([409, "reversal_exceeds_entry"]);
    // A full reversal restores the lots: the next spend takes exactly what the first did.
    expect((await spend(user, 150)).body).toEqual([
      { payer: "ACME", points: -100 },
      { payer: "GLOBEX", points: -50 },
    ]);
  });

  it("takes an earn back from its lot, then the payer's oldest other points, or 409 payer_points_insufficient", async () => {
    const user = await newMember();
    const first = await earn(user, "ACME", 100, "2022-01-01T00:00:00Z");
    await earn(user, "GLOBEX", 50, "2022-01-02T00:00:00Z");
    await spend(user, 30); // from ACME's lot
    const short = await reverse(user, first.body.entry_id);
    expect([short.status, short.body.error.code]).toEqual([409, "payer_points_insufficient"]);
    expect((await balance(user)).body).toEqual({ ACME: 70, GLOBEX: 50 });
    await earn(user, "ACME", 40, "2022-01-03T00:00:00Z");
    const back = await reverse(user, first.body.entry_id, { reason: "cancelled" });
    expect(back.status).toBe(201);
    expect(back.body).toMatchObject({
      type: "reversal",
      reverses: first.body.entry_id,
      amount: -100,
      allocations: [{ payer: "ACME", points: -100 }],
    });
    expect((await balance(user)).body).toEqual({ ACME: 10, GLOBEX: 50 });
    const listed = (await entries(user)).find((e) => e.entry_id === first.body.entry_id);
    expect(listed?.reversed).toBe(100);
  });

  it("refuses adjust, expire and reversal entries (not_reversible) and other members' entries (404)", async () => {
    const user = await newMember();
    const other = await newMember();
    await earn(user, "ACME", 100, "2022-01-01T00:00:00Z");
    const negative = await earn(user, "ACME", -10, "2022-01-02T00:00:00Z");
    const res = await reverse(user, negative.body.entry_id);
    expect([res.status, res.body.error.code]).toEqual([409, "not_reversible"]);
    await spend(user, 5);
    const spent = (await entries(user)).find((e) => e.type === "spend")!;
    const reversal = await reverse(user, spent.entry_id as string, { points: 1 });
    const ofReversal = await reverse(user, reversal.body.entry_id);
    expect([ofReversal.status, ofReversal.body.error.code]).toEqual([409, "not_reversible"]);
    const notHers = await reverse(other, spent.entry_id as string);
    expect([notHers.status, notHers.body.error.code]).toEqual([404, "not_found"]);
    const unknown = await reverse(user, "00000000-0000-4000-8000-000000000000");
    expect(unknown.status).toBe(404);
    const bad = await reverse(user, spent.entry_id as string, { points: 0 });
    expect(bad.status).toBe(400);
  });

  it("lets a partner reverse only entries it created; members may not reverse", async () => {
    const user = await newMember();
    const mine = await earn(user, "ACME", 10, "2022-01-01T00:00:00Z", {}, acme);
    const theirs = await reverse(user, mine.body.entry_id, undefined, globex);
    expect([theirs.status, theirs.body.error.code]).toEqual([404, "not_found"]);
    const member = await api.memberToken(user);
    expect((await reverse(user, mine.body.entry_id, undefined, member)).status).toBe(403);
    const own = await reverse(user, mine.body.entry_id, undefined, acme);
    expect([own.status, own.body.amount]).toEqual([201, -10]);
  });

  it("replays a reversal for the same Idempotency-Key and answers 202 with Prefer: respond-async", async () => {
    const user = await newMember();
    await earn(user, "ACME", 10, "2022-01-01T00:00:00Z");
    await spend(user, 10);
    const spent = (await entries(user)).find((e) => e.type === "spend")!;
    const key = { "Idempotency-Key": `rev-${user}` };
    const first = await reverse(user, spent.entry_id as string, { points: 4 }, admin, key);
    const replay = await reverse(user, spent.entry_id as string, { points: 4 }, admin, key);
    expect([first.status, replay.status, replay.body]).toEqual([201, 201, first.body]);
    const reused = await reverse(user, spent.entry_id as string, { points: 5 }, admin, key);
    expect([reused.status, reused.body.error.code]).toEqual([422, "idempotency_key_reused"]);
    const later = await reverse(user, spent.entry_id as string, { points: 1 }, admin, {
      Prefer: "respond-async",
    });
    expect(later.status).toBe(202);
    const status = await eventually(
      () => api.call("GET", later.headers.get("location")!, { token: admin }),
      (r) => r.body.status !== "pending",
    );
    expect(status.body).toMatchObject({ status: "applied", response: { status: 201 } });
    expect((await balance(user)).body).toEqual({ ACME: 5 });
  });
});

describe("6.3 holds", () => {
  it("holds points oldest first, out of the balance at once; captures part (oldest held) and releases the rest", async () => {
    const user = await newMember();
    await earn(user, "ACME", 30, "2022-01-01T00:00:00Z");
    await earn(user, "GLOBEX", 50, "2022-01-02T00:00:00Z");
    const placed = await hold(user, { points: 60, reason: "checkout 1" });
    expect(placed.status).toBe(201);
    expect(placed.body).toMatchObject({
      user_id: user,
      points: 60,
      status: "held",
      allocations: [
        { payer: "ACME", points: -30 },
        { payer: "GLOBEX", points: -30 },
      ],
    });
    const expiresIn = Date.parse(placed.body.expires_at) - Date.parse(placed.body.created_on);
    expect(expiresIn).toBe(900_000);
    expect((await balance(user)).body).toEqual({ ACME: 0, GLOBEX: 20 });
    const read = await api.call("GET", `/v1/users/${user}/holds/${placed.body.hold_id}`, { token: admin });
    expect(read.body).toEqual(placed.body);
    const held = await api.call("GET", `/v1/users/${user}/holds?status=held`, { token: admin });
    expect(held.body).toEqual([placed.body]);
    const captured = await api.call("POST", `/v1/users/${user}/holds/${placed.body.hold_id}/capture`, {
      token: admin,
      body: { points: 40 },
    });
    expect(captured.status).toBe(200);
    expect(captured.body).toMatchObject({
      type: "spend",
      hold_id: placed.body.hold_id,
      amount: -40,
      allocations: [
        { payer: "ACME", points: -30 },
        { payer: "GLOBEX", points: -10 },
      ],
    });
    expect((await balance(user)).body).toEqual({ ACME: 0, GLOBEX: 40 });
    const after = await api.call("GET", `/v1/users/${user}/holds/${placed.body.hold_id}`, { token: admin });
    expect(after.body.status).toBe("captured");
    const twice = await api.call("POST", `/v1/users/${user}/holds/${placed.body.hold_id}/void`, {
      token: admin,
    });
    expect([twice.status, twice.body.error.code]).toEqual([409, "hold_not_active"]);
    // A capture is a spend for reversals.
    const back = await reverse(user, captured.body.entry_id);
    expect(back.body.allocations).toEqual([
      { payer: "GLOBEX", points: 10 },
      { payer: "ACME", points: 30 },
    ]);
  });

  it("voids a hold (all points back), refuses a short balance, and validates ttl_s", async () => {
    const user = await newMember();
    const member = await api.memberToken(user);
    await earn(user, "ACME", 20, "2022-01-01T00:00:00Z");
    const placed = await hold(user, { points: 15, ttl_s: 3600 }, member);
    expect(placed.status).toBe(201);
    expect(Date.parse(placed.body.expires_at) - Date.parse(placed.body.created_on)).toBe(3_600_000);
    const short = await hold(user, { points: 6 });
    expect([short.status, short.body.error.code]).toEqual([409, "not_enough_funds"]);
    const voided = await api.call("POST", `/v1/users/${user}/holds/${placed.body.hold_id}/void`, {
      token: member,
    });
    expect(voided.status).toBe(200);
    expect(voided.body).toMatchObject({ hold_id: placed.body.hold_id, status: "voided", points: 15 });
    expect((await balance(user)).body).toEqual({ ACME: 20 });
    const capture = await api.call("POST", `/v1/users/${user}/holds/${placed.body.hold_id}/capture`, {
      token: admin,
    });
    expect([capture.status, capture.body.error.code]).toEqual([409, "hold_not_active"]);
    for (const ttl_s of [0, 604_801, 1.5]) expect((await hold(user, { points: 1, ttl_s })).status).toBe(400);
    const unknown = await api.call("GET", `/v1/users/${user}/holds/00000000-0000-4000-8000-000000000000`, {
      token: admin,
    });
    expect(unknown.status).toBe(404);
    const voidedList = await api.call("GET", `/v1/users/${user}/holds?status=voided`, { token: admin });
    expect(voidedList.body.map((h: { hold_id: string }) => h.hold_id)).toEqual([placed.body.hold_id]);
  });

  it("expires a hold neither captured nor voided by expires_at, giving its points back", async () => {
    const user = await newMember();
    await earn(user, "ACME", 10, "2022-01-01T00:00:00Z");
    const placed = await hold(user, { points: 4, ttl_s: 1 });
    expect(placed.status).toBe(201);
    const closed = await eventually(
      () => api.call("GET", `/v1/users/${user}/holds/${placed.body.hold_id}`, { token: admin }),
      (r) => r.body.status !== "held",
    );
    expect(closed.body.status).toBe("expired");
    expect((await balance(user)).body).toEqual({ ACME: 10 });
  });
});

describe("6.4 balance at an instant", () => {
  it("answers the balance as it was: changes by then applied, holds and expiry as of then", async () => {
    const user = await newMember();
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await earn(user, "ACME", 100, "2022-01-01T00:00:00Z");
    const afterEarn = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await spend(user, 30);
    const afterSpend = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await earn(user, "GLOBEX", 10, "2022-01-02T00:00:00Z");
    await hold(user, { points: 20 });
    const afterHold = Date.now();
    const at = (ms: number) => balance(user, `?as_of=${iso(ms)}`);
    expect((await at(before)).body).toEqual({});
    expect((await at(afterEarn)).body).toEqual({ ACME: 100 });
    expect((await at(afterSpend)).body).toEqual({ ACME: 70 });
    expect((await at(afterHold)).body).toEqual({ ACME: 50, GLOBEX: 10 });
    const future = await at(Date.now() + 60_000);
    expect([future.status, future.body.error.code]).toEqual([400, "validation_failed"]);
    expect((await balance("nobody", `?as_of=${iso(before)}`)).status).toBe(404);
  });
});
