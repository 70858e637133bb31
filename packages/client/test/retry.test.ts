// Safe retries of sendMessage: a transient failure is retried with the same client message
// ID, so a send whose response was lost is stored (and delivered) once (rule MSG-10).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Interceptor } from "@connectrpc/connect";
import type { SendMessageRequest } from "@narrowcast/gen";
import { ErrorReason, NarrowcastError, createAdminClient, createTextMessage } from "../src/index.js";
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

type Fault = "drop-response" | "fail-before-sending" | "none";

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

    const stored = (await alice.getHistory(app.groupId)).messages;
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
    expect((await alice.getHistory(app.groupId)).messages.map(textOf)).toEqual(["mine"]);
  });

  it("a rejection by the server is not retried", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const faults = faulty([]);
    const alice = await app.client("alice", { interceptors: [faults.interceptor], retry: fast });
    const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId, receiver: "mallory" }));
    expect(err).toMatchObject({ reason: ErrorReason.RECEIVER_NOT_MEMBER });
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
      expect((await bob.getHistory(app.groupId)).messages.map((m) => m.messageId)).toEqual([sent.messageId]);
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
