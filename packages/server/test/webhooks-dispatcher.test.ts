// The webhook dispatcher (rules HOOK-6 to HOOK-8, HOOK-13) against a real endpoint and an
// in-memory outbox: retries with the same webhook-id and jittered backoff, dead letters, the
// per-endpoint concurrency limit, push fanout to offline viewers, and a loop that survives its store.
import { afterEach, describe, expect, it, vi } from "vitest";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema, MessageSchema, type Event } from "@narrowcast/gen";
import { WebhookEventType } from "@narrowcast/gen/admin";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import { retryDelayMs, WebhookDispatcher, type DispatcherOptions } from "../src/webhooks/dispatcher.js";
import { eventBody } from "../src/webhooks/payloads.js";
import { FakeWebhookStore, type WebhookConfigInit } from "./webhooks-fake-store.js";
import { AppBackendReceiver, type Responder } from "./app-backend-receiver.js";

const log = pino({ level: "silent" });
const WAIT = { timeout: 10_000, interval: 10 };
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(responder?: Responder): Promise<AppBackendReceiver> {
  const r = await AppBackendReceiver.start(responder);
  cleanups.push(() => r.close());
  return r;
}

function dispatcher(store: FakeWebhookStore, opts: Partial<DispatcherOptions> = {}): WebhookDispatcher {
  const d = new WebhookDispatcher({
    store,
    presence: { onlineUsers: async () => new Set<string>() },
    log,
    now: () => Date.now(),
    retry: { baseMs: 20, capMs: 1_000, maxAttempts: 10 },
    pollMs: 10,
    ...opts,
  });
  d.start();
  cleanups.push(() => d.stop());
  return d;
}

function message(init: MessageInitShape<typeof MessageSchema> = {}) {
  return create(MessageSchema, {
    groupId: "g1",
    seq: 7n,
    messageId: "m1",
    senderId: "alice",
    serverTime: timestampFromMs(1_700_000_000_000),
    elements: [{ element: { case: "text", value: { text: "hello" } } }],
    ...init,
  });
}

function sent(init: MessageInitShape<typeof MessageSchema> = {}): Event {
  return create(EventSchema, { time: timestampFromMs(1_700_000_000_000), payload: { case: "messageReceived", value: { message: message(init) } } });
}

function app(store: FakeWebhookStore, url: string, config: Omit<WebhookConfigInit, "url"> = {}) {
  return store.setWebhook("app1", { url, eventTypes: [WebhookEventType.MESSAGE_SENT], ...config });
}

describe("retryDelayMs", () => {
  const retry = { baseMs: 1_000, capMs: 600_000, maxAttempts: 10 };
  it("is random in [d/2, d], d = min(base × 2^(n−1), cap)", () => {
    expect(retryDelayMs(1, retry, () => 0)).toBe(500);
    expect(retryDelayMs(1, retry, () => 0.999999)).toBe(1_000);
    expect(retryDelayMs(3, retry, () => 0)).toBe(2_000);
    expect(retryDelayMs(3, retry, () => 0.5)).toBe(3_000);
    expect(retryDelayMs(20, retry, () => 0)).toBe(300_000);
    expect(retryDelayMs(2_000, retry, () => 1)).toBe(600_000);
    for (let n = 1; n <= 12; n++) {
      const d = Math.min(1_000 * 2 ** (n - 1), 600_000);
      const delay = retryDelayMs(n, retry);
      expect(delay).toBeGreaterThanOrEqual(d / 2);
      expect(delay).toBeLessThanOrEqual(d);
    }
  });
});

