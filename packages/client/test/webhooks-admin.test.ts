// The admin client's webhook API against a real server, with a local HTTP endpoint playing the
// app's backend: every request it gets is checked with verifyWebhook (rules HOOK-1 to HOOK-14).
import { createServer } from "node:http";
import type { IncomingHttpHeaders, Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, Reason, WebhookVerificationError, beforeSendAnswer, createTextMessage, verifyWebhook } from "../src/index.js";
import type { DeadLetter } from "../src/index.js";
import { errorSummary, rejection, startFixture, textOf } from "./helpers.js";
import type { Fixture } from "./helpers.js";

/** One request the endpoint got. */
interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the endpoint answers a request with. */
type Answer = { status: number; body?: string };

/** A local app backend: records every request, answers with `answer`, lets a test wait for a request. */
class Endpoint {
  readonly received: Received[] = [];
  answer: (request: Received) => Answer = () => ({ status: 204 });
  private waiters: { match: (r: Received) => boolean; resolve: (r: Received) => void }[] = [];
  private constructor(private readonly server: Server) {}

  static async start(): Promise<Endpoint> {
    const endpoint: Endpoint = new Endpoint(
      createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
          const request = { path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
          endpoint.push(request);
          const answer = endpoint.answer(request);
          res.writeHead(answer.status, { "content-type": "application/json" }).end(answer.body ?? "");
        });
      }),
    );
    await new Promise<void>((resolve) => endpoint.server.listen(0, "127.0.0.1", resolve));
    return endpoint;
  }

  url(path: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }

  /** Resolves with the first request (past or future) that matches. */
  until(match: (r: Received) => boolean): Promise<Received> {
    const found = this.received.find(match);
    return found ? Promise.resolve(found) : new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private push(request: Received): void {
    this.received.push(request);
    this.waiters = this.waiters.filter((w) => (w.match(request) ? (w.resolve(request), false) : true));
  }
}

