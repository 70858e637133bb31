// Read receipts over the wire (rules RCP-1 to RCP-6, DRV-1, section 9.1's checks 16 to 20):
// the sender's counts on the read paths and nowhere else, SendReadReceipts and its refusals,
// MessageRead to the sender alone, live and on replay, ListReadReceipts pages and their tokens,
// and the sends that may not ask for receipts (not stored, system, more than 200 members).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJson } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason, GroupType, ReadState, type Event, type Message } from "@narrowcast/gen";
import { AppFixture, PROTOCOLS, TestServer, detailsOf, expectError, ids, isEvent, isMessage, receivedOf, text, type UserClient } from "./support.js";

/** A clock the tests set, so read times are exact. */
const clock = { t: Date.UTC(2030, 0, 1) };
let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ now: () => clock.t });
});
afterAll(async () => {
  await server?.close();
});

/** The message's receipt counts as shown: "read/unread", or "unset". */
function shown(m: Message | undefined): string {
  const c = m?.readReceipts;
  return c ? `${c.readCount}/${c.unreadCount}` : "unset";
}

async function seenBy(user: UserClient, groupId: string, messageId: string): Promise<string> {
  return shown((await user.messages.getMessage({ groupId, messageId })).message);
}

/** The MessageRead events among `events`: "seq:reader=read/unread". */
function readsOf(events: readonly Event[]): string[] {
  return events.flatMap((e) => {
    const p = e.payload;
    return p.case === "messageRead" ? [`${p.value.seq}:${p.value.readerId}=${p.value.counts?.readCount}/${p.value.counts?.unreadCount}`] : [];
  });
}

const isRead = isEvent("messageRead");

function ack(user: UserClient, groupId: string, ...messageIds: string[]) {
  return user.messages.sendReadReceipts({ groupId, messageIds });
}