describe("event deliveries", () => {
  it("a receiver that fails 3 times then succeeds gets the delivery, with the same webhook-id each time", async () => {
    const r = await receiver((_req, i) => ({ status: i < 3 ? 503 : 200 }));
    const store = new FakeWebhookStore();
    const webhook = app(store, r.url());
    const event = sent();
    store.addEventDelivery("app1", "msg_d1", event);
    const claimedApps = new Set<string>();
    dispatcher(store, { onClaim: (appId) => claimedApps.add(appId) });
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_d1"]), WAIT);
    expect(claimedApps).toEqual(new Set(["app1"]));
    expect(r.requests).toHaveLength(4);
    const expected = eventBody("app1", event, []);
    for (const request of r.requests) {
      expect(request.headers["webhook-id"]).toBe("msg_d1");
      expect(request.body).toBe(expected);
      expect(() => new Webhook(webhook.secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    }
    expect(store.retries.map((c) => [c.attemptsBefore, c.lastError, c.body])).toEqual([
      [0, "HTTP 503", expected],
      [1, "HTTP 503", expected],
      [2, "HTTP 503", expected],
    ]);
    expect(store.deliveries.size).toBe(0);
    expect(store.deadLetters).toEqual([]);
  });

  it("after maxAttempts the delivery is a dead letter with its last error and body; retries back off within [d/2, d]", async () => {
    const r = await receiver(() => ({ status: 500 }));
    const store = new FakeWebhookStore();
    app(store, r.url());
    store.addEventDelivery("app1", "msg_dead", sent());
    dispatcher(store, { retry: { baseMs: 20, capMs: 40, maxAttempts: 4 } });
    await vi.waitFor(() => expect(store.deadLetters).toHaveLength(1), WAIT);
    expect(store.deadLetters[0]).toMatchObject({
      deliveryId: "msg_dead",
      type: "message.sent",
      url: r.url(),
      attempts: 4,
      lastError: "HTTP 500",
      body: eventBody("app1", sent(), []),
    });
    expect(r.requests).toHaveLength(4);
    expect(store.deliveries.size).toBe(0);
    const bounds = [20, 40, 40]; // d for the 1st, 2nd, 3rd retry: min(20 × 2^(n−1), 40)
    expect(store.retries).toHaveLength(3);
    store.retries.forEach((c, i) => {
      expect(c.nextAttemptAt - c.now).toBeGreaterThanOrEqual(bounds[i] / 2);
      expect(c.nextAttemptAt - c.now).toBeLessThanOrEqual(bounds[i]);
    });
  });

  it("records a network error and a timeout as the attempt's error", async () => {
    const gone = await AppBackendReceiver.start();
    const goneUrl = gone.url();
    await gone.close();
    const store = new FakeWebhookStore();
    app(store, goneUrl);
    store.addEventDelivery("app1", "msg_refused", sent());
    const d = dispatcher(store, { retry: { baseMs: 20, capMs: 20, maxAttempts: 1 } });
    await vi.waitFor(() => expect(store.deadLetters).toHaveLength(1), WAIT);
    expect(store.deadLetters[0].lastError).toMatch(/ECONNREFUSED/);
    await d.stop();

    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    cleanups.push(async () => release());
    const silent = await receiver(() => ({ status: 200, hold }));
    app(store, silent.url());
    store.addEventDelivery("app1", "msg_silent", sent());
    dispatcher(store, { retry: { baseMs: 20, capMs: 20, maxAttempts: 1 }, attemptTimeoutMs: 100 });
    await vi.waitFor(() => expect(store.deadLetters).toHaveLength(2), WAIT);
    expect(store.deadLetters[1]).toMatchObject({ deliveryId: "msg_silent", lastError: "timeout after 100 ms" });
  });

  it("a redirect is not success", async () => {
    const r = await receiver(() => ({ status: 301, headers: { location: "/other" } }));
    const store = new FakeWebhookStore();
    app(store, r.url());
    store.addEventDelivery("app1", "msg_moved", sent());
    dispatcher(store, { retry: { baseMs: 20, capMs: 20, maxAttempts: 1 } });
    await vi.waitFor(() => expect(store.deadLetters).toHaveLength(1), WAIT);
    expect(store.deadLetters[0].lastError).toBe("HTTP 301");
    expect(r.requests.map((q) => q.path)).toEqual(["/hook"]);
  });

  it("a targeted message's deliveries name its receivers; a recall's come from the stored message", async () => {
    const r = await receiver();
    const store = new FakeWebhookStore();
    app(store, r.url(), { eventTypes: [WebhookEventType.MESSAGE_SENT, WebhookEventType.MESSAGE_RECALLED] });
    store.messages.set("m1", message({ receiverIds: ["bob", "carol"] }));
    store.addEventDelivery("app1", "msg_sent", sent({ receiverIds: ["bob", "carol"] }));
    const recall = create(EventSchema, { time: timestampFromMs(1_700_000_001_000), payload: { case: "messageRecalled", value: { groupId: "g1", messageId: "m1", seq: 7n } } });
    store.addEventDelivery("app1", "msg_recalled", recall, { type: "message.recalled" });
    const ordinaryRecall = create(EventSchema, { payload: { case: "messageRecalled", value: { groupId: "g1", messageId: "m2", seq: 8n } } });
    store.messages.set("m2", message({ messageId: "m2", seq: 8n }));
    store.addEventDelivery("app1", "msg_recalled2", ordinaryRecall, { type: "message.recalled" });
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toHaveLength(3), WAIT);
    const byId = new Map(r.requests.map((q) => [q.headers["webhook-id"], JSON.parse(q.body)]));
    expect(byId.get("msg_sent")).toMatchObject({ type: "message.sent", data: { receiverIds: ["bob", "carol"] } });
    expect(byId.get("msg_recalled")).toMatchObject({ type: "message.recalled", data: { receiverIds: ["bob", "carol"] } });
    expect(byId.get("msg_recalled2").data).not.toHaveProperty("receiverIds");
  });

  it("an event pruned before its first attempt becomes a dead letter without a request", async () => {
    const r = await receiver();
    const store = new FakeWebhookStore();
    app(store, r.url());
    store.addEventDelivery("app1", "msg_pruned", sent(), { pruned: true });
    dispatcher(store);
    await vi.waitFor(() => expect(store.deadLetters).toHaveLength(1), WAIT);
    expect(store.deadLetters[0]).toMatchObject({ deliveryId: "msg_pruned", lastError: "event no longer stored", url: r.url() });
    expect(r.requests).toEqual([]);
  });

  it("a delivery whose body was saved is sent with that body even if its event is gone", async () => {
    const r = await receiver();
    const store = new FakeWebhookStore();
    app(store, r.url());
    const d = store.addEventDelivery("app1", "msg_saved", sent(), { pruned: true });
    d.body = '{"type":"message.sent","saved":true}';
    d.attempts = 2;
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_saved"]), WAIT);
    expect(r.requests.map((q) => q.body)).toEqual([d.body]);
  });

  it("never has more than max_concurrent_deliveries attempts in flight to one endpoint", async () => {
    const r = await receiver(() => ({ status: 200, hold: new Promise((resolve) => setTimeout(resolve, 30)) }));
    const store = new FakeWebhookStore();
    app(store, r.url(), { maxConcurrentDeliveries: 2 });
    for (let i = 0; i < 10; i++) store.addEventDelivery("app1", `msg_c${i}`, sent());
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toHaveLength(10), WAIT);
    expect(r.maxInFlight).toBe(2);
    expect(r.requests).toHaveLength(10);
  });

  it("a claim that waited for a slot until too little of its lease is left is left to a new claim", async () => {
    let clock = 0;
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const attemptedAt: Array<[string, number]> = [];
    const r = await receiver((q, i) => {
      attemptedAt.push([String(q.headers["webhook-id"]), clock]);
      return { status: 200, hold: i === 0 ? hold : undefined };
    });
    const store = new FakeWebhookStore();
    app(store, r.url(), { maxConcurrentDeliveries: 1 });
    store.addEventDelivery("app1", "msg_l0", sent());
    store.addEventDelivery("app1", "msg_l1", sent());
    // Both are claimed at 0 until 2,000; an attempt may last 1,000.
    dispatcher(store, { now: () => clock, attemptTimeoutMs: 1_000, leaseMs: 2_000 });
    await vi.waitFor(() => expect(attemptedAt).toEqual([["msg_l0", 0]]), WAIT);
    // When msg_l1 gets the slot at 1,500, its claim could end mid-attempt: it waits for a new one.
    clock = 1_500;
    release();
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_l0"]), WAIT);
    clock = 2_000;
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_l0", "msg_l1"]), WAIT);
    expect(attemptedAt).toEqual([
      ["msg_l0", 0],
      ["msg_l1", 2_000],
    ]);
  });

  it("a delivery waiting for a slot does not start once its app's webhook is deleted", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const r = await receiver((_q, i) => ({ status: 200, hold: i === 0 ? hold : undefined }));
    const store = new FakeWebhookStore();
    app(store, r.url(), { maxConcurrentDeliveries: 1 });
    store.addEventDelivery("app1", "msg_w0", sent());
    store.addEventDelivery("app1", "msg_w1", sent());
    const d = dispatcher(store);
    await vi.waitFor(() => expect(r.requests).toHaveLength(1), WAIT);
    // DeleteWebhook: the configuration and the pending deliveries go; the attempt in flight finishes.
    store.webhooks.delete("app1");
    store.deliveries.clear();
    release();
    await vi.waitFor(() => expect(store.completeCalls).toEqual(["msg_w0"]), WAIT);
    // stop() waits for whatever msg_w1 does with the slot msg_w0 freed.
    await d.stop();
    expect(r.requests.map((q) => q.headers["webhook-id"])).toEqual(["msg_w0"]);
  });

  it("0 means 16 at a time", async () => {
    const r = await receiver(() => ({ status: 200, hold: new Promise((resolve) => setTimeout(resolve, 30)) }));
    const store = new FakeWebhookStore();
    app(store, r.url());
    for (let i = 0; i < 40; i++) store.addEventDelivery("app1", `msg_c${i}`, sent());
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toHaveLength(40), WAIT);
    expect(r.maxInFlight).toBe(16);
  });

  it("keeps working after store errors", async () => {
    const r = await receiver((_req, i) => ({ status: i === 0 ? 500 : 200 }));
    const store = new FakeWebhookStore();
    app(store, r.url());
    store.addEventDelivery("app1", "msg_flaky", sent());
    store.failures.set("claimDeliveries", 3);
    store.failures.set("retryDelivery", 1);
    dispatcher(store, { attemptTimeoutMs: 1_000, leaseMs: 1_200 });
    // The failed retryDelivery leaves the delivery leased; after the lease it is claimed again.
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_flaky"]), WAIT);
    expect(store.failures.get("claimDeliveries")).toBe(0);
    expect(store.failures.get("retryDelivery")).toBe(0);
    expect(r.requests.map((q) => q.headers["webhook-id"])).toEqual(["msg_flaky", "msg_flaky"]);
  });

  it("nudge looks at once; stop waits for the attempt in flight and claims nothing more", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const r = await receiver(() => ({ status: 200, hold }));
    const store = new FakeWebhookStore();
    app(store, r.url());
    const d = dispatcher(store, { pollMs: 0 });
    store.addEventDelivery("app1", "msg_nudged", sent());
    d.nudge();
    await vi.waitFor(() => expect(r.requests).toHaveLength(1), WAIT);
    let stopped = false;
    const stopping = d.stop().then(() => (stopped = true));
    store.addEventDelivery("app1", "msg_after_stop", sent());
    d.nudge();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(store.completed).toEqual(["msg_nudged"]);
    expect(r.requests).toHaveLength(1);
  });
});

