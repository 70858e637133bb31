// Live events through the SDK: handlers and iterators, several devices, every event type,
// fatal errors, resume from a saved cursor, and every protocol / HTTP version pair.
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Code,
  NarrowcastError,
  Reason,
  createClient,
  createTargetedGroupMessage,
  createTextMessage,
  isTargeted,
} from "../src/index.js";
import type { ClientEvent, ErrorEvent, Protocol } from "../src/index.js";
import { Recorder, rejection, startFixture, textOf } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe("events on several devices", () => {
  it("a targeted message reaches every device of its receivers and of its sender, and nobody else", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const devices = {
      alice1: await app.client("alice"),
      alice2: await app.client("alice"),
      bob1: await app.client("bob"),
      bob2: await app.client("bob"),
      carol: await app.client("carol"),
    };
    const recorders = Object.fromEntries(Object.entries(devices).map(([k, c]) => [k, new Recorder(c)]));
    await Promise.all(Object.values(devices).map((c) => c.connect()));

    const secret = await devices.alice1.sendMessage(createTargetedGroupMessage(createTextMessage("secret"), ["bob"]), {
      groupId: app.groupId,
    });
    // Events of one group arrive in order (EVT-8): once the marker is in, so is everything before it.
    await devices.alice1.sendMessage(createTextMessage("marker"), { groupId: app.groupId });
    await Promise.all(Object.values(recorders).map((r) => r.untilText("marker")));

    for (const name of ["alice1", "alice2", "bob1", "bob2"]) {
      expect(recorders[name].texts(), name).toEqual(["secret", "marker"]);
      expect(recorders[name].messages()[0]).toMatchObject({ messageId: secret.messageId, receiverIds: ["bob"] });
      expect(isTargeted(recorders[name].messages()[0])).toBe(true);
    }
    expect(recorders.carol.texts()).toEqual(["marker"]);
  });

  it("every event type reaches on() handlers", async () => {
    const app = await fx.app({ users: ["alice", "bob", "dave"] });
    await fx.admin.removeMembers(app.appId, app.groupId, ["dave"]);
    const alice = await app.client("alice");
    const bob1 = await app.client("bob");
    const bob2 = await app.client("bob");
    const seen: string[] = [];
    const record = (event: ClientEvent) => {
      seen.push(event.type);
    };
    const recorder = new Recorder(bob2);
    for (const type of ["messageReceived", "messageRecalled", "conversationChanged", "memberJoined", "memberLeft", "groupDismissed"] as const) {
      bob2.on(type, record);
    }
    await Promise.all([alice.connect(), bob1.connect(), bob2.connect()]);

    await fx.admin.addMembers(app.appId, app.groupId, ["dave"]);
    const joined = await recorder.until((e) => e.type === "memberJoined");
    expect(joined).toMatchObject({ groupId: app.groupId, member: { userId: "dave" } });

    await fx.admin.removeMembers(app.appId, app.groupId, ["dave"]);
    expect(await recorder.until((e) => e.type === "memberLeft")).toMatchObject({ groupId: app.groupId, userId: "dave" });

    const sent = await alice.sendMessage(createTextMessage("oops"), { groupId: app.groupId });
    await recorder.untilText("oops");
    await alice.recallMessage(app.groupId, sent.messageId);
    const recalled = await recorder.until((e) => e.type === "messageRecalled");
    expect(recalled).toMatchObject({ groupId: app.groupId, messageId: sent.messageId, seq: sent.seq, recall: { recalledBy: "alice" } });

    // Read on one device: the other device of the same user hears of it (UNR-3).
    await bob1.markConversationRead(app.groupId);
    const changed = await recorder.until((e) => e.type === "conversationChanged");
    expect(changed).toMatchObject({ conversation: { groupId: app.groupId, unreadCount: 0, readSeq: sent.seq } });
    expect(typeof (changed as { conversation: { readSeq: unknown } }).conversation.readSeq).toBe("number");

    await fx.admin.dismissGroup(app.appId, app.groupId);
    expect(await recorder.until((e) => e.type === "groupDismissed")).toMatchObject({ groupId: app.groupId });

    expect(seen).toEqual(["memberJoined", "memberLeft", "messageReceived", "messageRecalled", "conversationChanged", "groupDismissed"]);
    for (const event of recorder.events.filter((e) => e.type !== "ready")) {
      expect("cursor" in event && event.cursor).not.toBe("");
    }
  });

  it("the returned function (and off) removes a handler", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const bob = await app.client("bob");
    const recorder = new Recorder(bob);
    const removed: string[] = [];
    const unsubscribe = bob.on("messageReceived", (e) => removed.push(textOf(e.message)));
    const handler = (e: { message: { elements: unknown[] } }) => removed.push(String(e.message.elements.length));
    bob.on("messageReceived", handler);
    bob.off("messageReceived", handler);
    unsubscribe();
    await bob.connect();
    await alice.sendMessage(createTextMessage("hello"), { groupId: app.groupId });
    await recorder.untilText("hello");
    expect(removed).toEqual([]);
  });
});

describe("async iterator", () => {
  it("yields ready, then events in order, and ends on close()", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const bob = await app.client("bob");
    const iterator = bob.events();
    const first = await iterator.next();
    expect(first.value).toMatchObject({ type: "ready" });
    for (const text of ["one", "two", "three"]) {
      await alice.sendMessage(createTextMessage(text), { groupId: app.groupId });
    }
    const texts: string[] = [];
    for await (const event of iterator) {
      if (event.type === "messageReceived") {
        texts.push(textOf(event.message));
        if (texts.length === 3) {
          break;
        }
      }
    }
    expect(texts).toEqual(["one", "two", "three"]);

    const another = bob.events();
    const drained = (async () => {
      const rest: ClientEvent[] = [];
      for await (const event of another) {
        rest.push(event);
      }
      return rest;
    })();
    await bob.close();
    expect(await drained).toEqual([]);
    await expect(bob.connect()).rejects.toMatchObject({ code: Code.Canceled });
  });
});

