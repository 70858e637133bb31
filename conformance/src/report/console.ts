// Human-readable report: the plan, a live line per case run, failure details, a summary per rule
// area, protocol and cell, the slowest runs, and the closing "N passed, N failed" line.
import type { CaseResult, SuitePlan, SuiteResult } from "../runner.js";
import { ruleArea, ruleAreas } from "../spec.js";

export interface Writer {
  write(text: string): unknown;
}

const marks: Record<CaseResult["status"], string> = {
  passed: "✓",
  failed: "✗",
  "known-failing": "~",
  "unexpected-pass": "✗",
  flaky: "?",
  skipped: "-",
};

/** The plan printed before the first case: what runs where, and how many runs each cell gets. */
export function formatPlan(plan: SuitePlan, baseUrl: string): string {
  const cells = plan.cells.filter((c) => c.runs > 0);
  const how = plan.matrix === "full" ? "every case in every cell" : "each case once per protocol, cells rotating";
  const lines = [
    `narrowcast-conformance: ${plural(plan.cases.length, "case")}, ${plural(plan.runs, "run")} in ${plural(cells.length, "cell")} (${plan.matrix} matrix: ${how}) against ${baseUrl}`,
    ...plan.cells.map((c) => `  ${c.id.padEnd(width(plan.cells.map((x) => x.id)))}  ${plural(c.runs, "run")}`),
    ...plan.notes.map((n) => `note: ${n}`),
  ];
  return `${lines.join("\n")}\n`;
}

