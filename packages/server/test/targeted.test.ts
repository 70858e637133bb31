// Targeted group messages on every path (rules TGT-4 to TGT-8, TGT-12, CNV-2, UNR-1): receivers
// and all of the sender's devices see it, with the full receiver list; a non-receiver learns
// nothing of it on the live stream, in history, by ID, in conversations or from its recall.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { toJson } from "@bufbuild/protobuf";
import { ErrorInfoSchema, ErrorReason, GroupType } from "@narrowcast/gen";
import {
  AppFixture,
  FakeClock,
  PROTOCOLS,
  TestServer,
  expectError,
  isAboutMessage,
  isMessage,
  receivedOf,
  viewOf,
} from "./support.js";

const clock = new FakeClock();
let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ now: clock.now });
});
afterAll(async () => {
  await server?.close();
});

describe.each(PROTOCOLS)("%s", (protocol) => {
  /** alice sends; bob and carol receive; dave is a member who is not a receiver. */
  async function setup(type = GroupType.WORK) {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol", "dave", "erin"] });
    const g = await app.group(type, "alice", ["bob", "carol", "dave"]);
    return { app, g, alice: app.user("alice"), bob: app.user("bob"), carol: app.user("carol"), dave: app.user("dave") };
  }

  it("TGT-4, TGT-7, EVT-1: receivers and every device of the sender get it with the full list; a non-receiver does not", async () => {
    const { app, g, alice, bob, carol, dave } = await setup();
    const streams = {
      alice: await alice.subscribe(),
      aliceTablet: await app.device("alice").subscribe(),
      bob: await bob.subscribe(),
      carol: await carol.subscribe(),
      dave: await dave.subscribe(),
    };
    const sent = await alice.send(g, "secret", { receiverIds: ["carol", "bob"] });
    expect(sent).toMatchObject({ receiverIds: ["carol", "bob"], senderId: "alice", seq: 1n });
    for (const s of [streams.alice, streams.aliceTablet, streams.bob, streams.carol]) {
      const item = await s.waitFor(isMessage("secret"));
      expect(receivedOf(item)).toMatchObject({ messageId: sent.messageId, receiverIds: ["carol", "bob"], senderId: "alice" });
    }
    await alice.send(g, "public");
    await streams.dave.expectNone(isAboutMessage(sent.messageId), isMessage("public"));
    // Nothing at all reached dave before the ordinary message: not even a hint of a sender.
    expect(streams.dave.events.map((e) => receivedOf(e)?.seq)).toEqual([2n]);
    for (const s of Object.values(streams)) s.close();
  });

  it("TGT-2: the single-receiver form is a list of one", async () => {
    const { g, alice, bob, dave } = await setup();
    const stream = await bob.subscribe();
    const sent = await alice.send(g, "just bob", { receiverIds: ["bob"] });
    expect(sent).toMatchObject({ receiverIds: ["bob"] });
    expect(receivedOf(await stream.waitFor(isMessage("just bob")))?.receiverIds).toEqual(["bob"]);
    expect((await bob.messages.getMessage({ groupId: g, messageId: sent.messageId })).message?.receiverIds).toEqual(["bob"]);
    await expectError(dave.messages.getMessage({ groupId: g, messageId: sent.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    stream.close();
  });

  it("TGT-4, TGT-8: history and GetMessage show it to its audience only; others see a seq gap", async () => {
    const { g, alice, bob, carol, dave } = await setup();
    await alice.send(g, "one");
    const secret = await alice.send(g, "two", { receiverIds: ["bob"] });
    await alice.send(g, "three");
    const seqs = async (u: typeof bob) => (await u.history(g)).map((m) => Number(m.seq));
    expect(await seqs(alice)).toEqual([1, 2, 3]);
    expect(await seqs(bob)).toEqual([1, 2, 3]);
    expect(await seqs(carol)).toEqual([1, 3]);
    expect(await seqs(dave)).toEqual([1, 3]);
    const seen = (await bob.history(g))[1];
    expect(seen).toMatchObject({ receiverIds: ["bob"], senderId: "alice" });
    expect((await alice.messages.getMessage({ groupId: g, messageId: secret.messageId })).message?.messageId).toBe(secret.messageId);
    const missing = await expectError(dave.messages.getMessage({ groupId: g, messageId: "msg_nope" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    const hidden = await expectError(dave.messages.getMessage({ groupId: g, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    expect(toJson(ErrorInfoSchema, hidden.findDetails(ErrorInfoSchema)[0])).toEqual(
      toJson(ErrorInfoSchema, missing.findDetails(ErrorInfoSchema)[0]),
    );
  });

  it("TGT-4, TGT-6, CNV-1, CNV-2: a non-receiver's conversations do not change at all", async () => {
    const { app, g, alice, bob, dave } = await setup();
    const other = await app.group(GroupType.WORK, "alice", ["bob", "dave"]);
    clock.advance(1);
    await alice.send(g, "older", { mentionedUserIds: ["dave"] });
    clock.advance(1);
    await alice.send(other, "newer");
    const daveBefore = await dave.conversations.listConversations({});
    const daveG = await viewOf(dave, g);
    clock.advance(1);
    const secret = await alice.send(g, "secret", { receiverIds: ["bob"], countAsUnreadForReceivers: true });
    // dave: same list, same order, same counters, same last message.
    expect(await dave.conversations.listConversations({})).toEqual(daveBefore);
    expect(await viewOf(dave, g)).toEqual(daveG);
    // bob: the targeted message is his last message and moves g to the top; it counts (opted in).
    const bobList = (await bob.conversations.listConversations({})).conversations;
    expect(bobList.map((c) => c.groupId)).toEqual([g, other]);
    expect(bobList[0].lastMessage?.messageId).toBe(secret.messageId);
    expect(bobList[0].unreadCount).toBe(2);
    // alice: the sender's own last message; never unread for her.
    const aliceG = await alice.conversation(g);
    expect(aliceG.lastMessage?.messageId).toBe(secret.messageId);
    expect(aliceG.unreadCount).toBe(0);
    expect(aliceG.readSeq).toBe(secret.seq);
  });

  it("TGT-6: excluded from unread by default; with count_as_unread_for_receivers only for receivers", async () => {
    const { g, alice, bob, carol, dave } = await setup();
    await alice.send(g, "quiet", { receiverIds: ["bob", "carol"] });
    const unread = async () => Promise.all([alice, bob, carol, dave].map(async (u) => (await u.conversation(g)).unreadCount));
    expect(await unread()).toEqual([0, 0, 0, 0]);
    await alice.send(g, "loud", { receiverIds: ["bob"], countAsUnreadForReceivers: true });
    expect(await unread()).toEqual([0, 1, 0, 0]);
    // A receiver sending one back: counts for alice only.
    await bob.send(g, "reply", { receiverIds: ["alice"], countAsUnreadForReceivers: true });
    expect(await unread()).toEqual([1, 0, 0, 0]);
    await alice.send(g, "ordinary");
    expect(await unread()).toEqual([0, 1, 1, 1]);
  });

  it("TGT-4: recall events reach the receivers and the sender's devices only", async () => {
    const { app, g, alice, bob, carol, dave } = await setup();
    const secret = await alice.send(g, "secret", { receiverIds: ["bob"] });
    const streams = {
      alice: await alice.subscribe(),
      tablet: await app.device("alice").subscribe(),
      bob: await bob.subscribe(),
      carol: await carol.subscribe(),
      dave: await dave.subscribe(),
    };
    // The owner alice recalls her own message; dave (not a receiver) may not even find it.
    await expectError(dave.messages.recallMessage({ groupId: g, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    const recalled = await alice.messages.recallMessage({ groupId: g, messageId: secret.messageId });
    expect(recalled.message).toMatchObject({ receiverIds: ["bob"], elements: [] });
    for (const s of [streams.alice, streams.tablet, streams.bob]) await s.waitFor(isAboutMessage(secret.messageId));
    await alice.send(g, "after");
    await streams.carol.expectNone(isAboutMessage(secret.messageId), isMessage("after"));
    await streams.dave.expectNone(isAboutMessage(secret.messageId), isMessage("after"));
    for (const s of Object.values(streams)) s.close();
  });

  it("TGT-4: an owner who is not a receiver cannot see or recall it; a receiver cannot recall it", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["owner", "alice", "bob"] });
    const g = await app.group(GroupType.WORK, "owner", ["alice", "bob"]);
    const secret = await app.user("alice").send(g, "secret", { receiverIds: ["bob"] });
    await expectError(app.user("owner").messages.recallMessage({ groupId: g, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    await expectError(app.user("bob").messages.recallMessage({ groupId: g, messageId: secret.messageId }), Code.PermissionDenied, ErrorReason.RECALL_NOT_ALLOWED);
  });

  it("TGT-12, GRP-6: later joiners never see it, also in a MEETING group's history", async () => {
    for (const type of [GroupType.WORK, GroupType.MEETING]) {
      const { app, g, alice } = await setup(type);
      const before = await alice.send(g, "before");
      const secret = await alice.send(g, "secret", { receiverIds: ["bob"], countAsUnreadForReceivers: true });
      await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["erin"] });
      const erin = app.user("erin");
      const history = (await erin.history(g)).map((m) => m.messageId);
      expect(history).toEqual(type === GroupType.MEETING ? [before.messageId] : []);
      await expectError(erin.messages.getMessage({ groupId: g, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
      const conv = await erin.conversation(g);
      expect(conv.lastMessage?.messageId ?? "").toBe(type === GroupType.MEETING ? before.messageId : "");
      expect(conv.unreadCount).toBe(0);
      await expectError(erin.messages.recallMessage({ groupId: g, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    }
  });

  it("TGT-4, MSG-9: an online-only targeted message reaches online receivers only and is never stored", async () => {
    const { g, alice, bob, dave } = await setup();
    const bobStream = await bob.subscribe();
    const daveStream = await dave.subscribe();
    const sent = await alice.send(g, "psst", { receiverIds: ["bob"], onlineOnly: true });
    expect(sent.seq).toBe(0n);
    const item = await bobStream.waitFor(isMessage("psst"));
    expect(item.item.case === "event" && item.item.value.cursor).toBe("");
    await alice.send(g, "after");
    await daveStream.expectNone(isMessage("psst"), isMessage("after"));
    expect((await bob.history(g)).map((m) => m.seq)).toEqual([1n]);
    bobStream.close();
    daveStream.close();
  });

  it("TGT-4, EVT-3: a non-receiver's replay skips it; a receiver's replay holds it", async () => {
    const { g, alice, bob, dave } = await setup();
    const bobFirst = await bob.subscribe();
    const daveFirst = await dave.subscribe();
    const bobCursor = bobFirst.lastCursor;
    const daveCursor = daveFirst.lastCursor;
    bobFirst.close();
    daveFirst.close();
    const secret = await alice.send(g, "secret", { receiverIds: ["bob"] });
    const open = await alice.send(g, "open");
    const bobAgain = await bob.subscribe({ cursor: bobCursor });
    const daveAgain = await dave.subscribe({ cursor: daveCursor });
    expect(bobAgain.replayed.map((e) => receivedOf(e)?.messageId)).toEqual([secret.messageId, open.messageId]);
    expect(daveAgain.replayed.map((e) => receivedOf(e)?.messageId)).toEqual([open.messageId]);
    bobAgain.close();
    daveAgain.close();
  });
});
