// A conformance case: one requirement of the spec, the rule IDs it checks, and how to check it.
import type { CaseContext } from "./fixtures.js";

export interface ConformanceCase {
  /** Stable kebab-case ID, e.g. "tgt-nonreceiver-history". Reports prefix it with the protocol. */
  readonly id: string;
  /** The spec rule IDs the case checks, e.g. ["TGT-4", "MSG-12"]; the first is its main rule. */
  readonly rules: readonly string[];
  /** The requirement, in one or two sentences, as the report prints it. */
  readonly requirement: string;
  /**
   * An optional area the case belongs to: "webhooks" cases (HOOK) run only with --webhooks, as the
   * server under test must reach the suite's HTTP receiver; otherwise they are skipped.
   */
  readonly needs?: "webhooks";
  /** Builds fixtures and checks the requirement; throws (CheckFailure) when the server breaks it. */
  run(ctx: CaseContext): Promise<void>;
}

const caseIdPattern = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const ruleIdPattern = /^[A-Z]+-\d+$/;

/** Declares a case, validating its ID and rule IDs. */
export function defineCase(c: ConformanceCase): ConformanceCase {
  if (!caseIdPattern.test(c.id)) throw new Error(`bad case ID ${JSON.stringify(c.id)}`);
  if (c.rules.length === 0) throw new Error(`case ${c.id} cites no rule`);
  for (const rule of c.rules) if (!ruleIdPattern.test(rule)) throw new Error(`case ${c.id}: bad rule ID ${JSON.stringify(rule)}`);
  return c;
}
