// Runs the selected cases over the selected cells of the wire matrix (protocol × codec ×
// compression × HTTP version) against one server, in parallel, retries known-flaky failures once,
// and classifies each result against the known-failing and known-flaky lists.
import { ConnectError, createClient } from "@connectrpc/connect";
import { AdminService } from "@narrowcast/gen/admin";
import type { ConformanceCase } from "./case.js";
import { CheckFailure, SkipCase } from "./check.js";
import { describeObserved, observe } from "./errors.js";
import { createCaseContext } from "./fixtures.js";
import { resolveWebhookSettings, type ServerSettings, type WebhookSettings } from "./settings.js";
import { WebhookReceiver } from "./webhook-receiver.js";
import { KnownFailing } from "./known-failing.js";
import { allCases } from "./cases/index.js";
import {
  cellId,
  codecs as allCodecs,
  executionOrder,
  compressions as allCompressions,
  httpVersions as allHttpVersions,
  planCells,
  planRuns,
  runId,
  type Cell,
  type Codec,
  type Compression,
  type MatrixMode,
} from "./matrix.js";
import { createProtocolTransport, spreadAcrossNodes, withBearer, withStreamDeadline, protocols as allProtocols, type HttpVersion, type Protocol, type ProtocolTransport } from "./transport.js";

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
  /** Codecs of the matrix; default binary and JSON. */
  codecs?: readonly Codec[];
  /** Request compressions of the matrix; default identity and gzip (gzip compresses every request message). */
  compressions?: readonly Compression[];
  /** HTTP versions of the matrix; default 2 and 1.1. gRPC runs only over HTTP/2. */
  httpVersions?: readonly HttpVersion[];
  /** One HTTP version, as `httpVersions: [v]` (for older callers; `httpVersions` wins). */
  httpVersion?: HttpVersion;
  /** One compression, as `compressions: [c]` (for older callers; `compressions` wins). */
  compression?: Compression;
  /** covering (default): each case once per protocol, cells rotating; full: each case in every cell. */
  matrix?: MatrixMode;
  /** A deadline (ms) sent with every Subscribe and other streaming call; default none. */
  streamDeadlineMs?: number;
  /** Regex (or plain substring, if not a valid regex) over case IDs and rule IDs. */
  filter?: string;
  /** Case runs in flight at once; default 8. */
  parallel?: number;
  /** Known-failing run-ID patterns (see known-failing.ts). */
  knownFailing?: readonly string[];
  /** Known-flaky run-ID patterns: a listed run that fails is retried once; failing again it is "flaky". */
  knownFlaky?: readonly string[];
  /** How long "must not be delivered" checks listen, in ms; default 300. */
  negativeWaitMs?: number;
  /** Upper bound of each positive wait (an expected event or response), in ms; default 5000. */
  timeoutMs?: number;
  /** What the operator states about the server's configuration (flags); spec defaults otherwise. */
  settings?: Partial<ServerSettings>;
  /**
   * The optional HOOK area: `enabled` starts the suite's webhook receiver on `host` and runs the
   * cases that need it (skipped otherwise, "needs --webhooks"); the retry values are the server's.
   */
  webhooks?: Partial<WebhookSettings>;
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
  matrix: MatrixMode;
  /** Protocols with at least one cell. */
  protocols: Protocol[];
  /** Every valid cell of the selection, with the number of runs planned in it. */
  cells: { id: string; cell: Cell; runs: number }[];
  /** The selected cases (each runs at least once per protocol whose filter it matches). */
  cases: ConformanceCase[];
  runs: number;
  notes: string[];
}

/**
 * passed: ran and passed (a known-flaky run possibly on its retry). failed: ran and failed.
 * known-failing: failed and is listed as known failing (does not fail the run). unexpected-pass:
 * passed although listed as known failing (fails the run, so the list never goes stale). flaky:
 * listed as known flaky and failed both attempts (does not fail the run). skipped: the case found
 * it cannot check its requirement against this server (e.g. a declared limit too large to reach)
 * and said why; it neither passes nor fails.
 */
export type CaseStatus = "passed" | "failed" | "known-failing" | "unexpected-pass" | "flaky" | "skipped";

export interface CaseFailure {
  message: string;
  expected?: string;
  actual?: string;
}

export interface CaseResult {
  /** "<protocol>/<codec>/<compression>/h<1.1|2>/<case ID>". */
  id: string;
  caseId: string;
  /** "<protocol>/<codec>/<compression>/h<1.1|2>". */
  cell: string;
  protocol: Protocol;
  codec: Codec;
  compression: Compression;
  httpVersion: HttpVersion;
  rules: readonly string[];
  requirement: string;
  status: CaseStatus;
  /** Time of the run, every attempt included. */
  durationMs: number;
  /** Set when the run was retried (a known-flaky run that failed its first attempt). */
  attempts?: number;
  /** The last attempt's failure. */
  failure?: CaseFailure;
  /** Why the case skipped itself (status "skipped"). */
  skipReason?: string;
}

