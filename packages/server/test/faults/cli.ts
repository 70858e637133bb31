// Fault injection from the command line, for long windows:
//   npm run faults -- \
//     --nodes 3 --fault nats-down --window 15 [--runs 3] [--rate 40] [--seed 1] [--before 1.5] [--after S]
// --nodes and --fault take comma-separated lists ("all" for every fault). Prints the table and
// the findings; exits 1 if any delivery was missed, repeated, out of order or wrongly delivered.
import { parseArgs } from "node:util";
import { Cluster } from "./cluster.js";
import { FAULT_NAMES, type FaultName } from "./faults.js";
import { runScenario, type ScenarioResult } from "./scenario.js";
import { details, table } from "./table.js";

const { values } = parseArgs({
  options: {
    nodes: { type: "string", default: "2" },
    fault: { type: "string", default: "all" },
    window: { type: "string", default: "15" },
    runs: { type: "string", default: "1" },
    rate: { type: "string", default: "40" },
    seed: { type: "string", default: "1" },
    before: { type: "string", default: "1.5" },
    after: { type: "string" },
  },
});
const faults = (values.fault === "all" ? [...FAULT_NAMES] : values.fault!.split(",")) as FaultName[];
for (const f of faults) if (!FAULT_NAMES.includes(f)) throw new Error(`unknown fault ${f}; one of ${FAULT_NAMES.join(", ")}`);

const results: ScenarioResult[] = [];
let cluster: Cluster | undefined;
// Ctrl-C still tears the services down (the cluster's exit handler runs on exit).
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
try {
  for (const n of values.nodes!.split(",").map(Number)) {
    cluster = await Cluster.start(n);
    for (let run = 0; run < Number(values.runs); run++) {
      for (const fault of faults) {
        const result = await runScenario(cluster, { fault, windowSeconds: Number(values.window), beforeSeconds: Number(values.before), afterSeconds: values.after === undefined ? Math.max(2, Number(values.window) / 2) : Number(values.after), rate: Number(values.rate), seed: Number(values.seed) + run });
        results.push(result);
        console.log(table([result]).split("\n")[2]);
      }
    }
    await cluster.destroy();
    cluster = undefined;
  }
} finally {
  await cluster?.destroy();
}
console.log(`\n${table(results)}\n`);
const found = details(results);
if (found) console.log(found);
const failed = results.some((r) => !r.quiescent || r.check.missed.length + r.check.duplicates.length + r.check.orderViolations.length + r.check.wronglyDelivered.length > 0);
process.exit(failed ? 1 : 0);
