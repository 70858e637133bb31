// The mutant corpus stays usable as the server changes: every patch still applies to the current
// source, names a rule of the spec that some conformance case cites, and the corpus spans the
// server's parts. (Running the mutants is mutants.test.ts and `npm run mutants`.)
import { describe, expect, it } from "vitest";
import { allCases } from "../../conformance/src/cases/index.js";
import { readRuleIds } from "../../conformance/src/spec.js";
import { allMutants } from "./corpus/index.js";
import { patchProblem, readServerFile } from "./scratch.js";

describe("mutant corpus", () => {
  it("has at least 60 mutants with unique IDs", () => {
    expect(allMutants.length).toBeGreaterThanOrEqual(60);
    const ids = allMutants.map((m) => m.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
  });

  it("every patch applies exactly once to the current source", () => {
    const problems = allMutants.flatMap((m) => {
      const problem = patchProblem(m, readServerFile(m.file));
      return problem ? [`${m.id}: ${problem}`] : [];
    });
    expect(problems).toEqual([]);
  });

  it("every mutant names a rule of docs/spec.md that a conformance case cites", () => {
    const defined = new Set(readRuleIds());
    const cited = new Set(allCases.flatMap((c) => c.rules));
    expect(allMutants.filter((m) => !defined.has(m.rule)).map((m) => `${m.id}: ${m.rule} is not in the spec`)).toEqual([]);
    expect(allMutants.filter((m) => !cited.has(m.rule)).map((m) => `${m.id}: no case cites ${m.rule}`)).toEqual([]);
  });

  it("spans both stores, live delivery, both Subscribe paths, services, auth, rate limit and HTTP handling", () => {
    const files = new Set(allMutants.map((m) => m.file));
    const touches = (pattern: RegExp) => [...files].some((f) => pattern.test(f));
    const parts: [string, RegExp][] = [
      ["SQLite store", /^store\/sqlite/],
      ["PostgreSQL store", /^store\/postgres/],
      ["hub", /^hub\.ts$/],
      ["sequencer", /^sequencer\.ts$/],
      ["services", /^services\/(messaging|message-service|group-service|admin-service)/],
      ["auth", /^auth\.ts$/],
      ["rate limit", /^rate-limit\.ts$/],
      ["Subscribe core (both paths)", /^(services\/subscribe-core|subscription)\.ts$/],
      ["Subscribe HTTP fast path", /^http\/subscribe-fast-path\.ts$/],
      ["HTTP handling", /^http\/(adapter|limits|cors)\.ts$/],
    ];
    expect(parts.filter(([, re]) => !touches(re)).map(([name]) => name)).toEqual([]);
    expect(allMutants.some((m) => m.backend === "postgres")).toBe(true);
  });

  it("a known survivor says why the suite cannot catch it", () => {
    expect(allMutants.filter((m) => m.survives !== undefined && m.survives.trim().length < 20).map((m) => m.id)).toEqual([]);
  });
});
