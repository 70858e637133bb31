// `npm run bench`: starts the reference server on a temp store and measures it over HTTP/2 with
// the generated connect-node clients. By default the server runs in a worker thread (its own event
// loop, so server and clients compare like separate processes); `--same-thread` puts it on the
// clients' loop. `--store sqlite` (default: file-backed SQLite, WAL) or `--store postgres`
// (PostgreSQL in a fresh schema of the test database + NATS with its own subject prefix; dropped
// afterwards). Scenarios:
//   send     (a) SendMessage RPCs/s, ordinary and targeted (2 receivers), N in flight, next to the
//                anchor: a connect-node unary echo server (echo.ts) arranged as the server is and
//                driven by the same client loop with a request of the same encoded size; each send
//                result is printed as a ratio to it (× echo), with the server's busy ms per RPC
//   fanout   (b) deliveries/s to G online members (G = 100 and 1000 by default), lean reader
//   latency  (c) send-to-delivery latency p50/p99 for each G@rate pair (default 1000@5, 100@100),
//                measured after 2 s of sending at the same rate (warm-up)
//   burst    (f) G = 100 members on the generated connect-es client, 2,000 messages as fast as
//                accepted; streams cut with SLOW_CONSUMER resume from their cursor; deliveries/s,
//                cuts, exactly-once check, server busy time per delivery
//   replay   (g) R = 100 members resume at once from a cursor behind M = 2,000 stored messages
//                (lean reader): replayed events/s and server busy µs per replayed event
//   cost     (d) send cost of a 2-receiver targeted message, 10- vs 10,000-member group
//   idle     (e) memory of 10,000 idle subscribers (process RSS growth, client and server together)
// "Server busy" is the server thread's event-loop busy time (performance.eventLoopUtilization in
// the worker), a proxy of its CPU; it is only measured with the server in a worker thread.
// Prints a table per scenario and writes JSON to bench-results/. Clients share the machine's cores
// with the server (and, with --same-thread, its event loop): read the ratios.
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError, Option } from "commander";
import { BenchEnv, protocols, type Protocol } from "./env.js";
import { FanoutRoom, fanout, latency, type FanoutResult, type LatencyResult, type SubscriberKind } from "./fanout.js";
import { int, positive } from "./args.js";
import { num, table, writeResults } from "./report.js";
import { echoThroughput, sendThroughput, type EchoResult, type SendThroughputResult } from "./send-throughput.js";
import { targetedCost, type TargetedCostResult } from "./targeted-cost.js";
import { idleSubscribers, type IdleResult } from "./idle.js";
import { burst, type BurstResult } from "./burst.js";
import { replayCost, type ReplayResult } from "./replay.js";
import { describeBackend, stores, type StoreKind } from "./backend.js";

const SCENARIOS = ["send", "fanout", "latency", "burst", "replay", "cost", "idle"] as const;
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
interface LatencyPair {
  members: number;
  rate: number;
}
const pairs = (value: string): LatencyPair[] =>
  value.split(",").map((v) => {
    const [g, r, extra] = v.trim().split("@");
    if (r === undefined || extra !== undefined) throw new InvalidArgumentError("expected G@rate pairs, e.g. 1000@5,100@100");
    return { members: int(g), rate: positive(r) };
  });

