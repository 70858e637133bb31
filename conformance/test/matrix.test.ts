// The wire matrix: planning (covering and full), run-ID patterns of the known-failing and
// known-flaky lists, the known-flaky retry, and the default matrix through the CLI against the
// reference server.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@narrowcast/server";
import {
  allCases,
  cellId,
  CheckFailure,
  executionOrder,
  defineCase,
  formatSummary,
  KnownFailing,
  main,
  matchesFilter,
  parseKnownFailing,
  planCells,
  planRuns,
  planSuite,
  protocols,
  ruleArea,
  runSuite,
  type Cell,
  type ConformanceCase,
  type SuiteResult,
} from "../src/index.js";
import { selfTestOptions, selfTestSettings } from "./self-options.js";

const everything = { protocols, codecs: ["binary", "json"], compressions: ["identity", "gzip"], httpVersions: ["2", "1.1"] } as const;

describe("planning the matrix", () => {
  const { cells, notes } = planCells(everything);

  it("has every valid cell once, gRPC over HTTP/1.1 dropped with a note", () => {
    expect(cells).toHaveLength(20);
    expect(new Set(cells.map(cellId)).size).toBe(20);
    expect(cells.filter((c) => c.protocol === "grpc").map((c) => c.httpVersion)).toEqual(["2", "2", "2", "2"]);
    expect(cells.filter((c) => c.protocol !== "grpc")).toHaveLength(16);
    expect(notes).toEqual(["grpc over HTTP/1.1 dropped: it needs HTTP/2"]);
    // The first cell of a protocol is the suite's historical default.
    expect(cellId(cells[0]!)).toBe("connect/binary/identity/h2");
  });

  it("drops gRPC entirely, with a note, when only HTTP/1.1 is chosen", () => {
    const only11 = planCells({ ...everything, httpVersions: ["1.1"] });
    expect(only11.cells.map((c) => c.protocol)).not.toContain("grpc");
    expect(only11.cells).toHaveLength(8);
    expect(only11.notes.join()).toMatch(/grpc skipped/);
  });

  it("full: every case in every cell, once", () => {
    const runs = planRuns(cells, () => allCases, "full");
    expect(runs).toHaveLength(cells.length * allCases.length);
    expect(new Set(runs.map((r) => `${cellId(r.cell)}/${r.c.id}`)).size).toBe(runs.length);
  });

  it("covering: every case once per protocol; every cell gets an even share, from several rule areas", () => {
    const runs = planRuns(cells, () => allCases, "covering");
    expect(runs).toHaveLength(allCases.length * 3);
    for (const p of protocols) {
      const own = runs.filter((r) => r.cell.protocol === p);
      expect(own.map((r) => r.c.id).sort()).toEqual(allCases.map((c) => c.id).sort());
    }
    for (const cell of cells) {
      const share = runs.filter((r) => r.cell === cell);
      const perProtocolCells = cells.filter((c) => c.protocol === cell.protocol).length;
      expect(share.length, cellId(cell)).toBeGreaterThanOrEqual(Math.floor(allCases.length / perProtocolCells));
      expect(share.length, cellId(cell)).toBeLessThanOrEqual(Math.ceil(allCases.length / perProtocolCells));
      const areas = new Set(share.map((r) => ruleArea(r.c.rules[0]!)));
      expect(areas.size, `${cellId(cell)} draws from ${[...areas].join(", ")}`).toBeGreaterThanOrEqual(6);
    }
  });

  it("covering: a case does not land on the same codec and compression over every protocol", () => {
    const runs = planRuns(cells, () => allCases, "covering");
    for (const c of allCases) {
      const mine = runs.filter((r) => r.c === c).map((r) => r.cell);
      expect(new Set(mine.map((cell) => cell.codec)).size, c.id).toBe(2);
      expect(new Set(mine.map((cell) => cell.compression)).size, c.id).toBe(2);
    }
  });

  it("covering is deterministic, and with one cell per protocol every case runs there", () => {
    const ids = (cs: readonly Cell[]) => planRuns(cs, () => allCases, "covering").map((r) => `${cellId(r.cell)}/${r.c.id}`);
    expect(ids(cells)).toEqual(ids(planCells(everything).cells));
    const one = planCells({ protocols: ["grpc-web"], codecs: ["json"], compressions: ["gzip"], httpVersions: ["1.1"] }).cells;
    expect(ids(one)).toEqual(allCases.map((c) => `grpc-web/json/gzip/h1.1/${c.id}`));
  });

  it("runs start staggered: every planned run once, each protocol's last cases at a different time", () => {
    const runs = planRuns(cells, () => allCases, "covering");
    const order = executionOrder(runs);
    expect([...order].sort((a, b) => a - b)).toEqual(runs.map((_, i) => i));
    const lastCase = allCases[allCases.length - 1]!;
    const starts = protocols.map((p) => order.findIndex((index) => runs[index]!.cell.protocol === p && runs[index]!.c === lastCase) / order.length);
    // Connect's last case starts at the end, the others' about a third and two thirds in.
    expect(starts.filter((at) => at > 2 / 3)).toHaveLength(1);
    expect(starts.filter((at) => at < 1 / 2)).toHaveLength(1);
    expect(new Set(order.slice(0, 30).map((index) => runs[index]!.cell.protocol)).size).toBe(3);
  });

  it("the single-value httpVersion and compression options select one value", () => {
    const { plan } = planSuite({ httpVersion: "1.1", compression: "gzip" });
    expect(plan.protocols).toEqual(["connect", "grpc-web"]);
    expect(new Set(plan.cells.map((c) => `${c.cell.compression}/h${c.cell.httpVersion}`))).toEqual(new Set(["gzip/h1.1"]));
    expect(plan.cells.map((c) => c.cell.codec).sort()).toEqual(["binary", "binary", "json", "json"]);
    // The plural options win over the single ones.
    expect(planSuite({ httpVersion: "1.1", httpVersions: ["2"] }).plan.cells.every((c) => c.cell.httpVersion === "2")).toBe(true);
  });

  it("the plan counts the runs of each cell", () => {
    const { plan } = planSuite({ filter: "EVT-" });
    expect(plan.cells).toHaveLength(20);
    expect(plan.cells.reduce((n, c) => n + c.runs, 0)).toBe(plan.runs);
    expect(plan.runs).toBe(plan.cases.length * 3);
  });
});