/** Asserts that two errors are indistinguishable but for the IDs they name: code, message and ErrorInfo (DRV-1). */
function expectSameError(a: ConnectError, b: ConnectError): void {
  const info = (e: ConnectError) => {
    const i = toJson(ErrorInfoSchema, e.findDetails(ErrorInfoSchema)[0]) as { metadata?: Record<string, string> };
    if (i.metadata) delete i.metadata.ids;
    return i;
  };
  expect({ code: a.code, message: a.rawMessage, info: info(a) }).toEqual({ code: b.code, message: b.rawMessage, info: info(b) });
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  it("RCP-2 to RCP-5: the sender alone sees counts on the read paths; an acknowledgement is recorded once and reaches the sender alone, live and on replay", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol", "dave"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave"]);
    const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => app.user(u));
    const streams = { alice: await alice.subscribe(), bob: await bob.subscribe(), carol: await carol.subscribe() };
    const cursors = { alice: await streams.alice.ready(), bob: await streams.bob.ready() };
    const m = await alice.send(g, "did you read this?", { requestReadReceipts: true });
    // The last message is no read path: no counts there, even for the sender.
    expect(shown((await alice.conversation(g)).lastMessage)).toBe("unset");
    const p = await bob.send(g, "no receipts");
    // SendMessage's response and the MessageReceived carry the flag, never counts.
    expect({ flag: m.readReceiptsRequested, shown: shown(m) }).toEqual({ flag: true, shown: "unset" });
    const received = receivedOf(await streams.alice.waitFor(isMessage("did you read this?")));
    expect({ flag: received?.readReceiptsRequested, shown: shown(received) }).toEqual({ flag: true, shown: "unset" });

    expect(await seenBy(alice, g, m.messageId)).toBe("0/3");
    expect(await seenBy(bob, g, m.messageId)).toBe("unset");
    expect(await seenBy(bob, g, p.messageId)).toBe("unset");
    expect((await alice.history(g)).map(shown)).toEqual(["0/3", "unset"]);
    expect((await carol.history(g)).map(shown)).toEqual(["unset", "unset"]);
    // The reaction RPCs' responses are read paths too (RCT-5).
    expect(shown((await alice.messages.addReaction({ groupId: g, messageId: m.messageId, reaction: "👀" })).message)).toBe("0/3");
    expect(shown((await dave.messages.addReaction({ groupId: g, messageId: m.messageId, reaction: "👀" })).message)).toBe("unset");

    const before = { bob: await bob.conversation(g), carol: await carol.conversation(g) };
    clock.t += 1000;
    await ack(bob, g, m.messageId, p.messageId, m.messageId); // bob's own message and a repeat change nothing
    await ack(carol, g, m.messageId);
    await ack(bob, g, m.messageId); // again: nothing
    await ack(alice, g, m.messageId); // the sender is no reader
    expect(await seenBy(alice, g, m.messageId)).toBe("2/1");
    expect((await alice.history(g)).map(shown)).toEqual(["2/1", "unset"]);
    // RCP-6: no unread count, read position, mention flag or last message moves.
    expect({ bob: await bob.conversation(g), carol: await carol.conversation(g) }).toEqual(before);

    await dave.send(g, "barrier");
    await streams.alice.waitFor(isMessage("barrier"));
    expect(readsOf(streams.alice.events)).toEqual(["1:bob=1/2", "1:carol=2/1"]);
    const read = streams.alice.events.find((e) => e.payload.case === "messageRead")!;
    expect(read.payload.value).toMatchObject({ groupId: g, messageId: m.messageId, seq: 1n, readerId: "bob" });
    expect(read.cursor).not.toBe("");
    await streams.bob.expectNone(isRead, isMessage("barrier"));
    await streams.carol.expectNone(isRead, isMessage("barrier"));
    for (const s of Object.values(streams)) s.close();

    // Replay from before: the sender's MessageRead again, nobody else's.
    const replays = { alice: await alice.subscribe({ cursor: cursors.alice }), bob: await bob.subscribe({ cursor: cursors.bob }) };
    expect(readsOf(replays.alice.replayed)).toEqual(["1:bob=1/2", "1:carol=2/1"]);
    expect(readsOf(replays.bob.replayed)).toEqual([]);
    expect(replays.bob.replayed.length).toBeGreaterThan(0);
    for (const s of Object.values(replays)) s.close();
  });
});

