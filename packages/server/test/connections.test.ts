// Hostile connections (issue 12): each limit closes or refuses the offending connection, and an
// ordinary client keeps working afterwards. The server runs with short timeouts so the tests are
// quick; they assert what happens (a raw socket gets closed, a stream refused, an RPC succeeds),
// never how long it took — every wait is bounded by WAIT_MS only to fail instead of hanging.
import http2 from "node:http2";
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { EventService, GroupService, GroupType, ServerService } from "@narrowcast/gen";
import { AppFixture, EventStream, TestServer, WAIT_MS, isMessage } from "./support.js";

const SERVER_INFO = "/narrowcast.v1.ServerService/GetServerInfo";
const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

/** An HTTP/2 frame: 9-byte header and payload. */
function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** A literal header field without indexing, its name given by static-table index (HPACK). */
function literal(nameIndex: number, value: string): Buffer {
  const v = Buffer.from(value, "latin1");
  const name = nameIndex < 15 ? Buffer.from([nameIndex]) : Buffer.from([0x0f, nameIndex - 15]);
  return Buffer.concat([name, Buffer.from([v.length]), v]);
}

/** The header block of a gRPC POST to `path` (HPACK static entries: POST, http, :path, :authority, content-type). */
function grpcRequestBlock(path: string): Buffer {
  return Buffer.concat([Buffer.from([0x83, 0x86]), literal(4, path), literal(1, "localhost"), literal(31, "application/grpc")]);
}