describe("push fanout", () => {
  function fanoutStore(url: string, config: Omit<WebhookConfigInit, "url"> = {}) {
    const store = new FakeWebhookStore();
    app(store, url, { eventTypes: [WebhookEventType.PUSH_REQUESTED], ...config });
    return store;
  }
  const online = { onlineUsers: async (_appId: string, userIds: readonly string[]) => new Set(userIds.filter((u) => u === "carol")) };

  it("pushes to each viewer who is neither online nor the sender, at push_url", async () => {
    const events = await receiver();
    const pushes = await receiver();
    const store = fanoutStore(events.url(), { pushUrl: pushes.url("/push") });
    store.addEventDelivery("app1", "msg_f1", sent({ offlinePushInfo: { title: "t" } }), { kind: "fanout", viewers: ["alice", "bob", "carol", "dave"] });
    dispatcher(store, { presence: online });
    await vi.waitFor(() => expect(store.completed).toHaveLength(2), WAIT);
    expect(events.requests).toEqual([]);
    expect(pushes.requests.map((q) => q.path)).toEqual(["/push", "/push"]);
    const bodies = pushes.requests.map((q) => JSON.parse(q.body)).sort((a, b) => a.data.push.userId.localeCompare(b.data.push.userId));
    expect(bodies.map((b) => [b.type, b.data.push.userId, b.data.push.messageId, b.data.push.seq, b.data.push.offlinePushInfo])).toEqual([
      ["push.requested", "bob", "m1", "7", { title: "t" }],
      ["push.requested", "dave", "m1", "7", { title: "t" }],
    ]);
    const ids = pushes.requests.map((q) => q.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) expect(id).toMatch(/^msg_f1_/);
    expect(store.deliveries.size).toBe(0);
  });

  it("a targeted message pushes only to its offline receivers; without push_url to url", async () => {
    const r = await receiver();
    const store = fanoutStore(r.url());
    store.addEventDelivery("app1", "msg_t", sent({ receiverIds: ["bob", "carol"] }), { kind: "fanout", viewers: ["alice", "bob", "carol"] });
    dispatcher(store, { presence: online });
    await vi.waitFor(() => expect(store.completed).toHaveLength(1), WAIT);
    expect(r.requests.map((q) => [q.path, JSON.parse(q.body).data.push.userId, JSON.parse(q.body).data.push.targeted])).toEqual([["/hook", "bob", true]]);
  });

  it("none for a message recalled before its push requests are prepared", async () => {
    const r = await receiver();
    const store = fanoutStore(r.url());
    const event = sent();
    const m = event.payload.case === "messageReceived" ? event.payload.value.message! : undefined;
    store.messages.set(m!.messageId, message({ messageId: m!.messageId, groupId: m!.groupId, recall: { recalledBy: m!.senderId } }));
    store.addEventDelivery("app1", "msg_rc", event, { kind: "fanout", viewers: ["alice", "bob"] });
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_rc"]), WAIT);
    expect(r.requests).toEqual([]);
    expect(store.deliveries.size).toBe(0);
  });

  it("none for a message excluded from unread counts, unless the webhook opts in", async () => {
    const r = await receiver();
    const store = fanoutStore(r.url());
    store.addEventDelivery("app1", "msg_x", sent({ excludeFromUnread: true }), { kind: "fanout", viewers: ["alice", "bob"] });
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_x"]), WAIT);
    expect(store.deliveries.size).toBe(0);
    expect(r.requests).toEqual([]);

    const optedIn = fanoutStore(r.url(), { pushExcludedFromUnread: true });
    optedIn.addEventDelivery("app1", "msg_x2", sent({ excludeFromUnread: true }), { kind: "fanout", viewers: ["alice", "bob"] });
    dispatcher(optedIn);
    await vi.waitFor(() => expect(optedIn.completed).toEqual(["msg_x2_bob"]), WAIT);
    expect(r.requests.map((q) => JSON.parse(q.body).data.push.userId)).toEqual(["bob"]);
  });

  it("none when the app no longer asks for push requests", async () => {
    const r = await receiver();
    const store = new FakeWebhookStore();
    app(store, r.url(), { eventTypes: [WebhookEventType.MESSAGE_SENT] });
    store.addEventDelivery("app1", "msg_np", sent(), { kind: "fanout", viewers: ["alice", "bob"] });
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_np"]), WAIT);
    expect(r.requests).toEqual([]);
  });

  it("a failing push is retried like any delivery", async () => {
    const r = await receiver((_req, i) => ({ status: i === 0 ? 502 : 200 }));
    const store = fanoutStore(r.url());
    store.addEventDelivery("app1", "msg_pr", sent(), { kind: "fanout", viewers: ["bob"] });
    dispatcher(store);
    await vi.waitFor(() => expect(store.completed).toEqual(["msg_pr_bob"]), WAIT);
    expect(r.requests.map((q) => q.headers["webhook-id"])).toEqual(["msg_pr_bob", "msg_pr_bob"]);
    expect(store.retries.map((c) => c.lastError)).toEqual(["HTTP 502"]);
  });
});
