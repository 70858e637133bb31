// A mutant: one small, plausible bug planted in the reference server's source, breaking one rule
// of docs/spec.md. The corpus is the yardstick of the conformance suite: a mutant the suite does
// not catch is a rule a third-party server could break and still pass.

/** Which deployment the mutant runs on: the code it touches must be on the path. */
export type MutantBackend =
  /** One node on the embedded SQLite store (in memory). */
  | "sqlite"
  /** Two nodes sharing PostgreSQL and NATS; the suite's calls alternate between them. */
  | "postgres";

export interface Mutant {
  /** Stable kebab-case ID, e.g. "sqlite-last-message-floor". */
  readonly id: string;
  /** The spec rule the bug breaks (a rule ID of docs/spec.md). */
  readonly rule: string;
  /** What the bug does, in one sentence, as a new implementer might get it wrong. */
  readonly bug: string;
  /** The patch: a file under packages/server/src, text that occurs in it exactly once, and its replacement. */
  readonly file: string;
  readonly from: string;
  readonly to: string;
  /** Default "sqlite". */
  readonly backend?: MutantBackend;
  /**
   * Set for a mutant the suite is known not to catch: why (e.g. only observable by timing). It
   * stays in the corpus and counts as SURVIVED; CI's sample skips it.
   */
  readonly survives?: string;
}

/** Declares a mutant list, checking IDs and rule IDs. */
export function defineMutants(mutants: readonly Mutant[]): readonly Mutant[] {
  for (const m of mutants) {
    if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(m.id)) throw new Error(`bad mutant ID ${JSON.stringify(m.id)}`);
    if (!/^[A-Z]+-\d+$/.test(m.rule)) throw new Error(`mutant ${m.id}: bad rule ID ${JSON.stringify(m.rule)}`);
    if (m.from === m.to) throw new Error(`mutant ${m.id}: the patch changes nothing`);
  }
  return mutants;
}