describe("RCP-1: which sends may ask for receipts", () => {
  it("not online-only, AVCHATROOM or system messages; an ordinary one in a group of 200 members but not 201; a targeted one in any; nothing stored when refused", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob"] });
    const alice = app.user("alice");
    const notAllowed = (p: Promise<unknown>) =>
      expectError(p, Code.FailedPrecondition, ErrorReason.READ_RECEIPTS_NOT_ALLOWED, { field: "request_read_receipts" });
    const small = await app.group(GroupType.WORK, "alice", ["bob"]);
    await notAllowed(alice.send(small, "fleeting", { requestReadReceipts: true, onlineOnly: true }));
    const system = (groupId: string, requestReadReceipts: boolean) =>
      app.admin.sendMessage({ appId: app.appId, senderId: "", message: { groupId, elements: [text("system")], requestReadReceipts } });
    await notAllowed(system(small, true));
    const room = await app.group(GroupType.AVCHATROOM, "alice", ["bob"]);
    await notAllowed(alice.send(room, "live", { requestReadReceipts: true }));
    expect((await alice.history(small)).length).toBe(0);
    expect((await system(small, false)).message?.readReceiptsRequested).toBe(false);

    // 199 more members: 200 with alice, then 201.
    const others = ids("u", 200);
    await app.admin.importUsers({ appId: app.appId, users: others.map((userId) => ({ userId, nickname: userId })) });
    const big = await app.group(GroupType.WORK, "alice", others.slice(0, 199));
    const at200 = await alice.send(big, "to 200", { requestReadReceipts: true });
    expect(await seenBy(alice, big, at200.messageId)).toBe("0/199");
    await app.admin.addMembers({ appId: app.appId, groupId: big, userIds: [others[199]] });
    await notAllowed(alice.send(big, "to 201", { requestReadReceipts: true }));
    const latest = (await alice.history(big)).map((m) => m.seq);
    expect(latest).toEqual([1n]);
    const targeted = await alice.send(big, "two of 201", { requestReadReceipts: true, receiverIds: ["u1", "u2"] });
    expect(await seenBy(alice, big, targeted.messageId)).toBe("0/2");
    // The count is the one at send time: back to 200, an ordinary message may ask again.
    await app.admin.removeMembers({ appId: app.appId, groupId: big, userIds: ["u1"] });
    const again = await alice.send(big, "to 200 again", { requestReadReceipts: true });
    expect(await seenBy(alice, big, again.messageId)).toBe("0/199");
    await expect(alice.messages.listReadReceipts({ groupId: big, messageId: again.messageId, state: ReadState.UNREAD, pageSize: 1000 })).resolves.toMatchObject({
      counts: { readCount: 0, unreadCount: 199 },
    });
  });

  it("section 9.1: reply checks 16 to 18 come before READ_RECEIPTS_NOT_ALLOWED, and it comes before the earlier checks' successors only", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob] = [app.user("alice"), app.user("bob")];
    const t = await alice.send(g, "for bob", { receiverIds: ["bob"] });
    const gone = await alice.send(g, "gone");
    await alice.messages.recallMessage({ groupId: g, messageId: gone.messageId });
    const refused = { requestReadReceipts: true, onlineOnly: true };
    await expectError(bob.send(g, "x", { ...refused, receiverIds: ["nobody"] }), Code.FailedPrecondition, ErrorReason.RECEIVER_NOT_MEMBER);
    await expectError(bob.send(g, "x", { ...refused, replyToMessageId: "msg_nope" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
      field: "reply_to_message_id",
    });
    await expectError(bob.send(g, "x", { ...refused, replyToMessageId: gone.messageId }), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, {
      field: "reply_to_message_id",
    });
    await expectError(bob.send(g, "x", { ...refused, replyToMessageId: t.messageId }), Code.FailedPrecondition, ErrorReason.REPLY_WIDENS_AUDIENCE, {
      field: "reply_to_message_id",
    });
    await expectError(
      bob.send(g, "x", { ...refused, replyToMessageId: t.messageId, receiverIds: ["carol"] }),
      Code.FailedPrecondition,
      ErrorReason.REPLY_WIDENS_AUDIENCE,
      { field: "receiver_ids", ids: ["carol"] },
    );
    // A reply that widens nothing reaches check 19.
    await expectError(bob.send(g, "x", { ...refused, replyToMessageId: t.messageId, receiverIds: ["alice"] }), Code.FailedPrecondition, ErrorReason.READ_RECEIPTS_NOT_ALLOWED);
    expect((await bob.history(g)).map((m) => m.seq)).toEqual([1n, 2n]);
  });
});

