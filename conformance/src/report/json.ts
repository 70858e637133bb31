// Machine-readable report: the whole SuiteResult as JSON — every run with its cell, status,
// durationMs and attempts, and the per-cell summaries with their wall and run times.
import type { SuiteResult } from "../runner.js";

export function formatJson(result: SuiteResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}