describe("run-ID patterns (known failing, known flaky)", () => {
  const run = (cell: string, caseId = "tgt-x") => `${cell}/${caseId}`;
  const matches = (patterns: string[], id: string) => new KnownFailing(patterns).matches(id);

  it("a bare case ID matches it in every cell, and nothing else", () => {
    expect(matches(["tgt-x"], run("connect/json/gzip/h2"))).toBe(true);
    expect(matches(["tgt-x"], run("grpc/binary/identity/h2"))).toBe(true);
    expect(matches(["tgt-x"], run("connect/json/gzip/h2", "tgt-xy"))).toBe(false);
    expect(matches(["tgt-x"], run("connect/json/gzip/h2", "a-tgt-x"))).toBe(false);
  });

  it("<protocol>/<case> matches that protocol in any cell", () => {
    expect(matches(["connect/tgt-x"], run("connect/json/gzip/h1.1"))).toBe(true);
    expect(matches(["connect/tgt-x"], run("connect/binary/identity/h2"))).toBe(true);
    expect(matches(["connect/tgt-x"], run("grpc-web/binary/identity/h2"))).toBe(false);
  });

  it("a full 5-segment pattern selects one cell; 3 and 4 segments pin codec and compression", () => {
    expect(matches(["connect/json/gzip/h2/tgt-x"], run("connect/json/gzip/h2"))).toBe(true);
    for (const other of ["connect/json/gzip/h1.1", "connect/binary/gzip/h2", "connect/json/identity/h2", "grpc/json/gzip/h2"]) {
      expect(matches(["connect/json/gzip/h2/tgt-x"], run(other)), other).toBe(false);
    }
    expect(matches(["connect/json/tgt-x"], run("connect/json/identity/h1.1"))).toBe(true);
    expect(matches(["connect/json/tgt-x"], run("connect/binary/identity/h1.1"))).toBe(false);
    expect(matches(["grpc/json/gzip/tgt-x"], run("grpc/json/gzip/h2"))).toBe(true);
    expect(matches(["grpc/json/gzip/tgt-x"], run("grpc/json/identity/h2"))).toBe(false);
  });

  it("* is a wildcard within a segment", () => {
    expect(matches(["*"], run("grpc/json/gzip/h2", "anything"))).toBe(true);
    expect(matches(["evt-*"], run("grpc/json/gzip/h2", "evt-resume"))).toBe(true);
    expect(matches(["evt-*"], run("grpc/json/gzip/h2", "tgt-evt-resume"))).toBe(false);
    expect(matches(["*/json/*/*/evt-*"], run("grpc-web/json/identity/h1.1", "evt-resume"))).toBe(true);
    expect(matches(["*/json/*/*/evt-*"], run("grpc-web/binary/identity/h1.1", "evt-resume"))).toBe(false);
    // A one-segment pattern names the case only, so it cannot match the protocol.
    expect(matches(["connect*"], run("connect/json/gzip/h2"))).toBe(false);
  });

  it("older run IDs (<protocol>/<case>, bare case) still match the patterns that fit them", () => {
    expect(matches(["tgt-x"], "connect/tgt-x")).toBe(true);
    expect(matches(["connect/tgt-x"], "connect/tgt-x")).toBe(true);
    expect(matches(["grpc/tgt-x"], "connect/tgt-x")).toBe(false);
    expect(matches(["tgt-x"], "tgt-x")).toBe(true);
  });

  it("the file format rejects patterns with too many or empty segments", () => {
    expect(parseKnownFailing("# comment\nconnect/tgt-x  # why\n\nevt-*\n")).toEqual(["connect/tgt-x", "evt-*"]);
    expect(() => parseKnownFailing("a/b/c/d/e/f")).toThrow(/bad pattern/);
    expect(() => parseKnownFailing("connect//tgt-x")).toThrow(/bad pattern/);
  });
});

