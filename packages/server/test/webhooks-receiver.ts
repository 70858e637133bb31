// A real HTTP endpoint on port 0 for the webhook engine's tests: records every request and answers
// as the test's handler says, counting the requests in flight.
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Answer {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
  /** Holds the answer until this resolves (a slow or silent endpoint). */
  hold?: Promise<unknown>;
}

export type Handler = (request: ReceivedRequest, index: number) => Answer | Promise<Answer>;

export class Receiver {
  readonly requests: ReceivedRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  handler: Handler = () => ({ status: 204 });

  private constructor(private readonly server: Server) {}

  static async start(handler?: Handler): Promise<Receiver> {
    const server = createServer();
    const receiver = new Receiver(server);
    if (handler) receiver.handler = handler;
    server.on("request", (req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const request: ReceivedRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
        const index = receiver.requests.push(request) - 1;
        receiver.inFlight++;
        receiver.maxInFlight = Math.max(receiver.maxInFlight, receiver.inFlight);
        void (async () => {
          try {
            const answer = await receiver.handler(request, index);
            await answer.hold;
            res.writeHead(answer.status ?? 204, answer.headers ?? {});
            res.end(answer.body ?? "");
          } catch {
            res.destroy();
          } finally {
            receiver.inFlight--;
          }
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  url(path = "/hook"): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}${path}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
