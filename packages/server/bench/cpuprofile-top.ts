// Summarizes a V8 .cpuprofile (from `node --cpu-prof`): the functions with the most self time,
// with their share of all samples, and the same grouped by package (or "narrowcast" for this repo).
// Usage: tsx bench/cpuprofile-top.ts <file.cpuprofile> [--top 25]
//   e.g. node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/bench.ts --scenarios fanout
import { readFileSync } from "node:fs";
import { Command } from "commander";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** "narrowcast", an npm package name, "node:internal", or "(native)". */
function ownerOf(url: string): string {
  if (!url) return "(native)";
  if (url.startsWith("node:")) return "node";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  return url.includes("/work/") || url.includes("/packages/") || url.includes("/gen/") ? "narrowcast" : url;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) return url.slice(nm + "node_modules/".length);
  const i = url.search(/\/(packages|gen)\//);
  return i >= 0 ? url.slice(i + 1) : url.replace(/^file:\/\//, "");
}

const program = new Command("cpuprofile-top")
  .argument("<file>", ".cpuprofile written by node --cpu-prof")
  .option("--top <n>", "rows to print", (v) => Number(v), 25)
  .action((file: string, o: { top: number }) => {
    const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    // Self time per node: the time deltas of the samples that landed on it.
    const self = new Map<number, number>();
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    const byFunction = new Map<string, number>();
    const byOwner = new Map<string, number>();
    for (const [id, us] of self) {
      const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
      const key = `${functionName || "(anonymous)"}  ${url ? `${shortUrl(url)}:${lineNumber + 1}` : ""}`.trim();
      byFunction.set(key, (byFunction.get(key) ?? 0) + us);
      const owner = functionName === "(idle)" || functionName === "(program)" || functionName === "(garbage collector)" ? functionName : ownerOf(url);
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + us);
    }
    const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
    const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;
    console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nself time by function`);
    for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, o.top)) console.log(`${pct(us)} ${ms(us)}  ${k}`);
    console.log("\nself time by owner");
    for (const [k, us] of [...byOwner].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`${pct(us)} ${ms(us)}  ${k}`);
  });

program.parse();
