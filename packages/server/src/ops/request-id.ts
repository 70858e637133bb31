// A request ID in every log line of a request: taken from an incoming X-Request-Id when it is sane
// (a load balancer or the caller set it, so logs of several systems can be joined), generated
// otherwise. The server writes it back into the request's headers, where the interceptors, the
// Subscribe fast path and the handler read it, and answers it in the X-Request-Id response header.
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";

export const REQUEST_ID_HEADER = "x-request-id";

/** Printable, no spaces or quotes, at most 128 characters: safe in a log line and a header. */
const SANE = /^[A-Za-z0-9._~:@/+=-]{1,128}$/;

/** The incoming ID if sane, otherwise a new random one. */
export function requestIdFrom(incoming: unknown): string {
  return typeof incoming === "string" && SANE.test(incoming) ? incoming : randomUUID();
}

/** Assigns the request its ID (in its headers and the response's) and returns it. */
export function assignRequestId(
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
): string {
  const id = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
  req.headers[REQUEST_ID_HEADER] = id;
  res.setHeader(REQUEST_ID_HEADER, id);
  return id;
}

/** The request's logger: every line carries its `requestId`. */
export function requestLogger(log: Logger, requestId: string | null | undefined): Logger {
  return requestId ? log.child({ requestId }) : log;
}