const program = new Command("bench")
  .description("Benchmark the Narrowcast reference server (worker thread, SQLite file or PostgreSQL + NATS store, HTTP/2)")
  .option("--quick", "short smoke run (well under 40 s); explicit flags still win")
  .option("--scenarios <list>", `comma-separated: ${SCENARIOS.join(",")}`, scenarios, [...SCENARIOS])
  .addOption(new Option("--protocol <name>", "wire protocol of the clients").choices(protocols).default("connect"))
  .addOption(new Option("--store <kind>", "server store: SQLite file, or PostgreSQL + NATS (fresh schema, dropped afterwards)").choices(stores).default("sqlite"))
  .option("--pg-pool <n>", "PostgreSQL pool size (--store postgres)", int, 10)
  .option("--send-seconds <s>", "(a) measured seconds per kind, echo included [10; quick 2]", positive)
  .option("--inflight <n>", "(a) requests in flight", int, 64)
  .option("--fanout-sizes <list>", "(b) group sizes G (online members)", ints, [100, 1000])
  .option("--fanout-messages <n>", "(b) messages M per size [200; quick 20]", int)
  .option("--fanout-inflight <n>", "(b, f) sender's requests in flight", int, 8)
  .option("--subs-per-connection <n>", "(b, c, f) Subscribe streams per HTTP/2 connection", int, 100)
  .addOption(
    new Option("--latency-pairs <list>", "(c) G@rate pairs: online members @ messages per second")
      .argParser(pairs)
      .default(pairs("1000@5,100@100"), "1000@5,100@100"),
  )
  .option("--latency-seconds <s>", "(c) seconds of sending per pair [15; quick 3]", positive)
  .option("--burst-members <n>", "(f) online members G (generated connect-es clients)", int, 100)
  .option("--burst-messages <n>", "(f) messages M sent as fast as accepted [2000; quick 300]", int)
  .option("--replay-readers <n>", "(g) members R resuming at once", int, 100)
  .option("--replay-messages <n>", "(g) stored messages M each replays [2000; quick 300]", int)
  .option("--replay-rounds <n>", "(g) rounds (each: every member resumes from the same cursor)", int, 3)
  .option("--cost-sizes <list>", "(d) group sizes compared (smallest first)", ints, [10, 10_000])
  .option("--cost-sends <n>", "(d) measured sends per group [2000; quick 300]", int)
  .addOption(
    new Option("--subscriber <kind>", "(b, c) subscriber client: a lean gRPC client on node:http2, or the generated connect-es client")
      .choices(["raw", "connect"])
      .default("raw"),
  )
  .option("--idle-subscribers <n>", "(e) idle Subscribe streams [10000; quick 1000]", int)
  .option("--same-thread", "run the server (and the echo) on the clients' event loop instead of a worker thread")
  .option("--server-thread", "run the server in a worker thread (the default; kept for old command lines)")
  .option("--buffer-bytes <n>", "server's subscriberBufferBytes (bytes of queued events per subscription) [server default]", int)
  .option("--data-dir <dir>", "SQLite directory (default: a temp directory, removed afterwards)")
  .option("--keep-data", "keep the temp data directory")
  .option("--out <dir>", "where JSON results go", join(packageDir, "bench-results"))
  .option("--no-json", "do not write JSON results");

