// The HTTP receiver of the HOOK area: the suite plays an app's backend. It records every request
// (headers and raw body), answers as each case tells it (a status, a delay, a JSON body, a hang-up)
// and lets cases wait for requests matching a condition instead of sleeping. Each case gets its own
// endpoints (unique paths), so cases running in parallel never see each other's requests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { WebhookEventSchema, type WebhookEvent } from "@narrowcast/gen/admin";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { CheckFailure } from "./check.js";

/** One request the receiver got. */
export interface ReceivedRequest {
  /** The endpoint's label, e.g. "url" or "before-send". */
  endpoint: string;
  method: string;
  /** Header names in lower case. */
  headers: Readonly<Record<string, string>>;
  /** The body exactly as received (UTF-8). */
  body: string;
  /** The body parsed as a WebhookEvent (proto3 JSON, unknown fields ignored), when it is one. */
  event?: WebhookEvent;
  /** Why the body is not a WebhookEvent, when it is not. */
  parseError?: string;
  /** The body as plain JSON, when it is JSON. */
  json?: unknown;
  /** When the request's body had arrived (ms, this machine's clock). */
  receivedAt: number;
  /** When the receiver answered it (ms); undefined while it is in flight. */
  answeredAt?: number;
}

/** How to answer a request. */
export interface Answer {
  /** HTTP status; default 200. */
  status?: number;
  /** Wait this long before answering, in ms. */
  delayMs?: number;
  /** The body: an object is sent as JSON, a string as it is. Default "{}". */
  body?: unknown;
  /** Destroy the connection instead of answering (the server sees no answer). */
  hangUp?: boolean;
}

/** Decides the answer to a request; `index` counts the endpoint's requests from 0. */
export type Responder = (request: ReceivedRequest, index: number) => Answer;

/** The webhook-id of a request ("" when missing). */
export function webhookId(r: ReceivedRequest): string {
  return r.headers["webhook-id"] ?? "";
}

/** The WebhookEvent type of a request ("" when the body is not a WebhookEvent). */
export function eventType(r: ReceivedRequest): string {
  return r.event?.type ?? "";
}

/**
 * Checks a request's Standard Webhooks signature with one secret (any of its signatures may
 * match, and the timestamp must be within 5 minutes). Returns why it fails, or undefined.
 */
