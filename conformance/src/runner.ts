// Runs the selected cases once per selected protocol against one server, in parallel, and
// classifies each result against the known-failing list.
import { ConnectError, createClient } from "@connectrpc/connect";
import { AdminService } from "@narrowcast/gen/admin";
import type { ConformanceCase } from "./case.js";
import { CheckFailure, SkipCase } from "./check.js";
import { describeObserved, observe } from "./errors.js";
import { createCaseContext } from "./fixtures.js";
import { KnownFailing } from "./known-failing.js";
import { allCases } from "./cases/index.js";
import { createProtocolTransport, protocolSupports, spreadAcrossNodes, withBearer, withStreamDeadline, protocols as allProtocols, type HttpVersion, type Protocol, type ProtocolTransport } from "./transport.js";

export interface SuiteOptions {
  /** Base URL of the server under test, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  /** The server's admin key (AdminService bearer token). */
  adminKey: string;
  /**
   * Further nodes of the same deployment (sharing state with `baseUrl`'s node). Calls then go to
   * the nodes in turn, so every case also checks delivery and state across nodes.
   */
  otherNodeUrls?: readonly string[];
  /** Protocols to run every case over; default all three. */
  protocols?: readonly Protocol[];
  /** HTTP version; default "2". Over "1.1" gRPC is skipped (it needs HTTP/2). */
  httpVersion?: HttpVersion;
  /** Request compression; default identity. With gzip every request message is compressed. */
  compression?: "identity" | "gzip";
  /** A deadline (ms) sent with every Subscribe and other streaming call; default none. */
  streamDeadlineMs?: number;
  /** Regex (or plain substring, if not a valid regex) over case IDs and rule IDs. */
  filter?: string;
  /** Case runs in flight at once; default 8. */
  parallel?: number;
  /** Known-failing patterns ("connect/tgt-x", "tgt-x", "*" wildcards). */
  knownFailing?: readonly string[];
  /** How long "must not be delivered" checks listen, in ms; default 300. */
  negativeWaitMs?: number;
  /** Upper bound of each positive wait (an expected event or response), in ms; default 5000. */
  timeoutMs?: number;
  /** Upper bound of one case run, in ms; default 30000. */
  caseTimeoutMs?: number;
  /** The cases to choose from; default every case of the suite. */
  cases?: readonly ConformanceCase[];
  /** Called before the first case runs. */
  onPlan?(plan: SuitePlan): void;
  /** Called as each case run finishes. */
  onResult?(result: CaseResult): void;
}

export interface SuitePlan {
  protocols: Protocol[];
  httpVersion: HttpVersion;
  cases: ConformanceCase[];
  notes: string[];
}

/**
 * passed: ran and passed. failed: ran and failed. known-failing: failed and is listed as known
 * failing (does not fail the run). unexpected-pass: passed although listed (fails the run, so the
 * list never goes stale). skipped: the case found it cannot check its requirement against this
 * server (e.g. a declared limit too large to reach) and said why; it neither passes nor fails.
 */
export type CaseStatus = "passed" | "failed" | "known-failing" | "unexpected-pass" | "skipped";

export interface CaseFailure {
  message: string;
  expected?: string;
  actual?: string;
}

export interface CaseResult {
  /** "<protocol>/<case ID>". */
  id: string;
  caseId: string;
  protocol: Protocol;
  rules: readonly string[];
  requirement: string;
  status: CaseStatus;
  durationMs: number;
  failure?: CaseFailure;
  /** Why the case skipped itself (status "skipped"). */
  skipReason?: string;
}

export interface SuiteResult {
  baseUrl: string;
  httpVersion: HttpVersion;
  protocols: Protocol[];
  notes: string[];
  results: CaseResult[];
  passed: number;
  /** Failed runs, unexpected passes included. */
  failed: number;
  knownFailing: number;
  unexpectedPasses: number;
  /** Runs that skipped themselves (they count neither as passed nor as failed). */
  skipped: number;
  durationMs: number;
  /** Set when the suite could not start (server unreachable, admin key refused); no case ran. */
  setupError?: string;
  /** True when nothing failed (known-failing cases that failed are fine). */
  ok: boolean;
}

/** Case filter: a rule ID selects the cases citing exactly that rule; otherwise a regex or substring. */
export function matchesFilter(c: ConformanceCase, protocol: Protocol | undefined, filter: string | undefined): boolean {
  if (!filter) return true;
  if (/^[A-Z]+-\d+$/i.test(filter)) return c.rules.some((r) => r.toUpperCase() === filter.toUpperCase());
  const subjects = [c.id, ...c.rules, ...(protocol ? [`${protocol}/${c.id}`] : [])];
  let regex: RegExp | undefined;
  try {
    regex = new RegExp(filter, "i");
  } catch {
    regex = undefined;
  }
  return subjects.some((s) => (regex ? regex.test(s) : s.toLowerCase().includes(filter.toLowerCase())));
}

/** Decides which protocols run, with a note for each one dropped. */
export function planProtocols(requested: readonly Protocol[], httpVersion: HttpVersion): { protocols: Protocol[]; notes: string[] } {
  const notes: string[] = [];
  const selected = requested.filter((p) => {
    if (protocolSupports(p, httpVersion)) return true;
    notes.push(`${p} skipped: it needs HTTP/2 and --http ${httpVersion} was chosen`);
    return false;
  });
  return { protocols: selected, notes };
}

