// The narrowcast-conformance command line: parse options, run the suite (or list cases / print
// coverage), write the reports, and return the exit code.
import { writeFileSync } from "node:fs";
import { Command, InvalidArgumentError, Option } from "commander";
import { allCases } from "./cases/index.js";
import { coverage, uncoveredRules, unknownRules } from "./coverage.js";
import { readKnownFailing } from "./known-failing.js";
import { formatPlan, formatProgress, formatSummary, type Writer } from "./report/console.js";
import { formatJson } from "./report/json.js";
import { formatJunit } from "./report/junit.js";
import { codecs, compressions, httpVersions, matrixModes, parseList, type Codec, type Compression, type MatrixMode } from "./matrix.js";
import { matchesFilter, runSuite } from "./runner.js";
import { defaultSpecPath, readRuleIds } from "./spec.js";
import { protocols, type HttpVersion, type Protocol } from "./transport.js";

interface CliOptions {
  baseUrl?: string;
  otherNode: string[];
  adminKey?: string;
  protocol: string;
  codec: string;
  compression: string;
  http: string;
  matrix: MatrixMode;
  filter?: string;
  list?: boolean;
  coverage?: boolean;
  spec: string;
  parallel: number;
  streamDeadlineMs?: number;
  knownFailing?: string;
  knownFlaky?: string;
  json?: string;
  junit?: string;
  negativeWaitMs: number;
  timeoutMs: number;
  quiet?: boolean;
  recallWindow?: number;
  editWindow?: number;
  rateLimit?: number;
  eventRetention?: number;
  subscriberBufferBytes?: number;
  webhooks?: boolean;
  webhookHost: string;
  webhookRetryBaseMs?: number;
  webhookRetryCapMs?: number;
  webhookMaxAttempts?: number;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

/** The matrix dimensions chosen by --protocol, --codec, --compression and --http. */
interface Dimensions {
  protocols: Protocol[];
  codecs: Codec[];
  compressions: Compression[];
  httpVersions: HttpVersion[];
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number");
  return n;
}

function positiveWholeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

function parseDimensions(opts: CliOptions): Dimensions {
  const parse = <T extends string>(flag: string, value: string, allowed: readonly T[], what = flag.slice(2)) => {
    try {
      return parseList(value, allowed, what);
    } catch (e) {
      throw new InvalidArgumentError(`${flag}: ${(e as Error).message}`);
    }
  };
  return {
    protocols: parse("--protocol", opts.protocol, protocols),
    codecs: parse("--codec", opts.codec, codecs),
    compressions: parse("--compression", opts.compression, compressions),
    httpVersions: parse("--http", opts.http, httpVersions, "HTTP version"),
  };
}

function buildProgram(): Command {
  return new Command()
    .name("narrowcast-conformance")
    .description("Runs the Narrowcast conformance suite against a running server, rule by rule.")
    .addOption(new Option("--base-url <url>", "base URL of the server under test, e.g. http://127.0.0.1:8080").env("NARROWCAST_BASE_URL"))
    .option("--other-node <url>", "another node of the same deployment (repeatable): calls go to the nodes in turn", (url: string, all: string[]) => [...all, url.replace(/\/+$/, "")], [] as string[])
    .addOption(new Option("--admin-key <key>", "the server's admin key (AdminService bearer token)").env("NARROWCAST_ADMIN_KEY"))
    .option("--protocol <protocol>", "connect, grpc, grpc-web, a comma-separated list, or all", "all")
    .option("--codec <codec>", "binary, json, a comma-separated list, or all", "all")
    .option("--compression <name>", "request compression: identity, gzip, a comma-separated list, or all", "all")
    .option("--http <version>", "HTTP version: 2, 1.1, a comma-separated list, or all (gRPC runs only over HTTP/2)", "all")
    .addOption(new Option("--matrix <mode>", "covering: each case once per protocol, the other dimensions rotating over the cases; full: each case in every cell").choices(matrixModes).default("covering"))
    .option("--filter <pattern>", "run only cases whose ID or rule ID matches (a rule ID like TGT-4 matches exactly; otherwise regex or substring)")
    .option("--list", "list the cases with their rules and exit")
    .option("--coverage", "print the rule → cases table from the spec and exit")
    .option("--spec <file>", "the spec to read rule IDs from (for --coverage)", defaultSpecPath)
    .option("--parallel <n>", "case runs in flight at once", positiveInt, 8)
    .option("--stream-deadline-ms <ms>", "send this deadline with every streaming call (Connect-Timeout-Ms / grpc-timeout)", positiveInt)
    .option("--known-failing <file>", "run-ID patterns expected to fail, one per line (# comments); a listed run that passes fails the run")
    .option("--known-flaky <file>", "run-ID patterns known to be flaky (same format): a listed run that fails is retried once; failing again, it is reported as flaky and does not fail the run")
    .option("--json <file>", "write the results as JSON")
    .option("--junit <file>", "write the results as JUnit XML")
    .option("--negative-wait-ms <ms>", "how long a \"must not be delivered\" check listens", positiveInt, 300)
    .option("--timeout-ms <ms>", "upper bound of each wait for an expected event or response", positiveInt, 5000)
    .option("--quiet", "print only failures and the summary")
    // What the operator configured on the server under test (the suite cannot change it): cases use
    // the values to reach each limit, and srv-declares-settings checks ServerInfo declares the same.
    .option("--recall-window <seconds>", "the server's recall window (MSG-11); default the reference 120", positiveNumber)
    .option("--edit-window <seconds>", "the server's edit window (EDT-2); default the reference 86400", positiveNumber)
    .option("--rate-limit <n>", "the server's sends per second per group on one node (MSG-5); default the reference 40", positiveNumber)
    .option("--event-retention <seconds>", "the server's event retention (EVT-10); default the reference 604800 (7 days)", positiveNumber)
    .option("--subscriber-buffer-bytes <bytes>", "bytes of events (binary encoding) a Subscribe stream may queue before SLOW_CONSUMER (EVT-6); default the reference 4194304 (4 MiB)", positiveNumber)
    // The optional HOOK area: the server under test must be able to reach the suite's receiver.
    .option("--webhooks", "run the HOOK cases (spec section 16): the suite starts an HTTP receiver and points the server's webhooks at it")
    .option("--webhook-host <host>", "the address the webhook receiver binds to and names in its URLs", "127.0.0.1")
    .option("--webhook-retry-base-ms <ms>", "the server's webhook retry base delay (HOOK-8); default the reference 1000", positiveWholeNumber)
    .option("--webhook-retry-cap-ms <ms>", "the server's webhook retry delay cap (HOOK-8); default the reference 600000", positiveWholeNumber)
    .option("--webhook-max-attempts <n>", "the server's attempts per webhook delivery before a dead letter (HOOK-8); default the reference 10", positiveWholeNumber)
    .exitOverride();
}

/** Runs the command; returns the process exit code (0 all passed, 1 failures, 2 usage or setup error). */
export async function main(argv: readonly string[], out: Writer = process.stdout, err: Writer = process.stderr): Promise<number> {
  const program = buildProgram();
  program.configureOutput({ writeOut: (s) => out.write(s), writeErr: (s) => err.write(s) });
  try {
    program.parse([...argv]);
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  const opts = program.opts<CliOptions>();
  let dimensions: Dimensions;
  try {
    dimensions = parseDimensions(opts);
  } catch (e) {
    err.write(`error: ${(e as Error).message}\n`);
    return 2;
  }
  const selectedProtocols = dimensions.protocols;
  const cases = allCases.filter((c) => selectedProtocols.some((p) => matchesFilter(c, p, opts.filter)));

  if (opts.list) {
    for (const c of cases) out.write(`${c.id}  [${c.rules.join(", ")}]${c.needs === "webhooks" ? "  (needs --webhooks)" : ""}\n    ${c.requirement}\n`);
    out.write(`${cases.length} cases\n`);
    return 0;
  }
  if (opts.coverage) {
    const ruleIds = readRuleIds(opts.spec);
    const table = coverage(ruleIds, allCases);
    const width = Math.max(...table.map((r) => r.rule.length));
    for (const row of table) {
      const cited = row.cases.length > 0 ? row.cases.join(", ") : row.untestable ? `not testable over the network: ${row.untestable}` : "NOT COVERED";
      out.write(`${row.rule.padEnd(width)}  ${cited}\n`);
    }
    const missing = uncoveredRules(ruleIds, allCases);
    const unknown = unknownRules(ruleIds, allCases);
    out.write(`${ruleIds.length - missing.length}/${ruleIds.length} rules covered by ${allCases.length} cases\n`);
    if (unknown.length > 0) out.write(`cited but not in the spec: ${unknown.join(", ")}\n`);
    return missing.length === 0 && unknown.length === 0 ? 0 : 1;
  }
  if (!opts.baseUrl || !opts.adminKey) {
    err.write("error: --base-url and --admin-key are required to run the suite (or use --list / --coverage)\n");
    return 2;
  }
  let knownFailing: string[] = [];
  let knownFlaky: string[] = [];
  for (const [flag, file, set] of [
    ["--known-failing", opts.knownFailing, (p: string[]) => (knownFailing = p)],
    ["--known-flaky", opts.knownFlaky, (p: string[]) => (knownFlaky = p)],
  ] as const) {
    if (!file) continue;
    try {
      set(readKnownFailing(file));
    } catch (e) {
      err.write(`error: cannot read ${flag} file: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const result = await runSuite({
    baseUrl: opts.baseUrl.replace(/\/+$/, ""),
    otherNodeUrls: opts.otherNode,
    adminKey: opts.adminKey,
    ...dimensions,
    matrix: opts.matrix,
    filter: opts.filter,
    parallel: opts.parallel,
    streamDeadlineMs: opts.streamDeadlineMs,
    knownFailing,
    knownFlaky,
    negativeWaitMs: opts.negativeWaitMs,
    timeoutMs: opts.timeoutMs,
    settings: {
      recallWindowSeconds: opts.recallWindow,
      editWindowSeconds: opts.editWindow,
      sendRatePerGroup: opts.rateLimit,
      eventRetentionSeconds: opts.eventRetention,
      subscriberBufferBytes: opts.subscriberBufferBytes,
    },
    webhooks: {
      enabled: opts.webhooks === true,
      host: opts.webhookHost,
      retryBaseMs: opts.webhookRetryBaseMs,
      retryCapMs: opts.webhookRetryCapMs,
      maxAttempts: opts.webhookMaxAttempts,
    },
    onPlan: (plan) => out.write(formatPlan(plan, opts.baseUrl!)),
    onResult: (r) => {
      if (!opts.quiet || r.status !== "passed") out.write(formatProgress(r));
    },
  });
  out.write(formatSummary(result));
  if (result.setupError !== undefined) return 2;
  if (opts.json) writeFileSync(opts.json, formatJson(result));
  if (opts.junit) writeFileSync(opts.junit, formatJunit(result));
  return result.ok && result.results.length > 0 ? 0 : 1;
}
