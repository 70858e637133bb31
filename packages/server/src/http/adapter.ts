// The Node request handler for the connect-es router. It is connect-node's adapter plus one
// guard: connect-es answers a unary request whose binary body does not decode with Internal
// ("parse binary: …"), which rule ERR-2 forbids for bad input. The guard decodes binary unary
// bodies first and answers a bad one with InvalidArgument FIELD_INVALID in the request's
// protocol (rule ERR-4); good bodies go on to connect-es unchanged.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import { createAsyncIterable, encodeEnvelope, readAllBytes } from "@connectrpc/connect/protocol";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToHttpStatus, errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
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

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;
type Protocol = "connect" | "grpc" | "grpc-web";

export interface NodeHandlerOptions extends ConnectRouterOptions {
  routes(router: ConnectRouter): void;
  readMaxBytes: number;
  log: Logger;
}

/** The protocol of a binary, uncompressed unary request, or undefined when the guard stays out. */
function binaryProtocol(header: Headers): Protocol | undefined {
  const ct = header.get("content-type") ?? "";
  const identity = (v: string | null) => v === null || v === "identity";
  if (ct.startsWith("application/grpc-web")) {
    return /^application\/grpc-web(\+proto)?(;|$)/.test(ct) && identity(header.get("grpc-encoding")) ? "grpc-web" : undefined;
  }
  if (ct.startsWith("application/grpc")) {
    return /^application\/grpc(\+proto)?(;|$)/.test(ct) && identity(header.get("grpc-encoding")) ? "grpc" : undefined;
  }
  return /^application\/proto(;|$)/.test(ct) && identity(header.get("content-encoding")) ? "connect" : undefined;
}

/** Checks that `bytes` decode as `schema` in the protocol's framing; returns the error if not. */
function decodeError(protocol: Protocol, schema: DescMessage, bytes: Uint8Array): ConnectError | undefined {
  let payload = bytes;
  if (protocol !== "connect") {
    if (bytes.length < 5 || bytes[0] !== 0) return undefined; // connect-es reports framing itself
    const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(1);
    if (bytes.length !== 5 + length) return undefined;
    payload = bytes.subarray(5);
  }
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
function errorResponse(protocol: Protocol, error: ConnectError): UniversalServerResponse {
  switch (protocol) {
    case "connect":
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
  if (handler.method.methodKind !== "unary") return handler;
  const guarded = async (req: UniversalServerRequest): Promise<UniversalServerResponse> => {
    if (req.method === "GET") {
      // Connect GET (NO_SIDE_EFFECTS RPCs): the message is in the query, binary when encoding=proto.
      const query = new URL(req.url, "http://localhost").searchParams;
      const message = query.get("message");
      if (query.get("encoding") !== "proto" || message === null || query.get("compression")) return handler(req);
      const bytes = query.get("base64") === "1" ? new Uint8Array(Buffer.from(message, "base64url")) : new TextEncoder().encode(message);
      const error = decodeError("connect", handler.method.input, bytes);
      return error ? errorResponse("connect", error) : handler(req);
    }
    const protocol = req.method === "POST" ? binaryProtocol(req.header) : undefined;
    const body = req.body;
    if (!protocol || body === null || typeof body !== "object" || !(Symbol.asyncIterator in body)) return handler(req);
    let bytes: Uint8Array;
    try {
      bytes = await readAllBytes(body as AsyncIterable<Uint8Array>, readMaxBytes + 5, req.header.get("content-length"));
    } catch (err) {
      return errorResponse(protocol, ConnectError.from(err, Code.ResourceExhausted));
    }
    const error = decodeError(protocol, handler.method.input, bytes);
    if (error) return errorResponse(protocol, error);
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
        options.log.error({ err: reason, procedure: `${handler.service.typeName}/${handler.method.name}` }, "handler failed");
      });
  };
}
