import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { topicNames } from "@points/shared";
import { COMMAND_AUTH_HEADER, CommandSigningKeys, signCommand } from "@points/shared/command-auth";
import { createKafka } from "@points/shared/kafka";
import { createTestEnv, type TestEnv } from "@points/testing";
import { startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The console in a real browser (Debian's Chromium, headless, driven by playwright-core) against
 * a real gateway and ledger on Kafka, Postgres and Redis: sign in, search, open a member, reverse
 * a spend, read a report and download its CSV, and a partner that sees only its own data.
 * Screenshots of the member and report pages go to docs/screenshots/ (shown in the README).
 */
const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const SCREENSHOTS = join(dirname(fileURLToPath(import.meta.url)), "../../../docs/screenshots");
const ADMIN = TEST_ADMIN_TOKEN;
const HOUR_MS = 3_600_000;

let env: TestEnv;
let stack: TestStack;
let browser: Browser;
let base: string;
let acmeToken: string;
let spendEntryId: string;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  base = stack.gateway.url;
  acmeToken = (await stack.api.createPartner("ACME")).token;
  await stack.api.createPartner("GLOBEX");
  await seedMembers();
  await seedPoints();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  await env?.cleanup();
});

async function seedMembers(): Promise<void> {
  const members = [
    { loyalty_id: "ann", client_name: "Ann Example", cardno: "4000123", client_birthday: "1985-04-12" },
    ...Array.from({ length: 30 }, (_, i) => ({
      loyalty_id: `m${String(i).padStart(2, "0")}`,
      client_name: `Member Number ${i}`,
      client_birthday: "1990-01-01",
    })),
  ];
  const res = await stack.api.call("POST", "/v1/members", { token: ADMIN, body: members });
  expect(res.status).toBe(201);
}

/** Ann: ACME 12,500 (older), GLOBEX 3,000, a spend of 1,500 (taken from ACME), and ACME's wallet entry of 200. */
async function seedPoints(): Promise<void> {
  const earn = async (payer: string, points: number, hoursAgo: number) => {
    const timestamp = new Date(Date.now() - hoursAgo * HOUR_MS).toISOString();
    const res = await stack.api.call("POST", "/v1/users/ann/transactions", {
      token: ADMIN,
      body: { payer, points, timestamp },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
  };
  await earn("ACME", 12_500, 48);
  await earn("GLOBEX", 3_000, 24);
  const spend = await stack.api.call("POST", "/v1/users/ann/spend", {
    token: ADMIN,
    body: { points: 1_500, reason: "order 42" },
  });
  expect(spend.body).toEqual([{ payer: "ACME", points: -1_500 }]);
  const entries = await stack.api.call("GET", "/v1/users/ann/entries", { token: ADMIN });
  spendEntryId = entries.body.results.find((e: { type: string }) => e.type === "spend").entry_id;
  const wallet = await stack.api.call("POST", "/v1/entries", {
    token: acmeToken,
    body: { user_id: "ann", amount: 200, reason: "welcome bonus" },
  });
  expect(wallet.status).toBe(201);
}

async function newPage(): Promise<{ context: BrowserContext; page: Page }> {
  // A fixed locale and a zone away from UTC: thousands separators and local times are checked.
  const context = await browser.newContext({
    locale: "en-US",
    timezoneId: "America/New_York",
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
  });
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return { context, page };
}

async function signIn(page: Page, token: string, signedIn = true): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  // Signing in asks the API first: wait for it before opening another page by URL.
  if (signedIn) await page.getByRole("button", { name: "Sign out" }).waitFor();
}

describe("the console, served by the gateway", () => {
  it("serves the bundle with content types, an SPA fallback, and 404 for a missing asset", async () => {
    const index = await fetch(`${base}/console/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/^text\/html/);
    expect(index.headers.get("content-security-policy")).toContain("default-src 'self'");
    const html = await index.text();
    const script = html.match(/src="(\/console\/assets\/[^"]+\.js)"/)?.[1];
    const style = html.match(/href="(\/console\/assets\/[^"]+\.css)"/)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    expect((await fetch(`${base}${script}`)).headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${base}${style}`)).headers.get("content-type")).toMatch(/^text\/css/);
    // No asset from elsewhere: the page works offline.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    const page = await fetch(`${base}/console/members/ann`);
    expect(page.status).toBe(200);
    expect(await page.text()).toBe(html);
    const missing = await fetch(`${base}/console/assets/nope.js`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error.code).toBe("not_found");
    const bare = await fetch(`${base}/console`, { redirect: "manual" });
    expect(bare.status).toBe(301);
    expect(bare.headers.get("location")).toBe("/console/");
  });
});

