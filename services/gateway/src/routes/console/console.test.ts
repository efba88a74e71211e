import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleDistDir, consoleRoutes } from "./routes";

/** The console's static serving, on its own (the browser tests in packages/console use the real bundle). */
async function serve(dir: string | null): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express().use(consoleRoutes(dir));
  const server = app.listen(0);
  await new Promise((r) => server.once("listening", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => server.close(() => r(undefined))),
  };
}

describe("GET /console/ without a built bundle", () => {
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    server = await serve(null);
  });
  afterAll(() => server.close());

  it("answers 503 in the error envelope, saying how to build it", async () => {
    const res = await fetch(`${server.url}/console/`, { headers: { accept: "application/json" } });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("unavailable");
    expect(body.error.message).toContain("npm run build -w @points/console");
  });

  it("answers a browser with an HTML page", async () => {
    const res = await fetch(`${server.url}/console/members`, { headers: { accept: "text/html,*/*;q=0.8" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await res.text()).toContain("Console not built");
  });
});

describe("GET /console/ with a bundle", () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "console-dist-"));
    await mkdir(join(dir, "assets"));
    await writeFile(join(dir, "index.html"), "<!doctype html><title>t</title>");
    await writeFile(join(dir, "assets", "app-1.js"), "export {};");
    await writeFile(join(dir, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>");
    server = await serve(dir);
  });
  afterAll(async () => {
    await server.close();
    await rm(dir, { recursive: true });
  });

  it("serves files with their content types, pages with index.html, and 404 for missing files", async () => {
    const js = await fetch(`${server.url}/console/assets/app-1.js`);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(js.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${server.url}/console/favicon.svg`)).headers.get("content-type")).toMatch(
      /^image\/svg\+xml/,
    );
    for (const page of ["/console/", "/console/members/ann", "/console/reports"]) {
      const res = await fetch(`${server.url}${page}`);
      expect(res.status, page).toBe(200);
      expect(res.headers.get("cache-control"), page).toBe("no-cache");
      expect(await res.text(), page).toContain("<title>t</title>");
    }
    for (const missing of ["/console/assets/app-2.js", "/console/other.css", "/console/../package.json"]) {
      const res = await fetch(`${server.url}${missing}`);
      expect(res.status, missing).not.toBe(200);
    }
  });

  it("finds packages/console/dist upwards from a directory", async () => {
    expect(consoleDistDir(join(dir, "x", "y"))).toBeNull();
  });
});