interface Results {
  startedAt: string;
  environment: Record<string, unknown>;
  settings: Record<string, unknown>;
  /** The echo anchor of (a): the same client loop against a connect-node unary echo. */
  echo?: EchoResult;
  send?: (SendThroughputResult & { ratioToEcho?: number })[];
  fanout?: FanoutResult[];
  latency?: LatencyResult[];
  burst?: BurstResult;
  replay?: ReplayResult;
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
    store: o.store as StoreKind,
    pgPool: o.pgPool as number,
    sendSeconds: (o.sendSeconds as number | undefined) ?? (quick ? 2 : 10),
    inflight: o.inflight as number,
    fanoutSizes: o.fanoutSizes as number[],
    fanoutMessages: (o.fanoutMessages as number | undefined) ?? (quick ? 20 : 200),
    fanoutInflight: o.fanoutInflight as number,
    subsPerConnection: o.subsPerConnection as number,
    latencyPairs: o.latencyPairs as LatencyPair[],
    latencySeconds: (o.latencySeconds as number | undefined) ?? (quick ? 3 : 15),
    burstMembers: o.burstMembers as number,
    burstMessages: (o.burstMessages as number | undefined) ?? (quick ? 300 : 2000),
    replayReaders: o.replayReaders as number,
    replayMessages: (o.replayMessages as number | undefined) ?? (quick ? 300 : 2000),
    replayRounds: o.replayRounds as number,
    costSizes: o.costSizes as number[],
    costSends: (o.costSends as number | undefined) ?? (quick ? 300 : 2000),
    subscriberBufferBytes: o.bufferBytes as number | undefined,
    rateLimitPerSecond: RATE_LIMIT,
    serverThread: !o.sameThread,
    subscriber: o.subscriber as SubscriberKind,
    idleSubscribers: (o.idleSubscribers as number | undefined) ?? (quick ? 1000 : 10_000),
  };

  const started = performance.now();
  const env = await BenchEnv.start({
    protocol: settings.protocol,
    dataDir: o.dataDir as string | undefined,
    keepData: !!o.keepData,
    rateLimitPerSecond: RATE_LIMIT,
    subscriberBufferBytes: settings.subscriberBufferBytes,
    serverThread: settings.serverThread,
    store: settings.store,
    pgPool: settings.pgPool,
  });
  const where = settings.serverThread ? "in a worker thread of this process (own event loop)" : "in-process, on the clients' event loop";
  const results: Results = {
    startedAt: new Date().toISOString(),
    environment: {
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpu: cpus()[0]?.model ?? "unknown",
      cpus: cpus().length,
      // Other processes on the machine skew every number: the load average tells how busy it was.
      loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
      server: `${where}, logLevel silent`,
      store: describeBackend(env.backend),
    },
    settings,
  };
  const print = (s: string) => process.stdout.write(s + "\n");
  print(`Narrowcast benchmark ${results.startedAt}${quick ? " (quick)" : ""}`);
  print(`node ${process.version}, ${cpus().length} × ${results.environment.cpu}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  print(`server ${where} at ${env.server.url}`);
  print(`store: ${describeBackend(env.backend)}`);
  print(`clients: ${settings.protocol} (binary) over HTTP/2, generated connect-node clients`);
  print(`subscriber buffer: ${settings.subscriberBufferBytes === undefined ? "the server's default" : `${num(settings.subscriberBufferBytes)} bytes`} per subscription`);
  print(`per-group rate limit raised to ${RATE_LIMIT.toExponential()} sends/s for the benchmark (default 40)`);
  if (settings.serverThread) print("server busy = the server thread's event-loop busy time (a proxy of its CPU time)");
  print("");
  const busyCell = (ms: number | undefined, digits = 3) => (ms === undefined ? "-" : num(ms, digits));

  // Rooms of (b) and (c), by size: one room serves every scenario of its size, then closes.
  const rooms = new Map<number, FanoutRoom>();
  const roomFor = async (size: number) => {
    let room = rooms.get(size);
    if (!room) rooms.set(size, (room = await FanoutRoom.open(env, size, settings.subsPerConnection, settings.subscriber)));
    return room;
  };
  const closeRoom = async (size: number) => {
    await rooms.get(size)?.close();
    rooms.delete(size);
  };

  try {
    const run = (s: Scenario) => settings.scenarios.includes(s);
    if (run("send")) {
      const loop = { seconds: settings.sendSeconds, inflight: settings.inflight, warmupSeconds: quick ? 0.3 : 1 };
      const send: SendThroughputResult[] = [];
      for (const kind of ["ordinary", "targeted"] as const) send.push(await sendThroughput(env, { kind, groupSize: 10, ...loop }));
      // The echo runs after the sends, with the ordinary request's encoded size and headers.
      const echo = await echoThroughput(env, { ...loop, requestBytes: send[0].requestBytes, call: await env.as("send-ordinary-00000") });
      results.echo = echo;
      results.send = send.map((r) => ({ ...r, ratioToEcho: r.sendsPerSecond / echo.sendsPerSecond }));
      print(
        table(
          `(a) SendMessage throughput (10-member group, persisted, nobody subscribed), next to a connect-node unary echo (same loop, same request size)`,
          ["kind", "request B", "in flight", "seconds", "RPCs", "RPCs/s", "× echo", "p50 ms", "p99 ms", "server busy ms/RPC", "errors"],
          [
            ...results.send.map((r) => [
              r.kind === "targeted" ? "targeted (2 receivers)" : r.kind,
              r.requestBytes,
              r.inflight,
              num(r.seconds, 1),
              num(r.sends),
              num(r.sendsPerSecond),
              `${num(r.ratioToEcho!, 2)}×`,
              num(r.rpcMs.p50, 2),
              num(r.rpcMs.p99, 2),
              busyCell(r.serverMsPerRpc),
              r.errors,
            ]),
            [
              "connect-node echo",
              echo.requestBytes,
              echo.inflight,
              num(echo.seconds, 1),
              num(echo.sends),
              num(echo.sendsPerSecond),
              "1.00×",
              num(echo.rpcMs.p50, 2),
              num(echo.rpcMs.p99, 2),
              busyCell(echo.serverMsPerRpc),
              echo.errors,
            ],
          ],
        ),
      );
    }

    const latencyNeeds = (size: number, from = 0) => run("latency") && settings.latencyPairs.slice(from).some((p) => p.members === size);
    if (run("fanout")) {
      results.fanout = [];
      for (const size of settings.fanoutSizes) {
        const room = await roomFor(size);
        results.fanout.push(await fanout(env, room, { messages: settings.fanoutMessages, inflight: settings.fanoutInflight, timeoutSeconds: 120 }));
        if (!latencyNeeds(size)) await closeRoom(size);
      }
      print(
        table(
          `(b) Fan-out: one sender, M messages of 100 bytes as fast as accepted (${settings.fanoutInflight} in flight); every member has one Subscribe stream (${settings.subscriber} client)`,
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
      results.latency = [];
      for (const [i, pair] of settings.latencyPairs.entries()) {
        const room = await roomFor(pair.members);
        results.latency.push(
          await latency(env, room, { ratePerSecond: pair.rate, seconds: settings.latencySeconds, timeoutSeconds: 30, warmupSeconds: quick ? 0.5 : 2 }),
        );
        if (!latencyNeeds(pair.members, i + 1)) await closeRoom(pair.members);
      }
      print(
        table(
          `(c) End-to-end latency: send call → each member's delivery (${settings.subscriber} client; first/last: per message, its first and last delivery)`,
          ["G online", "msg/s", "messages", "deliveries", "p50 ms", "p90 ms", "p99 ms", "max ms", "first p50 ms", "last p50 ms", "send RPC p50 ms", "complete"],
          results.latency.map((r) => [
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
          ]),
        ),
      );
    }

    if (run("burst")) {
      results.burst = await burst(env, {
        members: settings.burstMembers,
        messages: settings.burstMessages,
        inflight: settings.fanoutInflight,
        perConnection: settings.subsPerConnection,
        timeoutSeconds: 180,
      });
      const r = results.burst;
      const once = r.exactlyOnce ? "yes" : `NO: ${num(r.duplicates)} duplicates, ${num(r.missing)} missing${Object.keys(r.streamErrors).length ? ` ${JSON.stringify(r.streamErrors)}` : ""}`;
      print(
        table(
          `(f) Burst: one sender, M messages of 100 bytes as fast as accepted (${r.senderInflight} in flight) to G members on the generated connect-es client; ` +
            `a stream cut with SLOW_CONSUMER resumes from its last cursor`,
          ["G online", "M", "connections", "deliveries/s", "seconds", "send phase s", "SLOW_CONSUMER cuts", "members cut", "exactly once", "server busy µs/delivery"],
          [[
            r.members,
            num(r.messages),
            r.connections,
            num(r.deliveriesPerSecond),
            num(r.seconds, 2),
            num(r.sendSeconds, 2),
            r.cuts,
            r.membersCut,
            once,
            r.serverMsPerDelivery === undefined ? "-" : num(r.serverMsPerDelivery * 1000, 1),
          ]],
        ),
      );
    }

    if (run("replay")) {
      results.replay = await replayCost(env, {
        readers: settings.replayReaders,
        messages: settings.replayMessages,
        rounds: settings.replayRounds,
        perConnection: settings.subsPerConnection,
      });
      const r = results.replay;
      print(
        table(
          `(g) Replay: ${r.readers} members resume at once from a cursor behind ${num(r.messages)} stored messages (lean reader), per round`,
          ["round", "events", "seconds", "events/s", "server busy µs/event"],
          r.rounds.map((x, i) => [
            i + 1,
            num(x.events),
            num(x.seconds, 2),
            num(x.eventsPerSecond),
            x.serverMsPerEvent === undefined ? "-" : num(x.serverMsPerEvent * 1000, 2),
          ]),
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
    for (const size of [...rooms.keys()]) await closeRoom(size);
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
