// A time-boxed sample of the mutant corpus, run in CI: each sampled mutant must be KILLED by a
// case citing its rule. The sample rotates daily (seed = the day), so over time CI tries them
// all; `npm run mutants` runs the whole corpus (docs/mutants.md).
import { describe, expect, it } from "vitest";
import { allMutants } from "./corpus/index.js";
import { evaluate } from "./evaluate.js";
import { sampleMutants } from "./sample.js";
import { formatLine } from "./report.js";

const required = process.env.NARROWCAST_REQUIRE_SERVICES === "1";
const day = Math.floor(Date.now() / 86_400_000);
const candidates = allMutants.filter((m) => m.survives === undefined);
const sample = [
  ...sampleMutants(candidates.filter((m) => (m.backend ?? "sqlite") === "sqlite"), 2, day),
  // PostgreSQL + NATS mutants need the services (CI has them).
  ...(required ? sampleMutants(candidates.filter((m) => m.backend === "postgres"), 1, day) : []),
];

describe("a sample of the mutant corpus is caught by the conformance suite", () => {
  for (const mutant of sample) {
    it(`${mutant.id} [${mutant.rule}] is killed by a case citing ${mutant.rule}`, async () => {
      const result = await evaluate(mutant);
      const line = formatLine(result, mutant);
      expect({ status: result.status, cited: result.cited, line }).toEqual({ status: "killed", cited: true, line });
    }, 180_000);
  }
});
