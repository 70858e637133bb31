import { defineConfig } from "vitest/config";

// One vitest run covers every workspace package. Tests start their own servers on port 0.
// Workspace packages resolve to their TypeScript sources through the "narrowcast-source" export
// condition (see package.json "exports"), so tests need no build; test/consumers/ is what checks
// the built, packed packages.
// The rest are Vite's default server conditions, which setting the list replaces.
const conditions = ["narrowcast-source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
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
