#!/usr/bin/env node
// Builds every workspace package to its dist/ (ESM JavaScript and .d.ts) with the repository's
// TypeScript (tsc -p <package>/tsconfig.build.json). gen/ goes first: the other packages compile
// against its declarations; they then build side by side. Runs on `npm install`/`npm ci` (the root
// "prepare" script), so `npm start` and the bins always have compiled JavaScript to run.
// Usage: node scripts/build.mjs [package dir...]   (default: all four)
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
const first = ["gen"];
const then = ["packages/client", "packages/server", "conformance"];

function build(dir) {
  // A clean dist/: files of deleted sources must not linger and be packed.
  rmSync(join(root, dir, "dist"), { recursive: true, force: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, "-p", join(root, dir, "tsconfig.build.json")], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`tsc failed in ${dir} (exit ${code})`))));
  });
}

const only = process.argv.slice(2);
const wanted = (dirs) => (only.length ? dirs.filter((d) => only.includes(d)) : dirs);
const started = Date.now();
try {
  for (const dir of wanted(first)) await build(dir);
  await Promise.all(wanted(then).map(build));
} catch (err) {
  console.error(`build: ${err.message}`);
  process.exit(1);
}
console.log(`build: ${[...wanted(first), ...wanted(then)].join(", ")} → dist/ in ${Date.now() - started} ms`);
