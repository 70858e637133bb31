// A measured fast path for EventService.Subscribe. The profile of fan-out showed most server CPU
// in connect-es's per-stream async-iterable pipeline, and every event serialized once per
// subscriber. Here each event is encoded and enveloped once per codec and the same bytes are
// written to every stream; a stream's queued events go out in one write. It speaks the three
// protocols' streaming framing (Connect, gRPC, gRPC-Web; binary and JSON) with connect-es's own
// protocol helpers, and leaves anything unusual (compression, timeouts, gRPC-Web text, GET) to
// the regular connect-es handler. Both take everything else — validation, replay, `ready`,
// heartbeats, slow-consumer cuts, shutdown — from the one Subscribe core (services/subscribe-core.ts
// and subscription.ts). It does not run ServerOptions.interceptors, so the server turns it off when
// there are any (ServerOptions.subscribeFastPath). The conformance suite runs against both paths.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  endStreamFlag,
  endStreamToJson,
  parseContentType as parseConnectContentType,
} from "@connectrpc/connect/protocol-connect";
import { parseContentType as parseGrpcContentType, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import {
  parseContentType as parseGrpcWebContentType,
  trailerFlag,
  trailerSerialize,
} from "@connectrpc/connect/protocol-grpc-web";
import {
  ErrorReason,
  EventService,
  SubscribeRequestSchema,
  type SubscribeRequest,
} from "@narrowcast/gen";
import type { Logger } from "pino";
import type { Authenticator } from "../auth.js";
import type { Deps } from "../context.js";
import { narrowcastError } from "../errors.js";
import { logRpcFailure } from "../interceptors/logging.js";
import { SubscribeSession } from "../services/subscribe-core.js";
import { frameOf } from "../frames.js";
import { REQUEST_ID_HEADER, requestLogger } from "../ops/request-id.js";

/** Told when a stream served here ends: its error, or undefined (metrics). */
export type StreamDone = (procedure: string, error: ConnectError | undefined) => void;

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;
type Protocol = "connect" | "grpc" | "grpc-web";

const PATH = `/${EventService.typeName}/${EventService.method.subscribe.name}`;
const MAX_REQUEST_BYTES = 64 * 1024;
const encoder = new TextEncoder();

interface Negotiated {
  protocol: Protocol;
  binary: boolean;
  contentType: string;
}

/** Decides whether the fast path serves this request; undefined hands it to connect-es. */
function negotiate(req: Req): Negotiated | undefined {
  if (req.method !== "POST" || req.url !== PATH) return undefined;
  const h = req.headers;
  if (h["connect-timeout-ms"] || h["grpc-timeout"]) return undefined;
  const ct = String(h["content-type"] ?? "");
  const identity = (v: unknown) => v === undefined || v === "identity";
  if (ct.startsWith("application/connect+")) {
    const parsed = parseConnectContentType(ct);
    if (!parsed?.stream || !identity(h["connect-content-encoding"])) return undefined;
    return { protocol: "connect", binary: parsed.binary, contentType: ct };
  }
  if (ct.startsWith("application/grpc-web")) {
    const parsed = parseGrpcWebContentType(ct);
    if (!parsed || parsed.text || !identity(h["grpc-encoding"])) return undefined;
    return { protocol: "grpc-web", binary: parsed.binary, contentType: ct };
  }
  if (ct.startsWith("application/grpc")) {
    const parsed = parseGrpcContentType(ct);
    if (!parsed || req.httpVersionMajor !== 2 || !identity(h["grpc-encoding"])) return undefined;
    return { protocol: "grpc", binary: parsed.binary, contentType: ct };
  }
  return undefined;
}

async function readRequest(req: Req, binary: boolean): Promise<SubscribeRequest> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) throw new ConnectError("request too large", Code.ResourceExhausted);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  // Bad bodies are FIELD_INVALID without a field, as the binary-body guard answers them (http/adapter.ts).
  if (body.length < 5) throw narrowcastError(ErrorReason.FIELD_INVALID, "missing request message");
  const flags = body[0];
  const length = body.readUInt32BE(1);
  if (flags !== 0 || body.length !== 5 + length) {
    throw narrowcastError(ErrorReason.FIELD_INVALID, "malformed or compressed request envelope");
  }
  const data = body.subarray(5);
  try {
    return binary
      ? fromBinary(SubscribeRequestSchema, data)
      : fromJsonString(SubscribeRequestSchema, data.toString("utf8"));
  } catch (err) {
    throw narrowcastError(ErrorReason.FIELD_INVALID, `cannot decode request: ${String(err)}`);
  }
}

/** One response stream: headers once, frames, then the protocol's ending. */
class StreamWriter {
  private started = false;
  private ended = false;

