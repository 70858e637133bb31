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
import { matchesFilter, runSuite } from "./runner.js";
import { defaultSpecPath, readRuleIds } from "./spec.js";
import { protocols, type HttpVersion, type Protocol } from "./transport.js";

interface CliOptions {
  baseUrl?: string;
  otherNode: string[];
  adminKey?: string;
  protocol: string;
  http: HttpVersion;
  filter?: string;
  list?: boolean;
  coverage?: boolean;
  spec: string;
  parallel: number;
  compression: "identity" | "gzip";
  streamDeadlineMs?: number;
  knownFailing?: string;
  json?: string;
  junit?: string;
  negativeWaitMs: number;
  timeoutMs: number;
  quiet?: boolean;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a non-negative integer");
  return n;
}

function parseProtocols(value: string): Protocol[] {
  if (value === "all") return [...protocols];
  const chosen = value.split(",").map((p) => p.trim());
  for (const p of chosen) if (!(protocols as readonly string[]).includes(p)) throw new InvalidArgumentError(`unknown protocol ${JSON.stringify(p)} (connect, grpc, grpc-web or all)`);
  return chosen as Protocol[];
}

function buildProgram(): Command {
  return new Command()
    .name("narrowcast-conformance")
    .description("Runs the Narrowcast conformance suite against a running server, rule by rule.")
    .addOption(new Option("--base-url <url>", "base URL of the server under test, e.g. http://127.0.0.1:8080").env("NARROWCAST_BASE_URL"))
    .option("--other-node <url>", "another node of the same deployment (repeatable): calls go to the nodes in turn", (url: string, all: string[]) => [...all, url.replace(/\/+$/, "")], [] as string[])
    .addOption(new Option("--admin-key <key>", "the server's admin key (AdminService bearer token)").env("NARROWCAST_ADMIN_KEY"))
    .option("--protocol <protocol>", "connect, grpc, grpc-web, a comma-separated list, or all", "all")
    .addOption(new Option("--http <version>", "HTTP version; gRPC runs only over HTTP/2").choices(["1.1", "2"]).default("2"))
    .option("--filter <pattern>", "run only cases whose ID or rule ID matches (a rule ID like TGT-4 matches exactly; otherwise regex or substring)")
    .option("--list", "list the cases with their rules and exit")
    .option("--coverage", "print the rule → cases table from the spec and exit")
    .option("--spec <file>", "the spec to read rule IDs from (for --coverage)", defaultSpecPath)
    .option("--parallel <n>", "case runs in flight at once", positiveInt, 8)
    .addOption(new Option("--compression <name>", "request compression").choices(["identity", "gzip"]).default("identity"))
    .option("--stream-deadline-ms <ms>", "send this deadline with every streaming call (Connect-Timeout-Ms / grpc-timeout)", positiveInt)
    .option("--known-failing <file>", "case IDs expected to fail, one per line (# comments); a listed case that passes fails the run")
    .option("--json <file>", "write the results as JSON")
    .option("--junit <file>", "write the results as JUnit XML")
    .option("--negative-wait-ms <ms>", "how long a \"must not be delivered\" check listens", positiveInt, 300)
    .option("--timeout-ms <ms>", "upper bound of each wait for an expected event or response", positiveInt, 5000)
    .option("--quiet", "print only failures and the summary")
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
  let selectedProtocols: Protocol[];
  try {
    selectedProtocols = parseProtocols(opts.protocol);
  } catch (e) {
    err.write(`error: --protocol: ${(e as Error).message}\n`);
    return 2;
  }
  const cases = allCases.filter((c) => selectedProtocols.some((p) => matchesFilter(c, p, opts.filter)));

  if (opts.list) {
    for (const c of cases) out.write(`${c.id}  [${c.rules.join(", ")}]\n    ${c.requirement}\n`);
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
  if (opts.knownFailing) {
    try {
      knownFailing = readKnownFailing(opts.knownFailing);
    } catch (e) {
      err.write(`error: cannot read --known-failing file: ${(e as Error).message}\n`);
      return 2;
    }
  }
  const result = await runSuite({
    baseUrl: opts.baseUrl.replace(/\/+$/, ""),
    otherNodeUrls: opts.otherNode,
    adminKey: opts.adminKey,
    protocols: selectedProtocols,
    httpVersion: opts.http,
    filter: opts.filter,
    parallel: opts.parallel,
    compression: opts.compression,
    streamDeadlineMs: opts.streamDeadlineMs,
    knownFailing,
    negativeWaitMs: opts.negativeWaitMs,
    timeoutMs: opts.timeoutMs,
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
