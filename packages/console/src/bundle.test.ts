import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BUNDLE_GZIP_BYTES_MAX, bundleSize, DIST_DIR } from "../scripts/build.mjs";

/** The bundle built by this package's global setup: within budget, and nothing loaded from elsewhere. */
describe("the console bundle", () => {
  it(`is at most ${BUNDLE_GZIP_BYTES_MAX / 1024} kB gzipped`, () => {
    const size = bundleSize();
    expect(size.files.some((f) => f.file.endsWith(".js"))).toBe(true);
    expect(size.gzipBytes).toBeLessThanOrEqual(BUNDLE_GZIP_BYTES_MAX);
  });

  it("references no external asset", async () => {
    const html = await readFile(join(DIST_DIR, "index.html"), "utf8");
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    for (const f of bundleSize().files.filter((f) => f.file.endsWith(".css"))) {
      expect(await readFile(join(DIST_DIR, f.file), "utf8")).not.toMatch(/url\(\s*['"]?(https?:)?\/\//);
    }
  });
});
