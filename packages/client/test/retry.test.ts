// Safe retries of sendMessage: a transient failure is retried with the same client message
// ID, so a send whose response was lost is stored (and delivered) once (rule MSG-10).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema, RetryInfoSchema } from "@narrowcast/gen";
import type { SendMessageRequest } from "@narrowcast/gen";
import { NarrowcastError, Reason, createAdminClient, createTextMessage } from "../src/index.js";
import { Recorder, rejection, startFixture, textOf } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

const fast = { baseDelayMs: 1, maxDelayMs: 5 };

type Fault = "drop-response" | "fail-before-sending" | "rate-limited" | "rate-limited-long" | "none";

/** RATE_LIMITED as a server sends it: ErrorInfo plus RetryInfo (rule ERR-5). */
function rateLimited(delayMs: number): ConnectError {
  return new ConnectError("rate limited (injected)", Code.ResourceExhausted, undefined, [
    { desc: ErrorInfoSchema, value: { reason: "RATE_LIMITED", domain: "narrowcast", metadata: {} } },
    {
      desc: RetryInfoSchema,
      value: { retryDelay: { seconds: BigInt(Math.floor(delayMs / 1000)), nanos: (delayMs % 1000) * 1_000_000 } },
    },
  ]);
}

/**
 * A fault injector for SendMessage: the n-th call (0-based) suffers faults[n]. It records the
 * client message ID of every call that reached it.
 */
function faulty(faults: Fault[]) {
  const ids: string[] = [];
  const interceptor: Interceptor = (next) => async (req) => {
    if (req.method.name !== "SendMessage") {
      return next(req);
    }
    const message = req.message as SendMessageRequest & { message?: SendMessageRequest };
    ids.push(message.clientMessageId || message.message?.clientMessageId || "");
    const fault = faults[ids.length - 1] ?? "none";
    if (fault === "fail-before-sending") {
      throw new ConnectError("connection refused (injected)", Code.Unavailable);
    }
    if (fault === "rate-limited") {
      throw rateLimited(120);
    }
    if (fault === "rate-limited-long") {
      throw rateLimited(60_000);
    }
    const response = await next(req);
    if (fault === "drop-response") {
      // The server has stored the message; the client never hears of it.
      throw new ConnectError("response lost (injected)", Code.Unavailable);
    }
    return response;
  };
  return { interceptor, ids };
}