function width(texts: readonly string[]): number {
  return Math.max(0, ...texts.map((t) => t.length));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** The live progress line of one case run. */
export function formatProgress(r: CaseResult): string {
  const suffix =
    r.status === "known-failing"
      ? "  (known failing)"
      : r.status === "unexpected-pass"
        ? "  (passed, but listed as known failing)"
        : r.status === "flaky"
          ? "  (known flaky, failed both attempts)"
          : r.status === "skipped"
            ? `  (skipped: ${r.skipReason ?? ""})`
            : r.attempts
              ? `  (passed on attempt ${r.attempts}, known flaky)`
              : "";
  return `${marks[r.status]} ${r.id}  [${r.rules.join(", ")}]  ${r.durationMs} ms${suffix}\n`;
}

/** Details of one failed run: rules, requirement, expected and actual. */
export function formatFailure(r: CaseResult): string {
  const lines = [`${marks[r.status]} ${r.id}  [${r.rules.join(", ")}]`, `    requirement: ${r.requirement}`];
  if (r.failure) {
    lines.push(`    failure:     ${r.failure.message}`);
    if (r.failure.expected !== undefined) lines.push(`    expected:    ${r.failure.expected}`);
    if (r.failure.actual !== undefined) lines.push(`    actual:      ${r.failure.actual}`);
  }
  if (r.attempts) lines.push(`    attempts:    ${r.attempts}`);
  lines.push(`    rerun:       ${rerunFlags(r)}`);
  return lines.join("\n");
}

/** The flags that run exactly this case in exactly this cell. */
export function rerunFlags(r: CaseResult): string {
  return `--protocol ${r.protocol} --codec ${r.codec} --compression ${r.compression} --http ${r.httpVersion} --filter '^${r.caseId}$'`;
}

interface Tally {
  passed: number;
  total: number;
  failingRules: Set<string>;
}

function percent(passed: number, total: number): string {
  return total === 0 ? "-" : `${Math.floor((passed / total) * 1000) / 10}%`;
}

/** The summary: failures, a table per rule area (runs citing a rule of the area), per protocol, closing line. */
export function formatSummary(result: SuiteResult): string {
  const out: string[] = [];
  if (result.setupError !== undefined) return `\nerror: ${result.setupError}\nno case ran\n`;
  const bad = result.results.filter((r) => r.status === "failed" || r.status === "unexpected-pass");
  if (bad.length > 0) {
    out.push("", `Failures (${bad.length}):`, ...bad.map(formatFailure));
  }
  const flaky = result.results.filter((r) => r.status === "flaky");
  if (flaky.length > 0) out.push("", `Known flaky, failed both attempts (${flaky.length}; not counted as failures):`, ...flaky.map(formatFailure));
  const retried = result.results.filter((r) => r.status === "passed" && r.attempts);
  if (retried.length > 0) out.push("", `Known flaky, passed on retry (${retried.length}): ${retried.map((r) => r.id).join(", ")}`);
  const known = result.results.filter((r) => r.status === "known-failing");
  if (known.length > 0) out.push("", `Known failing, still failing (${known.length}): ${known.map((r) => r.id).join(", ")}`);
  const skipped = result.results.filter((r) => r.status === "skipped");
  if (skipped.length > 0) out.push("", `Skipped (${skipped.length}):`, ...skipped.map((r) => `- ${r.id}: ${r.skipReason ?? ""}`));

  const areas = new Map<string, Tally>();
  for (const area of Object.keys(ruleAreas)) areas.set(area, { passed: 0, total: 0, failingRules: new Set() });
  for (const r of result.results) {
    if (r.status === "skipped") continue;
    // What the server did, whatever the known-failing list says.
    const ok = r.status === "passed" || r.status === "unexpected-pass";
    for (const area of new Set(r.rules.map(ruleArea))) {
      const t = areas.get(area) ?? { passed: 0, total: 0, failingRules: new Set<string>() };
      areas.set(area, t);
      t.total++;
      if (ok) t.passed++;
      else for (const rule of r.rules) if (ruleArea(rule) === area) t.failingRules.add(rule);
    }
  }
  const rows = [...areas.entries()].filter(([, t]) => t.total > 0);
  if (rows.length > 0) {
    const label = (area: string) => `${ruleAreas[area] ?? area} (${area})`;
    const width = Math.max(...rows.map(([a]) => label(a).length));
    out.push("", "Rule area".padEnd(width) + "  passed/runs      ");
    for (const [area, t] of rows) {
      const failing = t.failingRules.size > 0 ? `  failing cases cite: ${[...t.failingRules].sort(byRule).join(", ")}` : "";
      out.push(`${label(area).padEnd(width)}  ${`${t.passed}/${t.total}`.padStart(7)}  ${percent(t.passed, t.total).padStart(6)}${failing}`);
    }
    out.push("(a case run counts in every area whose rules it cites)");
  }
  const perProtocol = result.protocols.map((p) => {
    const runs = result.results.filter((r) => r.protocol === p && r.status !== "skipped");
    return `${p} ${runs.filter((r) => r.status === "passed").length}/${runs.length}`;
  });
  if (perProtocol.length > 0) out.push("", `Protocols: ${perProtocol.join(", ")}`);
  out.push(...formatCells(result), ...formatSlowest(result.results, 10));
  for (const note of result.notes) out.push(`note: ${note}`);
  const extra = [
    result.knownFailing > 0 ? `${result.knownFailing} known failing` : "",
    result.unexpectedPasses > 0 ? `${result.unexpectedPasses} unexpectedly passing` : "",
    result.flaky > 0 ? `${result.flaky} flaky` : "",
    result.skipped > 0 ? `${result.skipped} skipped` : "",
  ].filter((s) => s !== "");
  out.push("", `${result.passed} passed, ${result.failed} failed${extra.length ? ` (${extra.join(", ")})` : ""} in ${(result.durationMs / 1000).toFixed(1)} s`);
  return `${out.join("\n")}\n`;
}

/** Per cell: runs passed, wall time (first start to last end) and the sum of the run times. */
function formatCells(result: SuiteResult): string[] {
  if (result.cells.length === 0) return [];
  const w = width(result.cells.map((c) => c.id));
  return [
    "",
    `${"Cell".padEnd(w)}  passed/runs     wall    run time`,
    ...result.cells.map(
      (c) => `${c.id.padEnd(w)}  ${`${c.passed}/${c.runs}`.padStart(11)}  ${seconds(c.wallMs).padStart(7)}  ${seconds(c.runMs).padStart(10)}`,
    ),
  ];
}

/** The n slowest runs, every attempt included. */
function formatSlowest(results: readonly CaseResult[], n: number): string[] {
  const slowest = [...results].sort((a, b) => b.durationMs - a.durationMs).slice(0, n);
  if (slowest.length === 0) return [];
  return ["", `Slowest runs (${slowest.length}):`, ...slowest.map((r) => `  ${seconds(r.durationMs).padStart(7)}  ${r.id}${r.attempts ? ` (${r.attempts} attempts)` : ""}`)];
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function byRule(a: string, b: string): number {
  const [pa, na] = [ruleArea(a), Number(a.slice(a.lastIndexOf("-") + 1))];
  const [pb, nb] = [ruleArea(b), Number(b.slice(b.lastIndexOf("-") + 1))];
  return pa === pb ? na - nb : pa < pb ? -1 : 1;
}
