// A local app backend for the webhook tests (spec section 16): a real HTTP server on port 0 that
// records every request (method, path, headers, raw body and, when the body is one, the parsed
// WebhookEvent), answers as the test says, counts the requests in flight, and lets a test wait for
// the requests it expects instead of sleeping.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fromJsonString } from "@bufbuild/protobuf";
import { WebhookEventSchema, type WebhookEvent } from "@narrowcast/gen/admin";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Undefined when the body is not a WebhookEvent (tests also post arbitrary bodies). */
  event?: WebhookEvent;
}

/** How to answer one request: status 200, no body and a JSON content type unless it says otherwise. */
export interface Answer {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Holds the answer until this resolves (a slow or silent endpoint). */
  hold?: Promise<unknown>;
}

/** Answers the request with this index; undefined answers the default. Throwing drops the connection. */
export type Responder = (request: ReceivedRequest, index: number) => Answer | undefined | Promise<Answer | undefined>;

export class AppBackendReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Requests whose answer has not been sent yet, and the most there have been at once. */
  inFlight = 0;
  maxInFlight = 0;
  private responder: Responder = () => undefined;
  private waiters: (() => void)[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(responder?: Responder, port = 0): Promise<AppBackendReceiver> {
    const server = http.createServer();
    const receiver = new AppBackendReceiver(server);
    if (responder) receiver.respond(responder);
    server.on("request", (req, res) => receiver.handle(req, res));
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  url(path = "/hook"): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Decides the answers from now on. */
  respond(responder: Responder): void {
    this.responder = responder;
  }

  /** The requests recorded so far that match. */
  matching(match: (r: ReceivedRequest) => boolean): ReceivedRequest[] {
    return this.requests.filter(match);
  }

  /** Resolves once at least `count` recorded requests match (past ones included). */
  async until(match: (r: ReceivedRequest) => boolean, count = 1): Promise<ReceivedRequest[]> {
    for (;;) {
      const found = this.matching(match);
      if (found.length >= count) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const request: ReceivedRequest = { method: req.method ?? "", path: req.url ?? "", headers: flatHeaders(req.headers), body, event: parseEvent(body) };
      const index = this.requests.push(request) - 1;
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      void this.answer(request, index, res);
    });
  }

  private async answer(request: ReceivedRequest, index: number, res: http.ServerResponse): Promise<void> {
    try {
      const answer = (await this.responder(request, index)) ?? {};
      await answer.hold;
      // The client may have given up while the answer was held.
      if (res.destroyed) return;
      res.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body ?? "");
    } catch {
      res.destroy();
    } finally {
      this.inFlight--;
    }
  }
}

/** The user a push request is for, or undefined for other requests. */
export function pushedUser(r: ReceivedRequest): string | undefined {
  return r.event?.type === "push.requested" ? r.event.data?.push?.userId : undefined;
}

function parseEvent(body: string): WebhookEvent | undefined {
  try {
    return fromJsonString(WebhookEventSchema, body, { ignoreUnknownFields: true });
  } catch {
    return undefined;
  }
}

/** Header values as one string each (repeated headers joined as HTTP allows). */
function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) flat[k] = Array.isArray(v) ? v.join(", ") : v;
  return flat;
}
