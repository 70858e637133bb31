// Which cases cite which spec rules: the --coverage table and the "every rule is tested" check.
import type { ConformanceCase } from "./case.js";

export interface RuleCoverage {
  rule: string;
  cases: string[];
}

/** Maps each spec rule to the cases citing it, in spec order. */
export function coverage(ruleIds: readonly string[], cases: readonly ConformanceCase[]): RuleCoverage[] {
  return ruleIds.map((rule) => ({ rule, cases: cases.filter((c) => c.rules.includes(rule)).map((c) => c.id) }));
}

/** Spec rules that no case cites. */
export function uncoveredRules(ruleIds: readonly string[], cases: readonly ConformanceCase[]): string[] {
  return coverage(ruleIds, cases)
    .filter((r) => r.cases.length === 0)
    .map((r) => r.rule);
}

/** Rule IDs cited by cases but not defined by the spec (typos, or rules removed from the spec). */
export function unknownRules(ruleIds: readonly string[], cases: readonly ConformanceCase[]): string[] {
  const known = new Set(ruleIds);
  return [...new Set(cases.flatMap((c) => c.rules))].filter((r) => !known.has(r)).sort();
}
