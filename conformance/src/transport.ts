// Wire protocols the suite speaks, and a transport decorator that adds a bearer token so one
// shared connection can carry every fixture user's calls.
import type { Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";

export const protocols = ["connect", "grpc", "grpc-web"] as const;
export type Protocol = (typeof protocols)[number];
export type HttpVersion = "1.1" | "2";

/** True when the protocol can run over the HTTP version (gRPC needs HTTP/2). */
export function protocolSupports(protocol: Protocol, httpVersion: HttpVersion): boolean {
  return protocol !== "grpc" || httpVersion === "2";
}

/** A transport and the way to release its connection. */
export interface ProtocolTransport {
  transport: Transport;
  close(): void;
}

/** Codec and method choices beyond the defaults (binary Protobuf, POST). */
export interface TransportVariant {
  /** false selects the JSON codec (Connect, gRPC-Web, and gRPC as application/grpc+json). */
  useBinaryFormat?: boolean;
  /** Connect only: send read-only RPCs as HTTP GET. */
  useHttpGet?: boolean;
  /**
   * "gzip" compresses every request message (whatever its size) and accepts only gzip responses;
   * "identity" compresses nothing either way; unset keeps connect-es defaults.
   */
  compression?: "identity" | "gzip";
}

/** Creates the base transport for one protocol. All calls of a suite run share its connection. */
export function createProtocolTransport(protocol: Protocol, baseUrl: string, httpVersion: HttpVersion, variant: TransportVariant = {}): ProtocolTransport {
  const codec = {
    ...(variant.useBinaryFormat === undefined ? {} : { useBinaryFormat: variant.useBinaryFormat }),
    ...(variant.compression === "gzip" ? { sendCompression: compressionGzip, acceptCompression: [compressionGzip], compressMinBytes: 0 } : {}),
    ...(variant.compression === "identity" ? { acceptCompression: [] } : {}),
  };
  if (httpVersion === "1.1") {
    // gRPC has no HTTP/1.1 mapping; callers filter it out with protocolSupports().
    const transport =
      protocol === "grpc-web"
        ? createGrpcWebTransport({ baseUrl, httpVersion: "1.1", ...codec })
        : createConnectTransport({ baseUrl, httpVersion: "1.1", ...codec, useHttpGet: variant.useHttpGet ?? false });
    return { transport, close: () => {} };
  }
  // One HTTP/2 session per protocol, aborted explicitly so nothing keeps the process alive.
  const sessionManager = new Http2SessionManager(baseUrl);
  const options = { baseUrl, httpVersion: "2" as const, sessionManager, ...codec };
  const transport =
    protocol === "grpc"
      ? createGrpcTransport(options)
      : protocol === "grpc-web"
        ? createGrpcWebTransport(options)
        : createConnectTransport({ ...options, useHttpGet: variant.useHttpGet ?? false });
  return { transport, close: () => sessionManager.abort() };
}

/**
 * One transport over several nodes of a deployment: each call (unary or stream) goes to the next
 * node in turn, as an HTTP/2-aware balancer would route requests. So a user's subscription and the
 * sends it must see usually run on different nodes.
 */
export function spreadAcrossNodes(nodes: readonly ProtocolTransport[]): ProtocolTransport {
  if (nodes.length === 1) return nodes[0]!;
  let next = 0;
  const pick = () => nodes[next++ % nodes.length]!.transport;
  return {
    transport: {
      unary: (...args) => pick().unary(...args),
      stream: (...args) => pick().stream(...args),
    },
    close: () => nodes.forEach((n) => n.close()),
  };
}

/** A bearer token, or a function that yields it (called once per call; cache it yourself). */
export type TokenSource = string | undefined | (() => Promise<string>);

/**
 * Returns a transport that sends `Authorization: Bearer <token>` on every call, or no
 * Authorization header at all when the token is undefined.
 */
export function withBearer(transport: Transport, token: TokenSource): Transport {
  const authorize = async (header: HeadersInit | undefined): Promise<Headers> => {
    const headers = new Headers(header);
    const value = typeof token === "function" ? await token() : token;
    if (value === undefined) headers.delete("authorization");
    else headers.set("authorization", `Bearer ${value}`);
    return headers;
  };
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      return transport.unary(method, signal, timeoutMs, await authorize(header), input, contextValues);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      return transport.stream(method, signal, timeoutMs, await authorize(header), input, contextValues);
    },
  };
}

/**
 * Gives every streaming call a deadline (Connect-Timeout-Ms / grpc-timeout) when it has none:
 * servers may serve such streams on another code path than plain ones, and the suite should see it.
 */
export function withStreamDeadline(transport: Transport, deadlineMs: number | undefined): Transport {
  if (!deadlineMs) return transport;
  return {
    unary: (...args) => transport.unary(...args),
    stream: (method, signal, timeoutMs, header, input, contextValues) =>
      transport.stream(method, signal, timeoutMs ?? deadlineMs, header, input, contextValues),
  };
}
