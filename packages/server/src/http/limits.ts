// Connection limits and timeouts. Node's own request timeouts do not help here: http.Server checks
// `headersTimeout` only on a timer set up when *it* listens, and ours never listens (one net.Server
// sniffs each connection and hands it to the HTTP/1.1 or the HTTP/2 server), and http2 has no
// header timeout at all. So every accepted socket gets one timer of ours, re-armed as the
// connection moves through its states:
//   accepted ──first byte──▶ reading headers ──request / first stream──▶ busy ──last one done──▶ idle
// Each state has its own limit (first byte, headers, none while busy, idle), and a connection that
// overstays is destroyed. Busy means an HTTP/1.1 request or an HTTP/2 stream is open, so a
// long-lived Subscribe stream (kept alive by its heartbeats, rule EVT-5) is never cut.
import type http from "node:http";
import http2 from "node:http2";
import type net from "node:net";
import type { Logger } from "pino";

export interface ConnectionLimitOptions {
  /** A new connection must send its first byte within this; default 10,000 ms. */
  firstByteTimeoutMs?: number;
  /**
   * A request's headers must be complete this long after its first byte (HTTP/1.1), or a new
   * HTTP/2 connection must open its first stream this long after its first byte; default 10,000 ms.
   */
  headersTimeoutMs?: number;
  /** A connection with no request or stream open is closed after this; default 65,000 ms. */
  idleTimeoutMs?: number;
  /** Connections open at once; further ones are closed on accept. Default 10,000. */
  maxConnections?: number;
  /** HTTP/2 streams open at once per connection (SETTINGS_MAX_CONCURRENT_STREAMS); default 100. */
  maxConcurrentStreams?: number;
  /** Request header size (HTTP/1.1 header block, HTTP/2 header list); default 16,384 bytes. */
  maxHeaderBytes?: number;
  /** HTTP/2 streams a client may reset per second on one connection before GOAWAY; default 200. */
  maxResetsPerSecond?: number;
}

export type ConnectionLimits = Required<ConnectionLimitOptions>;

export const CONNECTION_LIMIT_DEFAULTS: ConnectionLimits = {
  firstByteTimeoutMs: 10_000,
  headersTimeoutMs: 10_000,
  // Longer than the 60 s idle timeout of common load balancers, so that they close first.
  idleTimeoutMs: 65_000,
  maxConnections: 10_000,
  maxConcurrentStreams: 100,
  maxHeaderBytes: 16 * 1024,
  maxResetsPerSecond: 200,
};

export function resolveConnectionLimits(options: ConnectionLimitOptions): ConnectionLimits {
  const limits = { ...CONNECTION_LIMIT_DEFAULTS };
  for (const key of Object.keys(limits) as (keyof ConnectionLimits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 1) throw new Error(`${key} must be a positive number`);
    limits[key] = Math.floor(value);
  }
  return limits;
}

/** Options for http.createServer and http2.createServer that Node enforces itself. */
export function serverSettings(limits: ConnectionLimits) {
  return {
    // Node answers an oversized HTTP/1.1 header block with 431 and closes the connection.
    h1: { maxHeaderSize: limits.maxHeaderBytes } satisfies http.ServerOptions,
    // Node refuses streams beyond the advertised limit and resets those whose header list is too big.
    h2: {
      settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes },
    } satisfies http2.ServerOptions,
  };
}

/** One accepted connection. */
export interface Connection {
  readonly socket: net.Socket;
  /** Set once the first bytes showed HTTP/2. */
  session?: http2.ServerHttp2Session;
  /** Open HTTP/1.1 requests or HTTP/2 streams. */
  active: number;
  /** Shutdown asked this connection to close once its open requests are done. */
  draining: boolean;
  /** HTTP/1.1 responses not yet finished: a drain makes those not yet sent say "Connection: close". */
  readonly responses: Set<http.ServerResponse>;
  timer?: NodeJS.Timeout;
}

type Phase = "first byte" | "headers" | "idle";

/** Tracks every open connection and enforces the timeouts and the reset rate on it. */
export class Connections {
  readonly all = new Set<Connection>();
  private readonly bySocket = new WeakMap<net.Socket, Connection>();
  /** Set when shutdown starts draining: new HTTP/1.1 requests are refused. */
  draining = false;
  /** The connection being handed to the HTTP/2 server (its "session" event fires synchronously). */
  private handingOver: Connection | undefined;

  constructor(
    readonly limits: ConnectionLimits,
    private readonly log: Logger,
  ) {}

  /** A socket was accepted: it must send a first byte in time. */
  accept(socket: net.Socket): Connection {
    const conn: Connection = { socket, active: 0, draining: false, responses: new Set() };
    this.all.add(conn);
    this.bySocket.set(socket, conn);
    socket.on("close", () => {
      clearTimeout(conn.timer);
      this.all.delete(conn);
    });
    this.arm(conn, "first byte");
    return conn;
  }

  /** The first bytes arrived: the headers (HTTP/1.1) or the first stream (HTTP/2) must follow in time. */
  firstBytes(conn: Connection): void {
    this.arm(conn, "headers");
  }

  /** Hands the socket to the HTTP/2 server, which creates its session synchronously. */
  handToHttp2(conn: Connection, h2: http2.Http2Server): void {
    this.handingOver = conn;
    try {
      h2.emit("connection", conn.socket);
    } finally {
      this.handingOver = undefined;
    }
  }

