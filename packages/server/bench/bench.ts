// `npm run bench`: starts a reference server in this process on a file-backed SQLite store and
// measures it over HTTP/2 with the generated connect-node clients:
//   send     (a) SendMessage RPCs/s, ordinary and targeted (2 receivers), N in flight
//   fanout   (b) deliveries/s to G online members (G = 100 and 1000 by default)
//   latency  (c) send-to-delivery latency p50/p99 at G = 1000 and 5 messages/s
//   cost     (d) send cost of a 2-receiver targeted message, 10- vs 10,000-member group
//   idle     (e) memory of 10,000 idle subscribers (process RSS growth, client and server together)
// Prints a table per scenario and writes JSON to bench-results/. Clients and server share one
// process (and one event loop), so client work is included in every number; the output says so.
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { BenchEnv, protocols, type Protocol } from "./env.js";
import { FanoutRoom, fanout, latency, type FanoutResult, type LatencyResult, type SubscriberKind } from "./fanout.js";
import { int, positive } from "./args.js";
import { num, table, writeResults } from "./report.js";
import { sendThroughput, type SendThroughputResult } from "./send-throughput.js";
import { targetedCost, type TargetedCostResult } from "./targeted-cost.js";
import { idleSubscribers, type IdleResult } from "./idle.js";

const SCENARIOS = ["send", "fanout", "latency", "cost", "idle"] as const;
type Scenario = (typeof SCENARIOS)[number];
const RATE_LIMIT = 1e9;
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");

const ints = (value: string) => value.split(",").map((v) => int(v.trim()));
const scenarios = (value: string) =>
  value.split(",").map((v) => {
    const s = v.trim() as Scenario;
    if (!SCENARIOS.includes(s)) throw new InvalidArgumentError(`scenarios are ${SCENARIOS.join(", ")}`);
    return s;
  });

const program = new Command("bench")
  .description("Benchmark the Narrowcast reference server (in-process, SQLite file store, HTTP/2)")
  .option("--quick", "short smoke run (well under 30 s); explicit flags still win")
  .option("--scenarios <list>", `comma-separated: ${SCENARIOS.join(",")}`, scenarios, [...SCENARIOS])
  .addOption(new Option("--protocol <name>", "wire protocol of the clients").choices(protocols).default("connect"))
  .option("--send-seconds <s>", "(a) measured seconds per kind [10; quick 2]", positive)
  .option("--inflight <n>", "(a) requests in flight", int, 64)
  .option("--fanout-sizes <list>", "(b) group sizes G (online members)", ints, [100, 1000])
  .option("--fanout-messages <n>", "(b) messages M per size [200; quick 20]", int)
  .option("--fanout-inflight <n>", "(b) sender's requests in flight", int, 8)
  .option("--subs-per-connection <n>", "(b, c) Subscribe streams per HTTP/2 connection", int, 100)
  .option("--latency-members <n>", "(c) online members", int, 1000)
  .option("--latency-rate <n>", "(c) messages per second", positive, 5)
  .option("--latency-seconds <s>", "(c) seconds of sending [20; quick 3]", positive)
  .option("--cost-sizes <list>", "(d) group sizes compared (smallest first)", ints, [10, 10_000])
  .option("--cost-sends <n>", "(d) measured sends per group [2000; quick 300]", int)
  .addOption(
    new Option("--subscriber <kind>", "(b, c) subscriber client: a lean gRPC client on node:http2, or the generated connect-es client")
      .choices(["raw", "connect"])
      .default("raw"),
  )
  .option("--idle-subscribers <n>", "(e) idle Subscribe streams [10000; quick 1000]", int)
  .option("--server-thread", "run the server in a worker thread (own event loop) instead of the clients' one")
  .option("--buffer <n>", "server's subscriberBufferSize (events per subscription)", int, 1024)
  .option("--data-dir <dir>", "SQLite directory (default: a temp directory, removed afterwards)")
  .option("--keep-data", "keep the temp data directory")
  .option("--out <dir>", "where JSON results go", join(packageDir, "bench-results"))
  .option("--no-json", "do not write JSON results");

interface Results {
  startedAt: string;
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  send?: SendThroughputResult[];
  fanout?: FanoutResult[];
  latency?: LatencyResult;
  targetedCost?: TargetedCostResult;
  idle?: IdleResult;
  totalSeconds?: number;
}

