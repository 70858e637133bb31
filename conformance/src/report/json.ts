// Machine-readable report: the whole SuiteResult as JSON.
import type { SuiteResult } from "../runner.js";

export function formatJson(result: SuiteResult): string {
  return `${JSON.stringify(result, null, 2)}\n`;
}
