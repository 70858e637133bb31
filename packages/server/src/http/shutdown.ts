// Graceful shutdown of the listener and its connections. In-flight requests get their answers:
// a send the store has taken must reach its client, or the client reports a failure for a message
// everyone else sees. New requests get nowhere (refused connection, refused HTTP/2 stream), which
// clients see as Unavailable and may retry. Open streams are ended before this by the hub.
import { constants, type ServerHttp2Session } from "node:http2";
import type net from "node:net";
import type { Logger } from "pino";
import type { Connections } from "./limits.js";

export const DEFAULT_DRAIN_TIMEOUT_MS = 10_000;

/** How long an HTTP/2 client gets to acknowledge the shutdown notice before the final GOAWAY. */
const NOTICE_MS = 1000;

/**
 * Closes an HTTP/2 session in two steps (RFC 9113 §6.8). A GOAWAY carrying the last stream ID the
 * server took would refuse the streams the client opened meanwhile, and clients report a refused
 * stream as an error of their own (connect-es: Internal). So first a notice, GOAWAY with the
 * highest stream ID, which stops the client opening streams; then PINGs: their answers come after
 * every stream the client opened before it saw the notice. Then the real GOAWAY refuses nothing,
 * and the session ends when its last stream does.
 */
function closeSession(session: ServerHttp2Session): void {
  if (session.closed || session.destroyed) return;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    if (!session.closed && !session.destroyed) session.close();
  };
  const timer = setTimeout(close, NOTICE_MS);
  try {
    session.goaway(constants.NGHTTP2_NO_ERROR, 2 ** 31 - 1);
    // Two rounds: nghttp2 sends a PING's answer ahead of queued HEADERS, so one answer can
    // overtake streams the client opened just before it saw the notice; the second cannot.
    const again = () => {
      try {
        if (session.closed || session.destroyed || !session.ping(close)) close();
      } catch {
        close();
      }
    };
    if (!session.ping(again)) close();
  } catch {
    close();
  }
}

/**
 * Stops accepting, lets open requests finish and closes each connection once it is idle; whatever
 * is still open after `drainTimeoutMs` is destroyed. Resolves when every connection is closed.
 */
export async function drain(server: net.Server, connections: Connections, drainTimeoutMs: number, log: Logger): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  connections.draining = true;
  for (const conn of connections.all) {
    conn.draining = true;
    if (conn.session) {
      closeSession(conn.session);
    } else if (conn.active === 0) {
      // An idle HTTP/1.1 connection, or one not yet sniffed. A request its client sends meanwhile
      // gets 503 (Connections.refuseDuringDrain); then it is destroyed, not ended: after a FIN we
      // would still parse a request arriving, process it and fail to answer it.
      setTimeout(() => {
        if (conn.active === 0) conn.socket.destroy();
      }, NOTICE_MS).unref();
    }
    // A busy HTTP/1.1 connection closes after its last response (Connections.onRequest). Its
    // responses not yet under way say "Connection: close", so that its client does not send the
    // next request into a closing socket (EPIPE, which clients report as Internal).
    for (const res of conn.responses) if (!res.headersSent) res.shouldKeepAlive = false;
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), drainTimeoutMs);
  });
  const drained = await Promise.race([closed.then(() => true), deadline]);
  clearTimeout(timer);
  if (!drained) {
    log.warn({ connections: connections.all.size, drainTimeoutMs }, "drain timeout: closing the remaining connections");
    for (const conn of connections.all) conn.socket.destroy();
    await closed;
  }
}