  constructor(
    private readonly res: Res,
    private readonly n: Negotiated,
  ) {}

  private start(): void {
    if (this.started) return;
    this.started = true;
    const headers: Record<string, string> = { "content-type": this.n.contentType };
    if (this.n.protocol === "connect") headers["content-type"] = this.n.binary ? "application/connect+proto" : "application/connect+json";
    this.res.writeHead(200, headers);
    // Send the headers now: a subscriber waits for them before the first event.
    (this.res as ServerResponse).flushHeaders?.();
  }

  /** Writes frames now; false when the transport is full (wait for "drain"). */
  writeNow(chunks: Uint8Array[]): boolean {
    if (this.res.destroyed || this.ended) return false;
    try {
      this.start();
      const data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      return (this.res as ServerResponse).write(data);
    } catch {
      // A stream that closed under us: its "close" ends the subscription.
      return false;
    }
  }

  /** Writes frames; resolves when the transport can take more (backpressure). */
  write(chunks: Uint8Array[]): Promise<void> | undefined {
    if (this.writeNow(chunks)) return undefined;
    return new Promise((resolve) => {
      const done = () => {
        this.res.off("drain", done);
        this.res.off("close", done);
        resolve();
      };
      this.res.on("drain", done);
      this.res.on("close", done);
    });
  }

  end(error: ConnectError | undefined): void {
    if (this.ended || this.res.destroyed) return;
    this.ended = true;
    this.start();
    const res = this.res as ServerResponse;
    switch (this.n.protocol) {
      case "connect": {
        const json = endStreamToJson(new Headers(), error, undefined);
        res.end(encodeEnvelope(endStreamFlag, encoder.encode(JSON.stringify(json))));
        break;
      }
      case "grpc": {
        const trailer = setTrailerStatus(new Headers(), error);
        const obj: Record<string, string> = {};
        trailer.forEach((v, k) => (obj[k] = v));
        res.addTrailers(obj);
        res.end();
        break;
      }
      case "grpc-web": {
        const trailer = setTrailerStatus(new Headers(), error);
        res.end(encodeEnvelope(trailerFlag, trailerSerialize(trailer)));
        break;
      }
    }
  }
}

export interface SubscribeFastPath {
  /** Serves the request if it is a Subscribe the fast path handles; returns false otherwise. */
  handle(req: Req, res: Res): boolean;
}

export function createSubscribeFastPath(deps: Deps, auth: Authenticator, log: Logger, onDone: StreamDone = () => {}): SubscribeFastPath {
  return {
    handle(req, res) {
      const n = negotiate(req);
      if (!n) return false;
      const requestLog = requestLogger(log, req.headers[REQUEST_ID_HEADER] as string | undefined);
      void serve(deps, auth, requestLog, log, req, res, n).then(
        (error) => onDone(PATH.slice(1), error),
        (err: unknown) => requestLog.error({ err, procedure: PATH.slice(1) }, "subscribe fast path failed"),
      );
      return true;
    },
  };
}

/** Serves the stream; resolves with the error it ended with, if any. */
async function serve(
  deps: Deps,
  auth: Authenticator,
  log: Logger,
  throttleKey: object,
  req: Req,
  res: Res,
  n: Negotiated,
): Promise<ConnectError | undefined> {
  const writer = new StreamWriter(res, n);
  const abort = new AbortController();
  res.on("close", () => abort.abort());
  let session: SubscribeSession | undefined;
  try {
    const request = await readRequest(req, n.binary);
    const authorization = req.headers["authorization"];
    const headers = new Headers();
    if (typeof authorization === "string") headers.set("authorization", authorization);
    session = await SubscribeSession.open(deps, await auth.verifyUser(headers), request);
    for await (const batch of session.replay()) {
      await writer.write(batch.map((item) => frameOf(item, n.binary)));
      if (abort.signal.aborted) return undefined;
    }
    // Live: the hub writes each event's shared frame directly into this stream while it keeps
    // up; when the transport is full, events queue (bounded, rule EVT-6) until it drains.
    const sub = session.subscription;
    res.on("drain", () => sub.drained());
    sub.attach((items) =>
      writer.writeNow(items.length === 1 ? [frameOf(items[0], n.binary)] : items.map((item) => frameOf(item, n.binary))),
    );
    const closed = new Promise<void>((resolve) => {
      if (abort.signal.aborted) resolve();
      else abort.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    const failure = await Promise.race([sub.failed, closed]);
    if (failure) throw failure;
    return undefined;
  } catch (err) {
    const error = logRpcFailure(log, PATH.slice(1), err, throttleKey);
    writer.end(error);
    return error;
  } finally {
    session?.close();
  }
}
