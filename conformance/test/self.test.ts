// The suite against the reference server: every case over the default (covering) wire matrix —
// Connect, gRPC and gRPC-Web, each case once per protocol, codec, compression and HTTP version
// rotating — must pass, and every rule of docs/spec.md must be cited by at least one case.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@narrowcast/server";
import { allCases, defaultSpecPath, formatFailure, readKnownFailing, readRuleIds, runSuite, uncoveredRules, unknownRules } from "../src/index.js";
import { mentionedRuleIds } from "../src/spec.js";
import { selfTestOptions, selfTestSettings, selfTestWebhooks } from "./self-options.js";

// Reference-server deviations from the spec that are reported and not fixed yet. The list works
// like --known-failing: a listed case that starts passing fails this test, so it never goes stale.
const knownFailing = readKnownFailing(new URL("./reference-known-failing.txt", import.meta.url).pathname);

describe("conformance suite vs. the reference server", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ port: 0, ...selfTestOptions });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("passes every case over the default covering matrix (every protocol, codec, compression and HTTP version)", async () => {
    const result = await runSuite({ baseUrl: server.url, adminKey: server.adminKey, settings: selfTestSettings, parallel: 12, knownFailing, webhooks: selfTestWebhooks });
    // The issue asks for the default matrix's run time to be reported.
    console.log(`default covering matrix on SQLite: ${result.results.length} runs in ${(result.durationMs / 1000).toFixed(1)} s`);
    const failures = result.results.filter((r) => r.status === "failed" || r.status === "unexpected-pass").map(formatFailure);
    expect(failures.join("\n\n")).toBe("");
    expect(result.results.length).toBe(allCases.length * 3);
    // Every cell of the matrix (20: gRPC runs over HTTP/2 only) ran and passed cases.
    expect(result.cells.filter((c) => c.passed > 0)).toHaveLength(20);
    // With the small limits above, no case may skip itself.
    expect(result.results.filter((r) => r.status === "skipped").map((r) => `${r.id}: ${r.skipReason}`)).toEqual([]);
    expect(result.ok).toBe(true);
  }, 120_000);

  it("passes every EVT case with gzip and a stream deadline (Subscribe served by connect-es)", async () => {
    // Compressed or deadline-carrying Subscribe requests skip the HTTP fast path; both paths share
    // one session core, and this proves the other path keeps every EVT rule, heartbeats included.
    const result = await runSuite({
      baseUrl: server.url,
      adminKey: server.adminKey,
      parallel: 12,
      knownFailing,
      settings: selfTestSettings,
      filter: "EVT-",
      compression: "gzip",
      streamDeadlineMs: 600_000,
    });
    expect(result.results.filter((r) => r.status === "failed" || r.status === "unexpected-pass").map(formatFailure).join("\n\n")).toBe("");
    expect(result.results.filter((r) => r.caseId === "evt-heartbeat" && r.status === "passed")).toHaveLength(3);
    expect(result.results.length).toBeGreaterThan(40);
  }, 120_000);

  it("runs Connect and gRPC-Web over HTTP/1.1 and skips gRPC there", async () => {
    const result = await runSuite({
      baseUrl: server.url,
      adminKey: server.adminKey,
      httpVersion: "1.1",
      filter: "^(wire-|evt-resume|tgt-nonreceiver-live|msg-rate-limit)",
      knownFailing,
      settings: selfTestSettings,
    });
    expect(result.results.filter((r) => r.status === "failed" || r.status === "unexpected-pass").map(formatFailure).join("\n\n")).toBe("");
    expect(result.protocols).toEqual(["connect", "grpc-web"]);
    expect(result.notes.join()).toMatch(/grpc skipped/);
    expect(result.results.length).toBeGreaterThan(10);
  }, 60_000);
});

describe("coverage of docs/spec.md", () => {
  const specText = readFileSync(defaultSpecPath, "utf8");

  it("every rule ID is cited by at least one case", () => {
    const ruleIds = readRuleIds();
    expect(ruleIds.length).toBeGreaterThan(50);
    expect(uncoveredRules(ruleIds, allCases)).toEqual([]);
  });

  it("cases cite only rule IDs the spec defines", () => {
    expect(unknownRules(readRuleIds(), allCases)).toEqual([]);
  });

  it("every rule ID the spec mentions is one the parser found defined", () => {
    const defined = new Set(readRuleIds());
    expect(mentionedRuleIds(specText).filter((id) => !defined.has(id))).toEqual([]);
  });
});
