// The suite against the reference server as it runs across nodes: on PostgreSQL, with NATS
// fan-out. (Several nodes are exercised in packages/server/test/multi-node.test.ts; here every
// case runs against one such node, over Connect, gRPC and gRPC-Web.) Without PostgreSQL or NATS
// it skips, unless NARROWCAST_REQUIRE_SERVICES=1 makes it fail.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NatsBus, PostgresStore, startServer, type RunningServer } from "@narrowcast/server";
import { allCases, formatFailure, readKnownFailing, runSuite } from "../src/index.js";

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
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    server = await startServer({
      port: 0,
      store: new PostgresStore({ connectionString: databaseUrl, schema }),
      bus: await NatsBus.connect({ servers: natsUrl, subject: `narrowcast.test.${schema}` }),
    });
  });
  afterAll(async () => {
    await server?.close();
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  it("passes every case over connect, grpc and grpc-web", async () => {
    const knownFailing = readKnownFailing(new URL("./reference-known-failing.txt", import.meta.url).pathname);
    const result = await runSuite({ baseUrl: server.url, adminKey: server.adminKey, parallel: 12, knownFailing });
    const failures = result.results.filter((r) => r.status === "failed" || r.status === "unexpected-pass").map(formatFailure);
    expect(failures.join("\n\n")).toBe("");
    expect(result.results.length).toBe(allCases.length * 3);
  }, 120_000);
});
