// Quote replies over the wire (rules RPL-1 to RPL-4, DRV-1, section 9.1's checks 16 to 18): the
// quote each viewer is shown as they may see the quoted message now (history floors, MEETING
// re-joins, targeted audiences, edits and recalls), system replies, the refusals and their
// fields, and the paths that carry only the quoted message's ID.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason, GroupType, QuoteStatus, type Message } from "@narrowcast/gen";
import { AppFixture, PROTOCOLS, TestServer, expectError, isEvent, isMessage, receivedOf, text, textOf, type UserClient } from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server?.close();
});

/** A reply's quote as shown: "AVAILABLE:<quoted text>" ("(recalled)" when recalled), "UNAVAILABLE", "UNSPECIFIED", or "none". */
function quote(m: Message | undefined): string {
  const r = m?.replyTo;
  if (!r) return "none";
  const status = QuoteStatus[r.status];
  if (r.status !== QuoteStatus.AVAILABLE) {
    expect(r.quoted, `a ${status} quote carries no message`).toBeUndefined();
    return status;
  }
  return `${status}:${r.quoted?.recall ? "(recalled)" : textOf(r.quoted)}`;
}

async function quoteSeenBy(user: UserClient, groupId: string, messageId: string): Promise<string> {
  return quote((await user.messages.getMessage({ groupId, messageId })).message);
}

/** The quotes of the user's whole history, by text: "<text> → <quote>". */
async function quotesInHistory(user: UserClient, groupId: string): Promise<string[]> {
  return (await user.history(groupId)).filter((m) => m.replyTo).map((m) => `${textOf(m)} → ${quote(m)}`);
}

function reply(user: UserClient, groupId: string, body: string, replyToMessageId: string, receiverIds: string[] = []) {
  return user.send(groupId, body, { replyToMessageId, receiverIds });
}

/** Asserts that two errors are indistinguishable: code, message and ErrorInfo (DRV-1). */
function expectSameError(a: ConnectError, b: ConnectError): void {
  expect({ code: a.code, message: a.rawMessage, info: toJson(ErrorInfoSchema, a.findDetails(ErrorInfoSchema)[0]) }).toEqual({
    code: b.code,
    message: b.rawMessage,
    info: toJson(ErrorInfoSchema, b.findDetails(ErrorInfoSchema)[0]),
  });
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  it("RPL-1, RPL-3, RPL-4: a reply carries the ID everywhere; read paths show the quote as it is now; edits and recalls show through; reply_to never changes", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const stream = await carol.subscribe();
    const q = await alice.send(g, "question");
    const r = await reply(bob, g, "answer", q.messageId);
    // SendMessage's response, the MessageReceived and the last message: the ID only (RPL-3).
    expect(r.replyTo?.messageId).toBe(q.messageId);
    expect(quote(r)).toBe("UNSPECIFIED");
    const received = receivedOf(await stream.waitFor(isMessage("answer")));
    expect({ id: received?.replyTo?.messageId, quote: quote(received) }).toEqual({ id: q.messageId, quote: "UNSPECIFIED" });
    const last = (await carol.conversation(g)).lastMessage;
    expect({ id: last?.replyTo?.messageId, quote: quote(last) }).toEqual({ id: q.messageId, quote: "UNSPECIFIED" });
    // The read paths: GetMessage, ListMessages, AddReaction and RemoveReaction.
    expect(await quoteSeenBy(carol, g, r.messageId)).toBe("AVAILABLE:question");
    expect(await quotesInHistory(carol, g)).toEqual(["answer → AVAILABLE:question"]);
    expect(quote((await carol.messages.addReaction({ groupId: g, messageId: r.messageId, reaction: "👍" })).message)).toBe("AVAILABLE:question");
    expect(quote((await carol.messages.removeReaction({ groupId: g, messageId: r.messageId, reaction: "👍" })).message)).toBe("AVAILABLE:question");
    expect(quote(q)).toBe("none");

    // An edit of the quoted message shows; an edit of the reply keeps its reply_to.
    await alice.messages.editMessage({ groupId: g, messageId: q.messageId, elements: [text("question, edited")] });
    expect(await quoteSeenBy(carol, g, r.messageId)).toBe("AVAILABLE:question, edited");
    const editedReply = (await bob.messages.editMessage({ groupId: g, messageId: r.messageId, elements: [text("answer, edited")] })).message;
    expect(editedReply?.replyTo?.messageId).toBe(q.messageId);
    expect(quote(editedReply)).toBe("UNSPECIFIED");
    const editEvent = await stream.waitFor(isEvent("messageEdited", (e) => e.payload.case === "messageEdited" && e.payload.value.message?.messageId === r.messageId));
    const editedMessage = editEvent.item.case === "event" && editEvent.item.value.payload.case === "messageEdited" ? editEvent.item.value.payload.value.message : undefined;
    expect({ id: editedMessage?.replyTo?.messageId, quote: quote(editedMessage) }).toEqual({ id: q.messageId, quote: "UNSPECIFIED" });
    expect(textOf((await carol.messages.getMessage({ groupId: g, messageId: r.messageId })).message)).toBe("answer, edited");

    // A recall of the quoted message: the quote is there, recalled, with no content (MSG-11).
    await alice.messages.recallMessage({ groupId: g, messageId: q.messageId });
    const after = (await carol.messages.getMessage({ groupId: g, messageId: r.messageId })).message;
    expect({ id: after?.replyTo?.messageId, quote: quote(after), elements: after?.replyTo?.quoted?.elements.length }).toEqual({
      id: q.messageId,
      quote: "AVAILABLE:(recalled)",
      elements: 0,
    });
    // And replying to it now is ALREADY_RECALLED.
    await expectError(reply(carol, g, "late", q.messageId), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, { field: "reply_to_message_id" });
    stream.close();
  });
});

