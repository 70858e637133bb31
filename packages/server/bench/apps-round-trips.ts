// PostgreSQL round trips per RPC: RPCs made one at a time, nothing else running, and the queries
// between a call and its answer counted (pg-round-trips.ts). Queries that a request starts after
// answering would land in the next call's window; the mean over many calls still counts them.
import { sleep } from "./stats.js";
import { queriesSince, queryMark, type RecordedQuery } from "./pg-round-trips.js";
import { ownerOf, receiversOf, type World } from "./apps-setup.js";
import { sendRequest } from "./apps-load.js";

export interface RoundTripResult {
  rpc: string;
  calls: number;
  mean: number;
  min: number;
  max: number;
  /** Mean queries per call by statement label. */
  byStatement: Record<string, number>;
  /** Mean queries per call by the Store method that made them. */
  byStoreMethod: Record<string, number>;
  /** The most common sequence of queries of one call, and how many calls had exactly it. */
  typical: { calls: number; queries: { method: string; label: string; sql: string }[] };
}

function summarize(rpc: string, samples: RecordedQuery[][]): RoundTripResult {
  const counts = samples.map((s) => s.length);
  const perCall = (key: (q: RecordedQuery) => string) => {
    const totals: Record<string, number> = {};
    for (const s of samples) for (const q of s) totals[key(q)] = (totals[key(q)] ?? 0) + 1;
    return Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, v / samples.length]));
  };
  const signatures = new Map<string, { n: number; sample: RecordedQuery[] }>();
  for (const s of samples) {
    const sig = s.map((q) => `${q.method}:${q.label}`).join("|");
    const entry = signatures.get(sig) ?? { n: 0, sample: s };
    entry.n++;
    signatures.set(sig, entry);
  }
  const typical = [...signatures.values()].sort((a, b) => b.n - a.n)[0];
  return {
    rpc,
    calls: samples.length,
    mean: counts.reduce((a, b) => a + b, 0) / samples.length,
    min: Math.min(...counts),
    max: Math.max(...counts),
    byStatement: perCall((q) => q.label),
    byStoreMethod: perCall((q) => q.method),
    typical: {
      calls: typical.n,
      queries: typical.sample.map((q) => ({ method: q.method, label: q.label, sql: q.sql.replace(/\s+/g, " ").trim() })),
    },
  };
}

/** Runs `call` `n` times, one at a time, and records the queries of each; `before` is not counted. */
async function measure(rpc: string, n: number, call: (i: number) => Promise<unknown>, before?: (i: number) => Promise<unknown>) {
  const samples: RecordedQuery[][] = [];
  for (let i = 0; i < n; i++) {
    await before?.(i);
    const mark = queryMark();
    await call(i);
    samples.push(queriesSince(mark));
  }
  return summarize(rpc, samples);
}

export interface RoundTripOptions {
  calls: number;
}

export async function roundTrips(world: World, o: RoundTripOptions): Promise<{ idleQueriesPerSecond: number; results: RoundTripResult[] }> {
  const c = world.connection();
  const [app0, app1] = [world.apps[0], world.apps[1] ?? world.apps[0]];
  const sender = await world.as(app0, ownerOf(0));
  const g0 = app0.groups[0];
  const results: RoundTripResult[] = [];

  // What the server does on its own (pruning, polling) while no RPC runs.
  const idleMark = queryMark();
  await sleep(1000);
  const idleQueriesPerSecond = queriesSince(idleMark).length;

  results.push(await measure("SendMessage ordinary (client ID)", o.calls, () => c.messages.sendMessage(sendRequest(g0, 0, "ordinary"), sender)));
  results.push(
    await measure("SendMessage ordinary (no client ID)", o.calls, () =>
      c.messages.sendMessage({ ...sendRequest(g0, 0, "ordinary"), clientMessageId: "" }, sender),
    ),
  );
  results.push(await measure("SendMessage targeted (2 receivers)", o.calls, () => c.messages.sendMessage(sendRequest(g0, 0, "targeted"), sender)));

  // Each mark moves the reader's position: a message is sent first (not counted).
  const g1 = app0.groups[1] ?? g0;
  const g1Sender = await world.as(app0, ownerOf(app0.groups[1] ? 1 : 0));
  const reader = await world.as(app0, receiversOf(app0.groups[1] ? 1 : 0)[0]);
  results.push(
    await measure(
      "MarkConversationRead (moves)",
      o.calls,
      () => c.conversations.markConversationRead({ groupId: g1, readSeq: 0n }, reader),
      () => c.messages.sendMessage(sendRequest(g1, 1, "ordinary"), g1Sender),
    ),
  );
  results.push(await measure("MarkConversationRead (no change)", o.calls, () => c.conversations.markConversationRead({ groupId: g1, readSeq: 0n }, reader)));

  // A user in 25 conversations, each with a message, listed 10 per page (3 pages a walk).
  const lister = "lister";
  await c.admin.importUsers({ appId: app1.appId, users: [{ userId: lister, nickname: lister }] }, world.adminCall);
  const owner = await world.as(app1, ownerOf(0));
  for (let k = 0; k < 25; k++) {
    const groupId = await world.createGroup(app1.appId, `lc${k}`, ownerOf(0), [lister]);
    await c.messages.sendMessage(sendRequest(groupId, 0, "ordinary"), owner);
  }
  const listerCall = await world.as(app1, lister);
  let pageToken = "";
  results.push(
    await measure("ListConversations page (10 of 25)", o.calls, async () => {
      const page = await c.conversations.listConversations({ pageSize: 10, pageToken }, listerCall);
      pageToken = page.nextPageToken;
    }),
  );
  return { idleQueriesPerSecond, results };
}
