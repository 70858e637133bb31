// A subscriber that stops reading (rule EVT-6): on a server with a 96 KiB buffer (eight of its messages) per
// subscription, its stream ends with ResourceExhausted SLOW_CONSUMER once it reads again, the
// server stays responsive meanwhile, and resuming from its last cursor delivers everything.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConnectError, Code, createClient } from "@connectrpc/connect";
import { ErrorReason, EventService, GroupType, type Message, type SubscribeResponse } from "@narrowcast/gen";
import { AppFixture, PROTOCOLS, TestServer, checkError, isMessage, receivedOf } from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ subscriberBufferBytes: 96 * 1024, rateLimitPerSecond: 1_000_000 });
});
afterAll(async () => {
  await server?.close();
});

const BODY = "x".repeat(12_000);
const BATCH = 40;
/** Enough bytes to fill any socket buffers between server and client several times over. */
const MAX_MESSAGES = 1_200;

describe.each(PROTOCOLS)("%s", (protocol) => {
  it("EVT-6: a stalled stream ends with SLOW_CONSUMER; resuming from its last cursor delivers everything once", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const side = await app.group(GroupType.WORK, "alice", ["carol"]);
    const alice = app.user("alice");

    // bob's stream has a connection of its own: an unread HTTP/2 stream would stall a shared one.
    const transport = server.transport(protocol, { token: app.user("bob").token, sessionManager: server.newSession() });
    const stalled = createClient(EventService, transport).subscribe({})[Symbol.asyncIterator]();
    const first = await stalled.next();
    expect(first.value?.item.case).toBe("ready");

    const messages: Message[] = [];
    while (messages.length < MAX_MESSAGES) {
      const batch = await Promise.all(Array.from({ length: BATCH }, (_, i) => alice.send(g, `${BODY}${messages.length + i}`)));
      messages.push(...batch);
      // The server ended bob's subscription (a stream blocked on a full socket ends when read again).
      if (server.running.subscriptions() === 0 && messages.length >= 2 * BATCH) break;
    }
    const sent = messages.sort((a, b) => Number(a.seq - b.seq)).map((m) => m.messageId);

    // The server stays responsive to everyone else.
    const carol = await app.user("carol").subscribe();
    await alice.send(side, "ping");
    await carol.waitFor(isMessage("ping"));
    expect((await alice.messages.listMessages({ groupId: g, pageSize: 1 })).messages[0].messageId).toBe(sent.at(-1));
    carol.close();

    // bob reads again: what was already on its way, then the end.
    const received: SubscribeResponse[] = [];
    let error: ConnectError | undefined;
    try {
      for (;;) {
        const r = await stalled.next();
        if (r.done) break;
        received.push(r.value);
      }
    } catch (err) {
      error = ConnectError.from(err);
    }
    checkError(error, Code.ResourceExhausted, ErrorReason.SLOW_CONSUMER);
    expect(received.length).toBeLessThan(sent.length);
    const cursors = [first.value?.item.case === "ready" ? first.value.item.value.cursor : "", ...received.map((i) => (i.item.case === "event" ? i.item.value.cursor : ""))];
    const lastCursor = cursors.filter((c) => c !== "").at(-1)!;

    const resumed = await app.user("bob").subscribe({ cursor: lastCursor });
    const got = [...received.map((i) => receivedOf(i)?.messageId), ...resumed.replayed.map((e) => receivedOf(e)?.messageId)];
    expect(got).toEqual(sent);
    await alice.send(g, "live again");
    await resumed.waitFor(isMessage("live again"));
    resumed.close();
  });
});
