import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { createTestEnv, REPO_ROOT, type TestEnv } from "@points/testing";
import { startStack, TEST_ADMIN_TOKEN, type TestStack } from "@points/testing/stack";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalletClient } from "./client.js";

/**
 * The README's example (examples/partner-example.ts) run as written, in its own process, with a
 * config file naming this file's stack instead of `npm start`'s http://127.0.0.1:8080.
 */
const run = promisify(execFile);
let env: TestEnv;
let stack: TestStack;
let dir: string;

beforeAll(async () => {
  env = await createTestEnv();
  stack = await startStack(env);
  dir = mkdtempSync(join(tmpdir(), "points-sdk-example-"));
});
afterAll(async () => {
  await stack?.stop();
  await env?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("examples/partner-example.ts", () => {
  it("earns, spends with an item, lists and uses it, and handles NotEnoughFundsError", async () => {
    const { token } = await stack.api.createPartner("DEMO");
    const config = join(dir, "demo.json");
    writeFileSync(config, JSON.stringify({ base_url: stack.gateway.url, authority_id: "DEMO", token }));
    const { stdout } = await run(
      process.execPath,
      ["--import", "tsx", "examples/partner-example.ts", config, "example-user"],
      { cwd: REPO_ROOT },
    );
    expect(stdout).toContain("points taken per payer: [ { payer: 'DEMO', points: -200 } ]");
    expect(stdout).toContain("used: { name: 'coffee', used: true, data: { size: 'large' } }");
    expect(stdout).toContain("wallet: [ { user_id: 'example-user', total: 300 } ]");
    expect(stdout).toMatch(/not enough funds: /);
    const admin = new WalletClient({ baseUrl: stack.gateway.url, token: TEST_ADMIN_TOKEN });
    expect(await admin.getInventory({ user_ids: ["example-user"], used: true })).toHaveLength(1);
  });

  it("is the example the README shows", () => {
    const readme = readFileSync(join(REPO_ROOT, "packages/sdk/README.md"), "utf8");
    const example = readFileSync(join(REPO_ROOT, "examples/partner-example.ts"), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
    expect(example.trimEnd().split("\n")).toHaveLength(20);
  });
});
