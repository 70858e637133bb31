import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { workspaceSources } from "./scripts/workspace-sources.js";

// One vitest run covers every workspace package. Tests start their own servers on port 0.
// Workspace packages resolve to their TypeScript sources (each specifier, and each subpath, is an
// alias of its src/ file), so tests need no build and never run a stale dist/; test/consumers/ is
// what checks the built, packed packages. Package-internal imports ("#…", used only by the bins)
// are left to tsx, which maps them through tsconfig.json "paths".
const root = fileURLToPath(new URL(".", import.meta.url));
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const alias = Object.entries(workspaceSources(root))
  .filter(([specifier]) => !specifier.startsWith("#"))
  .map(([specifier, source]) => ({
    // Exact matches: a string alias would also rewrite the package's other subpaths.
    find: new RegExp(`^${escape(specifier).replace("\\*", "(.+)")}$`),
    replacement: root + source.slice(2).replace("*", "$1"),
  }));

export default defineConfig({
  resolve: { alias },
  test: {
    include: [
      "test/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "conformance/test/**/*.test.ts",
      "examples/**/*.test.ts",
    ],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
  },
});
