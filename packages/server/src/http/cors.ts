// CORS for browsers on other origins (issue 11). Off by default: with no allowed origin a
// cross-origin page gets no Access-Control-* header and its preflights are refused with 403, so
// the browser blocks every call. Allowed origins are listed exactly (scheme://host[:port]), or
// "*" for any origin. Requests without an Origin header (gRPC, servers, curl) are not affected.
//
// The header lists are those Connect and gRPC-Web clients send and read (the @connectrpc/cors
// package publishes the same lists, but it is not in the npm registry this project installs from),
// plus Authorization (the bearer token; never covered by a "*" wildcard) and X-Request-Id.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

/** Methods of the three protocols: POST for every call, GET for Connect's side-effect-free unary calls. */
export const CORS_ALLOWED_METHODS = ["POST", "GET"] as const;

/** Request headers a browser page may send. */
export const CORS_ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "Connect-Protocol-Version",
  "Connect-Timeout-Ms",
  "Connect-Content-Encoding",
  "Connect-Accept-Encoding",
  "Grpc-Timeout",
  "Grpc-Encoding",
  "Grpc-Accept-Encoding",
  "X-Grpc-Web",
  "X-User-Agent",
  "X-Request-Id",
] as const;

/** Response headers a page's client must be able to read (status and error details, encodings). */
export const CORS_EXPOSED_HEADERS = [
  "Grpc-Status",
  "Grpc-Message",
  "Grpc-Status-Details-Bin",
  "Grpc-Encoding",
  "Grpc-Accept-Encoding",
  "Connect-Content-Encoding",
  "Connect-Accept-Encoding",
  "X-Request-Id",
] as const;

/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE_SECONDS = 7200;

export class CorsConfigError extends Error {
  override readonly name = "CorsConfigError";
}

/**
 * Parses the allowed origins: a comma-separated list (flag or environment variable) or a list.
 * Each entry is "*" or an origin exactly as browsers send it: scheme, host and a non-default port,
 * no path or trailing slash. Empty input: no cross-origin access.
 */
export function parseCorsOrigins(input: string | readonly string[] | undefined): string[] {
  const entries = (typeof input === "string" ? input.split(",") : (input ?? [])).map((s) => s.trim()).filter((s) => s !== "");
  for (const entry of entries) {
    if (entry === "*") continue;
    let origin: string;
    try {
      origin = new URL(entry).origin;
    } catch {
      throw new CorsConfigError(`CORS origin ${JSON.stringify(entry)} is not a URL origin such as https://app.example.com`);
    }
    if (origin !== entry) {
      throw new CorsConfigError(`CORS origin ${JSON.stringify(entry)} must be written exactly as ${JSON.stringify(origin)} (scheme://host[:port], no path)`);
    }
  }
  return [...new Set(entries)];
}

export class CorsPolicy {
  private readonly any: boolean;
  private readonly origins: ReadonlySet<string>;
  private readonly preflightHeaders: Record<string, string> = {
    "access-control-allow-methods": CORS_ALLOWED_METHODS.join(", "),
    "access-control-allow-headers": CORS_ALLOWED_HEADERS.join(", "),
    "access-control-max-age": String(CORS_MAX_AGE_SECONDS),
  };
  private readonly exposed = CORS_EXPOSED_HEADERS.join(", ");

  constructor(origins: readonly string[]) {
    this.any = origins.includes("*");
    this.origins = new Set(origins);
  }

  /** True when at least one origin may call the server from a browser. */
  get enabled(): boolean {
    return this.any || this.origins.size > 0;
  }

  allows(origin: string): boolean {
    return this.any || this.origins.has(origin);
  }

  /**
   * Applies the policy to a request before it is served. Answers a preflight (OPTIONS with
   * Access-Control-Request-Method) itself and returns true: 204 with the allowed methods and
   * headers for an allowed origin, 403 without any Access-Control-* header otherwise. For any
   * other request it sets the response's CORS headers (allowed origin only) and returns false.
   */
  handle(req: Req, res: Res): boolean {
    const origin = req.headers.origin;
    if (typeof origin !== "string") return false;
    const allowed = this.allows(origin);
    // The answer depends on Origin unless every origin gets "*": caches must keep them apart.
    if (!this.any) res.setHeader("vary", "Origin");
    if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
      if (!allowed) {
        res.writeHead(403, { "content-length": "0" });
        res.end();
        return true;
      }
      res.writeHead(204, { ...this.preflightHeaders, "access-control-allow-origin": this.any ? "*" : origin });
      res.end();
      return true;
    }
    if (allowed) {
      res.setHeader("access-control-allow-origin", this.any ? "*" : origin);
      res.setHeader("access-control-expose-headers", this.exposed);
    }
    return false;
  }
}