describe("sendMessage retries", () => {
  it("a send whose response was lost is retried with the same ID and stored and delivered once", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty(["drop-response"]);
    const alice = await app.client("alice", { interceptors: [faults.interceptor], retry: fast });
    const bob = await app.client("bob");
    const recorder = new Recorder(bob);
    await bob.connect();

    const sent = await alice.sendMessage(createTextMessage("exactly once"), { groupId: app.groupId });
    expect(faults.ids).toHaveLength(2);
    expect(faults.ids[1]).toBe(faults.ids[0]);
    expect(sent.clientMessageId).toBe(faults.ids[0]);

    const stored = (await alice.listMessages(app.groupId)).items;
    expect(stored.map((m) => m.messageId)).toEqual([sent.messageId]);
    await alice.sendMessage(createTextMessage("marker"), { groupId: app.groupId });
    await recorder.untilText("marker");
    expect(recorder.texts()).toEqual(["exactly once", "marker"]);
  });

  it("a given client message ID is the one reused by every attempt", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty(["fail-before-sending", "drop-response"]);
    const alice = await app.client("alice", { interceptors: [faults.interceptor], retry: fast });
    const sent = await alice.sendMessage(createTextMessage("mine"), { groupId: app.groupId, clientMessageId: "my-key-1" });
    expect(faults.ids).toEqual(["my-key-1", "my-key-1", "my-key-1"]);
    expect(sent.clientMessageId).toBe("my-key-1");
    expect((await alice.listMessages(app.groupId)).items.map(textOf)).toEqual(["mine"]);
  });

  it("a rejection by the server is not retried", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty([]);
    const alice = await app.client("alice", { interceptors: [faults.interceptor], retry: fast });
    const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId, receiver: "mallory" }));
    expect(err).toMatchObject({ reason: Reason.RECEIVER_NOT_MEMBER });
    expect(faults.ids).toHaveLength(1);
  });

  it("a RetryInfo delay is waited for before the retry (RATE_LIMITED)", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty(["rate-limited"]);
    // maxDelayMs bounds the wait the SDK accepts from a server too: allow the 120 ms asked.
    const alice = await app.client("alice", { interceptors: [faults.interceptor], retry: { ...fast, maxDelayMs: 500 } });
    const started = Date.now();
    const sent = await alice.sendMessage(createTextMessage("after the wait"), { groupId: app.groupId });
    expect(Date.now() - started).toBeGreaterThanOrEqual(115);
    expect(faults.ids).toHaveLength(2);
    expect(faults.ids[1]).toBe(faults.ids[0]);
    expect(sent.clientMessageId).toBe(faults.ids[0]);
  });

  it("a RetryInfo delay longer than maxDelayMs is not waited for: the error is thrown with it", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty(["rate-limited-long"]);
    const alice = await app.client("alice", { interceptors: [faults.interceptor], retry: fast });
    const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId }));
    expect(err).toMatchObject({ code: Code.ResourceExhausted, reason: Reason.RATE_LIMITED, retryDelayMs: 60_000 });
    expect(faults.ids).toHaveLength(1);
  });

  it("gives up after maxAttempts with the last transient error; retry: false means one attempt", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty(Array(10).fill("fail-before-sending"));
    const alice = await app.client("alice", { interceptors: [faults.interceptor], retry: { ...fast, maxAttempts: 3 } });
    const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId }));
    expect(err).toBeInstanceOf(NarrowcastError);
    expect(err).toMatchObject({ code: Code.Unavailable });
    expect(faults.ids).toHaveLength(3);

    await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId, retry: false }));
    expect(faults.ids).toHaveLength(4);
  });

  it("an aborted signal stops the retries", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const controller = new AbortController();
    const faults = faulty(Array(10).fill("fail-before-sending"));
    const abortOnSecond: Interceptor = (next) => async (req) => {
      if (faults.ids.length === 1) {
        controller.abort();
      }
      return next(req);
    };
    const alice = await app.client("alice", { interceptors: [abortOnSecond, faults.interceptor], retry: { ...fast, maxAttempts: 10 } });
    const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId, signal: controller.signal }));
    expect(err).toMatchObject({ code: Code.Canceled });
    expect(faults.ids.length).toBeLessThan(10);
  });

  it("the admin client retries system messages the same way", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty(["drop-response"]);
    const admin = createAdminClient({
      baseUrl: fx.server.url,
      adminKey: fx.server.adminKey,
      interceptors: [faults.interceptor],
      retry: fast,
    });
    try {
      const sent = await admin.sendMessage(app.appId, createTextMessage("system once"), { groupId: app.groupId });
      expect(faults.ids).toHaveLength(2);
      expect(faults.ids[1]).toBe(faults.ids[0]);
      const bob = await app.client("bob");
      expect((await bob.listMessages(app.groupId)).items.map((m) => m.messageId)).toEqual([sent.messageId]);
    } finally {
      await admin.close();
    }
  });

  it("a closed client refuses to send, without a network call", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty([]);
    const alice = await app.client("alice", { interceptors: [faults.interceptor] });
    await alice.close();
    const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId }));
    expect(err).toMatchObject({ code: Code.Canceled });
    expect(faults.ids).toHaveLength(0);
  });
});

describe("the reference server's rate limit (MSG-5) with RetryInfo (ERR-5)", () => {
  let limited: Fixture;
  beforeAll(async () => {
    limited = await startFixture({ rateLimitPerSecond: 2 });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it("RATE_LIMITED carries a RetryInfo delay, and sendMessage's retries get a burst through", async () => {
    const app = await limited.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    // Without retries, a burst beyond the bucket is refused with the wait until the next token.
    const burst = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => alice.sendMessage(createTextMessage(`raw ${i}`), { groupId: app.groupId, retry: false })),
    );
    const refused = burst.flatMap((r) => (r.status === "rejected" ? [r.reason as NarrowcastError] : []));
    expect(refused.length).toBeGreaterThan(0);
    for (const err of refused) {
      expect(err).toMatchObject({ code: Code.ResourceExhausted, reason: Reason.RATE_LIMITED, domain: "narrowcast" });
      expect(err.retryDelayMs).toBeGreaterThanOrEqual(1);
      expect(err.retryDelayMs).toBeLessThanOrEqual(1_000);
    }
    // With retries (the default), every send of a burst is stored, each once.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const texts = Array.from({ length: 4 }, (_, i) => `retried ${i}`);
    await Promise.all(
      texts.map((text) => alice.sendMessage(createTextMessage(text), { groupId: app.groupId, retry: { maxAttempts: 20, baseDelayMs: 10 } })),
    );
    const stored = (await alice.listMessages(app.groupId, { pageSize: 100 })).items.map(textOf);
    expect(stored.filter((t) => t.startsWith("retried")).sort()).toEqual(texts);
  });
});
