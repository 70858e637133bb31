// The suite against the reference server as it runs across nodes: on PostgreSQL, with NATS
// fan-out — once against one such node, once against three nodes sharing the database and the NATS
// subject with the suite's calls spread over all three (so a user's subscription and the sends it
// must see usually run on different nodes), over the default (covering) wire matrix: Connect, gRPC
// and gRPC-Web, codecs, compressions and HTTP versions rotating over the cases. Without PostgreSQL
// or NATS it skips, unless NARROWCAST_REQUIRE_SERVICES=1 makes it fail.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Interceptor } from "@connectrpc/connect";
import { startServer, type RunningServer } from "@narrowcast/server";
import { NatsBus } from "@narrowcast/server/nats";
import { PostgresStore } from "@narrowcast/server/postgres";
import { allCases, formatFailure, readKnownFailing, runSuite } from "../src/index.js";
import { selfTestOptions, selfTestSettings, selfTestWebhooks } from "./self-options.js";

const databaseUrl = process.env.NARROWCAST_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.NARROWCAST_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const required = process.env.NARROWCAST_REQUIRE_SERVICES === "1";

async function reachable(): Promise<{ postgres: boolean; nats: boolean }> {
  const postgres = await (async () => {
    const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 2_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query("SELECT 1");
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  const nats = await connect({ servers: natsUrl, timeout: 2_000, reconnect: false }).then(
    async (nc) => (await nc.close(), true),
    () => false,
  );
  return { postgres, nats };
}

/** Runs one statement on its own connection (schema set-up and clean-up). */
async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

const services = await reachable();
const available = services.postgres && services.nats;
if (!available && !required) {
  console.warn(`PostgreSQL (${services.postgres ? "up" : "down"}) or NATS (${services.nats ? "up" : "down"}) not reachable: skipping the conformance run on PostgreSQL + NATS`);
}

describe.runIf(required)("conformance on PostgreSQL + NATS needs both services", () => {
  it("PostgreSQL and NATS are reachable (required by NARROWCAST_REQUIRE_SERVICES=1)", () => {
    expect(services).toEqual({ postgres: true, nats: true });
  });
});

describe.runIf(available)("conformance suite vs. the reference server on PostgreSQL + NATS", () => {
  const schema = `nc_conformance_${randomBytes(6).toString("hex")}`;
  let server: RunningServer;

  beforeAll(async () => {
    await adminQuery(`CREATE SCHEMA ${schema}`);
    server = await startServer({
      port: 0,
      ...selfTestOptions,
      store: new PostgresStore({ connectionString: databaseUrl, schema }),
      bus: await NatsBus.connect({ servers: natsUrl, subject: `narrowcast.test.${schema}` }),
    });
  });
  afterAll(async () => {
    await server?.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it("passes every case over the default covering matrix", async () => {
    const knownFailing = readKnownFailing(new URL("./reference-known-failing.txt", import.meta.url).pathname);
    const result = await runSuite({ baseUrl: server.url, adminKey: server.adminKey, settings: selfTestSettings, parallel: 12, knownFailing, webhooks: selfTestWebhooks });
    console.log(`default covering matrix on PostgreSQL + NATS, one node: ${result.results.length} runs in ${(result.durationMs / 1000).toFixed(1)} s`);
    const failures = result.results.filter((r) => r.status === "failed" || r.status === "unexpected-pass").map(formatFailure);
    expect(failures.join("\n\n")).toBe("");
    expect(result.results.length).toBe(allCases.length * 3);
    expect(result.cells.filter((c) => c.passed > 0)).toHaveLength(20);
    expect(result.results.filter((r) => r.status === "skipped").map((r) => `${r.id}: ${r.skipReason}`)).toEqual([]);
  }, 180_000);
});

const NODES = 3;

describe.runIf(available)(`conformance suite vs. ${NODES} reference nodes sharing PostgreSQL + NATS`, () => {
  const schema = `nc_conformance2_${randomBytes(6).toString("hex")}`;
  const subject = `narrowcast.test.${schema}`;
  const adminKey = randomBytes(16).toString("hex");
  const nodes: RunningServer[] = [];
  const callsPerNode = new Array<number>(NODES).fill(0);

  beforeAll(async () => {
    await adminQuery(`CREATE SCHEMA ${schema}`);
    for (let i = 0; i < NODES; i++) {
      const countCalls: Interceptor = (next) => (req) => (callsPerNode[i]!++, next(req));
      nodes.push(
        await startServer({
          port: 0,
          ...selfTestOptions,
          adminKey,
          // Each node enforces MSG-5 alone; the deployment declares the bound of all (SRV-1).
          rateLimitNodes: NODES,
          interceptors: [countCalls],
          store: new PostgresStore({ connectionString: databaseUrl, schema }),
          bus: await NatsBus.connect({ servers: natsUrl, subject }),
        }),
      );
    }
  });
  afterAll(async () => {
    for (const node of nodes) await node.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  it("passes every case over the default covering matrix", async () => {
    const knownFailing = readKnownFailing(new URL("./reference-known-failing.txt", import.meta.url).pathname);
    const [first, ...others] = nodes.map((n) => n.url);
    const result = await runSuite({ baseUrl: first!, otherNodeUrls: others, adminKey, settings: selfTestSettings, parallel: 12, knownFailing, webhooks: selfTestWebhooks });
    console.log(`default covering matrix on PostgreSQL + NATS, ${NODES} nodes: ${result.results.length} runs in ${(result.durationMs / 1000).toFixed(1)} s`);
    // Every node served a good share of the calls, so the run really crossed nodes.
    expect(Math.min(...callsPerNode)).toBeGreaterThan(Math.max(...callsPerNode) / 3);
    const failures = result.results.filter((r) => r.status === "failed" || r.status === "unexpected-pass").map(formatFailure);
    expect(failures.join("\n\n")).toBe("");
    expect(result.results.length).toBe(allCases.length * 3);
    expect(result.cells.filter((c) => c.passed > 0)).toHaveLength(20);
    expect(result.results.filter((r) => r.status === "skipped").map((r) => `${r.id}: ${r.skipReason}`)).toEqual([]);
  }, 240_000);
});
