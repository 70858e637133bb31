// Where each workspace package's public entry points have their TypeScript sources, for in-repo
// development (type check, tests, bench, model, the bins run through tsx) without a build.
// The published package.json files name only dist/ (what the tarballs ship); by convention every
// "exports"/"imports" target ./dist/X.js is compiled from ./src/X.ts. The root tsconfig.json
// "paths" list these pairs for tsc, tsx and esbuild (test/consumers/sources.test.ts checks that
// they match), and vitest.config.ts turns them into aliases.
import { readFileSync } from "node:fs";
import { join } from "node:path";

type Target = string | { default: string };
interface PackageJson {
  name: string;
  workspaces?: string[];
  exports?: Record<string, Target>;
  imports?: Record<string, Target>;
}

const readPackageJson = (dir: string): PackageJson => JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));

/**
 * Maps every package specifier and package-internal import of the workspace to its source file,
 * relative to the repository root: {"@narrowcast/gen": "./gen/src/index.ts",
 * "@narrowcast/gen/narrowcast/v1/*": "./gen/src/narrowcast/v1/*.ts", "#server-main": ..., ...}.
 */
export function workspaceSources(root: string): Record<string, string> {
  const sources: Record<string, string> = {};
  for (const dir of readPackageJson(root).workspaces ?? []) {
    const pkg = readPackageJson(join(root, dir));
    const entries = [
      ...Object.entries(pkg.exports ?? {}).map(([subpath, target]) => [pkg.name + subpath.slice(1), target] as const),
      ...Object.entries(pkg.imports ?? {}),
    ];
    for (const [specifier, target] of entries) {
      const compiled = /^\.\/dist\/(.+)\.js$/.exec(typeof target === "string" ? target : target.default);
      if (compiled) sources[specifier] = `./${dir}/src/${compiled[1]}.ts`; // not ./package.json
    }
  }
  return sources;
}
