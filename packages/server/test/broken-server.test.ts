// The checks can fail: each scenario below, written like the suite's tests, passes against the
// reference server and fails against a server whose store was deliberately broken through the
// `wrapStore` test hook (a leak of targeted messages, a lossy replay, a forgotten idempotency key).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import type { Store } from "@narrowcast/server";
import { AppFixture, TestServer, expectError, isMessage, receivedOf } from "./support.js";

type Scenario = (server: TestServer) => Promise<void>;

/** A store that delegates everything to `inner` except the methods in `overrides`. */
function breakStore(overrides: (inner: Store) => Partial<Store>): (inner: Store) => Store {
  return (inner) => {
    const patched = overrides(inner);
    return new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop in patched) return patched[prop as keyof Store];
        const value = Reflect.get(target, prop, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
}

const scenarios: { name: string; scenario: Scenario; broken: (inner: Store) => Store }[] = [
  {
    name: "TGT-4: a non-receiver's stream and history never show a targeted message",
    broken: breakStore((inner) => ({
      // Stores targeted messages as ordinary ones: everyone gets them.
      appendMessage: (input) => {
        input.message.receiverIds = [];
        return inner.appendMessage(input);
      },
    })),
    scenario: async (server) => {
      const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "dave"] });
      const g = await app.group(GroupType.WORK, "alice", ["bob", "dave"]);
      const dave = await app.user("dave").subscribe();
      await app.user("alice").send(g, "secret", { receiverIds: ["bob"] });
      await app.user("alice").send(g, "public");
      await dave.expectNone(isMessage("secret"), isMessage("public"));
      expect((await app.user("dave").history(g)).map((m) => m.seq)).toEqual([2n]);
      dave.close();
    },
  },
  {
    name: "MSG-14: GetMessage of an invisible message is MESSAGE_NOT_FOUND",
    broken: breakStore((inner) => ({
      // Ignores the viewer and loses the audience: the service's own VIS-1 check then lets it out.
      getMessage: async (appId, groupId, messageId) => {
        const message = await inner.getMessage(appId, groupId, messageId, null);
        if (message) message.receiverIds = [];
        return message;
      },
    })),
    scenario: async (server) => {
      const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "dave"] });
      const g = await app.group(GroupType.WORK, "alice", ["bob", "dave"]);
      const secret = await app.user("alice").send(g, "secret", { receiverIds: ["bob"] });
      await expectError(app.user("dave").messages.getMessage({ groupId: g, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    },
  },
  {
    name: "EVT-3: a resume replays every missed event",
    broken: breakStore((inner) => ({
      // Loses the first event of every replay page.
      readEvents: async (appId, userId, after, limit) => (await inner.readEvents(appId, userId, after, limit)).slice(1),
    })),
    scenario: async (server) => {
      const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
      const g = await app.group(GroupType.WORK, "alice", ["bob"]);
      const first = await app.user("bob").subscribe();
      const cursor = first.lastCursor;
      first.close();
      const sent = [await app.user("alice").send(g, "m1"), await app.user("alice").send(g, "m2")];
      const resumed = await app.user("bob").subscribe({ cursor });
      expect(resumed.replayed.map((e) => receivedOf(e)?.messageId)).toEqual(sent.map((m) => m.messageId));
      resumed.close();
    },
  },
  {
    name: "MSG-10: a retry returns the original message",
    // Forgets idempotency keys.
    broken: breakStore((inner) => ({
      findSent: async () => undefined,
      appendMessage: (input) => {
        input.message.clientMessageId = "";
        return inner.appendMessage(input);
      },
    })),
    scenario: async (server) => {
      const app = await AppFixture.create(server, "connect", { users: ["alice"] });
      const g = await app.group(GroupType.WORK, "alice");
      const a = await app.user("alice").send(g, "once", { clientMessageId: "k" });
      const b = await app.user("alice").send(g, "once", { clientMessageId: "k" });
      expect(b.messageId).toBe(a.messageId);
      expect(await app.user("alice").history(g)).toHaveLength(1);
    },
  },
];

describe.each(scenarios)("$name", ({ scenario, broken }) => {
  let good: TestServer;
  let bad: TestServer;
  beforeAll(async () => {
    [good, bad] = await Promise.all([TestServer.start(), TestServer.start({ wrapStore: broken })]);
  });
  afterAll(async () => {
    await Promise.all([good?.close(), bad?.close()]);
  });

  it("passes against the reference server", async () => {
    await scenario(good);
  });

  it("fails against a server broken on purpose", async () => {
    await expect(scenario(bad)).rejects.toThrow();
  });
});
