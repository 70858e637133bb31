// `npm run soak`: a long mixed-load run against the reference server, looking for anything that
// grows without bound (issue 12 item 5). Not part of CI.
//
// The server runs as a child process (`node packages/server/bin/narrowcast-server.js`) on a
// SQLite file store in a temp directory, or on PostgreSQL (--database-url, a fresh schema dropped
// afterwards) and NATS (--nats-url, a subject of its own), so its RSS and open file descriptors
// are its own. For --minutes N this process then keeps up, all on 127.0.0.1:
//   - senders: one per group, paced, ordinary and targeted (1–3 receivers) sends, over Connect,
//     gRPC and gRPC-Web; each send's latency (request to response) is recorded;
//   - subscribers that subscribe, are cut after a random 5–30 s (their stream cancelled, or their
//     whole HTTP/2 connection killed) and resume from their last cursor; a message delivered
//     twice to one subscriber is counted (there must be none);
//   - slow clients: members of every group whose stream stops reading until the server ends it
//     with SLOW_CONSUMER, then resume from their cursor;
//   - bad inputs: malformed bodies, bad tokens (the issue's `iss: true` one included), invalid
//     fields, oversized messages, unknown procedures, bad cursors; each must get its error, never
//     Internal or Unknown (nor HTTP 500);
//   - readers: ListConversations and ListMessages.
// Every --interval it samples the server's RSS (/proc/<pid>/status) and open descriptors
// (/proc/<pid>/fd), and the interval's send-latency p50/p99. It prints a table, writes JSON to
// soak-results/, and exits non-zero when the run fails (see `verdict` below for the criterion).
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import pg from "pg";
import { Code, ConnectError, createClient, type CallOptions } from "@connectrpc/connect";
import { ConversationService, GroupService, type SubscribeResponse } from "@narrowcast/gen";
import { reasonOf } from "../src/errors.js";
import { BenchEnv, protocols, textElement, type Connection, type Protocol, type ServerHandle } from "../bench/env.js";
import { num, table } from "../bench/report.js";
import { now, sleep, stamp, summarize, unstamp, within } from "../bench/stats.js";

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const serverBin = join(packageDir, "bin", "narrowcast-server.js");

const positive = (value: string) => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError("expected a positive number");
  return n;
};
const int = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
};

const program = new Command("soak")
  .description("Soak the Narrowcast reference server (a child process) with mixed load; fails if RSS, fds or p99 grow without bound")
  .option("--minutes <n>", "how long the load runs", positive, 10)
  .option("--interval <s>", "seconds per sample [minutes×60/20, between 5 and 60]", positive)
  .option("--groups <n>", "groups (one paced sender each)", int, 6)
  .option("--send-rate <n>", "sends per second per group (the server allows 40)", positive, 10)
  .option("--subscribers <n>", "subscribers that are cut and resume", int, 16)
  .option("--slow-clients <n>", "subscribers that stop reading until SLOW_CONSUMER", int, 2)
  .option("--slow-pause <s>", "seconds a slow client stops reading", positive, 45)
  .option("--bad-rate <n>", "bad requests per second", positive, 10)
  .option("--database-url <url>", "PostgreSQL instead of SQLite (a fresh schema, dropped afterwards)")
  .option("--nats-url <url>", "NATS bus instead of the in-process one (a subject of its own)")
  .option("--keep-data", "keep the temp directory / PostgreSQL schema")
  .option("--out <dir>", "where JSON results go", join(packageDir, "soak-results"))
  .option("--no-json", "do not write JSON results");

// ---------------------------------------------------------------------------------------------
// The server as a child process.

interface ChildServer extends ServerHandle {
  pid: number;
  /** Server log lines at warn (40) and error (50) or above, counted; the first few kept. */
  logs: { warn: number; error: number; samples: string[] };
  /** Resolves with the exit code when the child exits. */
  exited: Promise<number | null>;
  alive(): boolean;
}

