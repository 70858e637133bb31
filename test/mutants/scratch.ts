// Applies a mutant to a scratch copy of packages/server/src, inside the repository (under
// .mutants/, git-ignored) so the copy resolves the workspace's node_modules and tsconfig paths.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Mutant } from "./types.js";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const serverSrc = join(repoRoot, "packages/server/src");

/** Occurrences of `needle` in `text`. */
function occurrences(text: string, needle: string): number {
  let count = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) count++;
  return count;
}

/** Why the mutant's patch does not apply to `source` (the file's text), or undefined if it does. */
export function patchProblem(mutant: Mutant, source: string | undefined): string | undefined {
  if (source === undefined) return `${mutant.file} does not exist`;
  const n = occurrences(source, mutant.from);
  return n === 1 ? undefined : `its text occurs ${n} times in ${mutant.file} (must be exactly once)`;
}

/** Reads a file of packages/server/src, or undefined when it does not exist. */
export function readServerFile(file: string): string | undefined {
  try {
    return readFileSync(join(serverSrc, file), "utf8");
  } catch {
    return undefined;
  }
}

/** A scratch copy of the server source with the mutant applied (or none: the baseline). */
export interface Scratch {
  /** The copied src directory. */
  src: string;
  remove(): void;
}

export function createScratch(name: string, mutant?: Mutant): Scratch {
  const dir = join(repoRoot, ".mutants", name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const src = join(dir, "src");
  cpSync(serverSrc, src, { recursive: true });
  if (mutant) {
    const path = join(src, mutant.file);
    const source = readServerFile(mutant.file);
    const problem = patchProblem(mutant, source);
    if (problem) throw new Error(`mutant ${mutant.id} does not apply: ${problem}`);
    writeFileSync(path, source!.replace(mutant.from, () => mutant.to));
  }
  return { src, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