describe("RPL-3: each viewer's quote", () => {
  it("below a history floor the quote is UNAVAILABLE; in MEETING a late or re-joined member sees it", async () => {
    for (const type of [GroupType.WORK, GroupType.MEETING]) {
      const name = GroupType[type];
      const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol", "dave"] });
      const g = await app.group(type, "alice", ["bob", "dave"]);
      const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => app.user(u));
      const q = await alice.send(g, "before");
      await app.admin.removeMembers({ appId: app.appId, groupId: g, userIds: ["dave"] });
      await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["carol", "dave"] });
      const r = await reply(bob, g, "after", q.messageId);
      const want = type === GroupType.MEETING ? "AVAILABLE:before" : "UNAVAILABLE";
      expect(await quoteSeenBy(carol, g, r.messageId), `${name}: a late member`).toBe(want);
      expect(await quoteSeenBy(dave, g, r.messageId), `${name}: a re-joined member`).toBe(want);
      expect(await quotesInHistory(dave, g), name).toEqual([`after → ${want}`]);
      expect(await quoteSeenBy(alice, g, r.messageId), name).toBe("AVAILABLE:before");
      if (type === GroupType.WORK) {
        // The late member cannot quote it either: as for an ID that does not exist (DRV-1).
        const hidden = await expectError(reply(carol, g, "x", q.messageId), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "reply_to_message_id" });
        const unknown = await expectError(reply(carol, g, "x", "msg_nope"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "reply_to_message_id" });
        expectSameError(hidden, unknown);
      }
    }
  });

  it("a targeted message's audience may reply within it; a receiver whose floor rose sees the reply but not the quote", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol", "dave"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave"]);
    const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => app.user(u));
    const t = await alice.send(g, "for bob and carol", { receiverIds: ["bob", "carol"] });
    const toCarol = await reply(bob, g, "bob to carol", t.messageId, ["carol"]);
    const toAlice = await reply(carol, g, "carol to alice", t.messageId, ["alice"]);
    expect(await quoteSeenBy(carol, g, toCarol.messageId)).toBe("AVAILABLE:for bob and carol");
    expect(await quoteSeenBy(alice, g, toAlice.messageId)).toBe("AVAILABLE:for bob and carol");
    expect(await quotesInHistory(dave, g)).toEqual([]);
    // bob leaves and re-joins: t is below his floor, yet he is in its audience, so a reply may reach him.
    await app.admin.removeMembers({ appId: app.appId, groupId: g, userIds: ["bob"] });
    await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["bob"] });
    const toBob = await reply(alice, g, "alice to bob", t.messageId, ["bob"]);
    expect(await quoteSeenBy(bob, g, toBob.messageId)).toBe("UNAVAILABLE");
    expect(await quoteSeenBy(alice, g, toBob.messageId)).toBe("AVAILABLE:for bob and carol");
  });

  it("the quote is the message alone: without its own quote, reactions or read receipts", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const [alice, bob] = [app.user("alice"), app.user("bob")];
    const first = await alice.send(g, "first");
    const q = await alice.send(g, "quoted", { replyToMessageId: first.messageId, requestReadReceipts: true });
    await bob.messages.addReaction({ groupId: g, messageId: q.messageId, reaction: "👍" });
    await bob.messages.sendReadReceipts({ groupId: g, messageIds: [q.messageId] });
    const r = await reply(alice, g, "reply", q.messageId);
    // What alice is shown of q itself: its quote, reactions and receipts.
    const own = (await alice.messages.getMessage({ groupId: g, messageId: q.messageId })).message;
    expect({ quote: quote(own), reactions: own?.reactions.length, receipts: own?.readReceipts?.readCount }).toEqual({
      quote: "AVAILABLE:first",
      reactions: 1,
      receipts: 1,
    });
    // Inside the reply's quote: none of them, only q's own reply_to ID.
    for (const m of [(await alice.messages.getMessage({ groupId: g, messageId: r.messageId })).message, (await alice.history(g)).at(-1)]) {
      const quoted = m?.replyTo?.quoted;
      expect(textOf(quoted)).toBe("quoted");
      expect({ reactions: quoted?.reactions, receipts: quoted?.readReceipts, replyTo: quoted?.replyTo?.messageId, status: quoted?.replyTo?.status, nested: quoted?.replyTo?.quoted }).toEqual({
        reactions: [],
        receipts: undefined,
        replyTo: first.messageId,
        status: QuoteStatus.UNSPECIFIED,
        nested: undefined,
      });
    }
  });
});

