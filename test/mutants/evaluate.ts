// Runs the conformance suite against one mutant: first the cases citing the mutant's rule, then,
// if none failed, every case. A mutant is KILLED when a case fails, and "cited" when one of the
// failing cases cites the rule the mutant breaks.
import { readKnownFailing, runSuite, type CaseResult, type SuiteResult } from "../../conformance/src/index.js";
import { selfTestSettings, selfTestWebhooks } from "../../conformance/test/self-options.js";
import { launchServer } from "./launch.js";
import { createScratch, repoRoot } from "./scratch.js";
import type { Mutant, MutantBackend } from "./types.js";

export type MutantStatus = "killed" | "survived" | "invalid";

export interface FailingRun {
  id: string;
  rules: readonly string[];
  message: string;
}

export interface MutantResult {
  id: string;
  rule: string;
  backend: MutantBackend;
  status: MutantStatus;
  /** Killed by a case citing the mutant's rule. */
  cited: boolean;
  /** "rule": the cases citing the rule caught it; "all": only the whole suite did. */
  phase?: "rule" | "all";
  failing: FailingRun[];
  /** The server process had exited by the end of the run (a crash counts as caught). */
  crashed: boolean;
  /** Why the mutant could not be evaluated (status invalid). */
  problem?: string;
  durationMs: number;
}

const knownFailing = readKnownFailing(`${repoRoot}conformance/test/reference-known-failing.txt`);

function failingRuns(result: SuiteResult): FailingRun[] {
  return result.results
    .filter((r: CaseResult) => r.status === "failed" || r.status === "unexpected-pass")
    .map((r) => ({ id: r.id, rules: r.rules, message: r.failure?.message ?? "" }));
}

/** Evaluates a mutant, or the unmutated source when `mutant` is undefined (the baseline). */
export async function evaluate(mutant: Mutant | undefined, backend: MutantBackend = mutant?.backend ?? "sqlite"): Promise<MutantResult> {
  const started = Date.now();
  const id = mutant?.id ?? `baseline-${backend}`;
  const base = { id, rule: mutant?.rule ?? "-", backend };
  let scratch;
  try {
    scratch = createScratch(id, mutant);
  } catch (err) {
    return { ...base, status: "invalid", cited: false, failing: [], crashed: false, problem: (err as Error).message, durationMs: Date.now() - started };
  }
  let server;
  try {
    server = await launchServer(scratch.src, backend);
  } catch (err) {
    scratch.remove();
    return { ...base, status: "invalid", cited: false, failing: [], crashed: false, problem: (err as Error).message, durationMs: Date.now() - started };
  }
  try {
    const [baseUrl, ...otherNodeUrls] = server.urls;
    const suite = (filter?: string) =>
      runSuite({ baseUrl: baseUrl!, otherNodeUrls, adminKey: server.adminKey, parallel: 12, knownFailing, settings: selfTestSettings, webhooks: selfTestWebhooks, ...(filter ? { filter } : {}) });
    let phase: "rule" | "all" = "rule";
    let failing = mutant ? failingRuns(await suite(mutant.rule)) : [];
    if (failing.length === 0) {
      phase = "all";
      failing = failingRuns(await suite());
    }
    const killed = failing.length > 0;
    return {
      ...base,
      status: killed ? "killed" : "survived",
      cited: killed && mutant !== undefined && failing.some((f) => f.rules.includes(mutant.rule)),
      ...(killed ? { phase } : {}),
      failing,
      crashed: server.exited(),
      durationMs: Date.now() - started,
    };
  } finally {
    await server.stop();
    scratch.remove();
  }
}