/** A raw TCP connection to the server, recording what it receives and when it closes. */
class RawConnection {
  readonly socket: net.Socket;
  received = Buffer.alloc(0);
  readonly closed: Promise<void>;
  isClosed = false;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = net.connect(Number(port), hostname);
    this.socket.on("data", (d) => (this.received = Buffer.concat([this.received, d])));
    this.socket.on("error", () => {});
    this.closed = new Promise((resolve) => this.socket.on("close", () => ((this.isClosed = true), resolve())));
  }

  connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.once("connect", resolve);
      this.socket.once("close", () => reject(new Error("closed before connecting")));
    });
  }

  write(data: string | Buffer): void {
    if (!this.isClosed) this.socket.write(data);
  }

  /** Resolves once the server closed the connection; fails the test if it does not. */
  async expectClosed(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.closed,
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("the server left the connection open")), WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** Sends `text` one byte per interval until the server closes the connection. */
  async dribble(text: string, intervalMs = 100): Promise<number> {
    let sent = 0;
    for (const ch of text) {
      if (this.isClosed) break;
      this.write(ch);
      sent++;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    return sent;
  }

  /** The HTTP/2 frames received so far (after the server's part of the handshake). */
  frames(): { type: number; flags: number; streamId: number; payload: Buffer }[] {
    const out = [];
    for (let at = 0; at + 9 <= this.received.length; ) {
      const length = this.received.readUIntBE(at, 3);
      if (at + 9 + length > this.received.length) break;
      out.push({ type: this.received[at + 3], flags: this.received[at + 4], streamId: this.received.readUInt32BE(at + 5) & 0x7fffffff, payload: this.received.subarray(at + 9, at + 9 + length) });
      at += 9 + length;
    }
    return out;
  }
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** An ordinary client still gets answers: GetServerInfo over HTTP/2 (a new connection) and HTTP/1.1. */
async function expectServerWorks(server: TestServer): Promise<void> {
  const h2 = createClient(ServerService, server.transport("connect", { sessionManager: server.newSession() }));
  expect((await h2.getServerInfo({})).serverInfo).toBeDefined();
  const h1 = server.serverInfo("grpc-web", { httpVersion: "1.1" });
  expect((await h1.getServerInfo({})).serverInfo).toBeDefined();
}

/** A complete Connect JSON request over HTTP/1.1 (kept alive). */
const H1_REQUEST = `POST ${SERVER_INFO} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`;

describe("connection timeouts and limits (issue 12)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start({
      firstByteTimeoutMs: 300,
      headersTimeoutMs: 500,
      idleTimeoutMs: 500,
      maxConcurrentStreams: 4,
      maxHeaderBytes: 4096,
      maxResetsPerSecond: 50,
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("a connection that sends nothing is closed (first-byte timeout)", async () => {
    const idle = new RawConnection(server.url);
    await idle.expectClosed();
    expect(idle.received.length).toBe(0);
    await expectServerWorks(server);
  });

  it("an HTTP/1.1 slowloris (one header byte at a time) is closed (headers timeout)", async () => {
    const slow = new RawConnection(server.url);
    await slow.connected();
    const sent = await slow.dribble(`POST ${SERVER_INFO} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`);
    await slow.expectClosed();
    expect(sent).toBeLessThan(200); // cut while its headers were incomplete
    expect(slow.received.toString("latin1")).not.toMatch(/^HTTP\/1\.1 200/);
    await expectServerWorks(server);
  });

  it("a slowloris on a kept-alive HTTP/1.1 connection is closed too", async () => {
    const conn = new RawConnection(server.url);
    await conn.connected();
    conn.write(H1_REQUEST);
    await until(() => conn.received.toString("latin1").startsWith("HTTP/1.1 200"), "the first response");
    const sent = await conn.dribble(`POST ${SERVER_INFO} HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${"a".repeat(200)}\r\n\r\n`);
    await conn.expectClosed();
    expect(sent).toBeLessThan(200);
    await expectServerWorks(server);
  });

  it("an HTTP/2 connection that sends the preface and stalls is closed", async () => {
    const conn = new RawConnection(server.url);
    conn.write(Buffer.concat([PREFACE, frame(4, 0, 0)]));
    await conn.expectClosed();
    await expectServerWorks(server);
  });

  it("an HTTP/2 connection that never completes its HEADERS frame is closed", async () => {
    const conn = new RawConnection(server.url);
    // HEADERS without END_HEADERS: the header block would continue in CONTINUATION frames that never come.
    conn.write(Buffer.concat([PREFACE, frame(4, 0, 0), frame(1, 0, 1, grpcRequestBlock(SERVER_INFO))]));
    await conn.expectClosed();
    await expectServerWorks(server);
  });

  it("idle connections are closed: HTTP/1.1 kept alive, HTTP/2 even while it pings", async () => {
    const h1 = new RawConnection(server.url);
    await h1.connected();
    h1.write(H1_REQUEST);
    await until(() => h1.received.toString("latin1").startsWith("HTTP/1.1 200"), "the response");
    await h1.expectClosed();

    const session = http2.connect(server.url);
    session.on("error", () => {});
    const closed = new Promise<void>((resolve) => session.on("close", resolve));
    const req = session.request({ ":method": "POST", ":path": SERVER_INFO, "content-type": "application/json" });
    req.end("{}");
    req.resume();
    await new Promise((resolve) => req.on("close", resolve));
    expect(req.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
    // PING frames are traffic but not requests: they must not keep the connection open.
    const pinger = setInterval(() => !session.closed && !session.destroyed && session.ping(() => {}), 100);
    try {
      await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error("idle HTTP/2 connection left open")), WAIT_MS))]);
    } finally {
      clearInterval(pinger);
      session.destroy();
    }
    await expectServerWorks(server);
  });

  it("EVT-5: a Subscribe stream is not idle: it outlives the idle timeout, over HTTP/2 and HTTP/1.1", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const h2 = await app.device("bob").subscribe();
    const events = createClient(EventService, server.transport("connect", { token: app.user("bob").token, httpVersion: "1.1" }));
    const h1 = EventStream.open(events, {}, "bob over HTTP/1.1");
    await h1.ready();
    await new Promise((r) => setTimeout(r, 1500)); // three idle timeouts
    await app.user("alice").send(g, "still there?");
    await h2.waitFor(isMessage("still there?"));
    await h1.waitFor(isMessage("still there?"));
    expect(h2.ended || h1.ended).toBe(false);
  });

  it("HTTP/2: streams beyond the concurrent-stream limit are refused; the connection keeps serving", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    await new Promise((resolve) => session.once("remoteSettings", resolve));
    expect(session.remoteSettings.maxConcurrentStreams).toBe(4);
    session.destroy();

    // A raw client that ignores the advertised limit: six open Subscribe streams (no END_STREAM).
    const conn = new RawConnection(server.url);
    const streams = [1, 3, 5, 7, 9, 11];
    conn.write(Buffer.concat([PREFACE, frame(4, 0, 0), ...streams.map((id) => frame(1, 0x4, id, grpcRequestBlock("/narrowcast.v1.EventService/Subscribe")))]));
    const refused = () => conn.frames().filter((f) => f.type === 3 && f.payload.readUInt32BE(0) === http2.constants.NGHTTP2_REFUSED_STREAM);
    await until(() => refused().length >= 2, "two refused streams");
    expect(refused().map((f) => f.streamId)).toEqual([9, 11]);
    conn.socket.destroy();
    await expectServerWorks(server);
  });

  it("a request whose headers are too big is refused (HTTP/1.1: 431 and closed; HTTP/2: stream reset)", async () => {
    const h1 = new RawConnection(server.url);
    h1.write(`POST ${SERVER_INFO} HTTP/1.1\r\nHost: localhost\r\nX-Big: ${"a".repeat(8192)}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    await h1.expectClosed();
    expect(h1.received.toString("latin1")).toMatch(/^HTTP\/1\.1 431/);

    const session = http2.connect(server.url);
    session.on("error", () => {});
    try {
      // One ordinary request first: the client has acknowledged the server's SETTINGS by then
      // (before that, HTTP/2 lets the peer assume the protocol's default header-list size).
      const ok = session.request({ ":method": "POST", ":path": SERVER_INFO, "content-type": "application/json" });
      ok.end("{}");
      ok.resume();
      await new Promise((resolve) => ok.on("close", resolve));
      const big = session.request({ ":method": "POST", ":path": SERVER_INFO, "content-type": "application/json", "x-big": "a".repeat(8192) });
      big.on("error", () => {});
      big.end("{}");
      big.resume();
      await new Promise((resolve) => big.on("close", resolve));
      expect(big.rstCode).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    } finally {
      session.destroy();
    }
    await expectServerWorks(server);
  });

  it("HTTP/2 rapid reset: a connection resetting streams faster than the cap gets GOAWAY and is closed", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    let goaway: number | undefined;
    session.on("goaway", (code) => (goaway = code));
    const closed = new Promise<void>((resolve) => session.on("close", resolve));
    let opened = 0;
    // 1,000 would trip nghttp2's own limit (GOAWAY INTERNAL_ERROR); the server's cap (50/s here) comes first.
    while (opened < 500 && !session.closed && !session.destroyed && goaway === undefined) {
      for (let i = 0; i < 20; i++) {
        const stream = session.request({ ":method": "POST", ":path": "/narrowcast.v1.GroupService/ListGroups", "content-type": "application/grpc" }, { endStream: false });
        stream.on("error", () => {});
        stream.close(http2.constants.NGHTTP2_CANCEL);
        opened++;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error("the resetting connection was left open")), WAIT_MS))]);
    expect(goaway).toBe(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
    expect(opened).toBeLessThan(500);
    await expectServerWorks(server);
  });
});

describe("connection limit (a server taking 3 connections)", () => {
  it("closes connections beyond the limit; once others close, clients get in again", async () => {
    const server = await TestServer.start({ maxConnections: 3 });
    try {
      const held = [new RawConnection(server.url), new RawConnection(server.url), new RawConnection(server.url)];
      await Promise.all(held.map((c) => c.connected()));
      // The server accepts in order: by the time it takes this one, it holds the three.
      const extra = new RawConnection(server.url);
      await extra.expectClosed();
      for (const c of held) c.socket.destroy();
      await Promise.all(held.map((c) => c.closed));
      await expectServerWorks(server);
    } finally {
      await server.close();
    }
  });
});

describe("a gRPC request over the size limit ends cleanly (issue 12)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await TestServer.start();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("grpc-js: a 2 MiB request gets ResourceExhausted, and the connection serves the next call", async () => {
    const client = new grpc.Client(new URL(server.url).host, grpc.credentials.createInsecure());
    try {
      const call = (body: Buffer) =>
        new Promise<grpc.ServiceError | Buffer>((resolve) =>
          client.makeUnaryRequest(SERVER_INFO, (b: Buffer) => b, (b: Buffer) => b, body, new grpc.Metadata(), (err, value) => resolve(err ?? value!)),
        );
      const big = await call(Buffer.alloc(2 * 1024 * 1024, 0x0a));
      expect((big as grpc.ServiceError).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(await call(Buffer.alloc(0))).toBeInstanceOf(Buffer);
    } finally {
      client.close();
    }
  });

  it("connect-es gRPC transport: a 2 MiB request gets ResourceExhausted", async () => {
    const sessionManager = new Http2SessionManager(server.url);
    try {
      const client = createClient(GroupService, createGrpcTransport({ baseUrl: server.url, sessionManager }));
      const err = await client.listGroups({ pageToken: "x".repeat(2 * 1024 * 1024) }).then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
      expect(err?.code).toBe(Code.ResourceExhausted);
    } finally {
      sessionManager.abort();
    }
  });

  it("the request stream is closed, so an upload waiting for flow control finishes", async () => {
    const session = http2.connect(server.url);
    session.on("error", () => {});
    try {
      for (const [path, size] of [
        ["/narrowcast.v1.GroupService/ListGroups", 2 * 1024 * 1024],
        ["/narrowcast.v1.EventService/Subscribe", 256 * 1024],
      ] as const) {
        const body = Buffer.alloc(5 + size);
        body.writeUInt32BE(size, 1);
        const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
        let status: string | undefined;
        stream.on("trailers", (t) => (status = String(t["grpc-status"])));
        stream.on("response", (h) => (status ??= h["grpc-status"] === undefined ? undefined : String(h["grpc-status"])));
        stream.on("error", () => {});
        stream.resume();
        stream.end(body);
        // Without the server's reset, this stream would never close: the upload waits for window.
        await new Promise((resolve) => stream.on("close", resolve));
        expect(status).toBe(String(Code.ResourceExhausted));
        expect(stream.rstCode).toBe(http2.constants.NGHTTP2_NO_ERROR);
      }
    } finally {
      session.destroy();
    }
  });
});
