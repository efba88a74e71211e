import { defineConfig } from "vite";

/**
 * The console is served by the gateway at /console/ (services/gateway/src/routes/console/routes.ts):
 * everything is bundled into dist/ with relative-to-base URLs, no CDN, so it works offline.
 * JSX goes through Vite's own transformer with Preact's automatic runtime (no Babel preset).
 */
export default defineConfig({
  base: "/console/",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: false,
  },
  logLevel: "warn",
});