async function startChild(args: string[], env: NodeJS.ProcessEnv, adminKey: string): Promise<ChildServer> {
  const child: ChildProcess = spawn(process.execPath, [serverBin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
  const logs = { warn: 0, error: 0, samples: [] as string[] };
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve((exitCode = code))));
  const onLine = (line: string) => {
    if (!line.startsWith("{")) return;
    let level = 0;
    try {
      level = (JSON.parse(line) as { level?: number }).level ?? 0;
    } catch {
      return;
    }
    if (level >= 50) logs.error++;
    else if (level >= 40) logs.warn++;
    if (level >= 40 && logs.samples.length < 20) logs.samples.push(line.slice(0, 1000));
  };
  const stderr: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (line) => {
    if (stderr.length < 50) stderr.push(line);
    onLine(line);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not start within 30 s")), 30_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const m = /^Narrowcast listening on (\S+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
      onLine(line);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the server exited (${code}) before listening:\n${stderr.join("\n")}`));
    });
  });
  return {
    url,
    adminKey,
    pid: child.pid!,
    logs,
    exited,
    alive: () => exitCode === undefined,
    subscriptions: async () => NaN,
    async close() {
      if (exitCode !== undefined) return;
      child.kill("SIGTERM");
      if (!(await within(exited, 30_000))) {
        child.kill("SIGKILL");
        await exited;
      }
    },
  };
}

/** The child's resident set (MiB) and open file descriptors, from /proc (Linux) or ps. */
function sampleProcess(pid: number): { rssMiB: number; fds: number } {
  if (existsSync(`/proc/${pid}/status`)) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? NaN);
    return { rssMiB: kb / 1024, fds: readdirSync(`/proc/${pid}/fd`).length };
  }
  const kb = Number(execFileSync("ps", ["-o", "rss=", "-p", String(pid)], { encoding: "utf8" }).trim());
  return { rssMiB: kb / 1024, fds: NaN };
}

// ---------------------------------------------------------------------------------------------
// What each interval counts.

class Interval {
  readonly sendLatencies: number[] = [];
  readonly deliveryLatencies: number[] = [];
  sends = 0;
  targeted = 0;
  sendErrors = 0;
  deliveries = 0;
  resumes = 0;
  slowConsumerCuts = 0;
  badInputs = 0;
  reads = 0;
  readonly codes = new Map<string, number>();

  count(what: string): void {
    this.codes.set(what, (this.codes.get(what) ?? 0) + 1);
  }
}

interface Sample {
  index: number;
  /** Seconds since the load started, at the end of the interval. */
  t: number;
  rssMiB: number;
  fds: number;
  sends: number;
  targeted: number;
  sendErrors: number;
  sendP50Ms: number;
  sendP99Ms: number;
  sendMaxMs: number;
  deliveryP99Ms: number;
  deliveries: number;
  resumes: number;
  slowConsumerCuts: number;
  badInputs: number;
  reads: number;
  codes: Record<string, number>;
}

/** Totals over the run that decide the verdict besides growth. */
const totals = {
  /** Bad inputs answered with Internal, Unknown or HTTP 500, or accepted. */
  unexpected: 0,
  unexpectedSamples: [] as string[],
  /** Messages a subscriber received twice (across its resumes). */
  duplicates: 0,
  /** Sends answered with Internal or Unknown. */
  sendInternal: 0,
  slowConsumerCuts: 0,
  slowKeptUp: 0,
  resumes: 0,
  cursorExpired: 0,
};

function unexpected(what: string): void {
  totals.unexpected++;
  if (totals.unexpectedSamples.length < 20) totals.unexpectedSamples.push(what);
}

const codeName = (err: unknown) => {
  const ce = ConnectError.from(err);
  return `${Code[ce.code]}${reasonOf(ce) ? ` ${reasonOf(ce)}` : ""}`;
};

// ---------------------------------------------------------------------------------------------

const opts = program.parse().opts<{
  minutes: number;
  interval?: number;
  groups: number;
  sendRate: number;
  subscribers: number;
  slowClients: number;
  slowPause: number;
  badRate: number;
  databaseUrl?: string;
  natsUrl?: string;
  keepData?: boolean;
  out: string;
  json: boolean;
}>();

const durationMs = opts.minutes * 60_000;
const intervalMs = (opts.interval ?? Math.min(60, Math.max(5, (opts.minutes * 60) / 20))) * 1000;
const dataDir = mkdtempSync(join(tmpdir(), "narrowcast-soak-"));
const adminKey = randomBytes(24).toString("base64url");
const schema = opts.databaseUrl ? `nc_soak_${randomBytes(6).toString("hex")}` : undefined;
const serverArgs = ["--host", "127.0.0.1", "--port", "0", "--data-dir", dataDir, "--admin-key", adminKey, "--log-level", "warn"];
if (opts.databaseUrl) serverArgs.push("--database-url", opts.databaseUrl, "--database-schema", schema!);
if (opts.natsUrl) serverArgs.push("--nats-url", opts.natsUrl, "--nats-subject", `narrowcast.soak.${randomBytes(6).toString("hex")}`);
// The child gets only the flags above: no NARROWCAST_* setting of this shell leaks into it.
const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NARROWCAST_")));

const startedAt = new Date().toISOString();
const server = await startChild(serverArgs, childEnv, adminKey);
const env = await BenchEnv.start({
  protocol: "connect",
  dataDir,
  keepData: true,
  rateLimitPerSecond: 40,
  serverThread: false,
  server,
});
process.stdout.write(
  `soak: server pid ${server.pid} at ${server.url} (${opts.databaseUrl ? "PostgreSQL" : "SQLite file store"}, ${opts.natsUrl ? "NATS" : "in-process bus"}); ` +
    `${opts.minutes} min of load, a sample every ${intervalMs / 1000} s\n`,
);

// Users and groups: group g is owned by user g and has 11 more of the 30 users, plus every slow client.
const USERS = Array.from({ length: Math.max(30, opts.subscribers) }, (_, i) => `u${String(i).padStart(3, "0")}`);
const SLOW = Array.from({ length: opts.slowClients }, (_, i) => `slow${i}`);
await env.importUsers([...USERS, ...SLOW, "outsider"]);
const groups: { id: string; members: string[] }[] = [];
for (let g = 0; g < opts.groups; g++) {
  const owner = USERS[g % USERS.length];
  const members = [...new Set(Array.from({ length: 11 }, (_, k) => USERS[(g * 5 + k + 1) % USERS.length]))].filter((u) => u !== owner);
  const id = await env.createGroup(`soak-${g}`, owner, [...members, ...SLOW]);
  groups.push({ id, members: [owner, ...members] });
}
const groupsOf = (user: string) => groups.filter((g) => g.members.includes(user) || SLOW.includes(user)).map((g) => g.id);

const deadline = now() + durationMs;
const running = () => now() < deadline && server.alive();
const stop = new AbortController();
setMaxListeners(0, stop.signal);
let current = new Interval();
const random = (n: number) => Math.floor(Math.random() * n);
const pick = <T>(items: readonly T[]): T => items[random(items.length)];

// One shared connection per protocol for the senders, readers and bad inputs.
const shared = Object.fromEntries(protocols.map((p) => [p, env.connection(p)])) as Record<Protocol, Connection>;

async function sender(g: number): Promise<void> {
  const group = groups[g];
  const connection = shared[protocols[g % protocols.length]];
  const inflight = new Set<Promise<void>>();
  let next = now();
  while (running()) {
    next += 1000 / opts.sendRate;
    if (inflight.size < 64) {
      const from = pick(group.members);
      const others = group.members.filter((m) => m !== from);
      const targeted = Math.random() < 0.3;
      const receiverIds = targeted ? [...new Set(Array.from({ length: 1 + random(3) }, () => pick(others)))] : [];
      const call = await env.as(from, stop.signal);
      const t0 = now();
      const p = connection.messages
        .sendMessage(
          { groupId: group.id, elements: [textElement(100 + random(1900))], receiverIds, customData: stamp(t0), clientMessageId: randomBytes(8).toString("hex") },
          call,
        )
        .then(
          () => {
            current.sendLatencies.push(now() - t0);
            current.sends++;
            if (targeted) current.targeted++;
          },
          (err: unknown) => {
            if (stop.signal.aborted) return;
            const ce = ConnectError.from(err);
            current.sendErrors++;
            current.count(`send: ${codeName(ce)}`);
            if (ce.code === Code.Internal || ce.code === Code.Unknown) totals.sendInternal++;
          },
        )
        .finally(() => inflight.delete(p));
      inflight.add(p);
    } else {
      current.count("send: skipped (64 in flight)");
    }
    await sleep(next - now());
  }
  await Promise.all(inflight);
}

/** Reads one Subscribe stream until it ends or `cut` fires; returns the last cursor seen. */
async function readStream(
  connection: Connection,
  call: CallOptions,
  cursor: string,
  seen: Set<string>,
): Promise<{ cursor: string; error?: ConnectError }> {
  // Delivery latency counts live events only: a replay delivers old messages by design.
  let live = false;
  try {
    for await (const item of connection.events.subscribe({ cursor }, call)) {
      if (item.item.case === "ready") live = true;
      if (item.item.case === "ready" && item.item.value.cursor) cursor = item.item.value.cursor;
      if (item.item.case === "event") {
        if (item.item.value.cursor) cursor = item.item.value.cursor;
        const p = item.item.value.payload;
        if (p.case === "messageReceived" && p.value.message) {
          const id = p.value.message.messageId;
          if (seen.has(id)) totals.duplicates++;
          seen.add(id);
          current.deliveries++;
          const sentAt = unstamp(p.value.message.customData);
          if (live && Number.isFinite(sentAt)) current.deliveryLatencies.push(now() - sentAt);
        }
      }
    }
    return { cursor };
  } catch (err) {
    return { cursor, error: ConnectError.from(err) };
  }
}

/** Subscribes, is cut after 5–30 s (stream cancelled or connection killed), resumes from its cursor. */
async function subscriber(i: number): Promise<void> {
  const user = USERS[i % USERS.length];
  const seen = new Set<string>();
  let cursor = "";
  for (let round = 0; running(); round++) {
    const connection = env.connection(protocols[(i + round) % protocols.length]);
    const abort = new AbortController();
    const onStop = () => abort.abort();
    stop.signal.addEventListener("abort", onStop, { once: true });
    const killConnection = round % 2 === 1;
    const cut = setTimeout(() => (killConnection ? connection.close() : abort.abort()), 5_000 + random(25_000));
    const result = await readStream(connection, await env.as(user, abort.signal), cursor, seen);
    clearTimeout(cut);
    stop.signal.removeEventListener("abort", onStop);
    env.release(connection);
    cursor = result.cursor;
    const err = result.error;
    if (err && !(err.code === Code.Canceled || err.code === Code.Aborted || (killConnection && err.code === Code.Unavailable))) {
      current.count(`subscribe: ${codeName(err)}`);
      if (reasonOf(err) === "CURSOR_EXPIRED") {
        totals.cursorExpired++;
        cursor = "";
      }
      if (err.code === Code.Internal || err.code === Code.Unknown) unexpected(`subscriber ${user}: ${err.message}`);
    }
    if (!running()) break;
    current.resumes++;
    totals.resumes++;
    await sleep(100 + random(900));
  }
}

/** Stops reading until the server ends its stream with SLOW_CONSUMER, then resumes from its cursor. */
async function slowClient(i: number): Promise<void> {
  const user = SLOW[i];
  const seen = new Set<string>();
  let cursor = "";
  await sleep(i * 7_000);
  while (running()) {
    const connection = env.connection(protocols[i % protocols.length]);
    const abort = new AbortController();
    const onStop = () => abort.abort();
    stop.signal.addEventListener("abort", onStop, { once: true });
    const stream = connection.events.subscribe({ cursor }, await env.as(user, abort.signal))[Symbol.asyncIterator]();
    let error: ConnectError | undefined;
    const take = (item: SubscribeResponse) => {
      if (item.item.case === "ready" && item.item.value.cursor) cursor = item.item.value.cursor;
      if (item.item.case === "event") {
        if (item.item.value.cursor) cursor = item.item.value.cursor;
        const p = item.item.value.payload;
        if (p.case === "messageReceived" && p.value.message) {
          if (seen.has(p.value.message.messageId)) totals.duplicates++;
          seen.add(p.value.message.messageId);
        }
      }
    };
    try {
      // Read the replay up to `ready`, then stop reading.
      for (;;) {
        const r = await stream.next();
        if (r.done) break;
        take(r.value);
        if (r.value.item.case === "ready") break;
      }
      const pauseUntil = Math.min(deadline, now() + opts.slowPause * 1000);
      while (now() < pauseUntil && server.alive()) await sleep(Math.min(1000, pauseUntil - now()));
      // Read again: what was already on its way, then (if it fell behind) the end.
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const r = await Promise.race([stream.next(), new Promise<"idle">((resolve) => (timer = setTimeout(() => resolve("idle"), 3_000)))]);
        clearTimeout(timer);
        if (r === "idle" || r.done) break;
        take(r.value);
      }
    } catch (err) {
      error = ConnectError.from(err);
    }
    abort.abort();
    stop.signal.removeEventListener("abort", onStop);
    env.release(connection);
    if (error && reasonOf(error) === "SLOW_CONSUMER") {
      current.slowConsumerCuts++;
      totals.slowConsumerCuts++;
    } else if (error && error.code !== Code.Canceled) {
      current.count(`slow client: ${codeName(error)}`);
      if (error.code === Code.Internal || error.code === Code.Unknown) unexpected(`slow client ${user}: ${error.message}`);
    } else if (!stop.signal.aborted && running()) {
      totals.slowKeptUp++;
    }
    if (!running()) break;
    // Resume from the cursor: the replay must come through.
    const resumed = env.connection(protocols[i % protocols.length]);
    const resumeAbort = new AbortController();
    const timer = setTimeout(() => resumeAbort.abort(), 5_000);
    const result = await readStream(resumed, await env.as(user, resumeAbort.signal), cursor, seen);
    clearTimeout(timer);
    env.release(resumed);
    cursor = result.cursor;
    if (result.error && result.error.code !== Code.Canceled) current.count(`slow client resume: ${codeName(result.error)}`);
    current.resumes++;
    totals.resumes++;
  }
}

/** Bad requests of many kinds; each must be rejected with its error, never Internal/Unknown/500. */
async function badInputs(): Promise<void> {
  const b64 = (s: string) => Buffer.from(s).toString("base64url");
  const junkToken = (payload: object) => `${b64('{"alg":"HS256"}')}.${b64(JSON.stringify(payload))}.${randomBytes(32).toString("base64url")}`;
  const user = USERS[0];
  const call = await env.as(user);
  const authorization = (call.headers as Record<string, string>).authorization;
  const mine = groupsOf(user)[0];
  const notMine = groups.find((g) => !g.members.includes(user))?.id ?? "nope";
  const badTokens = [
    junkToken({ iss: true, sub: "u", exp: 9_999_999_999 }),
    junkToken({ iss: env.appId, sub: { a: 1 }, exp: 9_999_999_999 }),
    junkToken({ iss: env.appId, sub: user, exp: "never" }),
    "a.b.c.d",
    "%%%.***.!!!",
    "x".repeat(9_000),
    "",
  ];
  const post = async (path: string, contentType: string, body: Uint8Array<ArrayBuffer> | string, auth = authorization) => {
    const res = await fetch(`${server.url}/${path}`, {
      method: "POST",
      headers: { "content-type": contentType, authorization: auth },
      body,
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (res.status === 500 || /"code":"(internal|unknown)"/.test(text)) unexpected(`${path} (${contentType}) → ${res.status} ${text.slice(0, 200)}`);
    if (res.status === 200 && contentType === "application/proto") unexpected(`${path}: junk accepted`);
    return `HTTP ${res.status}`;
  };
  const conn = () => shared[pick(protocols)];
  const kinds: [string, () => Promise<unknown>][] = [
    ["bad token", () => createClient(GroupService, conn().transport).listGroups({}, { headers: { authorization: `Bearer ${pick(badTokens)}` } })],
    ["bad token on Subscribe", async () => {
      for await (const _ of conn().events.subscribe({}, { headers: { authorization: `Bearer ${pick(badTokens)}` }, signal: AbortSignal.timeout(10_000) })) break;
    }],
    ["junk body", () => post("narrowcast.v1.MessageService/SendMessage", "application/proto", Uint8Array.from(randomBytes(1 + random(64))))],
    ["junk JSON", () => post("narrowcast.v1.GroupService/ListGroups", "application/json", '{"pageSize":"many",')],
    ["junk stream frame", () => post("narrowcast.v1.EventService/Subscribe", "application/connect+proto", Uint8Array.from(randomBytes(3 + random(30))))],
    ["unknown procedure", () => post("narrowcast.v1.Nope/Nothing", "application/proto", "")],
    ["bad group ID", () => conn().messages.sendMessage({ groupId: "bad id,", elements: [textElement(5)] }, call)],
    ["empty message", () => conn().messages.sendMessage({ groupId: mine, elements: [] }, call)],
    ["message too large", () => conn().messages.sendMessage({ groupId: mine, elements: [textElement(13_000)] }, call)],
    ["not a member", () => conn().messages.sendMessage({ groupId: notMine, elements: [textElement(5)] }, call)],
    ["sender among receivers", () => conn().messages.sendMessage({ groupId: mine, elements: [textElement(5)], receiverIds: [user] }, call)],
    ["51 receivers", () => conn().messages.sendMessage({ groupId: mine, elements: [textElement(5)], receiverIds: Array.from({ length: 51 }, (_, k) => `r${k}`) }, call)],
    ["bad cursor", async () => {
      for await (const _ of conn().events.subscribe({ cursor: "not-a-cursor" }, { ...call, signal: AbortSignal.timeout(10_000) })) break;
    }],
  ];
  while (running()) {
    const [kind, request] = pick(kinds);
    try {
      const answer = await request();
      if (typeof answer === "string") current.count(`bad input: ${kind} → ${answer}`);
      else unexpected(`${kind}: accepted`);
    } catch (err) {
      const ce = ConnectError.from(err);
      current.count(`bad input: ${kind} → ${codeName(ce)}`);
      if (ce.code === Code.Internal || ce.code === Code.Unknown) unexpected(`${kind}: ${codeName(ce)} ${ce.rawMessage}`);
    }
    current.badInputs++;
    await sleep(1000 / opts.badRate);
  }
}

async function reader(): Promise<void> {
  while (running()) {
    const user = pick(USERS);
    const call = await env.as(user, stop.signal);
    const connection = shared[pick(protocols)];
    try {
      await createClient(ConversationService, connection.transport).listConversations({ pageSize: 20 }, call);
      const g = groupsOf(user);
      if (g.length) await connection.messages.listMessages({ groupId: pick(g), pageSize: 20 }, call);
      current.reads++;
    } catch (err) {
      if (!stop.signal.aborted) current.count(`read: ${codeName(err)}`);
    }
    await sleep(200);
  }
}

// ---------------------------------------------------------------------------------------------
// Run, sampling every interval.

const samples: Sample[] = [];
const loadStart = now();
const takeSample = () => {
  const interval = current;
  current = new Interval();
  const proc = server.alive() ? sampleProcess(server.pid) : { rssMiB: NaN, fds: NaN };
  const send = summarize(interval.sendLatencies);
  const sample: Sample = {
    index: samples.length + 1,
    t: Math.round((now() - loadStart) / 1000),
    rssMiB: proc.rssMiB,
    fds: proc.fds,
    sends: interval.sends,
    targeted: interval.targeted,
    sendErrors: interval.sendErrors,
    sendP50Ms: send.p50,
    sendP99Ms: send.p99,
    sendMaxMs: send.max,
    deliveryP99Ms: summarize(interval.deliveryLatencies).p99,
    deliveries: interval.deliveries,
    resumes: interval.resumes,
    slowConsumerCuts: interval.slowConsumerCuts,
    badInputs: interval.badInputs,
    reads: interval.reads,
    codes: Object.fromEntries([...interval.codes].sort()),
  };
  samples.push(sample);
  process.stdout.write(
    `  [${sample.t}s] rss ${num(sample.rssMiB, 1)} MiB, fds ${sample.fds}, sends ${sample.sends} (p99 ${num(sample.sendP99Ms, 1)} ms), ` +
      `deliveries ${sample.deliveries}, resumes ${sample.resumes}, slow cuts ${sample.slowConsumerCuts}, bad inputs ${sample.badInputs}\n`,
  );
};
const baseline = sampleProcess(server.pid);
const sampler = setInterval(takeSample, intervalMs);
const tasks = [
  ...groups.map((_, g) => sender(g)),
  ...Array.from({ length: opts.subscribers }, (_, i) => subscriber(i)),
  ...SLOW.map((_, i) => slowClient(i)),
  badInputs(),
  reader(),
];
const stopAtDeadline = setTimeout(() => stop.abort(), durationMs + 1000);
await Promise.race([
  Promise.all(tasks),
  server.exited.then(() => {
    stop.abort();
  }),
]);
stop.abort();
clearTimeout(stopAtDeadline);
clearInterval(sampler);
// The last, partial interval is sampled only if it is at least half an interval long.
if (server.alive() && now() - loadStart - (samples.at(-1)?.t ?? 0) * 1000 >= intervalMs / 2) takeSample();
const serverDiedEarly = !server.alive();
await within(Promise.all(tasks), 15_000);

// ---------------------------------------------------------------------------------------------
// Verdict: growth without bound, and correctness counters.

/** Median of a list of numbers (NaN when empty). */
function median(values: number[]): number {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/**
 * A metric "grows without bound" when the median of the last third of the intervals exceeds the
 * median of the first third by more than `factor` times AND by more than `floor` (absolute), so
 * that neither a small metric's noise nor a large one's warm-up fails the run.
 */
const CRITERIA = [
  { metric: "rssMiB", label: "RSS (MiB)", factor: 1.5, floor: 64 },
  { metric: "fds", label: "open fds", factor: 1.5, floor: 50 },
  { metric: "sendP99Ms", label: "send p99 (ms)", factor: 2, floor: 50 },
] as const;

const failures: string[] = [];
const growth = CRITERIA.map(({ metric, label, factor, floor }) => {
  const third = Math.floor(samples.length / 3);
  if (third < 1) return { metric, label, first: NaN, last: NaN, factor, floor, grew: false, checked: false };
  const first = median(samples.slice(0, third).map((s) => s[metric]));
  const last = median(samples.slice(-third).map((s) => s[metric]));
  const grew = last > first * factor && last - first > floor;
  if (grew) failures.push(`${label} grew from ${num(first, 1)} to ${num(last, 1)} (limit: ×${factor} and +${floor})`);
  return { metric, label, first, last, factor, floor, grew, checked: true };
});
if (samples.length < 3) failures.push(`only ${samples.length} samples: too few to judge growth (run longer or lower --interval)`);
if (serverDiedEarly) failures.push("the server exited during the run");
if (totals.unexpected) failures.push(`${totals.unexpected} bad inputs got Internal/Unknown/500 or were accepted`);
if (totals.sendInternal) failures.push(`${totals.sendInternal} sends got Internal or Unknown`);
if (totals.duplicates) failures.push(`${totals.duplicates} messages were delivered twice to one subscriber across resumes`);
if (server.logs.error) failures.push(`${server.logs.error} error-level lines in the server's log`);
if (!samples.some((s) => s.sends > 0)) failures.push("no send succeeded");
if (opts.slowClients > 0 && opts.minutes * 60 >= 3 * opts.slowPause && totals.slowConsumerCuts === 0) failures.push("no slow client was ever cut with SLOW_CONSUMER");

await env.close();
const exitCode = await server.exited;
if (!opts.keepData) {
  rmSync(dataDir, { recursive: true, force: true });
  if (opts.databaseUrl) {
    const admin = new pg.Client({ connectionString: opts.databaseUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  }
}

const totalsRow = (key: keyof Sample) => samples.reduce((sum, s) => sum + (s[key] as number), 0);
process.stdout.write(
  "\n" +
    table(
      `Soak: ${opts.minutes} min, server pid ${server.pid}; per interval of ${intervalMs / 1000} s (baseline before load: rss ${num(baseline.rssMiB, 1)} MiB, fds ${baseline.fds})`,
      ["t (s)", "RSS MiB", "fds", "sends", "targeted", "send err", "p50 ms", "p99 ms", "max ms", "deliv p99", "deliveries", "resumes", "slow cuts", "bad in", "reads"],
      samples.map((s) => [
        s.t,
        num(s.rssMiB, 1),
        s.fds,
        s.sends,
        s.targeted,
        s.sendErrors,
        num(s.sendP50Ms, 1),
        num(s.sendP99Ms, 1),
        num(s.sendMaxMs, 1),
        num(s.deliveryP99Ms, 1),
        s.deliveries,
        s.resumes,
        s.slowConsumerCuts,
        s.badInputs,
        s.reads,
      ]),
    ) +
    "\n" +
    table(
      "Growth: median of the last third of the intervals vs the first third",
      ["metric", "first third", "last third", "fails above"],
      growth.map((g) => [g.label, num(g.first, 1), num(g.last, 1), g.checked ? `×${g.factor} and +${g.floor}` : "(too few samples)"]),
    ) +
    `\ntotals: sends ${totalsRow("sends")} (targeted ${totalsRow("targeted")}, errors ${totalsRow("sendErrors")}), deliveries ${totalsRow("deliveries")}, ` +
    `resumes ${totals.resumes}, SLOW_CONSUMER cuts ${totals.slowConsumerCuts} (slow clients that kept up: ${totals.slowKeptUp}), ` +
    `bad inputs ${totalsRow("badInputs")} (unexpected answers ${totals.unexpected}), duplicates ${totals.duplicates}, ` +
    `server log: ${server.logs.warn} warn, ${server.logs.error} error; server exit code ${exitCode}\n`,
);
const codes = new Map<string, number>();
for (const s of samples) for (const [k, v] of Object.entries(s.codes)) codes.set(k, (codes.get(k) ?? 0) + v);
process.stdout.write(`answers by kind: ${[...codes].sort().map(([k, v]) => `${k} ×${v}`).join("; ")}\n`);
for (const u of totals.unexpectedSamples) process.stdout.write(`  unexpected: ${u}\n`);
for (const l of server.logs.samples) process.stdout.write(`  server log: ${l}\n`);

if (opts.json) {
  mkdirSync(opts.out, { recursive: true });
  const results = {
    startedAt,
    environment: { node: process.version, platform: process.platform, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavg: loadavg() },
    settings: {
      minutes: opts.minutes,
      intervalSeconds: intervalMs / 1000,
      groups: opts.groups,
      sendRatePerGroup: opts.sendRate,
      subscribers: opts.subscribers,
      slowClients: opts.slowClients,
      slowPauseSeconds: opts.slowPause,
      badRate: opts.badRate,
      store: opts.databaseUrl ? "postgres" : "sqlite-file",
      bus: opts.natsUrl ? "nats" : "in-process",
    },
    baseline,
    samples,
    growth,
    totals: { ...totals, serverLog: server.logs, serverExitCode: exitCode },
    failures,
    passed: failures.length === 0,
  };
  const json = JSON.stringify(results, null, 2) + "\n";
  const file = join(opts.out, `soak-${startedAt.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, json);
  writeFileSync(join(opts.out, "latest.json"), json);
  process.stdout.write(`results: ${file}\n`);
}
process.stdout.write(failures.length ? `\nSOAK FAILED:\n${failures.map((f) => `  - ${f}`).join("\n")}\n` : "\nSOAK PASSED\n");
process.exit(failures.length ? 1 : 0);