/** Runs the suite and returns every result. Never throws for a failing server. */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const started = Date.now();
  const httpVersion = options.httpVersion ?? "2";
  const { protocols, notes } = planProtocols(options.protocols ?? allProtocols, httpVersion);
  const cases = (options.cases ?? allCases).filter((c) => protocols.some((p) => matchesFilter(c, p, options.filter)));
  const knownFailing = new KnownFailing(options.knownFailing ?? []);
  const wait = { timeoutMs: options.timeoutMs ?? 5000, negativeWaitMs: options.negativeWaitMs ?? 300 };
  const caseTimeoutMs = options.caseTimeoutMs ?? 30_000;
  options.onPlan?.({ protocols, httpVersion, cases, notes });

  const transports = new Map<Protocol, ProtocolTransport>();
  const nodeUrls = [options.baseUrl, ...(options.otherNodeUrls ?? [])];
  const variant = { compression: options.compression };
  for (const p of protocols) {
    const spread = spreadAcrossNodes(nodeUrls.map((url) => createProtocolTransport(p, url, httpVersion, variant)));
    transports.set(p, { transport: withStreamDeadline(spread.transport, options.streamDeadlineMs), close: spread.close });
  }

  const jobs: { protocol: Protocol; c: ConformanceCase }[] = [];
  for (const protocol of protocols) for (const c of cases) if (matchesFilter(c, protocol, options.filter)) jobs.push({ protocol, c });

  // Preflight: every case builds its fixtures through AdminService, so check it answers first.
  const setupError = jobs.length > 0 ? await preflight(transports.get(jobs[0]!.protocol)!.transport, options.adminKey) : undefined;
  if (setupError !== undefined) {
    for (const t of transports.values()) t.close();
    return {
      baseUrl: options.baseUrl,
      httpVersion,
      protocols,
      notes,
      results: [],
      passed: 0,
      failed: 0,
      knownFailing: 0,
      unexpectedPasses: 0,
      skipped: 0,
      durationMs: Date.now() - started,
      setupError,
      ok: false,
    };
  }

  const results: CaseResult[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      const job = jobs[index]!;
      const transport = transports.get(job.protocol)!.transport;
      const outcome = await runOne(job.c, job.protocol, { transport, baseUrl: options.baseUrl, httpVersion, adminKey: options.adminKey, wait, caseTimeoutMs });
      const id = `${job.protocol}/${job.c.id}`;
      const listed = knownFailing.matches(id);
      const status: CaseStatus =
        outcome.skipReason !== undefined ? "skipped" : outcome.failure ? (listed ? "known-failing" : "failed") : listed ? "unexpected-pass" : "passed";
      const result: CaseResult = {
        id,
        caseId: job.c.id,
        protocol: job.protocol,
        rules: job.c.rules,
        requirement: job.c.requirement,
        status,
        durationMs: outcome.durationMs,
        ...(outcome.failure ? { failure: outcome.failure } : {}),
        ...(outcome.skipReason !== undefined ? { skipReason: outcome.skipReason } : {}),
      };
      if (status === "unexpected-pass") {
        result.failure = { message: "the case passed but is listed as known failing: remove it from the list" };
      }
      results[index] = result;
      options.onResult?.(result);
    }
  };
  try {
    const parallel = Math.max(1, options.parallel ?? 8);
    await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  } finally {
    for (const t of transports.values()) t.close();
  }

  const count = (s: CaseStatus) => results.filter((r) => r.status === s).length;
  const failed = count("failed") + count("unexpected-pass");
  return {
    baseUrl: options.baseUrl,
    httpVersion,
    protocols,
    notes,
    results,
    passed: count("passed"),
    failed,
    knownFailing: count("known-failing"),
    unexpectedPasses: count("unexpected-pass"),
    skipped: count("skipped"),
    durationMs: Date.now() - started,
    ok: failed === 0,
  };
}

async function preflight(transport: ProtocolTransport["transport"], adminKey: string): Promise<string | undefined> {
  try {
    await createClient(AdminService, withBearer(transport, adminKey)).createApp({ name: "conformance preflight" });
    return undefined;
  } catch (err) {
    return `AdminService.CreateApp failed, so no fixture can be built: ${describeObserved(observe(err))}`;
  }
}

async function runOne(
  c: ConformanceCase,
  protocol: Protocol,
  options: {
    transport: ProtocolTransport["transport"];
    baseUrl: string;
    httpVersion: HttpVersion;
    adminKey: string;
    wait: { timeoutMs: number; negativeWaitMs: number };
    caseTimeoutMs: number;
  },
): Promise<{ failure?: CaseFailure; skipReason?: string; durationMs: number }> {
  const started = Date.now();
  const { ctx, cleanup } = createCaseContext({ ...options, protocol, caseId: c.id });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailure(`the case did not finish within ${options.caseTimeoutMs} ms`)), options.caseTimeoutMs);
  });
  try {
    await Promise.race([c.run(ctx), timeout]);
    return { durationMs: Date.now() - started };
  } catch (err) {
    if (err instanceof SkipCase) return { skipReason: err.message, durationMs: Date.now() - started };
    return { failure: toFailure(err), durationMs: Date.now() - started };
  } finally {
    clearTimeout(timer);
    cleanup();
  }
}

/** Turns anything a case threw into a reportable failure. */
export function toFailure(err: unknown): CaseFailure {
  if (err instanceof CheckFailure) {
    return { message: err.message, ...(err.expected !== undefined ? { expected: err.expected } : {}), ...(err.actual !== undefined ? { actual: err.actual } : {}) };
  }
  if (err instanceof ConnectError) {
    return { message: "a call the case expected to succeed failed", expected: "success", actual: describeObserved(observe(err)) };
  }
  return { message: `unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` };
}
