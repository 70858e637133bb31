// A local app backend for the tests of spec section 16: an HTTP server that records every
// request (headers, raw body, the parsed WebhookEvent), answers as a test tells it, and lets a
// test wait for the requests it expects instead of sleeping.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { fromJsonString } from "@bufbuild/protobuf";
import { WebhookEventSchema, type WebhookEvent } from "@narrowcast/gen/admin";

export interface ReceivedRequest {
  path: string;
  headers: Record<string, string>;
  body: string;
  event: WebhookEvent;
}

/** How to answer one request: a status (default 200), a JSON body, and a delay before answering. */
export interface Answer {
  status?: number;
  body?: string;
  delayMs?: number;
}

export class AppBackendReceiver {
  readonly requests: ReceivedRequest[] = [];
  private answer: (req: ReceivedRequest) => Answer | undefined = () => undefined;
  private waiters: (() => void)[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(port = 0): Promise<AppBackendReceiver> {
    const server = http.createServer();
    const receiver = new AppBackendReceiver(server);
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

  /** Decides the answers from now on (undefined: 200 with an empty body). */
  respond(answer: (req: ReceivedRequest) => Answer | undefined): void {
    this.answer = answer;
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
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      const recorded: ReceivedRequest = {
        path: req.url ?? "",
        headers,
        body,
        event: fromJsonString(WebhookEventSchema, body, { ignoreUnknownFields: true }),
      };
      this.requests.push(recorded);
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      const answer = this.answer(recorded) ?? {};
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status ?? 200, { "content-type": "application/json" });
        res.end(answer.body ?? "");
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  }
}

/** The user a push request is for, or undefined for other requests. */
export function pushedUser(r: ReceivedRequest): string | undefined {
  return r.event.type === "push.requested" ? r.event.data?.push?.userId : undefined;
}
