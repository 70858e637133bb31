// Plain HTTP endpoints for operators, on the server's one port next to the RPCs (whose paths all
// start with a service name, so they cannot clash):
//   GET /healthz  200 while the process serves HTTP (liveness; checks nothing else)
//   GET /readyz   200 when the store and the bus answer, 503 otherwise (readiness; JSON body)
//   GET /metrics  Prometheus exposition (prom-client)
// HEAD works as GET without a body. No authentication: expose them to the load balancer and the
// monitoring network only (docs/operations.md).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { Logger } from "pino";
import type { ServerMetrics } from "./metrics.js";
import type { Readiness } from "./readiness.js";
import { REQUEST_ID_HEADER, requestLogger } from "./request-id.js";

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export const OPS_PATHS = ["/healthz", "/readyz", "/metrics"] as const;

export interface OpsEndpoints {
  /** Serves the request if it is one of OPS_PATHS; returns false otherwise. */
  handle(req: Req, res: Res): boolean;
}

function send(req: Req, res: Res, status: number, contentType: string, body: string): void {
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store", "content-length": String(Buffer.byteLength(body)) });
  if (req.method === "HEAD") res.end();
  else res.end(body);
}

export function createOpsEndpoints(readiness: Readiness, metrics: ServerMetrics, baseLog: Logger): OpsEndpoints {
  let wasReady = true;
  return {
    handle(req, res) {
      const path = req.url?.split("?", 1)[0];
      if (!OPS_PATHS.includes(path as (typeof OPS_PATHS)[number])) return false;
      const log = requestLogger(baseLog, req.headers[REQUEST_ID_HEADER] as string | undefined);
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-length": "0" });
        res.end();
        return true;
      }
      // Any body is ignored; reading it lets the connection be reused.
      req.resume();
      switch (path) {
        case "/healthz":
          send(req, res, 200, "text/plain; charset=utf-8", "ok\n");
          break;
        case "/readyz":
          void readiness.check().then((report) => {
            // Logged on changes only: a balancer probes every few seconds.
            if (report.ready !== wasReady) {
              if (report.ready) log.info("ready again");
              else log.warn({ checks: report.checks }, "not ready");
            }
            wasReady = report.ready;
            send(req, res, report.ready ? 200 : 503, "application/json", JSON.stringify({ status: report.ready ? "ready" : "not ready", ...report.checks }) + "\n");
          });
          break;
        case "/metrics":
          metrics.scrape().then(
            (text) => send(req, res, 200, metrics.contentType, text),
            (err: unknown) => {
              log.error({ err }, "metrics scrape failed");
              send(req, res, 500, "text/plain; charset=utf-8", "metrics unavailable\n");
            },
          );
          break;
      }
      return true;
    },
  };
}
