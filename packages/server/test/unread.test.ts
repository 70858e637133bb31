// Unread counts, read positions, last message and mention flags for every group type, and the
// conversation list (rules UNR-1 to UNR-8, CNV-1 to CNV-3, MSG-9, GRP-6, GRP-7).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, type Conversation } from "@narrowcast/gen";
import {
  AppFixture,
  FakeClock,
  PROTOCOLS,
  TestServer,
  expectError,
  isEvent,
  isMessage,
  type UserClient,
} from "./support.js";

const clock = new FakeClock();
let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ now: clock.now });
});
afterAll(async () => {
  await server?.close();
});

/** The fields of a conversation that the rules compute, in a comparable shape. */
function counters(c: Conversation) {
  return {
    unread: Number(c.unreadCount),
    readSeq: Number(c.readSeq),
    last: c.lastMessage?.elements[0]?.element.case === "text" ? c.lastMessage.elements[0].element.value.text : c.lastMessage ? "?" : "",
    me: c.mentionedMe,
    all: c.mentionedAll,
  };
}

async function countersOf(user: UserClient, groupId: string) {
  return counters(await user.conversation(groupId));
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[]) => AppFixture.create(server, protocol, { users });

  for (const type of [GroupType.WORK, GroupType.PUBLIC, GroupType.COMMUNITY, GroupType.MEETING]) {
    const counted = type !== GroupType.MEETING;
    const u = (n: number) => (counted ? n : 0);

    it(`UNR-1..5, UNR-8, CNV-2, CNV-3, MSG-9 in a ${GroupType[type]} group`, async () => {
      const app = await setup(["alice", "bob"]);
      const g = await app.group(type, "alice", ["bob"]);
      const alice = app.user("alice");
      const bob = app.user("bob");
      expect(await countersOf(bob, g)).toEqual({ unread: 0, readSeq: 0, last: "", me: false, all: false });

      await alice.send(g, "m1", { mentionedUserIds: ["bob", "alice"] });
      expect(await countersOf(bob, g)).toEqual({ unread: u(1), readSeq: 0, last: "m1", me: true, all: false });
      // UNR-5: the sender has read what it sent, and is not flagged by its own mention.
      expect(await countersOf(alice, g)).toEqual({ unread: 0, readSeq: 1, last: "m1", me: false, all: false });

      await alice.send(g, "m2", { excludeFromUnread: true, mentionAll: true });
      expect(await countersOf(bob, g)).toEqual({ unread: u(1), readSeq: 0, last: "m2", me: true, all: true });
      await alice.send(g, "m3", { excludeFromLastMessage: true });
      expect(await countersOf(bob, g)).toEqual({ unread: u(2), readSeq: 0, last: "m2", me: true, all: true });
      const online = await alice.send(g, "m4", { onlineOnly: true, mentionedUserIds: ["bob"] });
      expect(online.seq).toBe(0n);
      expect(await countersOf(bob, g)).toEqual({ unread: u(2), readSeq: 0, last: "m2", me: true, all: true });
      expect((await bob.history(g)).map((m) => m.seq)).toEqual([1n, 2n, 3n]);

      // UNR-3: mark read to a seq, to the latest (0), never backwards, clamped above the latest.
      const read1 = await bob.conversations.markConversationRead({ groupId: g, readSeq: 1n });
      expect(counters(read1.conversation!)).toEqual({ unread: u(1), readSeq: 1, last: "m2", me: false, all: true });
      const read0 = await bob.conversations.markConversationRead({ groupId: g, readSeq: 0n });
      expect(counters(read0.conversation!)).toEqual({ unread: 0, readSeq: 3, last: "m2", me: false, all: false });
      const back = await bob.conversations.markConversationRead({ groupId: g, readSeq: 1n });
      expect(counters(back.conversation!).readSeq).toBe(3);
      await alice.send(g, "m5");
      expect(await countersOf(bob, g)).toEqual({ unread: u(1), readSeq: 3, last: "m5", me: false, all: false });
      const clamped = await bob.conversations.markConversationRead({ groupId: g, readSeq: 999n });
      expect(counters(clamped.conversation!)).toEqual({ unread: 0, readSeq: 4, last: "m5", me: false, all: false });

      // UNR-5 for bob; his message counts for alice.
      await bob.send(g, "b1");
      expect((await countersOf(bob, g)).readSeq).toBe(5);
      expect(await countersOf(alice, g)).toEqual({ unread: u(1), readSeq: 4, last: "b1", me: false, all: false });
    });
  }

  it("UNR-3: MarkConversationRead sends ConversationUpdated to every device of the user and to nobody else", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    await alice.send(g, "m1");
    await alice.send(g, "m2");
    const phone = await app.user("bob").subscribe();
    const laptop = await app.device("bob").subscribe();
    const aliceStream = await alice.subscribe();
    await app.device("bob").conversations.markConversationRead({ groupId: g, readSeq: 1n });
    for (const s of [phone, laptop]) {
      const item = await s.waitFor(isEvent("conversationUpdated"));
      const c = item.item.case === "event" && item.item.value.payload.case === "conversationUpdated" ? item.item.value.payload.value.conversation : undefined;
      expect(c && counters(c)).toEqual({ unread: 1, readSeq: 1, last: "m2", me: false, all: false });
      expect(c?.groupId).toBe(g);
      expect(item.item.case === "event" && item.item.value.cursor).not.toBe("");
    }
    await alice.send(g, "barrier");
    await aliceStream.expectNone(isEvent("conversationUpdated"), isMessage("barrier"));
    for (const s of [phone, laptop, aliceStream]) s.close();
  });

  it("UNR-3: a mark that does not move the read position sends no ConversationUpdated", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const bob = app.user("bob");
    await alice.send(g, "m1");
    await alice.send(g, "m2");
    await bob.conversations.markConversationRead({ groupId: g, readSeq: 2n });
    const stream = await bob.subscribe();
    // At, below, and beyond (clamped to) the current position: nothing moves, nothing is sent.
    for (const readSeq of [2n, 1n, 0n, 99n]) {
      const res = await bob.conversations.markConversationRead({ groupId: g, readSeq });
      expect(res.conversation?.readSeq).toBe(2n);
    }
    // A real move afterwards is the only ConversationUpdated, and comes after the barrier message.
    const m3 = await alice.send(g, "m3");
    await bob.conversations.markConversationRead({ groupId: g });
    await stream.waitFor(isEvent("conversationUpdated"));
    expect(stream.events.map((e) => e.payload.case)).toEqual(["messageReceived", "conversationUpdated"]);
    const updated = stream.events[1].payload;
    expect(updated.case === "conversationUpdated" && updated.value.conversation?.readSeq).toBe(m3.seq);
    // Nor is a no-op stored: a replay from before it holds only the real move.
    const replay = await bob.subscribe({ cursor: (await stream.ready()) });
    expect(replay.replayed.map((e) => e.payload.case)).toEqual(["messageReceived", "conversationUpdated"]);
    stream.close();
    replay.close();
  });

  it("UNR-6, GRP-6, CNV-2: a join sets the read position to the latest seq; history and last message start there", async () => {
    for (const type of [GroupType.WORK, GroupType.COMMUNITY, GroupType.MEETING]) {
      const app = await setup(["alice", "bob", "erin"]);
      const g = await app.group(type, "alice", ["bob"]);
      const alice = app.user("alice");
      await alice.send(g, "old1", { mentionAll: true });
      await alice.send(g, "old2", { mentionedUserIds: ["bob"] });
      if (type === GroupType.WORK) await app.user("bob").groups.inviteMembers({ groupId: g, userIds: ["erin"] });
      else expect((await app.user("erin").groups.joinGroup({ groupId: g })).result.case).toBe("member");
      const erin = app.user("erin");
      const meeting = type === GroupType.MEETING;
      expect(await countersOf(erin, g)).toEqual({ unread: 0, readSeq: 2, last: meeting ? "old2" : "", me: false, all: false });
      expect((await erin.history(g)).map((m) => m.seq)).toEqual(meeting ? [1n, 2n] : []);
      await alice.send(g, "new");
      expect(await countersOf(erin, g)).toEqual({ unread: meeting ? 0 : 1, readSeq: 2, last: "new", me: false, all: false });
      expect((await erin.history(g)).map((m) => m.seq)).toEqual(meeting ? [1n, 2n, 3n] : [3n]);
    }
  });

  it("UNR-6, GRP-6: a member who left and rejoins starts again at the latest seq", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.COMMUNITY, "alice", ["bob"]);
    const alice = app.user("alice");
    const bob = app.user("bob");
    await alice.send(g, "first");
    await bob.groups.leaveGroup({ groupId: g });
    await alice.send(g, "while away");
    await bob.groups.joinGroup({ groupId: g });
    expect(await countersOf(bob, g)).toEqual({ unread: 0, readSeq: 2, last: "", me: false, all: false });
    expect(await bob.history(g)).toEqual([]);
    await alice.send(g, "back");
    expect((await bob.history(g)).map((m) => m.seq)).toEqual([3n]);
  });

  it("GRP-7, UNR-2: AVCHATROOM messages reach open streams only, with seq 0 and an empty cursor; never stored or counted", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.AVCHATROOM, "alice", ["bob", "carol"]);
    const alice = app.user("alice");
    const bob = app.user("bob");
    const bobStream = await bob.subscribe();
    const cursor = bobStream.lastCursor;
    const sent = await alice.send(g, "live", { mentionAll: true });
    expect(sent.seq).toBe(0n);
    const item = await bobStream.waitFor(isMessage("live"));
    expect(item.item.case === "event" && item.item.value.cursor).toBe("");
    expect(await bob.history(g)).toEqual([]);
    await expectError(bob.messages.getMessage({ groupId: g, messageId: sent.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    expect(await countersOf(bob, g)).toEqual({ unread: 0, readSeq: 0, last: "", me: false, all: false });
    // Not replayed, and a subscriber who was offline never gets it.
    bobStream.close();
    const resumed = await bob.subscribe({ cursor });
    expect(resumed.replayed.filter((e) => e.payload.case === "messageReceived")).toEqual([]);
    const carolLate = await app.user("carol").subscribe();
    await alice.send(g, "second");
    await carolLate.expectNone(isMessage("live"), isMessage("second"));
    await resumed.waitFor(isMessage("second"));
    resumed.close();
    carolLate.close();
  });

  it("MSG-9, EVT-7: online-only messages reach open streams with an empty cursor and are never replayed", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const bob = app.user("bob");
    const live = await bob.subscribe();
    const cursor = live.lastCursor;
    await alice.send(g, "typing…", { onlineOnly: true });
    const item = await live.waitFor(isMessage("typing…"));
    expect(item.item.case === "event" && item.item.value.cursor).toBe("");
    await alice.send(g, "stored");
    await live.waitFor(isMessage("stored"));
    live.close();
    const resumed = await bob.subscribe({ cursor });
    expect(resumed.replayed.map((e) => (e.payload.case === "messageReceived" ? e.payload.value.message?.seq : -1n))).toEqual([1n]);
    expect(await countersOf(bob, g)).toEqual({ unread: 1, readSeq: 0, last: "stored", me: false, all: false });
    resumed.close();
  });

  it("CNV-1: one conversation per current group, most recent activity first, computed for the caller", async () => {
    const app = await setup(["alice", "bob", "olaf"]);
    const alice = app.user("alice");
    const bob = app.user("bob");
    clock.advance(1);
    const a = await app.group(GroupType.WORK, "alice", ["bob"]);
    clock.advance(1);
    const b = await app.group(GroupType.MEETING, "alice", ["bob"]);
    clock.advance(1);
    const c = await app.group(GroupType.COMMUNITY, "alice", ["bob"]);
    await app.group(GroupType.WORK, "olaf");
    clock.advance(1);
    await alice.send(a, "in a");
    clock.advance(1);
    await alice.send(b, "in b");
    const list = async (u: UserClient) => (await u.conversations.listConversations({})).conversations;
    expect((await list(bob)).map((x) => x.groupId)).toEqual([b, a, c]);
    const conv = (await list(bob)).find((x) => x.groupId === a)!;
    expect(conv).toMatchObject({ groupType: GroupType.WORK, unreadCount: 1, readSeq: 0n });
    expect((await list(alice)).find((x) => x.groupId === a)).toMatchObject({ unreadCount: 0, readSeq: 1n });
    clock.advance(1);
    await alice.send(c, "in c");
    expect((await list(bob)).map((x) => x.groupId)).toEqual([c, b, a]);
    await bob.groups.leaveGroup({ groupId: c });
    expect((await list(bob)).map((x) => x.groupId)).toEqual([b, a]);
    await expectError(bob.conversations.getConversation({ groupId: c }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    expect((await list(app.user("olaf"))).map((x) => x.groupType)).toEqual([GroupType.WORK]);
  });
});
