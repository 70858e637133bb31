// In the repository, workspace packages resolve to their TypeScript sources through the root
// tsconfig.json "paths" (tsc, tsx, esbuild) and vitest's aliases, both of which must follow the
// packages' "exports" and "imports": a missing entry would silently use a stale build (or fail only
// where dist/ is absent). The published package.json files themselves name only dist/.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { workspaceSources } from "../../scripts/workspace-sources.js";
import { repoRoot, workspaceNames } from "./packages.js";

/** tsconfig.json, whose only comments are whole lines. */
function rootTsconfig(): { compilerOptions: { paths: Record<string, string[]> } } {
  const text = readFileSync(join(repoRoot, "tsconfig.json"), "utf8");
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ""));
}

const workspaceDirs: string[] = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")).workspaces;

describe("workspace sources in development", () => {
  it("tsconfig.json maps every export and package import, and nothing else, to its source", () => {
    const expected = Object.fromEntries(Object.entries(workspaceSources(repoRoot)).map(([k, v]) => [k, [v]]));
    expect(Object.keys(expected)).toEqual(expect.arrayContaining(workspaceNames));
    expect(rootTsconfig().compilerOptions.paths).toEqual(expected);
  });

  it("every mapped source exists (a wildcard's directory)", () => {
    for (const source of Object.values(workspaceSources(repoRoot))) {
      const path = join(repoRoot, source.includes("*") ? dirname(source) : source);
      expect(existsSync(path), source).toBe(true);
    }
  });

  it("package imports are unique in the workspace (tsconfig.json maps each to one package)", () => {
    const imports = workspaceDirs.flatMap((dir) => Object.keys(JSON.parse(readFileSync(join(repoRoot, dir, "package.json"), "utf8")).imports ?? {}));
    expect(new Set(imports).size).toBe(imports.length);
  });

  it("package.json exports and imports name only built files, with no extra conditions", () => {
    for (const dir of workspaceDirs) {
      const pkg = JSON.parse(readFileSync(join(repoRoot, dir, "package.json"), "utf8"));
      for (const target of [...Object.values(pkg.exports ?? {}), ...Object.values(pkg.imports ?? {})]) {
        if (typeof target === "string") expect(target, dir).toMatch(/^\.\/(dist\/.+\.js|package\.json)$/);
        else expect(Object.keys(target as object), dir).toEqual(["types", "default"]);
      }
      expect(JSON.stringify(pkg), dir).not.toMatch(/\/src\//);
    }
  });
});
