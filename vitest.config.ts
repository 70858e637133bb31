import { defineConfig } from "vitest/config";

// One vitest run covers every workspace package. Tests start their own servers on port 0.
export default defineConfig({
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
