// Is there a per-app ceiling? Starts a reference server in this process on PostgreSQL (a fresh
// schema, dropped afterwards), creates N apps of S groups, and alternates two phases of the same
// load, S senders with a fixed total of sends in flight:
//   A  every send in app 0 (sender i to group i)
//   B  each next send of sender i to group i of the next app (spread over all N apps); with
//      --spread pinned, sender i keeps to one app of its own instead (the same per-group
//      concurrency as A, only the app differs)
// and prints sends/s per phase and round and the ratio A/B. Then, with nothing else running, it
// counts PostgreSQL round trips per RPC (sends, MarkConversationRead, ListConversations pages),
// by statement and by Store method, with the statements of one typical call. During the phases
// it also samples which statements the store's connections wait on locks in (pg-lock-waits.ts),
// a sign of serialization that does not depend on how busy the CPUs are.
// Clients, server and driver share this process and its event loop; PostgreSQL runs beside it.
//   node --import tsx packages/server/bench/apps-ceiling.ts [--seconds 10] [--rounds 3] [--targeted]
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { int, positive } from "./args.js";
import { num, table } from "./report.js";
import { installQueryCounter } from "./pg-round-trips.js";
import { World } from "./apps-setup.js";
import { runPhase, type PhaseResult } from "./apps-load.js";
import { LockWaitSampler } from "./pg-lock-waits.js";
import { roundTrips, type RoundTripResult } from "./apps-round-trips.js";


