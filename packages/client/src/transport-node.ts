import * as http from "node:http";
import * as https from "node:https";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import type { ManagedTransport, TransportConfig } from "./transport.js";

/**
 * Node.js transports. Each client owns its connection (an HTTP/2 session, or an HTTP/1.1
 * agent) so that `close()` releases it and lets the process exit.
 */
export function createNodeTransport(config: TransportConfig): ManagedTransport {
  const protocol = config.protocol ?? "connect";
  const httpVersion = config.httpVersion ?? "2";
  const common = { baseUrl: config.baseUrl, interceptors: config.interceptors };
  if (httpVersion === "2") {
    const sessionManager = new Http2SessionManager(config.baseUrl);
    const options = { ...common, httpVersion, sessionManager } as const;
    const transport =
      protocol === "grpc"
        ? createGrpcTransport(options)
        : protocol === "grpc-web"
          ? createGrpcWebTransport(options)
          : createConnectTransport(options);
    return { transport, close: () => sessionManager.abort() };
  }
  if (protocol === "grpc") {
    throw new TypeError('protocol "grpc" needs HTTP/2: use httpVersion "2"');
  }
  const agent = config.baseUrl.startsWith("https:")
    ? new https.Agent({ keepAlive: true })
    : new http.Agent({ keepAlive: true });
  const options = { ...common, httpVersion, nodeOptions: { agent } } as const;
  const transport = protocol === "grpc-web" ? createGrpcWebTransport(options) : createConnectTransport(options);
  return { transport, close: () => agent.destroy() };
}
