// npm run mutants -- [--filter re] [--backend sqlite|postgres] [--sample n --seed s]
//                    [--budget-minutes m] [--no-baseline] [--json file] [--markdown file] [--list]
// Applies each mutant of the corpus to a scratch copy of the server, runs the conformance suite
// against it, and prints KILLED (with the failing cases and the rules they cite) or SURVIVED, then
// the kill rate. Exits 1 when the baseline (unmutated) run fails, a mutant is invalid, or the kill
// rate is under --min-kill-rate.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { allMutants } from "./corpus/index.js";
import { removedMutants } from "./equivalent.js";
import { evaluate, type MutantResult } from "./evaluate.js";
import { formatLine, formatMarkdown, formatTally, tally } from "./report.js";
import { repoRoot } from "./scratch.js";
import type { Mutant, MutantBackend } from "./types.js";
import { sampleMutants } from "./sample.js";

const { values } = parseArgs({
  options: {
    filter: { type: "string" },
    backend: { type: "string" },
    sample: { type: "string" },
    seed: { type: "string", default: "1" },
    "budget-minutes": { type: "string" },
    "no-baseline": { type: "boolean", default: false },
    "min-kill-rate": { type: "string", default: "95" },
    json: { type: "string" },
    markdown: { type: "string" },
    list: { type: "boolean", default: false },
  },
});

let chosen: readonly Mutant[] = allMutants;
if (values.filter) {
  const re = new RegExp(values.filter, "i");
  chosen = chosen.filter((m) => re.test(m.id) || re.test(m.rule) || re.test(m.file));
}
if (values.backend) chosen = chosen.filter((m) => (m.backend ?? "sqlite") === values.backend);
if (values.sample) chosen = sampleMutants(chosen, Number(values.sample), Number(values.seed));

if (values.list) {
  for (const m of chosen) console.log(`${m.id} [${m.rule}] ${m.backend ?? "sqlite"} ${m.file}\n    ${m.bug}`);
  console.log(`${chosen.length} mutants`);
  process.exit(0);
}

const started = Date.now();
const deadline = values["budget-minutes"] ? started + Number(values["budget-minutes"]) * 60_000 : Infinity;
let failed = false;

if (!values["no-baseline"]) {
  // A suite that fails against the unmutated server would "kill" every mutant.
  for (const backend of new Set(chosen.map((m) => m.backend ?? "sqlite"))) {
    const base = await evaluate(undefined, backend as MutantBackend);
    console.log(`baseline (${backend}): ${base.status === "survived" ? "every case passes" : `FAILS — ${base.problem ?? base.failing.map((f) => f.id).join(", ")}`} (${(base.durationMs / 1000).toFixed(1)} s)`);
    if (base.status !== "survived") process.exit(1);
  }
}

const results: MutantResult[] = [];
for (const m of chosen) {
  if (Date.now() > deadline) {
    console.log(`budget of ${values["budget-minutes"]} min used: ${chosen.length - results.length} mutants not run`);
    break;
  }
  const r = await evaluate(m);
  results.push(r);
  console.log(formatLine(r, m));
  if (r.status === "invalid") failed = true;
}

const t = tally(results);
console.log(`\n${formatTally(t)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
const survivors = results.filter((r) => r.status === "survived");
if (survivors.length > 0) console.log(`survivors: ${survivors.map((r) => `${r.id} [${r.rule}]`).join(", ")}`);
const uncited = results.filter((r) => r.status === "killed" && !r.cited);
if (uncited.length > 0) console.log(`killed, but not by a case citing their rule: ${uncited.map((r) => `${r.id} [${r.rule}]`).join(", ")}`);

if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
if (values.markdown) {
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: repoRoot, encoding: "utf8" }).trim();
  const command = `npm run mutants -- ${process.argv.slice(2).join(" ")}`.trim();
  const date = `${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC`;
  writeFileSync(values.markdown, formatMarkdown(results, new Map(allMutants.map((m) => [m.id, m])), removedMutants, { date, commit, durationMs: Date.now() - started, command }));
}
if (t.killRate < Number(values["min-kill-rate"])) failed = true;
process.exit(failed ? 1 : 0);