export function signatureProblem(r: ReceivedRequest, secret: string): string | undefined {
  try {
    new StandardWebhook(secret).verify(r.body, {
      "webhook-id": r.headers["webhook-id"] ?? "",
      "webhook-timestamp": r.headers["webhook-timestamp"] ?? "",
      "webhook-signature": r.headers["webhook-signature"] ?? "",
    });
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The signature a secret gives a request (`v1,<base64>`), to compare with each signature sent. */
export function expectedSignature(r: ReceivedRequest, secret: string): string {
  const seconds = Number(r.headers["webhook-timestamp"] ?? "0");
  return new StandardWebhook(secret).sign(webhookId(r), new Date(seconds * 1000), r.body);
}

/** A short rendering of a request for failure reports. */
export function describeRequest(r: ReceivedRequest | undefined): string {
  if (!r) return "none";
  const body = r.body.length > 240 ? `${r.body.slice(0, 240)}…` : r.body;
  return `${r.method} ${r.endpoint} webhook-id=${JSON.stringify(webhookId(r))} ${body}`;
}

/** One path of the receiver: what it got and how it answers. */
export class Endpoint {
  readonly requests: ReceivedRequest[] = [];
  private responder: Responder = () => ({});
  private readonly listeners = new Set<() => void>();
  private inFlight = 0;
  /** The most requests this endpoint had in flight at once. */
  maxInFlight = 0;

  constructor(
    readonly label: string,
    readonly url: string,
    private readonly defaultTimeoutMs: number,
  ) {}

  /** Sets how later requests are answered. */
  answer(responder: Responder | Answer): void {
    this.responder = typeof responder === "function" ? responder : () => responder;
  }

  /** Requests whose body is a WebhookEvent of this type. */
  ofType(type: string): ReceivedRequest[] {
    return this.requests.filter((r) => eventType(r) === type);
  }

  /** Resolves once `condition` holds (checked after every request); fails after the timeout. */
  until<T>(description: string, condition: () => T | undefined, timeoutMs = this.defaultTimeoutMs): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const listener = () => {
        let value: T | undefined;
        try {
          value = condition();
        } catch (err) {
          done();
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new CheckFailure(`the ${this.label} endpoint: timed out waiting for ${description}`, description, `after ${timeoutMs} ms received: ${this.describeRequests()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
      listener();
    });
  }

  /** Waits for a request matching the predicate and returns the first one. */
  waitFor(description: string, predicate: (r: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest> {
    return this.until(description, () => this.requests.find(predicate), timeoutMs);
  }

  /** Waits until `count` requests match the predicate and returns them, in arrival order. */
  waitForCount(description: string, count: number, predicate: (r: ReceivedRequest) => boolean, timeoutMs?: number): Promise<ReceivedRequest[]> {
    return this.until(
      `${count} × ${description}`,
      () => {
        const found = this.requests.filter(predicate);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
    );
  }

  /** A short rendering of the last requests, for failure reports. */
  describeRequests(): string {
    if (this.requests.length === 0) return "nothing";
    const shown = this.requests.slice(-8).map(describeRequest);
    const skipped = this.requests.length - shown.length;
    return (skipped > 0 ? `… ${skipped} earlier; ` : "") + shown.join("; ");
  }

  /** @internal Records a request and answers it. */
  async handle(request: ReceivedRequest, res: ServerResponse): Promise<void> {
    const index = this.requests.length;
    this.requests.push(request);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let answer: Answer;
    try {
      answer = this.responder(request, index);
    } catch {
      answer = { status: 500 };
    }
    this.notify();
    try {
      if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
      if (answer.hangUp) {
        res.socket?.destroy();
        return;
      }
      const body = answer.body === undefined ? "{}" : typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status ?? 200, { "content-type": "application/json" });
      res.end(body);
    } finally {
      this.inFlight--;
      request.answeredAt = Date.now();
      this.notify();
    }
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** The HTTP server every case's endpoints live on. */
export class WebhookReceiver {
  private readonly endpoints = new Map<string, Endpoint>();
  private counter = 0;

  private constructor(
    private readonly server: Server,
    /** e.g. http://127.0.0.1:41234 */
    readonly baseUrl: string,
  ) {}

  /** Starts a receiver on the host (an OS-assigned port); URLs name the host as given. */
  static async start(host: string): Promise<WebhookReceiver> {
    let receiver: WebhookReceiver | undefined;
    const server = createServer((req, res) => void receiver?.dispatch(req, res));
    // Idle connections stay open longer than HTTP clients usually keep them, so the server under
    // test closes them first and never reuses one this side just closed (a spurious failed
    // attempt); close() ends them all.
    server.keepAliveTimeout = 120_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, host, () => resolve());
    });
    const port = (server.address() as AddressInfo).port;
    const hostPart = host.includes(":") ? `[${host}]` : host;
    receiver = new WebhookReceiver(server, `http://${hostPart}:${port}`);
    return receiver;
  }

  /** A new endpoint with a unique path; `timeoutMs` bounds its waits unless a wait says otherwise. */
  endpoint(label: string, timeoutMs: number): Endpoint {
    const path = `/hook/${++this.counter}-${randomBytes(6).toString("hex")}/${encodeURIComponent(label)}`;
    const endpoint = new Endpoint(label, `${this.baseUrl}${path}`, timeoutMs);
    this.endpoints.set(path, endpoint);
    return endpoint;
  }

  /** Forgets an endpoint: later requests to it are answered 410 and not recorded. */
  release(endpoint: Endpoint): void {
    this.endpoints.delete(new URL(endpoint.url).pathname);
  }

  async close(): Promise<void> {
    this.endpoints.clear();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of req) chunks.push(chunk as Buffer);
    } catch {
      return;
    }
    const endpoint = this.endpoints.get((req.url ?? "").split("?")[0]!);
    if (!endpoint) {
      res.writeHead(410).end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    const body = Buffer.concat(chunks).toString("utf8");
    const request: ReceivedRequest = { endpoint: endpoint.label, method: req.method ?? "", headers, body, receivedAt: Date.now() };
    try {
      request.json = JSON.parse(body) as unknown;
      request.event = fromJson(WebhookEventSchema, request.json as JsonValue, { ignoreUnknownFields: true });
    } catch (err) {
      request.parseError = err instanceof Error ? err.message : String(err);
    }
    await endpoint.handle(request, res).catch(() => undefined);
  }
}
