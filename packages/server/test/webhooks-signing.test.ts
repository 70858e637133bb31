// Signed requests to an app's endpoints (rules HOOK-3, HOOK-4, HOOK-14): the headers verify with
// the `standardwebhooks` library, with either secret during a rotation's grace period; postSigned
// reports every outcome without throwing; TestWebhook reports what the endpoint answered.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { newWebhookSecret } from "../src/webhooks/secrets.js";
import { signedHeaders } from "../src/webhooks/signing.js";
import { postSigned } from "../src/webhooks/post.js";
import { testWebhook } from "../src/webhooks/test-webhook.js";
import type { WebhookRecord } from "../src/store/webhooks.js";
import { FakeWebhookStore } from "./webhooks-fake-store.js";
import { AppBackendReceiver } from "./app-backend-receiver.js";

const BODY = JSON.stringify({ type: "webhook.test", data: { appId: "app1" } });

function record(extra: Partial<WebhookRecord> = {}, url = "http://127.0.0.1:1/"): WebhookRecord {
  return new FakeWebhookStore().setWebhook("app1", { url }, extra);
}

describe("secrets", () => {
  it("are whsec_ and the base64 of 32 random bytes", () => {
    const a = newWebhookSecret();
    const b = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice("whsec_".length), "base64")).toHaveLength(32);
    expect(a).not.toBe(b);
  });
});

describe("signedHeaders", () => {
  it("verify with the standardwebhooks library, and a tampered body does not", () => {
    const webhook = record();
    const now = Date.now();
    const headers = signedHeaders(webhook, "msg_abc", BODY, now);
    expect(headers["content-type"]).toBe("application/json");
    expect(headers["webhook-id"]).toBe("msg_abc");
    expect(headers["webhook-timestamp"]).toBe(String(Math.floor(now / 1000)));
    expect(headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(webhook.secret).verify(BODY, headers)).toEqual(JSON.parse(BODY));
    expect(() => new Webhook(webhook.secret).verify(BODY.replace("app1", "app2"), headers)).toThrow();
    expect(() => new Webhook(newWebhookSecret()).verify(BODY, headers)).toThrow();
    expect(() => new Webhook(webhook.secret).verify(BODY, { ...headers, "webhook-id": "msg_other" })).toThrow();
  });

  it("sign with both secrets during the grace period, the current one first, and with one after it", () => {
    const previousSecret = newWebhookSecret();
    const now = Date.now();
    const webhook = record({ previousSecret, previousSecretExpiresAt: now + 60_000 });
    const headers = signedHeaders(webhook, "msg_grace", BODY, now);
    const signatures = headers["webhook-signature"].split(" ");
    expect(signatures).toHaveLength(2);
    expect(signatures[0]).toBe(new Webhook(webhook.secret).sign("msg_grace", new Date(now), BODY));
    expect(signatures[1]).toBe(new Webhook(previousSecret).sign("msg_grace", new Date(now), BODY));
    expect(() => new Webhook(webhook.secret).verify(BODY, headers)).not.toThrow();
    expect(() => new Webhook(previousSecret).verify(BODY, headers)).not.toThrow();

    const expired = signedHeaders({ ...webhook, previousSecretExpiresAt: now }, "msg_grace", BODY, now);
    expect(expired["webhook-signature"].split(" ")).toHaveLength(1);
    expect(() => new Webhook(previousSecret).verify(BODY, expired)).toThrow();
    expect(() => new Webhook(webhook.secret).verify(BODY, expired)).not.toThrow();
  });
});

describe("postSigned", () => {
  let receiver: AppBackendReceiver;
  beforeAll(async () => {
    receiver = await AppBackendReceiver.start();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it("POSTs the signed body and returns the status and the answer", async () => {
    receiver.respond(() => ({ status: 200, body: '{"ok":true}' }));
    const webhook = record();
    const before = receiver.requests.length;
    const result = await postSigned(receiver.url(), webhook, "msg_post", BODY, { timeoutMs: 5_000, nowMs: Date.now() });
    expect(result).toMatchObject({ status: 200, text: '{"ok":true}' });
    expect(result.error).toBeUndefined();
    const request = receiver.requests[before];
    expect(request.method).toBe("POST");
    expect(request.path).toBe("/hook");
    expect(request.body).toBe(BODY);
    expect(request.headers["content-type"]).toBe("application/json");
    expect(new Webhook(webhook.secret).verify(request.body, request.headers as Record<string, string>)).toEqual(JSON.parse(BODY));
  });

  it("does not follow a redirect", async () => {
    receiver.respond((r) => (r.path === "/hook" ? { status: 307, headers: { location: "/elsewhere" } } : { status: 200 }));
    const before = receiver.requests.length;
    const result = await postSigned(receiver.url(), record(), "msg_redirect", BODY, { timeoutMs: 5_000, nowMs: Date.now() });
    expect(result.status).toBe(307);
    expect(receiver.requests.slice(before).map((r) => r.path)).toEqual(["/hook"]);
  });

  it("reads at most maxResponseBytes of the answer", async () => {
    receiver.respond(() => ({ status: 200, body: "x".repeat(100_000) }));
    const result = await postSigned(receiver.url(), record(), "msg_big", BODY, { timeoutMs: 5_000, nowMs: Date.now(), maxResponseBytes: 1000 });
    expect(result.status).toBe(200);
    expect(result.text).toHaveLength(1000);
  });

  it("reports a timeout as status 0", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    receiver.respond(() => ({ status: 200, hold }));
    const result = await postSigned(receiver.url(), record(), "msg_slow", BODY, { timeoutMs: 100, nowMs: Date.now() });
    release();
    expect(result).toMatchObject({ status: 0, error: "timeout after 100 ms" });
  });

  it("reports a refused connection as status 0 with the network error", async () => {
    const closed = await AppBackendReceiver.start();
    const url = closed.url();
    await closed.close();
    const result = await postSigned(url, record(), "msg_refused", BODY, { timeoutMs: 5_000, nowMs: Date.now() });
    expect(result.status).toBe(0);
    expect(result.error).toMatch(/ECONNREFUSED/);
  });
});

describe("testWebhook", () => {
  it("sends one signed webhook.test and reports the status; an error unless 2xx", async () => {
    const receiver = await AppBackendReceiver.start(() => ({ status: 204 }));
    const url = receiver.url();
    try {
      const webhook = record({}, receiver.url());
      const ok = await testWebhook(webhook, Date.now());
      expect(ok).toMatchObject({ httpStatus: 204, error: "" });
      expect(receiver.requests).toHaveLength(1);
      const sent = new Webhook(webhook.secret).verify(receiver.requests[0].body, receiver.requests[0].headers as Record<string, string>);
      expect(sent).toMatchObject({ type: "webhook.test", data: { appId: "app1" } });
      expect(receiver.requests[0].headers["webhook-id"]).toMatch(/^msg_/);

      receiver.respond(() => ({ status: 500 }));
      expect(await testWebhook(webhook, Date.now())).toMatchObject({ httpStatus: 500, error: "HTTP 500" });
      expect(receiver.requests).toHaveLength(2);
    } finally {
      await receiver.close();
    }
    const gone = await testWebhook(record({}, url), Date.now());
    expect(gone.httpStatus).toBe(0);
    expect(gone.error).not.toBe("");
  });
});
