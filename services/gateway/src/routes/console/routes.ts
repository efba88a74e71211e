/**
 * GET /console/: the operations console, a static bundle built from packages/console (Vite) and
 * served as is. Public like /docs: the page holds no data; it signs in with a token and then
 * calls the API like any other client. Assets are content-hashed, so they are cached for good;
 * index.html is never cached, so a new build shows up on the next load. Any other path under
 * /console/ without a file extension is a page of the single-page app: index.html answers it.
 *
 * Plain express, not route() declarations: these are files and a redirect, not JSON API routes,
 * and they stay out of the OpenAPI document (the console is a client of that API, not part of it).
 */

import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import express, { type Request, type Response, Router } from "express";

const ASSET_MAX_AGE_MS = 365 * 24 * 3600 * 1000;
/** Only our own origin: the console loads nothing from elsewhere (works offline). */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/** packages/console/dist, found upwards from this module (src/ in tests, dist/ when bundled). */
export function consoleDistDir(from = dirname(fileURLToPath(import.meta.url))): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, "packages", "console", "dist");
    if (existsSync(join(candidate, "index.html"))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

export function consoleRoutes(distDir = consoleDistDir()): Router {
  const router = Router();
  // A regex, not "/console": express matches a string path with or without its trailing slash.
  router.get(/^\/console$/, (_req, res) => res.redirect(301, "/console/"));
  router.use("/console", (_req, res, next) => {
    res.setHeader("content-security-policy", CONTENT_SECURITY_POLICY);
    res.setHeader("x-content-type-options", "nosniff");
    next();
  });
  if (distDir === null) {
    router.get(/^\/console\/.*/, notBuilt);
    return router;
  }
  router.use(
    "/console/assets",
    express.static(join(distDir, "assets"), { maxAge: ASSET_MAX_AGE_MS, immutable: true, index: false }),
    // A missing asset is a 404, not the app: a stale page must not get HTML for its script.
    (req: Request, res: Response) => sendError(res, 404, "not_found", `no console asset ${req.path}`),
  );
  router.use("/console", express.static(distDir, { index: false, maxAge: 0 }));
  router.get(/^\/console\/(?:[^.]*)$/, (_req, res) => {
    res.setHeader("cache-control", "no-cache");
    res.sendFile(join(distDir, "index.html"));
  });
  router.get(/^\/console\/.*/, (req, res) => sendError(res, 404, "not_found", `no console file ${req.path}`));
  return router;
}

/** The bundle was not built: say how to build it, as HTML to a browser and JSON to anyone else. */
function notBuilt(req: Request, res: Response): void {
  const message =
    "the console bundle is not built: run `npm run build -w @points/console` (npm start and npm test build it)";
  if (req.accepts(["json", "html"]) === "html") {
    res
      .status(503)
      .type("html")
      .send(`<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Console not built</title></head><body><h1>Console not built</h1><p>${message}</p></body></html>`);
    return;
  }
  sendError(res, 503, "unavailable", message);
}

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}