/** Waits until `fetch` returns something `done` accepts (the server delivers in the background). */
async function eventually<T>(fetch: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  for (;;) {
    const value = await fetch();
    if (done(value)) {
      return value;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const typeOf = (r: Received) => (JSON.parse(r.body) as { type?: string }).type;

let fx: Fixture;
let endpoint: Endpoint;
beforeAll(async () => {
  // Fast retries, few attempts: a failing delivery becomes a dead letter within milliseconds.
  fx = await startFixture({ webhookRetry: { baseMs: 1, capMs: 5, maxAttempts: 2 }, webhookPollMs: 20 });
  endpoint = await Endpoint.start();
});
afterAll(async () => {
  await fx?.close();
  await endpoint?.close();
});

describe("configuration (HOOK-1, HOOK-2)", () => {
  it("setWebhook applies the defaults and returns the secret the first time only; getWebhook hides it", async () => {
    const app = await fx.app({ users: ["alice"] });
    const first = await fx.admin.setWebhook(app.appId, { url: endpoint.url("/events"), eventTypes: ["message.sent"] });
    expect(first).toEqual({
      url: endpoint.url("/events"),
      eventTypes: ["message.sent"],
      pushUrl: "",
      pushExcludedFromUnread: false,
      beforeSendUrl: "",
      beforeSendTimeoutMs: 2000,
      beforeSendFailureAction: "allow",
      maxConcurrentDeliveries: 16,
      secret: expect.stringMatching(/^whsec_/),
    });

    const config = {
      url: endpoint.url("/events2"),
      eventTypes: ["member.joined", "push.requested"] as const,
      pushUrl: endpoint.url("/push"),
      pushExcludedFromUnread: true,
      beforeSendUrl: endpoint.url("/before-send"),
      beforeSendTimeoutMs: 1500,
      beforeSendFailureAction: "reject" as const,
      maxConcurrentDeliveries: 9,
    };
    const second = await fx.admin.setWebhook(app.appId, { ...config, eventTypes: [...config.eventTypes] });
    expect(second).toEqual({ ...config, eventTypes: [...config.eventTypes], secret: "" });
    expect(await fx.admin.getWebhook(app.appId)).toEqual(second);
  });

  it("passes the server's FIELD_INVALID through; unknown names are refused before sending", async () => {
    const app = await fx.app({ users: ["alice"] });
    const err = await rejection(() => fx.admin.setWebhook(app.appId, { url: "ftp://example.com/x", eventTypes: [] }));
    expect(errorSummary(err)).toMatchObject({ code: Code.InvalidArgument, reason: Reason.FIELD_INVALID, field: "webhook.url" });
    const timeout = await rejection(() =>
      fx.admin.setWebhook(app.appId, { url: endpoint.url("/x"), eventTypes: [], beforeSendTimeoutMs: 10_001 }),
    );
    expect(errorSummary(timeout)).toMatchObject({ reason: Reason.FIELD_INVALID, field: "webhook.before_send_timeout" });
    await expect(fx.admin.setWebhook(app.appId, { url: endpoint.url("/x"), eventTypes: ["message.read" as never] })).rejects.toThrow(
      TypeError,
    );
    await expect(
      fx.admin.setWebhook(app.appId, { url: endpoint.url("/x"), eventTypes: [], beforeSendFailureAction: "retry" as never }),
    ).rejects.toThrow(TypeError);
  });

  it("every webhook method answers WEBHOOK_NOT_FOUND for an app without one, and after deleteWebhook", async () => {
    const app = await fx.app({ users: ["alice"] });
    const calls = [
      () => fx.admin.getWebhook(app.appId),
      () => fx.admin.deleteWebhook(app.appId),
      () => fx.admin.rotateWebhookSecret(app.appId),
      () => fx.admin.testWebhook(app.appId),
      () => fx.admin.listDeadLetters(app.appId),
      () => fx.admin.replayDeadLetters(app.appId),
    ];
    for (const call of calls) {
      expect(errorSummary(await rejection(call))).toMatchObject({ code: Code.NotFound, reason: Reason.WEBHOOK_NOT_FOUND });
    }
    await fx.admin.setWebhook(app.appId, { url: endpoint.url("/events"), eventTypes: [] });
    await fx.admin.deleteWebhook(app.appId);
    expect(errorSummary(await rejection(() => fx.admin.getWebhook(app.appId)))).toMatchObject({ reason: Reason.WEBHOOK_NOT_FOUND });
  });
});

describe("signed requests (HOOK-3, HOOK-4, HOOK-14)", () => {
  it("testWebhook reports the endpoint's answer; the request verifies with the secret", async () => {
    const app = await fx.app({ users: ["alice"] });
    const { secret } = await fx.admin.setWebhook(app.appId, { url: endpoint.url(`/test/${app.appId}`), eventTypes: [] });
    endpoint.answer = () => ({ status: 204 });
    const ok = await fx.admin.testWebhook(app.appId);
    expect(ok).toMatchObject({ httpStatus: 204, error: "" });
    expect(ok.latencyMs).toBeGreaterThanOrEqual(0);

    const request = await endpoint.until((r) => r.path === `/test/${app.appId}`);
    const delivery = verifyWebhook(secret, request.headers, request.body);
    expect(delivery).toMatchObject({ type: "webhook.test", appId: app.appId, id: request.headers["webhook-id"] });
    expect(delivery.timestamp).toBeInstanceOf(Date);
    expect(() => verifyWebhook(secret, request.headers, request.body.replace(app.appId, "app_other"))).toThrow(
      WebhookVerificationError,
    );

    endpoint.answer = () => ({ status: 500 });
    const failed = await fx.admin.testWebhook(app.appId);
    expect(failed.httpStatus).toBe(500);
    expect(failed.error).not.toBe("");
    endpoint.answer = () => ({ status: 204 });
  });

  it("testWebhook without an answer: status 0 and what went wrong", async () => {
    const app = await fx.app({ users: ["alice"] });
    const gone = await Endpoint.start();
    const url = gone.url("/nobody");
    await gone.close();
    await fx.admin.setWebhook(app.appId, { url, eventTypes: [] });
    const result = await fx.admin.testWebhook(app.appId);
    expect(result.httpStatus).toBe(0);
    expect(result.error).not.toBe("");
  });

  it("rotateWebhookSecret: a new secret; with a grace period requests verify with either secret", async () => {
    const app = await fx.app({ users: ["alice"] });
    const path = `/rotate/${app.appId}`;
    const { secret: old } = await fx.admin.setWebhook(app.appId, { url: endpoint.url(path), eventTypes: [] });
    const graced = await fx.admin.rotateWebhookSecret(app.appId, { previousSecretGraceSeconds: 3600 });
    expect(graced.secret).toMatch(/^whsec_/);
    expect(graced.secret).not.toBe(old);
    expect(graced.previousSecretExpireTime).toBeInstanceOf(Date);
    expect(graced.previousSecretExpireTime!.getTime()).toBeGreaterThan(Date.now());
    expect((await fx.admin.getWebhook(app.appId)).secret).toBe("");

    await fx.admin.testWebhook(app.appId);
    const duringGrace = await endpoint.until((r) => r.path === path);
    expect(verifyWebhook(graced.secret, duringGrace.headers, duringGrace.body).type).toBe("webhook.test");
    expect(verifyWebhook(old, duringGrace.headers, duringGrace.body).type).toBe("webhook.test");

    const rotated = await fx.admin.rotateWebhookSecret(app.appId);
    expect(rotated.previousSecretExpireTime).toBeUndefined();
    await fx.admin.testWebhook(app.appId);
    const after = await endpoint.until((r) => r.path === path && r !== duringGrace);
    expect(verifyWebhook(rotated.secret, after.headers, after.body).type).toBe("webhook.test");
    expect(() => verifyWebhook(graced.secret, after.headers, after.body)).toThrow(WebhookVerificationError);
  });
});

describe("deliveries (HOOK-5 to HOOK-9)", () => {
  it("a sent message reaches the endpoint as a verifiable message.sent delivery", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const path = `/sent/${app.appId}`;
    const { secret } = await fx.admin.setWebhook(app.appId, { url: endpoint.url(path), eventTypes: ["message.sent"] });
    const alice = await app.client("alice");
    const sent = await alice.sendMessage(createTextMessage("hello hooks"), { groupId: app.groupId });

    const request = await endpoint.until((r) => r.path === path && typeOf(r) === "message.sent");
    const delivery = verifyWebhook(secret, request.headers, request.body);
    expect(delivery).toMatchObject({ type: "message.sent", appId: app.appId });
    const event = delivery.event.data?.event?.payload;
    expect(event?.case).toBe("messageReceived");
    const message = event?.case === "messageReceived" ? event.value.message : undefined;
    expect(message).toMatchObject({ messageId: sent.messageId, senderId: "alice", seq: BigInt(sent.seq) });
  });

  it("failed deliveries become dead letters; listDeadLetters, deadLetters and replayDeadLetters", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const path = `/dead/${app.appId}`;
    await fx.admin.setWebhook(app.appId, { url: endpoint.url(path), eventTypes: ["message.sent"] });
    let failing = true;
    const previous = endpoint.answer;
    endpoint.answer = (r) => (r.path === path && failing ? { status: 503 } : previous(r));
    try {
      const alice = await app.client("alice");
      await alice.sendMessage(createTextMessage("one"), { groupId: app.groupId });
      await alice.sendMessage(createTextMessage("two"), { groupId: app.groupId });

      const page = await eventually(
        () => fx.admin.listDeadLetters(app.appId),
        (p) => p.items.length === 2,
      );
      expect(page.nextPageToken).toBe("");
      const [newest, oldest] = page.items as [DeadLetter, DeadLetter];
      expect(newest).toMatchObject({ type: "message.sent", url: endpoint.url(path), attempts: 2 });
      expect(newest.lastError).toContain("503");
      expect(newest.createTime).toBeInstanceOf(Date);
      expect(newest.lastAttemptTime).toBeInstanceOf(Date);
      // Newest first: "two" was sent last.
      const bodyText = (d: DeadLetter) => JSON.parse(d.body).data.event.messageReceived.message.elements[0].text.text;
      expect([bodyText(newest), bodyText(oldest)]).toEqual(["two", "one"]);

      const walked: DeadLetter[] = [];
      for await (const d of fx.admin.deadLetters(app.appId, { pageSize: 1 })) {
        walked.push(d);
      }
      expect(walked.map((d) => d.deliveryId)).toEqual([newest.deliveryId, oldest.deliveryId]);

      const unknown = await rejection(() => fx.admin.replayDeadLetters(app.appId, [oldest.deliveryId, "msg_nope"]));
      expect(errorSummary(unknown)).toMatchObject({ code: Code.NotFound, reason: Reason.DEAD_LETTER_NOT_FOUND, ids: ["msg_nope"] });
      expect((await fx.admin.listDeadLetters(app.appId)).items).toHaveLength(2);

      failing = false;
      expect(await fx.admin.replayDeadLetters(app.appId, [oldest.deliveryId])).toBe(1);
      const replayed = await endpoint.until((r) => r.path === path && r.headers["webhook-id"] === oldest.deliveryId && !failing);
      expect(typeOf(replayed)).toBe("message.sent");
      await eventually(
        () => fx.admin.listDeadLetters(app.appId),
        (p) => p.items.length === 1,
      );
      expect(await fx.admin.replayDeadLetters(app.appId)).toBe(1);
      await eventually(
        () => fx.admin.listDeadLetters(app.appId),
        (p) => p.items.length === 0,
      );
      expect(await fx.admin.replayDeadLetters(app.appId)).toBe(0);
    } finally {
      endpoint.answer = previous;
    }
  });
});

describe("before-send (HOOK-10 to HOOK-12)", () => {
  it("beforeSendAnswer's answers: reject (never retried), modify, allow", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const path = `/before/${app.appId}`;
    const { secret } = await fx.admin.setWebhook(app.appId, {
      url: endpoint.url(`/events/${app.appId}`),
      eventTypes: [],
      beforeSendUrl: endpoint.url(path),
    });
    const previous = endpoint.answer;
    endpoint.answer = (r) => {
      if (r.path !== path) {
        return previous(r);
      }
      const text = JSON.stringify(JSON.parse(r.body).data.beforeSend.message.elements);
      if (text.includes("spam")) {
        return { status: 200, body: beforeSendAnswer({ action: "reject", reason: "no spam here" }) };
      }
      if (text.includes("darn")) {
        return { status: 200, body: beforeSendAnswer({ action: "modify", elements: createTextMessage("d**n") }) };
      }
      return { status: 200, body: beforeSendAnswer({ action: "allow" }) };
    };
    try {
      const alice = await app.client("alice", { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5_000 } });
      const calls = () => endpoint.received.filter((r) => r.path === path).length;

      const err = await rejection(() => alice.sendMessage(createTextMessage("buy spam"), { groupId: app.groupId }));
      expect(errorSummary(err)).toMatchObject({ code: Code.PermissionDenied, reason: Reason.MESSAGE_REJECTED });
      expect((err as Error).message).toContain("no spam here");
      expect(calls()).toBe(1);

      const modified = await alice.sendMessage(createTextMessage("darn it"), { groupId: app.groupId });
      expect(textOf(modified)).toBe("d**n");
      const allowed = await alice.sendMessage(createTextMessage("fine"), { groupId: app.groupId });
      expect(textOf(allowed)).toBe("fine");

      const asked = endpoint.received.filter((r) => r.path === path);
      const delivery = verifyWebhook(secret, asked[0]!.headers, asked[0]!.body);
      expect(delivery.type).toBe("message.before_send");
      expect(delivery.event.data?.beforeSend?.message?.senderId).toBe("alice");
    } finally {
      endpoint.answer = previous;
    }
  });

  it("an unavailable backend with failure action reject: APP_BACKEND_UNAVAILABLE, retried by the client", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const path = `/down/${app.appId}`;
    await fx.admin.setWebhook(app.appId, {
      url: endpoint.url(`/events/${app.appId}`),
      eventTypes: [],
      beforeSendUrl: endpoint.url(path),
      beforeSendFailureAction: "reject",
    });
    const previous = endpoint.answer;
    endpoint.answer = (r) => (r.path === path ? { status: 502 } : previous(r));
    try {
      const alice = await app.client("alice", { retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5_000 } });
      const err = await rejection(() => alice.sendMessage(createTextMessage("anyone?"), { groupId: app.groupId }));
      expect(errorSummary(err)).toMatchObject({ code: Code.Unavailable, reason: Reason.APP_BACKEND_UNAVAILABLE });
      expect(endpoint.received.filter((r) => r.path === path)).toHaveLength(2);
    } finally {
      endpoint.answer = previous;
    }
  });
});
