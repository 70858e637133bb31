// The Node request handler for the connect-es router. It is connect-node's adapter plus one
// guard: connect-es answers a request whose binary body does not decode with Internal
// ("parse binary: …"), which rule ERR-2 forbids for bad input. The guard decodes binary request
// bodies first (unary and server-streaming, compressed or not, POST or Connect GET) and answers a
// bad one with InvalidArgument FIELD_INVALID in the request's protocol (rule ERR-4); good bodies
// go on to connect-es unchanged.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import { createAsyncIterable, encodeEnvelope, readAllBytes } from "@connectrpc/connect/protocol";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, endStreamFlag, endStreamToJson, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { ErrorReason } from "@narrowcast/gen";
import type { Logger } from "pino";
import { narrowcastError } from "../errors.js";
import { REQUEST_ID_HEADER, requestLogger } from "../ops/request-id.js";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;
type Protocol = "connect" | "grpc" | "grpc-web";

const encoder = new TextEncoder();

export interface NodeHandlerOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
  readMaxBytes: number;
  log: Logger;
}

/** How a binary request is framed and compressed; undefined when the guard stays out. */
interface BinaryRequest {
  protocol: Protocol;
  /** Connect streaming, gRPC and gRPC-Web wrap the message in a 5-byte envelope. */
  enveloped: boolean;
  /** The request's compression ("identity" for none). */
  encoding: string;
}

function binaryRequest(header: Headers, streaming: boolean): BinaryRequest | undefined {
  const ct = header.get("content-type") ?? "";
  const grpcEncoding = header.get("grpc-encoding") ?? "identity";
  if (/^application\/grpc-web(\+proto)?(;|$)/.test(ct)) return { protocol: "grpc-web", enveloped: true, encoding: grpcEncoding };
  if (/^application\/grpc(\+proto)?(;|$)/.test(ct)) return { protocol: "grpc", enveloped: true, encoding: grpcEncoding };
  if (streaming && /^application\/connect\+proto(;|$)/.test(ct)) {
    return { protocol: "connect", enveloped: true, encoding: header.get("connect-content-encoding") ?? "identity" };
  }
  if (!streaming && /^application\/proto(;|$)/.test(ct)) {
    return { protocol: "connect", enveloped: false, encoding: header.get("content-encoding") ?? "identity" };
  }
  return undefined;
}

/** Undoes a compression connect-es accepts; undefined when it cannot (connect-es then reports it). */
function decompress(encoding: string, data: Uint8Array, maxBytes: number): Uint8Array | undefined {
  try {
    if (encoding === "identity") return data;
    if (encoding === "gzip") return gunzipSync(data, { maxOutputLength: maxBytes });
    if (encoding === "br") return brotliDecompressSync(data, { maxOutputLength: maxBytes });
  } catch {
    // Corrupt or oversized: connect-es answers it with its own typed error.
  }
  return undefined;
}