describe("the console in Chromium", () => {
  it("shows the API's message for a wrong token, and signs in an admin by keyboard", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, "not-a-token", false);
      await expect.poll(() => page.getByRole("alert").textContent()).toBe("a valid bearer token is required");
      await page.getByLabel("Token").fill("");
      await page.getByLabel("Token").focus();
      await page.keyboard.type(ADMIN);
      await page.keyboard.press("Enter");
      await page.getByRole("heading", { level: 1, name: "Members" }).waitFor();
      const nav = page.getByRole("navigation", { name: "Pages" });
      for (const name of ["Members", "Partners", "Reports", "Commands", "Dead letters"]) {
        expect(await nav.getByRole("link", { name }).count(), name).toBe(1);
      }
      // The token lives in this tab's sessionStorage: a reload keeps the session.
      await page.reload();
      await page.getByRole("heading", { level: 1, name: "Members" }).waitFor();
    } finally {
      await context.close();
    }
  });

  it("searches, pages, and opens a member with balance per payer, entries and allocations", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.getByRole("heading", { level: 1, name: "Members" }).waitFor();
      await page.getByText("31 members, page 1 of 2").waitFor();
      await page.getByRole("button", { name: "Next page" }).click();
      await page.getByText("31 members, page 2 of 2").waitFor();
      await page.getByLabel("Search").fill("ann ex");
      await page.getByLabel("Search").press("Enter");
      await page.getByText("1 member matching “ann ex”").waitFor();
      await page.getByRole("link", { name: "ann", exact: true }).click();
      await page.getByRole("heading", { level: 1, name: "Member ann" }).waitFor();
      const balance = page.locator("section", {
        has: page.getByRole("heading", { name: "Balance per payer" }),
      });
      await balance.getByRole("cell", { name: "11,200" }).waitFor();
      await balance.getByRole("cell", { name: "3,000" }).waitFor();
      expect(await balance.locator("tfoot td").textContent()).toBe("14,200");
      expect(await balance.locator("canvas").count()).toBeGreaterThan(0);
      const entries = page.locator("section", { has: page.getByRole("heading", { name: "Entries" }) });
      const spendRow = entries.getByRole("row", { name: /order 42/ });
      expect(await spendRow.textContent()).toContain("ACME -1,500");
      // Dates: the viewer's zone in the text, UTC on hover.
      expect(await spendRow.locator("time").getAttribute("title")).toMatch(/ UTC$/);
      expect(
        await entries
          .locator("td.num")
          .first()
          .evaluate((td) => getComputedStyle(td).textAlign),
      ).toBe("right");
      await page.screenshot({ path: join(SCREENSHOTS, "member.png"), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("reverses a spend from the member page", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.goto(`${base}/console/members/ann`);
      const entries = page.locator("section", { has: page.getByRole("heading", { name: "Entries" }) });
      await entries.getByRole("button", { name: "Reverse spend of -1,500 points" }).click();
      await entries.getByLabel("Points to reverse").fill("500");
      await entries.getByRole("button", { name: "Confirm reversal" }).click();
      await page.getByText(`Reversed 500 points of entry ${spendEntryId}.`).waitFor();
      const balance = page.locator("section", {
        has: page.getByRole("heading", { name: "Balance per payer" }),
      });
      await balance.getByRole("cell", { name: "11,700" }).waitFor();
      // The ledger gave the 500 points back to ACME's lot the spend took them from.
      const api = await stack.api.call("GET", "/v1/users/ann/balance", { token: ADMIN });
      expect(api.body).toEqual({ ACME: 11_700, GLOBEX: 3_000 });
      const listed = await stack.api.call("GET", "/v1/users/ann/entries", { token: ADMIN });
      const reversal = listed.body.results.find((e: { type: string }) => e.type === "reversal");
      expect(reversal).toMatchObject({
        reverses: spendEntryId,
        amount: 500,
        allocations: [{ payer: "ACME", points: 500 }],
      });
    } finally {
      await context.close();
    }
  });

  it("reads the payer report for a period and downloads it as CSV", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.getByRole("link", { name: "Reports" }).click();
      await page.getByRole("heading", { level: 1, name: "Reports" }).waitFor();
      const from = new Date(Date.now() - 7 * 24 * HOUR_MS).toISOString().slice(0, 10);
      await page.getByLabel("From (UTC day)").fill(from);
      await page.getByRole("button", { name: "Show report" }).click();
      expect(new URL(page.url()).searchParams.get("from")).toBe(from);
      const report = page.locator("section", { has: page.getByRole("heading", { name: "Payer report" }) });
      await report.getByRole("rowheader", { name: "ACME" }).waitFor();
      await report.getByRole("rowheader", { name: "GLOBEX" }).waitFor();
      const [download] = await Promise.all([
        page.waitForEvent("download"),
        page.getByRole("button", { name: "Download CSV" }).click(),
      ]);
      const csv = await readFile((await download.path())!, "utf8");
      const lines = csv.split(/\r?\n/).filter(Boolean);
      expect(lines[0]).toBe(
        "payer,opening,earned,adjusted,spent,spend_reversed,earn_reversed,expired,closing,held",
      );
      expect(lines.map((l) => l.split(",")[0])).toEqual(["payer", "ACME", "GLOBEX"]);
      // The CSV is the API's: the same figures, the identity on every row.
      for (const line of lines.slice(1)) {
        const [, opening, earned, adjusted, spent, spendReversed, earnReversed, expired, closing] = line
          .split(",")
          .map(Number);
        expect(closing, line).toBe(
          opening! + earned! - adjusted! - spent! + spendReversed! - earnReversed! - expired!,
        );
      }
      await page.getByRole("heading", { name: "Movements per day" }).waitFor();
      await page.screenshot({ path: join(SCREENSHOTS, "report.png"), fullPage: true });
    } finally {
      await context.close();
    }
  });

  it("shows a partner only what its token may see", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, acmeToken);
      await page.getByRole("heading", { level: 1, name: "Members" }).waitFor();
      expect(await page.getByText("Signed in as partner").count()).toBe(1);
      const nav = page.getByRole("navigation", { name: "Pages" });
      expect(await nav.getByRole("link", { name: "Partners" }).count()).toBe(0);
      expect(await nav.getByRole("link", { name: "Dead letters" }).count()).toBe(0);
      expect(await page.getByLabel("Search").count()).toBe(0);
      await page.getByLabel("Loyalty id").fill("ann");
      await page.getByRole("button", { name: "Open member" }).click();
      await page.getByRole("heading", { level: 1, name: "Member ann" }).waitFor();
      await page.getByText("Ann Example").waitFor();
      // Only the total of ACME's own entries (the 200-point wallet entry), no balances per payer.
      const own = page.locator("section", {
        has: page.getByRole("heading", { name: "Your entries' total" }),
      });
      await own.getByText("200", { exact: true }).waitFor();
      expect(await page.getByRole("heading", { name: "Balance per payer" }).count()).toBe(0);
      expect(await page.getByRole("heading", { name: "Entries", exact: true }).count()).toBe(0);
      expect(await page.getByText("GLOBEX").count()).toBe(0);
      // Admin pages opened by URL say so, and the API refuses the partner anyway.
      await page.goto(`${base}/console/dead-letters`);
      await page.getByRole("alert").getByText("Only the admin token may open this page.").waitFor();
      const direct = await stack.api.call("GET", "/v1/dead-letters", { token: acmeToken });
      expect(direct.status).toBe(403);
      // The admin rotates ACME's token: the console signs the partner out, saying why.
      expect((await stack.api.call("POST", "/v1/partners/ACME/tokens", { token: ADMIN })).status).toBe(201);
      await page.getByRole("link", { name: "Commands" }).click();
      await page.getByLabel("Command id").fill("any");
      await page.getByRole("button", { name: "Look up" }).click();
      await page.getByText("Signed out: a valid bearer token is required. Sign in again.").waitFor();
      await page.getByLabel("Token").waitFor();
    } finally {
      await context.close();
    }
  });

  it("creates a partner, shows its token once, rotates it, and sets its points validity", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.getByRole("link", { name: "Partners" }).click();
      await page.getByLabel("Partner id").fill("INITECH");
      await page.getByLabel("Name").fill("Initech");
      await page.getByRole("button", { name: "Create partner" }).click();
      const once = page.locator("section.shown-once");
      await once.getByText("Partner INITECH created").waitFor();
      const token = await once.locator("code.secret").first().textContent();
      const asPartner = await stack.api.call("GET", "/v1/members/ann", { token: token! });
      expect(asPartner.status).toBe(200);
      await page.getByRole("button", { name: "Done" }).click();
      expect(await once.count()).toBe(0);
      page.once("dialog", (dialog) => void dialog.accept());
      await page.getByRole("button", { name: "Rotate the token of INITECH" }).click();
      await page.getByText("New token for INITECH").waitFor();
      const rotated = await page.locator("section.shown-once code.secret").textContent();
      expect(rotated).not.toBe(token);
      expect((await stack.api.call("GET", "/v1/members/ann", { token: token! })).status).toBe(401);
      expect((await stack.api.call("GET", "/v1/members/ann", { token: rotated! })).status).toBe(200);
      await page.getByLabel("Points validity of INITECH in days").fill("365");
      await page.getByRole("button", { name: "Set the points validity of INITECH" }).click();
      const row = page.getByRole("row", { name: /INITECH/ });
      await row.getByRole("status").getByText("saved").waitFor();
      const listed = await stack.api.call("GET", "/v1/partners", { token: ADMIN });
      const initech = listed.body.results.find((p: { id: string }) => p.id === "INITECH");
      expect(initech).toMatchObject({ name: "Initech", points_validity_days: 365 });
    } finally {
      await context.close();
    }
  });

  it("looks up a command accepted with 202", async () => {
    const accepted = await stack.api.call("POST", "/v1/users/m02/transactions", {
      token: ADMIN,
      body: { payer: "GLOBEX", points: 1_234_567, timestamp: new Date().toISOString() },
      headers: { prefer: "respond-async" },
    });
    expect(accepted.status).toBe(202);
    const id = accepted.headers.get("location")!.split("/").pop()!;
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.getByRole("link", { name: "Commands" }).click();
      await page.getByLabel("Command id").fill(id);
      await page.getByRole("button", { name: "Look up" }).click();
      await page.getByRole("heading", { name: `Command ${id}` }).waitFor();
      // Pending or already applied: either way the page shows the command, never an error.
      await expect
        .poll(() => page.locator(".details dd").first().textContent())
        .toMatch(/^(pending|applied)$/);
    } finally {
      await context.close();
    }
  });

  it("shows API errors as messages: an unknown member, a spend over the balance", async () => {
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.getByRole("heading", { level: 1, name: "Members" }).waitFor();
      await page.goto(`${base}/console/members/nobody`);
      await page.getByRole("alert").first().getByText("member nobody not found").waitFor();
      await page.goto(`${base}/console/members/m01`);
      await page.getByLabel("Points to spend").fill("5");
      await page.getByRole("button", { name: "Spend points" }).click();
      const spend = page.locator("form", { has: page.getByRole("heading", { name: "Spend" }) });
      expect(await spend.getByRole("alert").textContent()).toMatch(/\S/);
      await page.goto(`${base}/console/commands?id=no-such-command`);
      await page.getByRole("alert").getByText("command no-such-command not found").waitFor();
      await page.goto(`${base}/console/dead-letters`);
      await page.getByRole("heading", { level: 1, name: "Dead letters" }).waitFor();
      await page.getByText("Nothing was dead-lettered.").waitFor();
    } finally {
      await context.close();
    }
  });
  it("lists what the ledger dead-lettered", async () => {
    const value = '{"kind":"not a command"}';
    const keys = CommandSigningKeys.parse(env.commandSigningKeys);
    const producer = createKafka("test-console-dlq", env.kafkaBrokers, undefined, env.kafkaSasl).producer();
    await producer.connect();
    try {
      await producer.send({
        topic: topicNames(env.topicPrefix).commands,
        // Signed as the gateway signs, so the ledger reads it and refuses it for what it says.
        messages: [{ key: "ann", value, headers: { [COMMAND_AUTH_HEADER]: signCommand(keys, value) } }],
      });
    } finally {
      await producer.disconnect();
    }
    await expect
      .poll(async () => (await stack.api.call("GET", "/v1/dead-letters", { token: ADMIN })).body.length, {
        timeout: 30_000,
      })
      .toBe(1);
    const { context, page } = await newPage();
    try {
      await signIn(page, ADMIN);
      await page.getByRole("link", { name: "Dead letters" }).click();
      const row = page.getByRole("row", { name: /invalid_command/ });
      await row.waitFor();
      expect(await row.textContent()).toContain('{"kind":"not a command"}');
      await page.getByLabel("Source").selectOption("partner");
      await page.getByText("Nothing was dead-lettered.").waitFor();
      expect(new URL(page.url()).searchParams.get("source")).toBe("partner");
    } finally {
      await context.close();
    }
  });
});
