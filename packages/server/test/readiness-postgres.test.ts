// /readyz and grpc.health.v1 follow PostgreSQL's reachability (issue 11): the store connects
// through a TCP proxy of the test's own, which the test cuts (every connection closed, new ones
// refused) and restores, without touching the machine's PostgreSQL.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@connectrpc/connect";
import { PostgresStore } from "../src/store/postgres.js";
import { HealthService, ServingStatus } from "../src/ops/health-service.js";
import { postgresAvailable, postgresUrl, redact, requireOrSkip } from "./services.js";
import { TestServer } from "./support.js";
import { CuttableProxy } from "./tcp-proxy.js";

const url = postgresUrl();
const skip = requireOrSkip(await postgresAvailable(url), `PostgreSQL at ${redact(url)}`);

describe.skipIf(skip)("readiness on PostgreSQL", () => {
  const schema = `nc_ready_${randomBytes(6).toString("hex")}`;
  const proxy = new CuttableProxy(url);
  let server: TestServer;
  let proxyPort = 0;

  beforeAll(async () => {
    const port = (proxyPort = await proxy.listen());
    const viaProxy = new URL(url);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(port);
    server = await TestServer.start({ store: new PostgresStore({ connectionString: viaProxy.toString(), schema }) });
  });

  afterAll(async () => {
    await server?.close();
    await proxy.close();
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  async function readyz(): Promise<{ status: number; body: Record<string, string> }> {
    const res = await fetch(`${server.url}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, string> };
  }

  async function check(): Promise<number> {
    const health = createClient(HealthService, server.transport("grpc"));
    return (await health.check({ service: "" })).status;
  }

  it("answers 200 while PostgreSQL is reachable, 503 while it is not, and 200 again after", async () => {
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready", store: "ok", bus: "ok" } });
    expect(await check()).toBe(ServingStatus.SERVING);

    proxy.down();
    const down = await readyz();
    expect(down.status).toBe(503);
    expect(down.body.status).toBe("not ready");
    expect(down.body.store).not.toBe("ok");
    expect(down.body.bus).toBe("ok");
    expect(await check()).toBe(ServingStatus.NOT_SERVING);
    // Liveness does not depend on the database.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    proxy.up();
    expect(await readyz()).toEqual({ status: 200, body: { status: "ready", store: "ok", bus: "ok" } });
    expect(await check()).toBe(ServingStatus.SERVING);
  });

  it("a connection cut in the middle of a transaction fails that transaction, not the process", async () => {
    const store = new PostgresStore({ connectionString: `postgres://${new URL(url).username}@127.0.0.1:${proxyPort}${new URL(url).pathname}`, schema });
    try {
      // White box: a transaction that is checked out while the connection dies (vitest fails the
      // run on the uncaught "Connection terminated unexpectedly" that this used to raise).
      const tx = (store as unknown as { tx(fn: (c: pg.PoolClient) => Promise<void>): Promise<void> }).tx(async (c) => {
        await c.query("SELECT 1");
        proxy.down();
        // Wait for the socket to close (not for the client's "error": a listener there would hide the bug).
        const socket = (c as unknown as { connection: { stream: NodeJS.EventEmitter & { destroyed: boolean } } }).connection.stream;
        if (!socket.destroyed) await new Promise((resolve) => socket.once("close", resolve));
        await c.query("SELECT 1");
      });
      await expect(tx).rejects.toThrow();
    } finally {
      proxy.up();
      await store.close();
    }
  });
});