async function main(): Promise<void> {
  program.parse();
  const o = program.opts();
  const quick = !!o.quick;
  const settings = {
    quick,
    scenarios: o.scenarios as Scenario[],
    protocol: o.protocol as Protocol,
    sendSeconds: (o.sendSeconds as number | undefined) ?? (quick ? 2 : 10),
    inflight: o.inflight as number,
    fanoutSizes: o.fanoutSizes as number[],
    fanoutMessages: (o.fanoutMessages as number | undefined) ?? (quick ? 20 : 200),
    fanoutInflight: o.fanoutInflight as number,
    subsPerConnection: o.subsPerConnection as number,
    latencyMembers: o.latencyMembers as number,
    latencyRate: o.latencyRate as number,
    latencySeconds: (o.latencySeconds as number | undefined) ?? (quick ? 3 : 20),
    costSizes: o.costSizes as number[],
    costSends: (o.costSends as number | undefined) ?? (quick ? 300 : 2000),
    subscriberBufferSize: o.buffer as number,
    rateLimitPerSecond: RATE_LIMIT,
    serverThread: !!o.serverThread,
    subscriber: o.subscriber as SubscriberKind,
    idleSubscribers: (o.idleSubscribers as number | undefined) ?? (quick ? 1000 : 10_000),
  };
  if (settings.fanoutMessages > settings.subscriberBufferSize) {
    console.warn(`warning: M=${settings.fanoutMessages} exceeds the subscriber buffer (${settings.subscriberBufferSize}); slow streams may end with SLOW_CONSUMER`);
  }

  const started = performance.now();
  const results: Results = {
    startedAt: new Date().toISOString(),
    environment: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpu: cpus()[0]?.model ?? "unknown",
      cpus: cpus().length,
      // Other processes on the machine skew every number: the load average tells how busy it was.
      loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
      server: `${settings.serverThread ? "in a worker thread (own event loop)" : "in-process (same event loop as the clients)"}, SQLite file store (WAL), logLevel silent`,
    },
    settings,
  };
  const env = await BenchEnv.start({
    protocol: settings.protocol,
    dataDir: o.dataDir as string | undefined,
    keepData: !!o.keepData,
    rateLimitPerSecond: RATE_LIMIT,
    subscriberBufferSize: settings.subscriberBufferSize,
    serverThread: settings.serverThread,
  });
  const print = (s: string) => process.stdout.write(s + "\n");
  print(`Narrowcast benchmark ${results.startedAt}${quick ? " (quick)" : ""}`);
  print(`node ${process.version}, ${cpus().length} × ${results.environment.cpu}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const where = settings.serverThread ? "in a worker thread of this process (own event loop)" : "in-process, on the clients' event loop";
  print(`server ${where} at ${env.server.url}, SQLite file store in ${env.dataDir}`);
  print(`clients: ${settings.protocol} (binary) over HTTP/2, generated connect-node clients`);
  print(`per-group rate limit raised to ${RATE_LIMIT.toExponential()} sends/s for the benchmark (default 40)\n`);

  try {
    const run = (s: Scenario) => settings.scenarios.includes(s);
    if (run("send")) {
      results.send = [];
      for (const kind of ["ordinary", "targeted"] as const) {
        results.send.push(
          await sendThroughput(env, { kind, seconds: settings.sendSeconds, inflight: settings.inflight, warmupSeconds: quick ? 0.3 : 1, groupSize: 10 }),
        );
      }
      print(
        table(
          "(a) SendMessage throughput (10-member group, persisted, nobody subscribed)",
          ["kind", "in flight", "seconds", "sends", "sends/s", "p50 ms", "p99 ms", "errors"],
          results.send.map((r) => [
            r.kind === "targeted" ? "targeted (2 receivers)" : r.kind,
            r.inflight,
            num(r.seconds, 1),
            num(r.sends),
            num(r.sendsPerSecond),
            num(r.rpcMs.p50, 2),
            num(r.rpcMs.p99, 2),
            r.errors,
          ]),
        ),
      );
    }

    let kept: FanoutRoom | undefined;
    if (run("fanout")) {
      results.fanout = [];
      for (const size of settings.fanoutSizes) {
        const room = await FanoutRoom.open(env, size, settings.subsPerConnection, settings.subscriber);
        results.fanout.push(
          await fanout(env, room, { messages: settings.fanoutMessages, inflight: settings.fanoutInflight, timeoutSeconds: 120 }),
        );
        if (run("latency") && size === settings.latencyMembers) kept = room;
        else await room.close();
      }
      print(
        table(
          `(b) Fan-out: one sender, M messages of 100 bytes as fast as accepted (${settings.fanoutInflight} in flight); every member has one Subscribe stream`,
          ["G online", "M", "connections", "deliveries", "seconds", "deliveries/s", "send phase s", "p50 ms", "p99 ms", "complete"],
          results.fanout.map((r) => [
            r.members,
            r.messages,
            r.connections,
            num(r.deliveries),
            num(r.seconds, 2),
            num(r.deliveriesPerSecond),
            num(r.sendSeconds, 2),
            num(r.latencyMs.p50, 1),
            num(r.latencyMs.p99, 1),
            r.complete ? "yes" : `NO ${JSON.stringify(r.streamErrors)}`,
          ]),
        ),
      );
    }

    if (run("latency")) {
      const room = kept ?? (await FanoutRoom.open(env, settings.latencyMembers, settings.subsPerConnection, settings.subscriber));
      results.latency = await latency(env, room, {
        ratePerSecond: settings.latencyRate,
        seconds: settings.latencySeconds,
        timeoutSeconds: 30,
      });
      await room.close();
      const r = results.latency;
      print(
        table(
          "(c) End-to-end latency: send call → each member's delivery (first/last: per message, its first and last delivery)",
          ["G online", "msg/s", "messages", "deliveries", "p50 ms", "p90 ms", "p99 ms", "max ms", "first p50 ms", "last p50 ms", "send RPC p50 ms", "complete"],
          [[
            r.members,
            r.ratePerSecond,
            r.messages,
            num(r.deliveries),
            num(r.latencyMs.p50, 2),
            num(r.latencyMs.p90, 2),
            num(r.latencyMs.p99, 2),
            num(r.latencyMs.max, 2),
            num(r.firstDeliveryMs.p50, 2),
            num(r.lastDeliveryMs.p50, 2),
            num(r.sendRpcMs.p50, 2),
            r.complete ? "yes" : `NO ${JSON.stringify(r.streamErrors)}`,
          ]],
        ),
      );
    }

    if (run("cost")) {
      results.targetedCost = await targetedCost(env, { sizes: settings.costSizes, sends: settings.costSends, warmup: quick ? 50 : 200, block: 100 });
      const r = results.targetedCost;
      print(
        table(
          "(d) Send cost of a 2-receiver targeted message (sequential SendMessage RPCs, nobody subscribed)",
          ["group size", "sends", "mean µs", "p50 µs", "p99 µs"],
          r.rows.map((row) => [num(row.members), row.sends, num(row.us.mean), num(row.us.p50), num(row.us.p99)]),
        ) + `ratio ${num(r.rows.at(-1)!.members)} / ${num(r.rows[0].members)} members: mean ${num(r.ratioMean, 2)}×, p50 ${num(r.ratioP50, 2)}×\n`,
      );
    }
    if (run("idle")) {
      results.idle = await idleSubscribers(env, { subscribers: settings.idleSubscribers, perConnection: settings.subsPerConnection });
      const r = results.idle;
      print(
        table(
          "(e) Idle subscribers: growth of this process's resident memory (client and server together)",
          ["subscribers", "connections", "RSS before MiB", "RSS after MiB", "RSS growth MiB", "heap growth MiB", "KiB per subscriber"],
          [[num(r.subscribers), r.connections, num(r.rssBeforeMiB), num(r.rssAfterMiB), num(r.rssGrowthMiB), num(r.heapGrowthMiB), num(r.perSubscriberKiB, 1)]],
        ),
      );
    }
  } finally {
    await env.close();
  }
  results.totalSeconds = (performance.now() - started) / 1000;
  results.environment.loadAverageAtEnd = loadavg().map((l) => Number(l.toFixed(2)));
  print(`total ${num(results.totalSeconds, 1)} s, load average at the end ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  if (o.json) print(`results: ${writeResults(o.out as string, results)} (and latest.json)`);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