describe("RPL-1, RPL-2: refusals and system replies", () => {
  it("unknown, another group's, not stored, hidden: MESSAGE_NOT_FOUND alike; recalled; too long; an ordinary or widening reply to a targeted message", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol", "dave"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave"]);
    const h = await app.group(GroupType.WORK, "alice", ["bob"]);
    const room = await app.group(GroupType.AVCHATROOM, "alice", ["bob"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const nf = (p: Promise<unknown>) => expectError(p, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "reply_to_message_id" });
    const unknown = await nf(reply(bob, g, "x", "msg_nope"));
    const elsewhere = await alice.send(h, "in h");
    const online = await alice.send(g, "fleeting", { onlineOnly: true });
    const live = await alice.send(room, "live");
    const t = await alice.send(g, "for carol", { receiverIds: ["carol"] });
    for (const id of [elsewhere.messageId, online.messageId, t.messageId]) expectSameError(await nf(reply(bob, g, "x", id)), unknown);
    expectSameError(await nf(reply(bob, room, "x", live.messageId)), await nf(reply(bob, room, "x", "msg_nope")));
    await expectError(reply(bob, g, "x", "m".repeat(129)), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "reply_to_message_id" });
    await nf(reply(bob, g, "x", "m".repeat(128)));
    // Check 1 comes before the group's checks (9).
    await expectError(reply(bob, "nope", "x", "m".repeat(129)), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "reply_to_message_id" });

    const widens = (p: Promise<unknown>, field: string, ids?: string[]) => expectError(p, Code.FailedPrecondition, ErrorReason.REPLY_WIDENS_AUDIENCE, { field, ids });
    await widens(reply(carol, g, "to all", t.messageId), "reply_to_message_id", []);
    await widens(reply(carol, g, "to some", t.messageId, ["alice", "bob", "dave"]), "receiver_ids", ["bob", "dave"]);
    await widens(reply(alice, g, "sender too", t.messageId, ["bob"]), "receiver_ids", ["bob"]);
    // An ordinary message may be answered either way.
    const o = await alice.send(g, "ordinary");
    await reply(bob, g, "to all", o.messageId);
    await reply(bob, g, "to carol", o.messageId, ["carol"]);
    // Nothing of the refused sends was stored.
    expect((await carol.history(g)).map(textOf)).toEqual(["for carol", "ordinary", "to all", "to carol"]);
  });

  it("the system sender may quote any stored message, and still may not widen a targeted one's audience", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const system = (body: string, replyToMessageId: string, receiverIds: string[] = []) =>
      app.admin.sendMessage({ appId: app.appId, senderId: "", message: { groupId: g, elements: [text(body)], replyToMessageId, receiverIds } });
    const o = await alice.send(g, "ordinary");
    const t = await alice.send(g, "for bob", { receiverIds: ["bob"] });
    const r1 = (await system("system on ordinary", o.messageId)).message!;
    expect({ sender: r1.senderId, id: r1.replyTo?.messageId }).toEqual({ sender: "", id: o.messageId });
    const r2 = (await system("system to bob", t.messageId, ["bob"])).message!;
    expect(await quoteSeenBy(bob, g, r2.messageId)).toBe("AVAILABLE:for bob");
    expect(await quoteSeenBy(carol, g, r1.messageId)).toBe("AVAILABLE:ordinary");
    await expectError(system("to all", t.messageId), Code.FailedPrecondition, ErrorReason.REPLY_WIDENS_AUDIENCE, { field: "reply_to_message_id" });
    await expectError(system("to carol", t.messageId, ["carol"]), Code.FailedPrecondition, ErrorReason.REPLY_WIDENS_AUDIENCE, { field: "receiver_ids", ids: ["carol"] });
    await expectError(system("x", "msg_nope"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "reply_to_message_id" });
    await alice.messages.recallMessage({ groupId: g, messageId: o.messageId });
    await expectError(system("x", o.messageId), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, { field: "reply_to_message_id" });
  });
});