describe("section 9.1: READ_RECEIPTS_NOT_ALLOWED before RATE_LIMITED (a server allowing 1 send per second per group)", () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await TestServer.start({ rateLimitPerSecond: 1 });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it("with the group's bucket empty, a send that may not ask for receipts is READ_RECEIPTS_NOT_ALLOWED", async () => {
    const app = await AppFixture.create(limited, "connect", { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    let limitedOnce = false;
    for (let i = 0; i < 20 && !limitedOnce; i++) {
      try {
        await alice.send(g, `drain ${i}`);
      } catch (err) {
        expect(detailsOf(ConnectError.from(err)).reason).toBe("RATE_LIMITED");
        limitedOnce = true;
      }
    }
    expect(limitedOnce, "the bucket ran dry").toBe(true);
    await expectError(alice.send(g, "x", { requestReadReceipts: true, onlineOnly: true }), Code.FailedPrecondition, ErrorReason.READ_RECEIPTS_NOT_ALLOWED);
  });
});

describe("SendReadReceipts (RCP-3)", () => {
  it("1 to 100 IDs; every one must be visible, else MESSAGE_NOT_FOUND naming them and nothing recorded; the order of checks", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol", "olaf"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const other = await app.group(GroupType.WORK, "alice", ["bob"]);
    const [alice, bob, carol, olaf] = ["alice", "bob", "carol", "olaf"].map((u) => app.user(u));
    const m = await alice.send(g, "all", { requestReadReceipts: true });
    const t = await alice.send(g, "for carol", { receiverIds: ["carol"], requestReadReceipts: true });
    const elsewhere = await alice.send(other, "elsewhere", { requestReadReceipts: true });

    const invalid = (p: Promise<unknown>, field: string) => expectError(p, Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field });
    await invalid(ack(bob, g), "message_ids");
    await invalid(ack(bob, g, ...ids("msg_x", 101)), "message_ids");
    await invalid(ack(bob, "bad id!"), "group_id");
    await invalid(ack(olaf, "bad id!", m.messageId), "group_id");
    await invalid(ack(olaf, "nope"), "message_ids");
    await expectError(ack(olaf, "nope", m.messageId), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(ack(olaf, g, "msg_nope"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    // 100 distinct IDs pass the field check; repeats collapse.
    await expectError(ack(bob, g, ...ids("msg_x", 100)), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_ids", ids: ids("msg_x", 100) });
    await ack(bob, g, ...Array<string>(101).fill(m.messageId));
    expect(await seenBy(alice, g, m.messageId)).toBe("1/1");

    // Hidden (outside a targeted audience) and unknown IDs are named alike; the visible ones are not recorded either.
    const nf = (p: Promise<unknown>, missing: string[]) =>
      expectError(p, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_ids", ids: missing });
    const mixed = await nf(ack(bob, g, t.messageId, m.messageId, "msg_nope", elsewhere.messageId), [t.messageId, "msg_nope", elsewhere.messageId]);
    expectSameError(await nf(ack(bob, g, t.messageId), [t.messageId]), await nf(ack(bob, g, "msg_nope"), ["msg_nope"]));
    expectSameError(mixed, await nf(ack(bob, g, "msg_nope"), ["msg_nope"]));
    const c2 = await nf(ack(carol, g, m.messageId, elsewhere.messageId), [elsewhere.messageId]);
    expect(detailsOf(c2).ids).toEqual([elsewhere.messageId]);
    expect(await seenBy(alice, g, m.messageId)).toBe("1/1");
    await ack(carol, g, t.messageId, m.messageId);
    expect([await seenBy(alice, g, m.messageId), await seenBy(alice, g, t.messageId)]).toEqual(["2/0", "1/0"]);

    // Below the history floor (WORK re-join) is hidden too.
    await app.admin.removeMembers({ appId: app.appId, groupId: g, userIds: ["bob"] });
    await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["bob"] });
    await nf(ack(bob, g, m.messageId), [m.messageId]);
  });

  it("RCP-2, RCP-5: a targeted message's readers are its receivers; a sender who left is told nothing; a deleted reader is no reader", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["owner", "alice", "bob", "carol", "dave"] });
    const g = await app.group(GroupType.MEETING, "owner", ["alice", "bob", "carol", "dave"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const t = await alice.send(g, "for bob and carol", { receiverIds: ["bob", "carol"], requestReadReceipts: true });
    const m = await alice.send(g, "for all", { requestReadReceipts: true });
    expect([await seenBy(alice, g, t.messageId), await seenBy(alice, g, m.messageId)]).toEqual(["0/2", "0/4"]);
    await app.admin.removeMembers({ appId: app.appId, groupId: g, userIds: ["alice"] });
    await ack(bob, g, t.messageId, m.messageId);
    // A MEETING re-join: alice may see her messages again, and hears of the next acknowledgement only.
    await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["alice"] });
    const stream = await alice.subscribe();
    await ack(carol, g, t.messageId);
    await app.admin.deleteUser({ appId: app.appId, userId: "dave" });
    expect([await seenBy(alice, g, t.messageId), await seenBy(alice, g, m.messageId)]).toEqual(["2/0", "1/2"]);
    await bob.send(g, "barrier");
    await stream.waitFor(isMessage("barrier"));
    expect(readsOf(stream.events)).toEqual(["1:carol=2/0"]);
    stream.close();
  });
});

