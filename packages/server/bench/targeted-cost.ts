// Scenario (d): the cost of one SendMessage RPC carrying a 2-receiver targeted message, in a
// small group versus a large one. A targeted send must cost O(receivers), not O(group size):
// the ratio of the two should stay near 1. Sends are sequential (one in flight) so each sample
// is one RPC's latency, and the groups alternate in blocks so drift hits both alike.
import { type BenchEnv, textElement, userIds } from "./env.js";
import { now, summarize, type Summary } from "./stats.js";

export interface TargetedCostOptions {
  sizes: number[];
  sends: number;
  warmup: number;
  block: number;
}

export interface TargetedCostRow {
  members: number;
  sends: number;
  us: Summary;
}

export interface TargetedCostResult {
  rows: TargetedCostRow[];
  /** Largest group over smallest group. */
  ratioMean: number;
  ratioP50: number;
}

export async function targetedCost(env: BenchEnv, o: TargetedCostOptions): Promise<TargetedCostResult> {
  const connection = env.connection();
  const groups: { members: number; send: () => Promise<void>; samples: number[] }[] = [];
  for (const size of o.sizes) {
    const [sender, ...members] = userIds(`cost${size}-`, size);
    await env.importUsers([sender, ...members]);
    const groupId = await env.createGroup(`cost-${size}`, sender, members);
    const call = await env.as(sender);
    const request = { groupId, elements: [textElement(100)], receiverIds: members.slice(0, 2) };
    groups.push({ members: size, samples: [], send: async () => void (await connection.messages.sendMessage(request, call)) });
  }
  for (const g of groups) for (let i = 0; i < o.warmup; i++) await g.send();
  for (let done = 0; done < o.sends; done += o.block) {
    for (const g of groups) {
      for (let i = 0; i < Math.min(o.block, o.sends - done); i++) {
        const t = now();
        await g.send();
        g.samples.push((now() - t) * 1000);
      }
    }
  }
  env.release(connection);
  const rows = groups.map((g) => ({ members: g.members, sends: g.samples.length, us: summarize(g.samples) }));
  const small = rows[0].us;
  const large = rows[rows.length - 1].us;
  return { rows, ratioMean: large.mean / small.mean, ratioP50: large.p50 / small.p50 };
}