/** Checks that the body decodes as `schema`; returns the error if not, undefined otherwise. */
function decodeError(req: BinaryRequest, schema: DescMessage, bytes: Uint8Array, maxBytes: number): ConnectError | undefined {
  let payload: Uint8Array | undefined = bytes;
  if (req.enveloped) {
    // One request message (unary or server-streaming); odd framing is left to connect-es.
    if (bytes.length < 5 || (bytes[0] & ~1) !== 0) return undefined;
    const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
    if (bytes.length !== 5 + length) return undefined;
    payload = bytes[0] & 1 ? decompress(req.encoding, bytes.subarray(5), maxBytes) : bytes.subarray(5);
  } else {
    payload = decompress(req.encoding, bytes, maxBytes);
  }
  if (!payload) return undefined;
  try {
    fromBinary(schema, payload);
    return undefined;
  } catch (err) {
    return narrowcastError(
      ErrorReason.FIELD_INVALID,
      `request is not a valid binary ${schema.typeName}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** An error response in the request's protocol. */
function errorResponse(req: BinaryRequest, error: ConnectError): UniversalServerResponse {
  switch (req.protocol) {
    case "connect":
      if (req.enveloped) {
        // Connect streaming: HTTP 200 and an end-of-stream message carrying the error.
        return {
          status: 200,
          header: new Headers({ "content-type": "application/connect+proto" }),
          body: createAsyncIterable([encodeEnvelope(endStreamFlag, encoder.encode(JSON.stringify(endStreamToJson(new Headers(), error, undefined))))]),
        };
      }
      return {
        status: codeToHttpStatus(error.code),
        header: new Headers({ "content-type": "application/json" }),
        body: createAsyncIterable([errorToJsonBytes(error, undefined)]),
      };
    case "grpc":
      return {
        status: 200,
        header: new Headers({ "content-type": "application/grpc+proto" }),
        body: createAsyncIterable<Uint8Array>([]),
        trailer: setTrailerStatus(new Headers(), error),
      };
    case "grpc-web":
      return {
        status: 200,
        header: new Headers({ "content-type": "application/grpc-web+proto" }),
        body: createAsyncIterable([encodeEnvelope(trailerFlag, trailerSerialize(setTrailerStatus(new Headers(), error)))]),
      };
  }
}

function guardBinaryBody(handler: UniversalHandler, readMaxBytes: number): UniversalHandler {
  const kind = handler.method.methodKind;
  if (kind !== "unary" && kind !== "server_streaming") return handler;
  const guarded = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    if (req.method === "GET") {
      // Connect GET (NO_SIDE_EFFECTS RPCs): the message is in the query, binary when encoding=proto.
      const query = new URL(req.url, "http://localhost").searchParams;
      const message = query.get("message");
      if (query.get("encoding") !== "proto" || message === null || query.get("compression")) return handler(req);
      const bytes = query.get("base64") === "1" ? new Uint8Array(Buffer.from(message, "base64url")) : new TextEncoder().encode(message);
      const get: BinaryRequest = { protocol: "connect", enveloped: false, encoding: "identity" };
      const error = decodeError(get, handler.method.input, bytes, readMaxBytes);
      return error ? errorResponse(get, error) : handler(req);
    }
    const binary = req.method === "POST" ? binaryRequest(req.header, kind === "server_streaming") : undefined;
    const body = req.body;
    if (!binary || body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) return handler(req);
    let bytes: Uint8Array;
    try {
      bytes = await readAllBytes(body as AsyncIterable<Uint8Array>, readMaxBytes + 5, req.header.get("content-length"));
    } catch (err) {
      return errorResponse(binary, ConnectError.from(err, Code.ResourceExhausted));
    }
    const error = decodeError(binary, handler.method.input, bytes, readMaxBytes);
    if (error) return errorResponse(binary, error);
    return handler({ ...req, body: createAsyncIterable([bytes]) });
  };
  return Object.assign(guarded, {
    requestPath: handler.requestPath,
    protocolNames: handler.protocolNames,
    allowedMethods: handler.allowedMethods,
    supportedContentType: handler.supportedContentType,
    service: handler.service,
    method: handler.method,
  });
}

export function createNodeHandler(options: NodeHandlerOptions): (req: Req, res: Res) => void {
  const router = createConnectRouter({ acceptCompression: [compressionGzip, compressionBrotli], ...options });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const handler of router.handlers) paths.set(handler.requestPath, guardBinaryBody(handler, options.readMaxBytes));
  return (req, res) => {
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      res.writeHead(404);
      res.end();
      return;
    }
    handler(universalRequestFromNodeRequest(req, res, undefined, undefined))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        requestLogger(options.log, req.headers[REQUEST_ID_HEADER] as string | undefined).error(
          { err: reason, procedure: `${handler.service.typeName}/${handler.method.name}` },
          "handler failed",
        );
      });
  };
}