describe("fatal errors", () => {
  it("a bad token stops the stream: 'error' handler, connect() and the iterator all report it", async () => {
    const client = createClient({ baseUrl: fx.server.url, token: "forged" });
    try {
      const errors: ErrorEvent[] = [];
      const reconnects: unknown[] = [];
      client.on("error", (e) => errors.push(e));
      client.on("reconnecting", (e) => reconnects.push(e));
      const iterator = client.events();
      const connectError = await rejection(() => client.connect());
      expect(connectError).toBeInstanceOf(NarrowcastError);
      expect(connectError).toMatchObject({ code: Code.Unauthenticated, reason: Reason.TOKEN_INVALID });
      await expect(iterator.next()).rejects.toBe(connectError);
      expect(errors.map((e) => e.error)).toEqual([connectError]);
      expect(reconnects).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("an expired token is fatal with a fixed token, and retried once with getToken (TOKEN_EXPIRED)", async () => {
    const app = await fx.admin.createApp({ plan: "ultimate" });
    await fx.admin.importUsers(app.appId, ["alice"]);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer(app.appId)
      .setSubject("alice")
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(Buffer.from(app.secret, "base64url"));

    const fixed = createClient({ baseUrl: fx.server.url, token: expired });
    try {
      await expect(fixed.connect()).rejects.toMatchObject({ code: Code.Unauthenticated, reason: Reason.TOKEN_EXPIRED });
    } finally {
      await fixed.close();
    }

    const tokens = [expired, await fx.admin.issueUserToken(app.appId, "alice")];
    const refreshing = createClient({ baseUrl: fx.server.url, getToken: () => (tokens.length > 1 ? (tokens.shift() as string) : tokens[0]), reconnect: { baseDelayMs: 1 } });
    try {
      const reconnects: NarrowcastError[] = [];
      refreshing.on("reconnecting", (e) => reconnects.push(e.error));
      await refreshing.connect();
      expect(reconnects.map((e) => e.reason)).toEqual([Reason.TOKEN_EXPIRED]);
    } finally {
      await refreshing.close();
    }
  });

  it("getToken is called for every request, so a fresh token can replace an expired one", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    let calls = 0;
    const client = createClient({
      baseUrl: fx.server.url,
      getToken: async () => {
        calls++;
        return app.token("alice");
      },
    });
    try {
      await client.listConversations();
      await client.sendMessage(createTextMessage("hi"), { groupId: app.groupId });
      expect(calls).toBe(2);
    } finally {
      await client.close();
    }
  });
});

describe("resume from a saved cursor", () => {
  it("a new client given the previous run's cursor receives exactly what it missed", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const first = await app.client("bob");
    const recorder = new Recorder(first);
    await first.connect();
    await alice.sendMessage(createTextMessage("seen"), { groupId: app.groupId });
    await recorder.untilText("seen");
    const saved = first.cursor;
    expect(saved).not.toBe("");
    await first.close();

    for (const text of ["missed 1", "missed 2"]) {
      await alice.sendMessage(createTextMessage(text), { groupId: app.groupId });
    }
    const second = await app.client("bob", { cursor: saved });
    const resumed = new Recorder(second);
    await second.connect();
    await alice.sendMessage(createTextMessage("live"), { groupId: app.groupId });
    await resumed.untilText("live");
    expect(resumed.texts()).toEqual(["missed 1", "missed 2", "live"]);
  });

  it("a malformed cursor is a fatal CURSOR_INVALID", async () => {
    const app = await fx.app({ users: ["alice"] });
    const client = await app.client("alice", { cursor: "not-a-cursor" });
    await expect(client.connect()).rejects.toMatchObject({ code: Code.InvalidArgument, reason: Reason.CURSOR_INVALID });
  });
});

describe("every protocol", () => {
  const combos: { protocol: Protocol; httpVersion: "1.1" | "2" }[] = [
    { protocol: "connect", httpVersion: "2" },
    { protocol: "grpc", httpVersion: "2" },
    { protocol: "grpc-web", httpVersion: "2" },
    { protocol: "connect", httpVersion: "1.1" },
    { protocol: "grpc-web", httpVersion: "1.1" },
  ];
  for (const { protocol, httpVersion } of combos) {
    it(`${protocol} over HTTP/${httpVersion}: send, receive, typed errors`, async () => {
      const app = await fx.app({ users: ["alice", "bob"] });
      const alice = await app.client("alice", { protocol, httpVersion });
      const bob = await app.client("bob", { protocol, httpVersion });
      const recorder = new Recorder(bob);
      await bob.connect();
      await alice.sendMessage(createTextMessage("over the wire"), { groupId: app.groupId, receiver: "bob" });
      const event = await recorder.untilText("over the wire");
      expect(event).toMatchObject({ message: { receiverIds: ["bob"] } });
      const err = await rejection(() => alice.sendMessage(createTextMessage("x"), { groupId: app.groupId, receiver: "mallory" }));
      expect(err).toMatchObject({ reason: Reason.RECEIVER_NOT_MEMBER, ids: ["mallory"] });
    });
  }

  it("gRPC over HTTP/1.1 is refused up front", () => {
    expect(() => createClient({ baseUrl: fx.server.url, token: "t", protocol: "grpc", httpVersion: "1.1" })).toThrow(/HTTP\/2/);
  });
});