describe("against the reference server", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ port: 0, ...selfTestOptions });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A case that fails its first `failures` attempts in each cell, counting its attempts. */
  function failing(id: string, failures: number): { c: ConformanceCase; attempts: () => number } {
    let attempts = 0;
    const c = defineCase({
      id,
      rules: ["SRV-1"],
      requirement: `fails ${failures} times, then passes`,
      async run(ctx) {
        await ctx.serverInfo();
        attempts++;
        if (attempts <= failures) throw new CheckFailure(`attempt ${attempts} fails`);
      },
    });
    return { c, attempts: () => attempts };
  }

  const oneCell = { protocols: ["connect"], codecs: ["json"], compressions: ["gzip"], httpVersions: ["1.1"] } as const;
  const suite = (cases: ConformanceCase[], lists: { knownFlaky?: string[]; knownFailing?: string[] }): Promise<SuiteResult> =>
    runSuite({ baseUrl: server.url, adminKey: server.adminKey, ...oneCell, cases, ...lists });

  it("retries a failing known-flaky run once: passing the second time, it passed", async () => {
    const once = failing("flaky-once", 1);
    const result = await suite([once.c], { knownFlaky: ["flaky-once"] });
    expect(once.attempts()).toBe(2);
    expect(result.results).toMatchObject([{ id: "connect/json/gzip/h1.1/flaky-once", status: "passed", attempts: 2 }]);
    expect(result.ok).toBe(true);
    expect(formatSummary(result)).toMatch(/passed on retry \(1\): connect\/json\/gzip\/h1\.1\/flaky-once/);
  });

  it("a known-flaky run failing both attempts is flaky, listed in the summary, and does not fail the run", async () => {
    const always = failing("flaky-always", Infinity);
    const result = await suite([always.c], { knownFlaky: ["connect/json/gzip/h1.1/flaky-always"] });
    expect(always.attempts()).toBe(2);
    expect(result.results).toMatchObject([{ status: "flaky", attempts: 2, failure: { message: "attempt 2 fails" } }]);
    expect({ ok: result.ok, flaky: result.flaky, failed: result.failed }).toEqual({ ok: true, flaky: 1, failed: 0 });
    expect(formatSummary(result)).toMatch(/Known flaky, failed both attempts \(1;/);
  });

  it("known-failing and unlisted failures are not retried; a passing known-flaky run is plainly passed", async () => {
    const known = failing("fails-known", Infinity);
    const fine = failing("passes-listed", 0);
    const plain = failing("fails-unlisted", 1);
    // fails-known is on both lists: known failing wins, so it is not retried.
    const result = await suite([known.c, fine.c, plain.c], { knownFlaky: ["fails-known", "passes-listed"], knownFailing: ["fails-known"] });
    expect([known.attempts(), fine.attempts(), plain.attempts()]).toEqual([1, 1, 1]);
    expect(result.results.map((r) => [r.caseId, r.status, r.attempts])).toEqual([
      ["fails-known", "known-failing", undefined],
      ["passes-listed", "passed", undefined],
      ["fails-unlisted", "failed", undefined],
    ]);
    expect(result.ok).toBe(false);
  });

  it("the default matrix through the CLI: every run passes, every cell runs, reports carry cells and times", async () => {
    const cliFilter = "^(wire|srv|err|auth|adm|msg)-";
    const dir = mkdtempSync(join(tmpdir(), "nc-matrix-"));
    try {
      let printed = "";
      const out = { write: (s: string) => (printed += s) };
      const code = await main(
        [
          "node",
          "narrowcast-conformance",
          "--base-url",
          server.url,
          "--admin-key",
          server.adminKey,
          "--parallel",
          "12",
          "--quiet",
          // self.test.ts runs every case in the default matrix; here a third of them is enough to
          // check the CLI end to end (every cell still gets runs from several areas).
          "--filter",
          cliFilter,
          "--recall-window",
          String(selfTestSettings.recallWindowSeconds),
          "--edit-window",
          String(selfTestSettings.editWindowSeconds),
          "--event-retention",
          String(selfTestSettings.eventRetentionSeconds),
          "--subscriber-buffer-bytes",
          String(selfTestSettings.subscriberBufferBytes),
          "--known-failing",
          new URL("./reference-known-failing.txt", import.meta.url).pathname,
          "--json",
          join(dir, "result.json"),
          "--junit",
          join(dir, "result.xml"),
        ],
        out,
        out,
      );
      const result = JSON.parse(readFileSync(join(dir, "result.json"), "utf8")) as SuiteResult;
      const bad = result.results.filter((r) => r.status !== "passed").map((r) => `${r.id}: ${r.status} ${r.failure?.message ?? r.skipReason ?? ""}`);
      expect(bad).toEqual([]);
      expect(code, printed).toBe(0);
      expect(result.matrix).toBe("covering");
      expect(result.results).toHaveLength(allCases.filter((c) => matchesFilter(c, undefined, cliFilter)).length * 3);
      expect(result.cells).toHaveLength(20);
      for (const cell of result.cells) expect(cell.passed, cell.id).toBeGreaterThan(0);
      expect(result.results.every((r) => r.id === `${r.protocol}/${r.codec}/${r.compression}/h${r.httpVersion}/${r.caseId}`)).toBe(true);
      const junit = readFileSync(join(dir, "result.xml"), "utf8");
      expect(junit.match(/<testsuite /g)).toHaveLength(20);
      expect(junit).toContain('<testsuite name="narrowcast-conformance/grpc/json/gzip/h2"');
      expect(printed).toMatch(/Slowest runs \(10\):/);
      expect(printed).toMatch(/grpc-web\/json\/gzip\/h1\.1 +\d+\/\d+ +[\d.]+ s/);
      console.log(`default covering matrix via the CLI (${cliFilter}): ${result.results.length} runs in ${(result.durationMs / 1000).toFixed(1)} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
