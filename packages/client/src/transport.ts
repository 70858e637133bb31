import type { Interceptor, Transport } from "@connectrpc/connect";

/** The wire protocols a Narrowcast server speaks on one port. */
export type Protocol = "connect" | "grpc" | "grpc-web";

/** Where and how to reach a server; shared by the user client and the admin client. */
export interface ConnectionOptions {
  /** The server's base URL, e.g. "http://127.0.0.1:8080". */
  baseUrl: string;
  /** Wire protocol; default "connect". */
  protocol?: Protocol;
  /**
   * HTTP version (Node.js only; browsers let fetch decide). Default "2" (h2c for http://
   * URLs), which gRPC requires; "1.1" works for Connect and gRPC-Web.
   */
  httpVersion?: "1.1" | "2";
  /** Extra interceptors, run after the SDK's own (e.g. logging, tracing, tests). */
  interceptors?: Interceptor[];
}

/** What a transport factory needs: the connection options plus the SDK's interceptors. */
export interface TransportConfig extends ConnectionOptions {
  interceptors: Interceptor[];
}

/** A transport with a way to let go of its connections. */
export interface ManagedTransport {
  transport: Transport;
  /** Closes the transport's connections; in-flight calls fail. */
  close(): void;
}

/**
 * Makes transports; the one difference between the Node.js entry point (connect-node) and
 * the browser entry point (connect-web). Everything else is shared.
 */
export type TransportFactory = (config: TransportConfig) => ManagedTransport;
