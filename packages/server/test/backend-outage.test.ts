// Rule ERR-6: while the database cannot be reached, requests fail with Unavailable
// BACKEND_UNAVAILABLE and a RetryInfo — never Internal or Unknown, never the database's address —
// the log gets a bounded number of warn lines and no error line, and service resumes by itself.
// The server reaches PostgreSQL through a TCP proxy this test stops and starts (the machine's
// PostgreSQL is never touched).
import net from "node:net";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason, EventService, GroupType, RetryInfoSchema } from "@narrowcast/gen";
import { PostgresStore } from "../src/store/postgres.js";
import { postgresAvailable, postgresUrl, redact, requireOrSkip } from "./services.js";
import { AppFixture, PROTOCOLS, TestServer, isMessage } from "./support.js";

const url = postgresUrl();
const skip = requireOrSkip(await postgresAvailable(url), `PostgreSQL at ${redact(url)}`);

/** A TCP proxy to PostgreSQL on a fixed local port that can be cut (connections dropped, port closed). */
class Proxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => s.destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, "127.0.0.1", resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

function expectBackendUnavailable(err: unknown, proxyPort: number): void {
  expect(err).toBeInstanceOf(ConnectError);
  const ce = err as ConnectError;
  expect(Code[ce.code]).toBe("Unavailable");
  expect(ce.findDetails(ErrorInfoSchema)[0]?.reason).toBe(ErrorReason[ErrorReason.BACKEND_UNAVAILABLE]);
  expect(ce.findDetails(RetryInfoSchema)).toHaveLength(1);
  expect(ce.rawMessage).not.toMatch(/127\.0\.0\.1|ECONN|postgres/i);
  expect(ce.rawMessage).not.toContain(String(proxyPort));
}

describe.skipIf(skip)("PostgreSQL unreachable (rule ERR-6)", () => {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const target = new URL(url);
  const proxy = new Proxy({ host: target.hostname, port: Number(target.port || 5432) });
  const schema = `nc_outage_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Pool({ connectionString: url, max: 1 });
  admin.on("error", () => {});
  let server: TestServer;

  beforeAll(async () => {
    await admin.query(`CREATE SCHEMA ${schema}`);
    await proxy.start();
    const proxied = new URL(url);
    proxied.hostname = "127.0.0.1";
    proxied.port = String(proxy.port);
    server = await TestServer.start({ store: new PostgresStore({ connectionString: proxied.toString(), schema, max: 4 }), logger });
  });
  afterAll(async () => {
    await server?.close();
    await proxy.stop();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  it("answers Unavailable BACKEND_UNAVAILABLE while it is down, logs no error line, and recovers", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const before = lines.length;

    await proxy.stop();
    for (let i = 0; i < 5; i++) {
      const err = await app.user("alice").send(g, `lost ${i}`).then(() => undefined, (e: unknown) => e);
      expectBackendUnavailable(err, proxy.port);
    }
    for (const protocol of PROTOCOLS) {
      // Each wire protocol, on whichever Subscribe path serves it.
      const events = createClient(EventService, server.transport(protocol, { token: app.user("bob").token }));
      const ended = await (async () => {
        for await (const _ of events.subscribe({})) return undefined;
      })().then(() => undefined, (e: unknown) => e);
      expectBackendUnavailable(ended, proxy.port);
    }
    const during = lines.slice(before);
    expect(during.filter((l) => l.level >= 50)).toEqual([]);
    // Eight failures, at most one warn line per interval.
    expect(during.filter((l) => l.level === 40).length).toBeLessThanOrEqual(2);

    await proxy.start();
    const bob = await app.user("bob").subscribe();
    await app.user("alice").send(g, "back");
    await bob.waitFor(isMessage("back"));
    // Nothing of the failed sends was stored (ERR-2).
    expect((await app.user("bob").history(g)).map((m) => m.elements[0]?.element.value)).toEqual([expect.objectContaining({ text: "back" })]);
    bob.close();
  });
});