/** Totals of one cell. wallMs spans its first run's start to its last run's end. */
export interface CellSummary extends Cell {
  id: string;
  runs: number;
  passed: number;
  /** Failed runs, unexpected passes included. */
  failed: number;
  /** Sum of the runs' durations. */
  runMs: number;
  wallMs: number;
}

export interface SuiteResult {
  baseUrl: string;
  matrix: MatrixMode;
  protocols: Protocol[];
  codecs: Codec[];
  compressions: Compression[];
  httpVersions: HttpVersion[];
  /** Cells that ran at least one case. */
  cells: CellSummary[];
  notes: string[];
  results: CaseResult[];
  passed: number;
  /** Failed runs, unexpected passes included. */
  failed: number;
  knownFailing: number;
  unexpectedPasses: number;
  /** Known-flaky runs that failed both attempts (they do not fail the run). */
  flaky: number;
  /** Runs that skipped themselves (they count neither as passed nor as failed). */
  skipped: number;
  durationMs: number;
  /** Set when the suite could not start (server unreachable, admin key refused); no case ran. */
  setupError?: string;
  /** True when nothing failed (known-failing and flaky runs are fine). */
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

/** Plans the suite: the valid cells, the runs in each, the notes on what was dropped. */
export function planSuite(options: Pick<SuiteOptions, "protocols" | "codecs" | "compressions" | "httpVersions" | "httpVersion" | "compression" | "matrix" | "filter" | "cases">): {
  plan: SuitePlan;
  runs: { cell: Cell; c: ConformanceCase }[];
  selection: { codecs: Codec[]; compressions: Compression[]; httpVersions: HttpVersion[] };
} {
  const selection = {
    protocols: [...(options.protocols ?? allProtocols)],
    codecs: [...(options.codecs ?? allCodecs)],
    compressions: [...(options.compressions ?? (options.compression ? [options.compression] : allCompressions))],
    httpVersions: [...(options.httpVersions ?? (options.httpVersion ? [options.httpVersion] : allHttpVersions))],
  };
  const matrix = options.matrix ?? "covering";
  const { cells, notes } = planCells(selection);
  const pool = options.cases ?? allCases;
  const casesFor = (p: Protocol) => pool.filter((c) => matchesFilter(c, p, options.filter));
  const runs = planRuns(cells, casesFor, matrix);
  const protocols = allProtocols.filter((p) => cells.some((cell) => cell.protocol === p));
  const plan: SuitePlan = {
    matrix,
    protocols,
    cells: cells.map((cell) => ({ id: cellId(cell), cell, runs: runs.filter((r) => r.cell === cell).length })),
    cases: pool.filter((c) => protocols.some((p) => matchesFilter(c, p, options.filter))),
    runs: runs.length,
    notes,
  };
  return { plan, runs, selection: { codecs: selection.codecs, compressions: selection.compressions, httpVersions: selection.httpVersions } };
}

/** Runs the suite and returns every result. Never throws for a failing server. */
export async function runSuite(options: SuiteOptions): Promise<SuiteResult> {
  const started = Date.now();
  const { plan, runs: jobs, selection } = planSuite(options);
  const knownFailing = new KnownFailing(options.knownFailing ?? []);
  const knownFlaky = new KnownFailing(options.knownFlaky ?? []);
  const wait = { timeoutMs: options.timeoutMs ?? 5000, negativeWaitMs: options.negativeWaitMs ?? 300 };
  const caseTimeoutMs = options.caseTimeoutMs ?? 30_000;
  options.onPlan?.(plan);

  // One transport per cell that has runs (per node, spread across the nodes), shared by its runs.
  const transports = new Map<string, ProtocolTransport>();
  const nodeUrls = [options.baseUrl, ...(options.otherNodeUrls ?? [])];
  for (const { id, cell, runs } of plan.cells) {
    if (runs === 0) continue;
    const variant = { useBinaryFormat: cell.codec === "binary", compression: cell.compression };
    const spread = spreadAcrossNodes(nodeUrls.map((url) => createProtocolTransport(cell.protocol, url, cell.httpVersion, variant)));
    transports.set(id, { transport: withStreamDeadline(spread.transport, options.streamDeadlineMs), close: spread.close });
  }
  const base = {
    baseUrl: options.baseUrl,
    matrix: plan.matrix,
    protocols: plan.protocols,
    ...selection,
    notes: plan.notes,
  };

  // Preflight: every case builds its fixtures through AdminService, so check it answers first.
  const setupError = jobs.length > 0 ? await preflight(transports.get(cellId(jobs[0]!.cell))!.transport, options.adminKey) : undefined;
  if (setupError !== undefined) {
    for (const t of transports.values()) t.close();
    return {
      ...base,
      cells: [],
      results: [],
      passed: 0,
      failed: 0,
      knownFailing: 0,
      unexpectedPasses: 0,
      flaky: 0,
      skipped: 0,
      durationMs: Date.now() - started,
      setupError,
      ok: false,
    };
  }

  // The webhook receiver, only when enabled and a selected case needs it.
  const webhooks = resolveWebhookSettings(options.webhooks);
  let receiver: WebhookReceiver | undefined;
  if (webhooks.enabled && jobs.some((j) => j.c.needs === "webhooks")) {
    try {
      receiver = await WebhookReceiver.start(webhooks.host);
    } catch (err) {
      for (const t of transports.values()) t.close();
      const why = `cannot start the webhook receiver on ${webhooks.host}: ${err instanceof Error ? err.message : String(err)}`;
      return { ...base, cells: [], results: [], passed: 0, failed: 0, knownFailing: 0, unexpectedPasses: 0, flaky: 0, skipped: 0, durationMs: Date.now() - started, setupError: why, ok: false };
    }
  }

  // Results keep the plan's order; runs start in executionOrder's.
  const results: CaseResult[] = new Array(jobs.length);
  const order = executionOrder(jobs);
  const spans = new Map<string, { start: number; end: number }>();
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const index = order[next++]!;
      const { cell, c } = jobs[index]!;
      const cid = cellId(cell);
      const id = runId(cell, c.id);
      const runStarted = Date.now();
      const attempt = () =>
        runOne(c, cell.protocol, {
          transport: transports.get(cid)!.transport,
          baseUrl: options.baseUrl,
          httpVersion: cell.httpVersion,
          adminKey: options.adminKey,
          wait,
          caseTimeoutMs,
          settings: options.settings,
          webhooks,
          receiver,
          nodeCount: nodeUrls.length,
        });
      const listedFailing = knownFailing.matches(id);
      // A run listed as known failing is expected to fail: retrying it would only cost time.
      const listedFlaky = !listedFailing && knownFlaky.matches(id);
      let outcome = await attempt();
      let attempts = 1;
      if (outcome.failure && listedFlaky) {
        const first = outcome;
        outcome = await attempt();
        outcome.durationMs += first.durationMs;
        attempts = 2;
      }
      const status: CaseStatus =
        outcome.skipReason !== undefined
          ? "skipped"
          : outcome.failure
            ? listedFailing
              ? "known-failing"
              : listedFlaky
                ? "flaky"
                : "failed"
            : listedFailing
              ? "unexpected-pass"
              : "passed";
      const result: CaseResult = {
        id,
        caseId: c.id,
        cell: cid,
        protocol: cell.protocol,
        codec: cell.codec,
        compression: cell.compression,
        httpVersion: cell.httpVersion,
        rules: c.rules,
        requirement: c.requirement,
        status,
        durationMs: outcome.durationMs,
        ...(attempts > 1 ? { attempts } : {}),
        ...(outcome.failure ? { failure: outcome.failure } : {}),
        ...(outcome.skipReason !== undefined ? { skipReason: outcome.skipReason } : {}),
      };
      if (status === "unexpected-pass") {
        result.failure = { message: "the case passed but is listed as known failing: remove it from the list" };
      }
      const span = spans.get(cid);
      const end = Date.now();
      spans.set(cid, { start: Math.min(span?.start ?? runStarted, runStarted), end: Math.max(span?.end ?? end, end) });
      results[index] = result;
      options.onResult?.(result);
    }
  };
  try {
    const parallel = Math.max(1, options.parallel ?? 8);
    await Promise.all(Array.from({ length: Math.min(parallel, jobs.length) }, worker));
  } finally {
    for (const t of transports.values()) t.close();
    await receiver?.close();
  }

  const count = (s: CaseStatus) => results.filter((r) => r.status === s).length;
  const failed = count("failed") + count("unexpected-pass");
  return {
    ...base,
    cells: summarizeCells(plan, results, spans),
    results,
    passed: count("passed"),
    failed,
    knownFailing: count("known-failing"),
    unexpectedPasses: count("unexpected-pass"),
    flaky: count("flaky"),
    skipped: count("skipped"),
    durationMs: Date.now() - started,
    ok: failed === 0,
  };
}

function summarizeCells(plan: SuitePlan, results: readonly CaseResult[], spans: ReadonlyMap<string, { start: number; end: number }>): CellSummary[] {
  return plan.cells
    .filter((p) => p.runs > 0)
    .map(({ id, cell }) => {
      const runs = results.filter((r) => r.cell === id);
      const span = spans.get(id);
      return {
        id,
        ...cell,
        runs: runs.length,
        passed: runs.filter((r) => r.status === "passed").length,
        failed: runs.filter((r) => r.status === "failed" || r.status === "unexpected-pass").length,
        runMs: runs.reduce((t, r) => t + r.durationMs, 0),
        wallMs: span ? span.end - span.start : 0,
      };
    });
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
    settings?: Partial<ServerSettings>;
    webhooks: WebhookSettings;
    receiver: WebhookReceiver | undefined;
    nodeCount: number;
  },
): Promise<{ failure?: CaseFailure; skipReason?: string; durationMs: number }> {
  const started = Date.now();
  // Optional areas the operator did not enable are skipped before any fixture is built.
  if (c.needs === "webhooks" && !options.receiver) return { skipReason: "needs --webhooks", durationMs: 0 };
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
