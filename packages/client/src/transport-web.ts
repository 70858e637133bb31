import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import type { ManagedTransport, TransportConfig } from "./transport.js";

/**
 * Browser transports over fetch. Browsers cannot speak gRPC (no access to HTTP trailers), so
 * the protocol is "connect" (default) or "grpc-web"; `httpVersion` is up to the browser.
 */
export function createWebTransport(config: TransportConfig): ManagedTransport {
  const protocol = config.protocol ?? "connect";
  if (protocol === "grpc") {
    throw new TypeError('protocol "grpc" is not available in browsers: use "connect" or "grpc-web"');
  }
  const options = { baseUrl: config.baseUrl, interceptors: config.interceptors };
  const transport = protocol === "grpc-web" ? createGrpcWebTransport(options) : createConnectTransport(options);
  // fetch has no connection to close; the client aborts its own calls on close().
  return { transport, close: () => {} };
}