describe("RCP-4, RCP-6: receipts outlive edits and recalls", () => {
  it("an edit keeps the request and the counts (EditMessage's response shows none); a recall keeps the receipts, and acknowledging goes on", async () => {
    const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const m = await alice.send(g, "draft", { requestReadReceipts: true });
    await ack(bob, g, m.messageId);
    const edited = (await alice.messages.editMessage({ groupId: g, messageId: m.messageId, elements: [text("final")] })).message;
    expect({ flag: edited?.readReceiptsRequested, shown: shown(edited) }).toEqual({ flag: true, shown: "unset" });
    expect(await seenBy(alice, g, m.messageId)).toBe("1/1");
    await alice.messages.recallMessage({ groupId: g, messageId: m.messageId });
    expect(await seenBy(alice, g, m.messageId)).toBe("1/1");
    await ack(carol, g, m.messageId);
    const list = await alice.messages.listReadReceipts({ groupId: g, messageId: m.messageId, state: ReadState.READ });
    expect({ readers: list.receipts.map((r) => r.userId), counts: shown({ readReceipts: list.counts } as Message) }).toEqual({ readers: ["bob", "carol"], counts: "2/0" });
  });
});

describe("ListReadReceipts (RCP-4)", () => {
  it("pages of readers by user ID, READ with their read time or UNREAD, with both counts; tokens are scoped; only the sender; the order of checks", async () => {
    const users = ["alice", "bob", "carol", "dave", "erin", "frank", "olaf"];
    const app = await AppFixture.create(server, "connect", { users });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave", "erin", "frank"]);
    const [alice, bob, carol, , erin, , olaf] = users.map((u) => app.user(u));
    const m = await alice.send(g, "m", { requestReadReceipts: true });
    const other = await alice.send(g, "other", { requestReadReceipts: true });
    const plain = await alice.send(g, "plain");
    const t = await alice.send(g, "for carol", { receiverIds: ["carol"], requestReadReceipts: true });
    clock.t += 1000;
    const t1 = clock.t;
    await ack(erin, g, m.messageId);
    clock.t += 1000;
    await ack(carol, g, m.messageId);
    const list = (user: UserClient, req: { messageId?: string; state?: ReadState; pageSize?: number; pageToken?: string; groupId?: string } = {}) =>
      user.messages.listReadReceipts({ groupId: g, messageId: m.messageId, state: ReadState.READ, ...req });
    const entry = (r: { userId: string; readTime?: Parameters<typeof timestampMs>[0] }) => (r.readTime ? `${r.userId}@${timestampMs(r.readTime) - t1}` : r.userId);

    const whole = await list(alice);
    expect({ items: whole.receipts.map(entry), next: whole.nextPageToken, counts: whole.counts }).toMatchObject({
      items: ["carol@1000", "erin@0"],
      next: "",
      counts: { readCount: 2, unreadCount: 3 },
    });
    // Pages of 2 of the unread, walked to the end; one read during the walk leaves the list.
    const first = await list(alice, { state: ReadState.UNREAD, pageSize: 2 });
    expect(first.receipts.map(entry)).toEqual(["bob", "dave"]);
    await ack(bob, g, m.messageId);
    const second = await list(alice, { state: ReadState.UNREAD, pageSize: 2, pageToken: first.nextPageToken });
    expect({ items: second.receipts.map(entry), next: second.nextPageToken, counts: second.counts }).toMatchObject({
      items: ["frank"],
      next: "",
      counts: { readCount: 3, unreadCount: 2 },
    });
    const one = await list(alice, { pageSize: 1 });
    expect({ items: one.receipts.map((r) => r.userId), more: one.nextPageToken !== "" }).toEqual({ items: ["bob"], more: true });
    const rest = await list(alice, { pageSize: 1, pageToken: one.nextPageToken });
    expect(rest.receipts.map((r) => r.userId)).toEqual(["carol"]);
    // A message that asked for none has no readers; another message's are its own.
    expect(await list(alice, { messageId: plain.messageId, state: ReadState.UNREAD })).toMatchObject({ receipts: [], nextPageToken: "", counts: { readCount: 0, unreadCount: 0 } });
    expect((await list(alice, { messageId: other.messageId, state: ReadState.UNREAD })).receipts.map(entry)).toEqual(["bob", "carol", "dave", "erin", "frank"]);
    expect((await list(alice, { messageId: t.messageId, state: ReadState.UNREAD })).receipts.map(entry)).toEqual(["carol"]);

    // PAG-3: a token is for its RPC, caller, group, message and state only.
    const token = one.nextPageToken;
    const invalid = (p: Promise<unknown>) => expectError(p, Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token" });
    await invalid(list(alice, { state: ReadState.UNREAD, pageToken: token }));
    await invalid(list(alice, { messageId: other.messageId, pageToken: token }));
    await invalid(list(bob, { pageToken: token }));
    await invalid(list(alice, { pageToken: (await alice.messages.listMessages({ groupId: g, pageSize: 1 })).nextPageToken }));
    await invalid(list(alice, { pageToken: "!!!" }));

    // Only the sender; DRV-1 for those who may not see it.
    const senderOnly = (p: Promise<unknown>) => expectError(p, Code.PermissionDenied, ErrorReason.READ_RECEIPTS_SENDER_ONLY, { field: "message_id" });
    await senderOnly(list(bob));
    await senderOnly(list(carol, { messageId: t.messageId }));
    await senderOnly(list(bob, { messageId: plain.messageId }));
    const hidden = await expectError(list(bob, { messageId: t.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
    const unknown = await expectError(list(bob, { messageId: "msg_nope" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
    expectSameError(hidden, unknown);

    // Order of checks: FIELD_INVALID (group_id, message_id, state, page_size, page_token), GROUP_NOT_FOUND, NOT_A_MEMBER, MESSAGE_NOT_FOUND, SENDER_ONLY.
    const field = (p: Promise<unknown>, name: string) => expectError(p, Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: name });
    await field(list(olaf, { groupId: "bad id!", messageId: "", state: ReadState.UNSPECIFIED }), "group_id");
    await field(list(olaf, { groupId: "nope", messageId: "", state: ReadState.UNSPECIFIED }), "message_id");
    await field(list(olaf, { groupId: "nope", state: ReadState.UNSPECIFIED, pageSize: -1 }), "state");
    await field(list(olaf, { groupId: "nope", pageSize: -1, pageToken: "!!!" }), "page_size");
    await invalid(list(olaf, { groupId: "nope", pageToken: "!!!" }));
    await expectError(list(olaf, { groupId: "nope" }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(list(olaf, { messageId: "msg_nope" }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    expect((await list(alice, { pageSize: 0 })).receipts).toHaveLength(3);
    expect((await list(alice, { pageSize: 100_000 })).receipts).toHaveLength(3);
    // The sender who left is no member.
    await app.admin.removeMembers({ appId: app.appId, groupId: g, userIds: ["alice"] });
    await expectError(list(alice), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
  });
});
