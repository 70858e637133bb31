// The optional HOOK area's switches: the command-line flags, and its cases skipped without them.
// (self.test.ts runs every HOOK case against the reference server with the area on.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "@narrowcast/server";
import { main, runSuite } from "../src/index.js";
import { selfTestOptions, selfTestSettings } from "./self-options.js";

describe("HOOK cases vs. the reference server", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startServer({ port: 0, ...selfTestOptions });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("runs from the command line with --webhooks and the retry flags", async () => {
    let printed = "";
    const out = { write: (s: string) => (printed += s) };
    const args = ["--base-url", server.url, "--admin-key", server.adminKey, "--protocol", "connect", "--filter", "^hook-(retry|test-webhook)$"];
    const retryFlags = ["--webhook-retry-base-ms", "50", "--webhook-retry-cap-ms", "200", "--webhook-max-attempts", "4"];
    const code = await main(["node", "narrowcast-conformance", ...args, "--webhooks", "--webhook-host", "127.0.0.1", ...retryFlags], out, out);
    expect(printed).toMatch(/2 passed/);
    expect(code).toBe(0);
  }, 60_000);

  it("skips every HOOK case without --webhooks, saying why, and builds no fixture", async () => {
    const result = await runSuite({ baseUrl: server.url, adminKey: server.adminKey, settings: selfTestSettings, filter: "^hook-", protocols: ["connect"] });
    expect(result.results.length).toBeGreaterThan(10);
    expect(result.results.every((r) => r.status === "skipped" && r.skipReason === "needs --webhooks")).toBe(true);
  }, 30_000);
});
