// npm run model -- --ops 100000 --seed 7 [--config sqlite|pg2|pg3] [--tolerate-known] [--shrink]
//                  [--script ops.json] [--dump ops.json] [--sweep-every 200] [--every-user 5]
// Runs the model-based test once and prints ops/s and the elapsed time; on failure prints the
// seed, the last operations and a minimal diff, writes every op to /tmp, and exits 1.
// --tolerate-known skips the disagreements already written down in the findings, so that a run
// can find more; --shrink delta-debugs the failing op list (practical for short runs);
// --script replays an op list; --every-user N checks every user (not only the members of the
// step's group) every N steps (1 = every step).
import { CONFIGS, pg2Available, type ConfigName } from "./env.js";
import { ModelFailure } from "./failure.js";
import { runModel, shrink } from "./harness.js";
import { describeOp, type Op } from "./ops.js";
import { readFileSync, writeFileSync } from "node:fs";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const config = arg("config", "sqlite") as ConfigName;
if (!CONFIGS.includes(config)) throw new Error(`--config must be one of ${CONFIGS.join(", ")}, not ${config}`);
const seed = Number(arg("seed", String(Date.now() % 1_000_000)));
const ops = Number(arg("ops", "1000"));
const sweepEvery = Number(arg("sweep-every", "200"));
const everyUser = Number(arg("every-user", "5"));
const tolerateKnown = process.argv.includes("--tolerate-known");
const tolerate = { recallToLeftReceiver: tolerateKnown, meetingRejoinLast: tolerateKnown };

// --script file.json: run exactly these operations (a JSON array, one op per element), e.g. a
// minimal sequence written down in a finding.
const scriptPath = arg("script", "");
const script = scriptPath ? (JSON.parse(readFileSync(scriptPath, "utf8")) as Op[]) : undefined;

if (config !== "sqlite" && !(await pg2Available())) {
  console.error(`${config} needs PostgreSQL and NATS (NARROWCAST_TEST_DATABASE_URL, NARROWCAST_TEST_NATS_URL)`);
  process.exit(2);
}
console.log(`model: config=${config} seed=${seed} ${script ? `script=${scriptPath} (${script.length} ops)` : `ops=${ops}`}${tolerateKnown ? " (tolerating known disagreements)" : ""}`);
const opts = { config, seed, ops, sweepEvery, everyUser, tolerate, script } as const;
const result = await runModel(opts);
const secs = result.elapsedMs / 1000;
console.log(`${result.steps} steps in ${secs.toFixed(1)} s: ${(result.steps / secs).toFixed(0)} ops/s`);
const dump = arg("dump", "");
if (dump) writeFileSync(dump, JSON.stringify(result.ops, null, 0).replace(/\},\{"kind"/g, '},\n{"kind"'));
if (result.ok) {
  console.log(`ok/rejected per operation: ${JSON.stringify(result.stats)}`);
  console.log(`rejections by reason: ${JSON.stringify(result.rejections)}`);
  console.log(`accepted, changed nothing: ${JSON.stringify(result.unchanged)}`);
  console.log("OK");
  process.exit(0);
}
console.log(result.report);
const saved = `/tmp/narrowcast-model-${config}-${seed}.json`;
writeFileSync(saved, JSON.stringify(result.ops, null, 0).replace(/\},\{"kind"/g, '},\n{"kind"'));
console.log(`operations written to ${saved} (replay them with --script ${saved})`);
if (process.argv.includes("--shrink") && result.failure instanceof ModelFailure) {
  const small = await shrink(opts, result.ops, result.failure.rule, 80, (s) => console.log(s));
  console.log(`shrunk to ${small.length} operations:`);
  for (const op of small) console.log(`  ${describeOp(op)}`);
}
process.exit(1);
