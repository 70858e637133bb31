// The results as the issue's table, and the details of each finding.
import type { ScenarioResult } from "./scenario.js";

const ms = (v: number) => (Number.isNaN(v) ? "-" : `${(v / 1000).toFixed(2)} s`);

export function table(results: ScenarioResult[]): string {
  const head = ["fault", "nodes", "window", "sent/acked", "missed", "duplicates", "order violations", "wrongly delivered", "catch-up s", "p99 latency during fault", "p99 after", "client errors seen", "node error lines"];
  const rows = results.map((r) => {
    const c = r.check;
    const errors = [...c.clientErrors].sort((a, b) => b[1] - a[1]).map(([label, n]) => `${label} ×${n}`).join("; ") || "none";
    const untyped = c.untypedErrors.length > 0 ? ` (UNTYPED: ${c.untypedErrors.length})` : "";
    return [
      r.fault,
      String(r.nodes),
      `${r.windowSeconds} s`,
      `${r.sent}/${c.acknowledged}`,
      String(c.missed.length),
      String(c.duplicates.length),
      String(c.orderViolations.length),
      String(c.wronglyDelivered.length),
      c.catchUpSeconds === null ? "never" : c.catchUpSeconds.toFixed(2),
      ms(c.latencyDuring.p99),
      ms(c.latencyAfter.p99),
      errors + untyped,
      r.nodeErrors.map((e) => e.count).join("/"),
    ];
  });
  return [head, head.map(() => "---"), ...rows].map((cells) => `| ${cells.join(" | ")} |`).join("\n");
}

/** The findings behind the numbers, a few of each kind, and samples of errors. */
export function details(results: ScenarioResult[], limit = 8): string {
  const out: string[] = [];
  for (const r of results) {
    const c = r.check;
    const head = `${r.fault} on ${r.nodes} nodes`;
    if (!r.quiescent) out.push(`${head}: NOT QUIESCENT within the bound`);
    for (const [path, n] of c.missedByPath) out.push(`${head}: missed ${n}, ${path}`);
    for (const [kind, list] of [["missed", c.missed], ["duplicate", c.duplicates], ["order violation", c.orderViolations], ["wrongly delivered", c.wronglyDelivered]] as const) {
      for (const f of list.slice(0, limit)) out.push(`${head}: ${kind} ${f.clientMessageId} (${f.groupId}${f.seq ? ` seq ${f.seq}` : ""}) on ${f.device}: ${f.detail}`);
      if (list.length > limit) out.push(`${head}: … ${list.length - limit} more ${kind}`);
    }
    for (const e of c.untypedErrors.slice(0, 3)) out.push(`${head}: untyped ${e.rpc} error on node ${e.node}: ${e.message.slice(0, 200)}`);
    for (const e of r.nodeErrors) if (e.count > 0) out.push(`${head}: node ${e.node} wrote ${e.count} error lines, first: ${e.sample}`);
  }
  return out.join("\n");
}
