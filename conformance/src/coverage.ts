// Which cases cite which spec rules: the --coverage table and the "every rule is tested" check.
import type { ConformanceCase } from "./case.js";

export interface RuleCoverage {
  rule: string;
  cases: string[];
  /** Why no case can test the rule over the network, when none can. */
  untestable?: string;
}

/**
 * Rules whose condition a client cannot cause, so no case can test them over the network; the
 * server under test must prove them itself (the reference server does in its own tests).
 */
export const UNTESTABLE_OVER_THE_NETWORK: Readonly<Record<string, string>> = {
  "ERR-6": "needs the server's database or bus to be unreachable (reference server: packages/server/test/backend-outage.test.ts)",
};

/** Maps each spec rule to the cases citing it, in spec order. */
export function coverage(ruleIds: readonly string[], cases: readonly ConformanceCase[]): RuleCoverage[] {
  return ruleIds.map((rule) => ({
    rule,
    cases: cases.filter((c) => c.rules.includes(rule)).map((c) => c.id),
    ...(UNTESTABLE_OVER_THE_NETWORK[rule] ? { untestable: UNTESTABLE_OVER_THE_NETWORK[rule] } : {}),
  }));
}

/** Spec rules that no case cites (rules no case can test are not counted). */
export function uncoveredRules(ruleIds: readonly string[], cases: readonly ConformanceCase[]): string[] {
  return coverage(ruleIds, cases)
    .filter((r) => r.cases.length === 0 && !r.untestable)
    .map((r) => r.rule);
}

/** Rule IDs cited by cases but not defined by the spec (typos, or rules removed from the spec). */
export function unknownRules(ruleIds: readonly string[], cases: readonly ConformanceCase[]): string[] {
  const known = new Set(ruleIds);
  return [...new Set(cases.flatMap((c) => c.rules))].filter((r) => !known.has(r)).sort();
}