const program = new Command("apps-ceiling")
  .description("One app vs the same load over many apps, and PostgreSQL round trips per RPC")
  .option("--database-url <url>", "PostgreSQL", process.env.NARROWCAST_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test")
  .option("--seconds <s>", "measured seconds per phase", positive, 10)
  .option("--rounds <n>", "A/B rounds", int, 3)
  .option("--warmup <s>", "seconds of each phase before the first round, not counted", positive, 2)
  .option("--apps <n>", "apps", int, 32)
  .option("--senders <n>", "senders, each its own group (= groups per app)", int, 8)
  .option("--inflight <n>", "sends in flight in total, split over the senders", int, 32)
  .option("--pool <n>", "the store's PostgreSQL connections", int, 10)
  .addOption(
    new Option("--spread <how>", "phase B: each next send to the next app (rotate), or each sender in an app of its own (pinned)")
      .choices(["rotate", "pinned"])
      .default("rotate"),
  )
  .option("--targeted", "targeted sends (2 receivers) instead of ordinary ones")
  .option("--round-trip-calls <n>", "calls per RPC kind when counting round trips", int, 300)
  .option("--no-round-trips", "skip counting round trips")
  .option("--no-throughput", "skip the A/B phases")
  .option("--json <file>", "also write the results as JSON");

interface Round {
  a: PhaseResult;
  b: PhaseResult;
  ratio: number;
}

/** The source tree measured: commit, and how many server source files differ from it. */
function sourceVersion(): string {
  const dir = dirname(fileURLToPath(import.meta.url));
  try {
    const head = execFileSync("git", ["-C", dir, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const changed = execFileSync("git", ["-C", dir, "status", "--porcelain", "--", "../src"], { encoding: "utf8" });
    const n = changed.split("\n").filter(Boolean).length;
    return n ? `${head} + ${n} changed files in packages/server/src` : head;
  } catch {
    return "unknown";
  }
}

const range = (values: number[], digits: number) => `${num(Math.min(...values), digits)}–${num(Math.max(...values), digits)}`;

function printThroughput(rounds: Round[], kind: string, spread: string): void {
  const b = spread === "pinned" ? "each sender in an app of its own" : "each next send in the next app";
  console.log(
    table(
      `Throughput, ${kind} sends (A: all in app 0; B: ${b})`,
      ["round", "A sends/s", "B sends/s", "A/B", "A lock waits", "B lock waits", "A queries/send", "B queries/send", "A/B rollbacks", "errors"],
      rounds.map((r, i) => [
        i + 1,
        num(r.a.sendsPerSecond),
        num(r.b.sendsPerSecond),
        num(r.ratio, 2),
        num(r.a.lockWaits?.meanWaiting ?? NaN, 2),
        num(r.b.lockWaits?.meanWaiting ?? NaN, 2),
        num(r.a.queriesPerSend, 1),
        num(r.b.queriesPerSend, 1),
        `${r.a.rollbacks}/${r.b.rollbacks}`,
        r.a.errors + r.b.errors,
      ]),
    ),
  );
  console.log(
    `range over ${rounds.length} rounds: A ${range(rounds.map((r) => r.a.sendsPerSecond), 0)} sends/s, ` +
      `B ${range(rounds.map((r) => r.b.sendsPerSecond), 0)} sends/s, A/B ${range(rounds.map((r) => r.ratio), 2)}`,
  );
  // Over all rounds: less sensitive to other load on the machine than any one round.
  const total = (pick: (r: Round) => PhaseResult) => rounds.reduce((sum, r) => sum + pick(r).sends, 0);
  const ratios = rounds.map((r) => r.ratio).sort((x, y) => x - y);
  const median = (ratios[(ratios.length - 1) >> 1] + ratios[ratios.length >> 1]) / 2;
  console.log(`all rounds: A/B of the sends ${num(total((r) => r.a) / total((r) => r.b), 2)}, median of the rounds' A/B ${num(median, 2)}\n`);
  // Which statements the waits are in, averaged over the rounds.
  for (const [name, pick] of [["A", (r: Round) => r.a], ["B", (r: Round) => r.b]] as const) {
    const totals: Record<string, number> = {};
    for (const r of rounds) for (const [k, v] of Object.entries(pick(r).lockWaits?.byStatement ?? {})) totals[k] = (totals[k] ?? 0) + v / rounds.length;
    const list = Object.entries(totals)
      .sort((x, y) => y[1] - x[1])
      .map(([k, v]) => `${k} ${num(v, 2)}`)
      .join(", ");
    console.log(`${name}: connections waiting on a lock (mean per sample), by statement: ${list || "none"}`);
  }
  console.log("");
  const firstError = rounds.map((r) => r.a.firstError ?? r.b.firstError).find(Boolean);
  if (firstError) console.log(`first error: ${firstError}\n`);
}

function printRoundTrips(idle: number, results: RoundTripResult[]): void {
  console.log(
    table(
      `PostgreSQL round trips per RPC (calls one at a time; ${idle} queries/s while idle)`,
      ["RPC", "calls", "mean", "min", "max"],
      results.map((r) => [r.rpc, r.calls, num(r.mean, 2), r.min, r.max]),
    ),
  );
  const perCall = (counts: Record<string, number>) =>
    Object.entries(counts)
      .map(([k, n]) => `${k} ${num(n, 2)}`)
      .join(", ");
  for (const r of results) {
    console.log(`${r.rpc}: mean ${num(r.mean, 2)} queries per call`);
    console.log(`  by Store method: ${perCall(r.byStoreMethod)}`);
    console.log(`  by statement:    ${perCall(r.byStatement)}`);
    console.log(`  one typical call (${r.typical.calls} of ${r.calls} calls exactly like it), ${r.typical.queries.length} queries:`);
    r.typical.queries.forEach((q, i) => console.log(`  ${String(i + 1).padStart(4)}. [${q.method}] ${q.label}  — ${q.sql.slice(0, 120)}`));
    console.log("");
  }
}

async function main(): Promise<void> {
  const o = program.parse().opts<{
    databaseUrl: string;
    seconds: number;
    rounds: number;
    warmup: number;
    apps: number;
    senders: number;
    inflight: number;
    pool: number;
    spread: "rotate" | "pinned";
    targeted?: boolean;
    roundTripCalls: number;
    roundTrips: boolean;
    throughput: boolean;
    json?: string;
  }>();
  const kind = o.targeted ? ("targeted" as const) : ("ordinary" as const);
  const startedAt = Date.now();
  installQueryCounter();
  console.log(
    `apps-ceiling: source ${sourceVersion()}; ${o.apps} apps × ${o.senders} groups of 3; ${o.senders} senders, ` +
      `${o.inflight} sends in flight; ${o.seconds} s per phase, ${o.rounds} rounds; pool ${o.pool}; ` +
      `${cpus().length} CPUs, load ${loadavg().map((l) => l.toFixed(1)).join(" ")}\n`,
  );
  // Output piped into `head` must not end the run before the schema is dropped.
  process.stdout.on("error", () => {});
  const world = await World.start({ databaseUrl: o.databaseUrl, apps: o.apps, groupsPerApp: o.senders, pool: o.pool });
  // Interrupted: drop the schema anyway.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => void world.close().finally(() => process.exit(130)));
  }
  const rounds: Round[] = [];
  let rt: Awaited<ReturnType<typeof roundTrips>> | undefined;
  let sampler: LockWaitSampler | undefined;
  try {
    console.log(`set up in ${num((Date.now() - startedAt) / 1000, 1)} s (schema ${world.schema})\n`);
    if (o.throughput) {
      const connections = Array.from({ length: o.senders }, () => world.connection());
      const spread = o.spread === "pinned" ? ("pinned" as const) : ("spread" as const);
      sampler = await LockWaitSampler.connect(o.databaseUrl);
      const phase = (placement: "one-app" | "spread" | "pinned", seconds: number) =>
        runPhase(world, connections, { placement, kind, senders: o.senders, inflight: o.inflight, seconds }, sampler);
      await phase("one-app", o.warmup);
      await phase(spread, o.warmup);
      for (let i = 0; i < o.rounds; i++) {
        const a = await phase("one-app", o.seconds);
        const b = await phase(spread, o.seconds);
        rounds.push({ a, b, ratio: a.sendsPerSecond / b.sendsPerSecond });
      }
      printThroughput(rounds, kind, o.spread);
    }
    if (o.roundTrips) {
      rt = await roundTrips(world, { calls: o.roundTripCalls });
      printRoundTrips(rt.idleQueriesPerSecond, rt.results);
    }
  } finally {
    await sampler?.close();
    await world.close();
  }
  const seconds = (Date.now() - startedAt) / 1000;
  console.log(`run took ${num(seconds, 0)} s; load ${loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  if (o.json) {
    writeFileSync(o.json, JSON.stringify({ source: sourceVersion(), options: o, kind, rounds, roundTrips: rt, seconds }, null, 2) + "\n");
  }
}

await main();
