// Reconnect and resume under forced disconnects: a proxy we control kills the receiver's
// (and a sender's) connections many times while messages keep flowing. The receiver must
// end up with every message of the group exactly once, in seq order, and every retried send
// must be stored once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, createTextMessage } from "../src/index.js";
import type { Message, NarrowcastClient, Protocol } from "../src/index.js";
import { ChaosProxy } from "./chaos-proxy.js";
import { Recorder, startFixture, textOf } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
let proxy: ChaosProxy;
beforeAll(async () => {
  fx = await startFixture();
  proxy = await ChaosProxy.start(fx.server.url);
});
afterAll(async () => {
  await proxy?.close();
  await fx?.close();
});

const ROUNDS = 12;
const fast = { baseDelayMs: 1, maxDelayMs: 40 };

/** All stored messages of the group, ascending by seq, walked page by page from the start. */
async function history(client: NarrowcastClient, groupId: string): Promise<Message[]> {
  const messages: Message[] = [];
  for await (const message of client.messages(groupId, { pageSize: 10 })) {
    messages.push(message);
  }
  // The default walk goes back from the latest message.
  return messages.reverse();
}

const combos: { protocol: Protocol; httpVersion: "1.1" | "2" }[] = [
  { protocol: "connect", httpVersion: "2" },
  { protocol: "grpc", httpVersion: "2" },
  { protocol: "grpc-web", httpVersion: "1.1" },
];

describe("reconnect and resume", () => {
  for (const { protocol, httpVersion } of combos) {
    it(`${protocol} over HTTP/${httpVersion}: no message lost or repeated across ${ROUNDS} forced disconnects`, async () => {
      const app = await fx.app({ users: ["alice", "bob"] });
      const direct = await app.client("alice");
      const connection = { baseUrl: proxy.url, protocol, httpVersion };
      const bob = createClient({ ...connection, token: await app.token("bob"), reconnect: fast });
      const sender = createClient({ ...connection, token: await app.token("alice"), retry: { ...fast, maxAttempts: 50 } });
      try {
        const recorder = new Recorder(bob);
        let reconnects = 0;
        bob.on("reconnecting", () => reconnects++);
        await bob.connect();

        const sent: string[] = [];
        for (let round = 0; round < ROUNDS; round++) {
          // Each round starts with a live stream, so that each round kills one.
          await bob.connect();
          // Sends through the proxy, cut while they are under way: retried with the same
          // client message ID until they get through.
          const texts = [`r${round} via proxy a`, `r${round} via proxy b`];
          const sending = texts.map((text) => sender.sendMessage(createTextMessage(text), { groupId: app.groupId }));
          proxy.cut(round % 2 === 0 ? "reset" : "close");
          await Promise.all(sending);
          sent.push(...texts);

          // The receiver is cut off and kept away while more messages are sent: it can only
          // get them by resuming from its cursor.
          proxy.block();
          proxy.cut();
          for (const text of [`r${round} while away a`, `r${round} while away b`]) {
            await direct.sendMessage(createTextMessage(text), { groupId: app.groupId });
            sent.push(text);
          }
          proxy.release();
        }
        // Live again (so a client that lost the last round's messages fails below, not by timeout).
        await bob.connect();
        await direct.sendMessage(createTextMessage("final"), { groupId: app.groupId });
        sent.push("final");
        await recorder.untilText("final");

        const stored = await history(direct, app.groupId);
        // Every send stored exactly once, retries included (MSG-10).
        expect(stored.map(textOf).sort()).toEqual([...sent].sort());
        // The receiver got exactly the stored messages, once each, in seq order.
        expect(recorder.messages().map((m) => m.messageId)).toEqual(stored.map((m) => m.messageId));
        expect(stored.map((m) => m.seq)).toEqual(stored.map((_, i) => i + 1));
        // The connection really was killed and resumed many times.
        expect(reconnects).toBeGreaterThanOrEqual(ROUNDS);
        expect(recorder.events.filter((e) => e.type === "ready").length).toBeGreaterThan(ROUNDS);
      } finally {
        await bob.close();
        await sender.close();
      }
    });
  }

  it("the server shutting down (Unavailable SHUTTING_DOWN) is followed by a resume on the next server", async () => {
    // A file-backed store so that a second server picks up where the first left off.
    const { mkdtempSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { startServer } = await import("@narrowcast/server");
    const { createAdminClient } = await import("../src/index.js");
    const dataDir = mkdtempSync(join(tmpdir(), "narrowcast-client-"));
    let server = await startServer({ port: 0, dataDir });
    const port = Number(new URL(server.url).port);
    const admin = createAdminClient({ baseUrl: server.url, adminKey: server.adminKey });
    try {
      const app = await admin.createApp({ plan: "ultimate" });
      await admin.importUsers(app.appId, ["alice", "bob"]);
      const group = await admin.createGroup(app.appId, { type: "work", ownerId: "alice", memberIds: ["bob"] });
      const bob = createClient({ baseUrl: server.url, token: await admin.issueUserToken(app.appId, "bob"), reconnect: fast });
      const recorder = new Recorder(bob);
      const reasons: string[] = [];
      bob.on("reconnecting", (e) => reasons.push(e.error.reason));
      await bob.connect();
      await admin.sendMessage(app.appId, createTextMessage("before"), { groupId: group.groupId, senderId: "alice" });
      await recorder.untilText("before");

      await server.close();
      server = await startServer({ port, dataDir, adminKey: server.adminKey });
      const admin2 = createAdminClient({ baseUrl: server.url, adminKey: server.adminKey });
      await admin2.sendMessage(app.appId, createTextMessage("after"), { groupId: group.groupId, senderId: "alice" });
      await admin2.close();
      await recorder.untilText("after");
      expect(recorder.texts()).toEqual(["before", "after"]);
      expect(reasons[0]).toBe("SHUTTING_DOWN");
      await bob.close();
    } finally {
      await admin.close();
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
