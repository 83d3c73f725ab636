/**
 * Vite configuration of the web view (`pnpm --filter @iommu-sim/demo run web`).
 *
 * The page runs the workspace packages from their TypeScript sources (as the
 * tests do), so no build of the packages is needed; JSX is Preact's.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import { serveLog } from "./serve-log.ts";

const here = dirname(fileURLToPath(import.meta.url));
const packages = resolve(here, "../../../packages");

export default defineConfig({
  root: here,
  // A relative base lets the built page be opened from any directory.
  base: "./",
  resolve: {
    // `@iommu-sim/<dir>` → packages/<dir>/src/index.ts (same mapping as vitest.shared.ts).
    alias: [{ find: /^@iommu-sim\/([a-z-]+)$/, replacement: `${packages}/$1/src/index.ts` }],
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  plugins: [serveLog()],
  server: { host: "127.0.0.1" },
  preview: { host: "127.0.0.1" },
  build: { outDir: resolve(here, "../dist/web"), emptyOutDir: true, target: "es2022" },
});
