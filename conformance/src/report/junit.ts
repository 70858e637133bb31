// JUnit XML report: one <testsuite> per cell of the wire matrix, one <testcase> per case run there,
// with its time. Known-failing and known-flaky (failed twice) runs are <skipped>, as are runs that
// skipped themselves; failures and unexpected passes are <failure>.
import type { CaseResult, SuiteResult } from "../runner.js";

function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

function testcase(r: CaseResult): string {
  const open = `    <testcase classname="narrowcast.${escapeXml(r.cell)}" name="${escapeXml(r.caseId)}" time="${(r.durationMs / 1000).toFixed(3)}">`;
  const attempts = r.attempts ? `<property name="attempts" value="${r.attempts}"/>` : "";
  const props = `      <properties><property name="rules" value="${escapeXml(r.rules.join(","))}"/><property name="requirement" value="${escapeXml(r.requirement)}"/>${attempts}</properties>`;
  const body: string[] = [props];
  if (r.status === "skipped") body.push(`      <skipped message="${escapeXml(r.skipReason ?? "skipped")}"/>`);
  if (r.status === "known-failing") body.push(`      <skipped message="known failing: ${escapeXml(r.failure?.message ?? "")}"/>`);
  if (r.status === "flaky") body.push(`      <skipped message="known flaky, failed ${r.attempts ?? 1} attempts: ${escapeXml(r.failure?.message ?? "")}"/>`);
  if ((r.status === "failed" || r.status === "unexpected-pass") && r.failure) {
    const detail = [`rules: ${r.rules.join(", ")}`, `requirement: ${r.requirement}`];
    if (r.failure.expected !== undefined) detail.push(`expected: ${r.failure.expected}`);
    if (r.failure.actual !== undefined) detail.push(`actual: ${r.failure.actual}`);
    body.push(`      <failure message="${escapeXml(r.failure.message)}" type="${r.status}">${escapeXml(detail.join("\n"))}</failure>`);
  }
  return [open, ...body, "    </testcase>"].join("\n");
}

export function formatJunit(result: SuiteResult): string {
  const suites = result.cells.map((cell) => {
    const runs = result.results.filter((r) => r.cell === cell.id);
    const failures = runs.filter((r) => r.status === "failed" || r.status === "unexpected-pass").length;
    const skipped = runs.filter((r) => r.status === "known-failing" || r.status === "flaky" || r.status === "skipped").length;
    const time = runs.reduce((t, r) => t + r.durationMs, 0) / 1000;
    return [
      `  <testsuite name="narrowcast-conformance/${escapeXml(cell.id)}" tests="${runs.length}" failures="${failures}" errors="0" skipped="${skipped}" time="${time.toFixed(3)}">`,
      ...runs.map(testcase),
      "  </testsuite>",
    ].join("\n");
  });
  const total = result.results.length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="narrowcast-conformance" tests="${total}" failures="${result.failed}" time="${(result.durationMs / 1000).toFixed(3)}">\n${suites.join("\n")}\n</testsuites>\n`;
}