  /** Hands the socket to the HTTP/1.1 server, watching for the start of each later request. */
  handToHttp1(conn: Connection, h1: http.Server): void {
    h1.emit("connection", conn.socket);
    // Between requests only the idle timeout runs; the first byte of the next request starts its
    // header timeout, so a slowloris on a kept-alive connection is cut like one on a new connection.
    // (This listener makes Node parse HTTP/1.1 in JavaScript instead of natively; HTTP/2 is the
    // fast path.)
    conn.socket.on("data", () => {
      if (conn.active === 0 && !conn.timer) this.arm(conn, "headers");
    });
  }

  /** An HTTP/1.1 request's headers are complete. */
  onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const conn = this.bySocket.get(req.socket);
    if (!conn) return;
    this.disarm(conn);
    conn.active++;
    // A connection being drained takes no further requests: Node sends "Connection: close".
    if (conn.draining) res.shouldKeepAlive = false;
    conn.responses.add(res);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      conn.responses.delete(res);
      conn.active--;
      if (conn.active > 0) return;
      // Node's keepAliveTimeout closes the idle connection; a drained one closes now.
      if (conn.draining) conn.socket.destroySoon();
    };
    res.on("finish", finish);
    res.on("close", finish);
  }

  /**
   * During the drain, answers an HTTP/1.1 request that arrived after it began with 503 and
   * "Connection: close" (Connect and gRPC-Web clients read that as Unavailable), so that it is
   * neither processed nor met by a reset socket. Returns true when it did. HTTP/2 needs no such
   * thing: GOAWAY tells its clients.
   */
  refuseDuringDrain(req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): boolean {
    if (!this.draining || req.httpVersionMajor !== 1) return false;
    const h1 = res as http.ServerResponse;
    h1.shouldKeepAlive = false;
    // Read the body first: closing while the client still uploads fails its write (EPIPE) instead.
    const answer = () => {
      if (h1.headersSent || h1.destroyed) return;
      h1.writeHead(503, { "content-type": "application/json", connection: "close" });
      h1.end(JSON.stringify({ code: "unavailable", message: "server is shutting down; retry" }));
    };
    req.on("end", answer);
    req.on("error", () => h1.destroy());
    req.resume();
    return true;
  }

  /** An HTTP/2 session started on the connection being handed over. */
  onSession(session: http2.ServerHttp2Session): void {
    const conn = this.handingOver;
    if (!conn) {
      this.log.warn("HTTP/2 session without a tracked connection");
      return;
    }
    conn.session = session;
    let windowStart = 0;
    let resets = 0;
    let cut = false;
    session.on("stream", (stream) => {
      this.disarm(conn);
      conn.active++;
      stream.on("close", () => {
        conn.active--;
        if (conn.active === 0 && !session.closed && !session.destroyed) this.arm(conn, "idle");
        // Rapid reset (CVE-2023-44487): a client that opens streams and resets them at once makes
        // the server start work it never finishes. nghttp2's own limit (a burst of 1,000, then 33
        // per second) still lets each new connection start 1,000 handlers. The server itself only
        // resets with NO_ERROR (endUnreadRequest), so any other code here came from the client or
        // the session's end, which the check skips. ("aborted" is not emitted reliably for these.)
        if (stream.rstCode === http2.constants.NGHTTP2_NO_ERROR || stream.rstCode === undefined || session.destroyed) return;
        const now = Date.now();
        if (now - windowStart >= 1000) {
          windowStart = now;
          resets = 0;
        }
        if (++resets > this.limits.maxResetsPerSecond && !cut) {
          cut = true;
          this.log.warn({ resets, remote: conn.socket.remoteAddress }, "too many stream resets; closing the connection");
          // GOAWAY first, then cut: destroy() alone would not flush the frame.
          session.goaway(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
          setImmediate(() => session.destroy());
        }
      });
    });
  }

  private arm(conn: Connection, phase: Phase): void {
    clearTimeout(conn.timer);
    const ms =
      phase === "first byte" ? this.limits.firstByteTimeoutMs : phase === "headers" ? this.limits.headersTimeoutMs : this.limits.idleTimeoutMs;
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      this.log.debug({ phase, remote: conn.socket.remoteAddress }, "connection timed out");
      // HTTP/2 says goodbye with GOAWAY; nothing is open, so the session ends at once.
      if (conn.session && !conn.session.destroyed) conn.session.close();
      conn.socket.destroy();
    }, ms).unref();
  }

  private disarm(conn: Connection): void {
    clearTimeout(conn.timer);
    conn.timer = undefined;
  }
}

/**
 * Ends an HTTP/2 request stream whose response is complete but whose request body was never read
 * (e.g. it was over the size limit). Otherwise the stream stays half-open: the client's upload
 * waits forever for flow-control credit. RFC 9113 §8.1 allows exactly this: a complete response,
 * then RST_STREAM with NO_ERROR.
 */
export function endUnreadRequest(req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  const stream = req.stream;
  const reset = () => {
    if (!req.complete && !stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
  };
  // Node's compatibility layer ends every response with (possibly empty) trailers, sent after the
  // last DATA frame: reset only once they are on their way, or they would be dropped.
  stream.once("wantTrailers", () => setImmediate(reset));
  void res;
}
