// SendMessage and the message RPCs over every protocol: seq numbering, elements, size, mentions,
// idempotency, history pages, fetch by ID, recall, every send rejection in the spec's order of
// checks, and that a rejected send leaves no trace (rules MSG-1 to MSG-15, TGT-1 to TGT-3,
// TGT-5, TGT-9 to TGT-11, section 9.1).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toJson, type MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import {
  ErrorInfoSchema,
  ErrorReason,
  GroupType,
  MemberRole,
  MessageElementSchema,
  MessagePriority,
  type SendMessageRequestSchema,
} from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import {
  AppFixture,
  PROTOCOLS,
  TestServer,
  expectError,
  ids,
  isAboutMessage,
  isEvent,
  isMessage,
  text,
  viewOf,
  type UserClient,
} from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server?.close();
});

type SendInit = MessageInitShape<typeof SendMessageRequestSchema>;

/** A text of `n` ASCII characters (encodes to n + 9 bytes as a single-element message). */
const chars = (n: number) => "x".repeat(n);

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[], plan = Plan.ULTIMATE) => AppFixture.create(server, protocol, { users, plan });

  it("MSG-2, MSG-7: seq is the group's next number per stored message; elements, priority and custom data round-trip", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const other = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const elements: MessageInitShape<typeof MessageElementSchema>[] = [
      text("hello"),
      { element: { case: "custom", value: { data: new Uint8Array([1, 2, 3]), description: "d", extension: "e" } } },
      { element: { case: "image", value: { url: "https://example.com/i.png", width: 10, height: 20, sizeBytes: 300n, thumbnailUrl: "https://example.com/t.png" } } },
      { element: { case: "file", value: { url: "https://example.com/f.pdf", fileName: "f.pdf", sizeBytes: 1000n } } },
      { element: { case: "location", value: { description: "here", latitude: 1.5, longitude: -2.25 } } },
      { element: { case: "face", value: { index: 7, data: new Uint8Array([9]) } } },
    ];
    const first = await alice.messages.sendMessage({
      groupId: g,
      elements,
      priority: MessagePriority.HIGH,
      customData: new Uint8Array([42]),
      offlinePushInfo: { title: "t", description: "d", extension: "x" },
    });
    const targeted = await alice.send(g, "to bob", { receiverIds: ["bob"] });
    const online = await alice.send(g, "online", { onlineOnly: true });
    const third = await alice.send(g, "third");
    const elsewhere = await alice.send(other, "elsewhere");

    expect([first.message!.seq, targeted.seq, online.seq, third.seq, elsewhere.seq]).toEqual([1n, 2n, 0n, 3n, 1n]);
    expect(third.priority).toBe(MessagePriority.UNSPECIFIED);
    const { message } = await app.user("bob").messages.getMessage({ groupId: g, messageId: first.message!.messageId });
    expect(message!.elements.map((e) => toJson(MessageElementSchema, e))).toEqual(
      elements.map((e) => toJson(MessageElementSchema, create(MessageElementSchema, e))),
    );
    expect(message!.priority).toBe(MessagePriority.HIGH);
    expect(message!.customData).toEqual(new Uint8Array([42]));
    expect(message!.offlinePushInfo?.title).toBe("t");
    expect(message!.senderId).toBe("alice");
    expect(message!.groupId).toBe(g);
    expect(message!.receiverIds).toEqual([]);
  });

  it("MSG-1: a non-member cannot send (PermissionDenied NOT_A_MEMBER)", async () => {
    const app = await setup(["alice", "olaf"]);
    const g = await app.group(GroupType.MEETING, "alice");
    await expectError(app.user("olaf").send(g, "hi"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    expect(await app.user("alice").history(g)).toEqual([]);
  });

  it("MSG-3: no elements, an element without kind and an empty text are rejected", async () => {
    const app = await setup(["alice"]);
    const g = await app.group(GroupType.WORK, "alice");
    const alice = app.user("alice");
    await expectError(alice.messages.sendMessage({ groupId: g, elements: [] }), Code.InvalidArgument, ErrorReason.EMPTY_MESSAGE, {
      field: "elements",
    });
    await expectError(
      alice.messages.sendMessage({ groupId: g, elements: [text("ok"), {}] }),
      Code.InvalidArgument,
      ErrorReason.INVALID_ELEMENT,
      { field: "elements[1]" },
    );
    await expectError(
      alice.messages.sendMessage({ groupId: g, elements: [text("")] }),
      Code.InvalidArgument,
      ErrorReason.INVALID_ELEMENT,
      { field: "elements[0]" },
    );
    // Sizes and indexes are signed on the wire; negative ones are invalid elements.
    const negative: MessageInitShape<typeof MessageElementSchema>[] = [
      { element: { case: "image", value: { url: "https://example.com/i.png", width: -1 } } },
      { element: { case: "image", value: { url: "https://example.com/i.png", height: -1 } } },
      { element: { case: "image", value: { url: "https://example.com/i.png", sizeBytes: -1n } } },
      { element: { case: "file", value: { url: "https://example.com/f", sizeBytes: -5n } } },
      { element: { case: "face", value: { index: -1 } } },
    ];
    for (const el of negative) {
      await expectError(alice.messages.sendMessage({ groupId: g, elements: [text("ok"), el] }), Code.InvalidArgument, ErrorReason.INVALID_ELEMENT, {
        field: "elements[1]",
      });
    }
    expect(await alice.history(g)).toEqual([]);
  });

  it("MSG-4: 12,279 characters pass, 12,280 fail with MESSAGE_TOO_LARGE; custom_data counts too", async () => {
    const app = await setup(["alice"]);
    const g = await app.group(GroupType.WORK, "alice");
    const alice = app.user("alice");
    const ok = await alice.send(g, chars(12_279));
    expect(ok.seq).toBe(1n);
    await expectError(alice.send(g, chars(12_280)), Code.InvalidArgument, ErrorReason.MESSAGE_TOO_LARGE, { field: "elements" });
    // 200 text characters (209 bytes) + custom_data of 12,079 bytes (+ 3 bytes tag and length) = 12,291.
    await expectError(
      alice.send(g, chars(200), { customData: new Uint8Array(12_079) }),
      Code.InvalidArgument,
      ErrorReason.MESSAGE_TOO_LARGE,
      { field: "elements" },
    );
    expect((await alice.history(g)).map((m) => m.seq)).toEqual([1n]);
  });

  it("MSG-6: mentions are members, at most 50, duplicates collapsed", async () => {
    const app = await setup(["alice", "bob", "carol", "olaf"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const alice = app.user("alice");
    const m = await alice.send(g, "hey", { mentionedUserIds: ["bob", "bob", "carol"] });
    expect(m.mentionedUserIds).toEqual(["bob", "carol"]);
    await expectError(alice.send(g, "x", { mentionedUserIds: ids("m", 51) }), Code.InvalidArgument, ErrorReason.MENTION_LIST_TOO_LONG);
    // The limit counts distinct IDs: 51 entries naming one member are one mention.
    expect((await alice.send(g, "many", { mentionedUserIds: Array(51).fill("bob") })).mentionedUserIds).toEqual(["bob"]);
    await expectError(
      alice.send(g, "x", { mentionedUserIds: ["bob", "olaf", "ghost"] }),
      Code.FailedPrecondition,
      ErrorReason.MENTIONED_USER_NOT_MEMBER,
      { ids: ["olaf", "ghost"] },
    );
    const all = await alice.send(g, "all", { mentionAll: true });
    expect(all.mentionAll).toBe(true);
  });

  it("TGT-1, TGT-2, TGT-3, TGT-5: receiver list shape and membership; the single-receiver form is a list of one", async () => {
    const members = ids("u", 51);
    const app = await setup(["alice", "olaf", ...members]);
    const g = await app.group(GroupType.WORK, "alice", members);
    const alice = app.user("alice");
    const fifty = await alice.send(g, "fifty", { receiverIds: members.slice(0, 50) });
    expect(fifty.receiverIds).toEqual(members.slice(0, 50));
    await expectError(alice.send(g, "x", { receiverIds: members }), Code.InvalidArgument, ErrorReason.RECEIVER_LIST_TOO_LONG, {
      field: "receiver_ids",
    });
    expect((await alice.send(g, "one", { receiverIds: ["u1"] })).receiverIds).toEqual(["u1"]);
    await expectError(alice.send(g, "x", { receiverIds: ["u1", "u2", "u1", "u3", "u3"] }), Code.InvalidArgument, ErrorReason.DUPLICATE_RECEIVER, {
      ids: ["u1", "u3"],
    });
    await expectError(alice.send(g, "x", { receiverIds: ["u1", "alice"] }), Code.InvalidArgument, ErrorReason.SENDER_IN_RECEIVER_LIST, {
      ids: ["alice"],
    });
    await expectError(alice.send(g, "x", { receiverIds: ["alice"] }), Code.InvalidArgument, ErrorReason.SENDER_IN_RECEIVER_LIST, {
      field: "receiver_ids",
      ids: ["alice"],
    });
    await expectError(
      alice.send(g, "x", { receiverIds: ["u1", "olaf", "ghost"] }),
      Code.FailedPrecondition,
      ErrorReason.RECEIVER_NOT_MEMBER,
      { ids: ["olaf", "ghost"] },
    );
    await expectError(alice.send(g, "x", { receiverIds: ["olaf"] }), Code.FailedPrecondition, ErrorReason.RECEIVER_NOT_MEMBER, {
      field: "receiver_ids",
      ids: ["olaf"],
    });
    expect((await alice.history(g)).map((m) => m.seq)).toEqual([1n, 2n]);
  });

  it("TGT-9, TGT-10, TGT-11: plan, group type and mentions", async () => {
    const app = await setup(["alice", "bob"]);
    const std = await AppFixture.create(server, protocol, { users: ["alice", "bob"], plan: Plan.STANDARD });
    const alice = app.user("alice");
    for (const type of [GroupType.COMMUNITY, GroupType.AVCHATROOM]) {
      const g = await app.group(type, "alice", ["bob"]);
      await expectError(alice.send(g, "x", { receiverIds: ["bob"] }), Code.FailedPrecondition, ErrorReason.GROUP_TYPE_UNSUPPORTED);
    }
    const w = await app.group(GroupType.WORK, "alice", ["bob"]);
    await expectError(alice.send(w, "x", { receiverIds: ["bob"], mentionAll: true }), Code.InvalidArgument, ErrorReason.TARGETED_WITH_MENTION);
    await expectError(alice.send(w, "x", { receiverIds: ["bob"], mentionedUserIds: ["bob"] }), Code.InvalidArgument, ErrorReason.TARGETED_WITH_MENTION, {
      field: "mentioned_user_ids",
    });
    const sg = await std.group(GroupType.WORK, "alice", ["bob"]);
    await expectError(std.user("alice").send(sg, "x", { receiverIds: ["bob"] }), Code.PermissionDenied, ErrorReason.FEATURE_NOT_IN_PLAN, {
      field: "receiver_ids",
    });
    // STANDARD apps still send ordinary messages.
    expect((await std.user("alice").send(sg, "ordinary")).seq).toBe(1n);
    // ADM-8: the plan is checked at send time, so SetAppPlan applies to the very next send, both ways.
    const { app: upgraded } = await std.admin.setAppPlan({ appId: std.appId, plan: Plan.ULTIMATE });
    expect(upgraded).toMatchObject({ appId: std.appId, plan: Plan.ULTIMATE, secret: "" });
    expect((await std.user("alice").send(sg, "now allowed", { receiverIds: ["bob"] })).receiverIds).toEqual(["bob"]);
    await std.admin.setAppPlan({ appId: std.appId, plan: Plan.STANDARD });
    await expectError(std.user("alice").send(sg, "x", { receiverIds: ["bob"] }), Code.PermissionDenied, ErrorReason.FEATURE_NOT_IN_PLAN);
    await expectError(std.admin.setAppPlan({ appId: std.appId, plan: Plan.UNSPECIFIED }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "plan",
    });
    expect((await std.admin.getApp({ appId: std.appId })).app?.plan).toBe(Plan.STANDARD);
  });

  it("9.1: the first failing check in the spec's order decides the error", async () => {
    const app = await setup(["alice", "bob", "carol", "olaf"]);
    const std = await AppFixture.create(server, protocol, { users: ["alice", "bob", "olaf"], plan: Plan.STANDARD });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const c = await app.group(GroupType.COMMUNITY, "alice", ["bob"]);
    const sc = await std.group(GroupType.COMMUNITY, "alice", ["bob"]);
    const big = [text(chars(12_280))];
    const cases: { name: string; user: UserClient; req: SendInit; code: Code; reason: ErrorReason; field?: string; ids?: string[] }[] = [
      { name: "group_id before elements", user: app.user("alice"), req: { groupId: "bad id!", elements: [] }, code: Code.InvalidArgument, reason: ErrorReason.FIELD_INVALID, field: "group_id" },
      { name: "client_message_id before elements", user: app.user("alice"), req: { groupId: g, clientMessageId: chars(129), elements: [] }, code: Code.InvalidArgument, reason: ErrorReason.FIELD_INVALID, field: "client_message_id" },
      { name: "EMPTY_MESSAGE before TARGETED_WITH_MENTION", user: app.user("alice"), req: { groupId: g, elements: [], receiverIds: ["bob"], mentionAll: true }, code: Code.InvalidArgument, reason: ErrorReason.EMPTY_MESSAGE, field: "elements" },
      { name: "INVALID_ELEMENT before MESSAGE_TOO_LARGE", user: app.user("alice"), req: { groupId: g, elements: [...big, {}] }, code: Code.InvalidArgument, reason: ErrorReason.INVALID_ELEMENT, field: "elements[1]" },
      { name: "MESSAGE_TOO_LARGE before TARGETED_WITH_MENTION", user: app.user("alice"), req: { groupId: g, elements: big, receiverIds: ["bob"], mentionedUserIds: ["carol"] }, code: Code.InvalidArgument, reason: ErrorReason.MESSAGE_TOO_LARGE, field: "elements" },
      { name: "TARGETED_WITH_MENTION before RECEIVER_LIST_TOO_LONG", user: app.user("alice"), req: { groupId: g, elements: [text("x")], receiverIds: ids("r", 51), mentionAll: true }, code: Code.InvalidArgument, reason: ErrorReason.TARGETED_WITH_MENTION },
      { name: "RECEIVER_LIST_TOO_LONG before DUPLICATE_RECEIVER", user: app.user("alice"), req: { groupId: g, elements: [text("x")], receiverIds: [...ids("r", 50), "r1"] }, code: Code.InvalidArgument, reason: ErrorReason.RECEIVER_LIST_TOO_LONG, field: "receiver_ids" },
      { name: "DUPLICATE_RECEIVER before SENDER_IN_RECEIVER_LIST", user: app.user("alice"), req: { groupId: g, elements: [text("x")], receiverIds: ["bob", "bob", "alice"] }, code: Code.InvalidArgument, reason: ErrorReason.DUPLICATE_RECEIVER, ids: ["bob"] },
      { name: "SENDER_IN_RECEIVER_LIST before GROUP_NOT_FOUND", user: app.user("alice"), req: { groupId: "nope", elements: [text("x")], receiverIds: ["alice"] }, code: Code.InvalidArgument, reason: ErrorReason.SENDER_IN_RECEIVER_LIST, ids: ["alice"] },
      { name: "MENTION_LIST_TOO_LONG before GROUP_NOT_FOUND", user: app.user("alice"), req: { groupId: "nope", elements: [text("x")], mentionedUserIds: ids("m", 51) }, code: Code.InvalidArgument, reason: ErrorReason.MENTION_LIST_TOO_LONG },
      { name: "GROUP_NOT_FOUND before NOT_A_MEMBER", user: app.user("olaf"), req: { groupId: "nope", elements: [text("x")] }, code: Code.NotFound, reason: ErrorReason.GROUP_NOT_FOUND },
      { name: "NOT_A_MEMBER before FEATURE_NOT_IN_PLAN", user: std.user("olaf"), req: { groupId: sc, elements: [text("x")], receiverIds: ["bob"] }, code: Code.PermissionDenied, reason: ErrorReason.NOT_A_MEMBER },
      { name: "NOT_A_MEMBER before GROUP_TYPE_UNSUPPORTED", user: app.user("olaf"), req: { groupId: c, elements: [text("x")], receiverIds: ["bob"] }, code: Code.PermissionDenied, reason: ErrorReason.NOT_A_MEMBER },
      { name: "FEATURE_NOT_IN_PLAN before GROUP_TYPE_UNSUPPORTED", user: std.user("alice"), req: { groupId: sc, elements: [text("x")], receiverIds: ["olaf"] }, code: Code.PermissionDenied, reason: ErrorReason.FEATURE_NOT_IN_PLAN },
      { name: "GROUP_TYPE_UNSUPPORTED before RECEIVER_NOT_MEMBER", user: app.user("alice"), req: { groupId: c, elements: [text("x")], receiverIds: ["olaf"] }, code: Code.FailedPrecondition, reason: ErrorReason.GROUP_TYPE_UNSUPPORTED },
    ];
    for (const k of cases) {
      const err = await expectError(k.user.messages.sendMessage(k.req), k.code, k.reason, { field: k.field, ids: k.ids }).catch((e: Error) => {
        throw new Error(`${k.name}: ${e.message}`);
      });
      expect(err.code, k.name).toBe(k.code);
    }
  });

  it("MSG-15: a rejected send leaves no trace; the next accepted message gets the next seq", async () => {
    const app = await setup(["alice", "bob", "carol", "olaf"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const c = await app.group(GroupType.COMMUNITY, "alice", ["bob"]);
    const alice = app.user("alice");
    const first = await alice.send(g, "first");
    const bobStream = await app.user("bob").subscribe();
    const before = { bob: await viewOf(app.user("bob"), g), carol: await viewOf(app.user("carol"), g), bobC: await viewOf(app.user("bob"), c) };

    const rejected: { user: UserClient; req: SendInit; reason: ErrorReason }[] = [
      { user: alice, req: { groupId: g, elements: [text("a")], clientMessageId: chars(129), mentionAll: true }, reason: ErrorReason.FIELD_INVALID },
      { user: alice, req: { groupId: g, elements: [], mentionedUserIds: ["bob"] }, reason: ErrorReason.EMPTY_MESSAGE },
      { user: alice, req: { groupId: g, elements: [text("")], mentionedUserIds: ["bob"] }, reason: ErrorReason.INVALID_ELEMENT },
      { user: alice, req: { groupId: g, elements: [text(chars(12_280))], mentionAll: true }, reason: ErrorReason.MESSAGE_TOO_LARGE },
      { user: alice, req: { groupId: g, elements: [text("t")], receiverIds: ["bob"], mentionAll: true, countAsUnreadForReceivers: true }, reason: ErrorReason.TARGETED_WITH_MENTION },
      { user: alice, req: { groupId: g, elements: [text("t")], receiverIds: ["bob", ...ids("r", 50)] }, reason: ErrorReason.RECEIVER_LIST_TOO_LONG },
      { user: alice, req: { groupId: g, elements: [text("t")], receiverIds: ["bob", "bob"], countAsUnreadForReceivers: true }, reason: ErrorReason.DUPLICATE_RECEIVER },
      { user: alice, req: { groupId: g, elements: [text("t")], receiverIds: ["bob", "alice"], countAsUnreadForReceivers: true }, reason: ErrorReason.SENDER_IN_RECEIVER_LIST },
      { user: alice, req: { groupId: g, elements: [text("t")], mentionedUserIds: ["bob", ...ids("m", 50)] }, reason: ErrorReason.MENTION_LIST_TOO_LONG },
      { user: alice, req: { groupId: g, elements: [text("t")], receiverIds: ["bob", "olaf"], countAsUnreadForReceivers: true, clientMessageId: "k1" }, reason: ErrorReason.RECEIVER_NOT_MEMBER },
      { user: alice, req: { groupId: g, elements: [text("t")], mentionedUserIds: ["bob", "olaf"], clientMessageId: "k1" }, reason: ErrorReason.MENTIONED_USER_NOT_MEMBER },
      { user: app.user("olaf"), req: { groupId: g, elements: [text("t")], clientMessageId: "k1" }, reason: ErrorReason.NOT_A_MEMBER },
      { user: alice, req: { groupId: c, elements: [text("t")], receiverIds: ["bob"], countAsUnreadForReceivers: true }, reason: ErrorReason.GROUP_TYPE_UNSUPPORTED },
    ];
    for (const r of rejected) {
      const err = await r.user.messages.sendMessage(r.req).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `${ErrorReason[r.reason]} was accepted`).toBeDefined();
    }

    // The key of a rejected send was not consumed: the accepted send is a new message.
    const next = await alice.send(g, "next", { clientMessageId: "k1" });
    expect(next.seq).toBe(first.seq + 1n);
    await bobStream.waitFor(isMessage("next"));
    expect(bobStream.events.map((e) => e.payload.case)).toEqual(["messageReceived"]);
    const after = { bob: await viewOf(app.user("bob"), g), carol: await viewOf(app.user("carol"), g), bobC: await viewOf(app.user("bob"), c) };
    for (const who of ["bob", "carol"] as const) {
      expect(after[who]).toEqual({
        ...before[who],
        history: [...before[who].history, next.messageId],
        unread: before[who].unread + 1,
        last: next.messageId,
      });
    }
    expect(after.bobC).toEqual(before.bobC);
    expect((await alice.conversation(g)).readSeq).toBe(next.seq);
    bobStream.close();
  });

  it("MSG-15: a targeted send refused for the plan leaves no trace either", async () => {
    const std = await setup(["alice", "bob"], Plan.STANDARD);
    const g = await std.group(GroupType.WORK, "alice", ["bob"]);
    const bob = await std.user("bob").subscribe();
    await expectError(
      std.user("alice").send(g, "t", { receiverIds: ["bob"], countAsUnreadForReceivers: true, clientMessageId: "k" }),
      Code.PermissionDenied,
      ErrorReason.FEATURE_NOT_IN_PLAN,
    );
    const next = await std.user("alice").send(g, "next", { clientMessageId: "k" });
    expect(next.seq).toBe(1n);
    await bob.waitFor(isMessage("next"));
    expect(bob.events).toHaveLength(1);
    expect(await viewOf(std.user("bob"), g)).toMatchObject({ history: [next.messageId], unread: 1, last: next.messageId });
    bob.close();
  });

  it("MSG-10: a retry with the same client_message_id returns the original and stores and delivers nothing", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const bob = app.user("bob");
    const stream = await bob.subscribe();
    const original = await alice.send(g, "once", { clientMessageId: "key-1" });
    const retry = await alice.send(g, "changed on retry", { clientMessageId: "key-1" });
    expect(retry.messageId).toBe(original.messageId);
    expect(retry.seq).toBe(original.seq);
    expect(retry.elements).toEqual(original.elements);
    // Another sender's identical key is another message; so is another key.
    const bobs = await bob.send(g, "once", { clientMessageId: "key-1" });
    expect(bobs.messageId).not.toBe(original.messageId);
    const other = await alice.send(g, "once", { clientMessageId: "key-2" });
    expect(other.seq).toBe(bobs.seq + 1n);
    // The key is scoped to (sender, group): the same key in another group is a new message.
    const h = await app.group(GroupType.WORK, "alice", ["bob"]);
    const elsewhere = await alice.send(h, "once", { clientMessageId: "key-1" });
    expect(elsewhere.messageId).not.toBe(original.messageId);
    expect(elsewhere).toMatchObject({ groupId: h, seq: 1n });
    expect((await alice.send(h, "again", { clientMessageId: "key-1" })).messageId).toBe(elsewhere.messageId);
    expect(await alice.send(g, "x", { clientMessageId: chars(128) })).toBeDefined();
    await expectError(alice.send(g, "x", { clientMessageId: chars(129) }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "client_message_id",
    });
    await alice.send(g, "barrier");
    await stream.waitFor(isMessage("barrier"));
    expect(stream.items.filter(isAboutMessage(original.messageId))).toHaveLength(1);
    const history = await bob.history(g);
    expect(history.filter((m) => m.messageId === original.messageId)).toHaveLength(1);
    expect(history.map((m) => m.seq)).toEqual([1n, 2n, 3n, 4n, 5n]);
    stream.close();
  });

  it("MSG-12, PAG-1, PAG-2: history pages by anchors and tokens, ascending within a page, in the anchor's direction", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    for (let i = 1; i <= 5; i++) await alice.send(g, `m${i}`);
    const page = async (q: { beforeSeq?: bigint; afterSeq?: bigint; pageSize?: number; pageToken?: string }) => {
      const res = await app.user("bob").messages.listMessages({ groupId: g, ...q });
      return { seqs: res.messages.map((m) => Number(m.seq)), token: res.nextPageToken };
    };
    const seqs = async (q: Parameters<typeof page>[0]) => {
      const { seqs, token } = await page(q);
      return { seqs, more: token !== "" };
    };
    expect(await seqs({ pageSize: 2 })).toEqual({ seqs: [4, 5], more: true });
    expect(await seqs({ beforeSeq: 4n, pageSize: 2 })).toEqual({ seqs: [2, 3], more: true });
    expect(await seqs({ beforeSeq: 2n, pageSize: 2 })).toEqual({ seqs: [1], more: false });
    expect(await seqs({ beforeSeq: 1n })).toEqual({ seqs: [], more: false });
    expect(await seqs({ afterSeq: 3n, pageSize: 1 })).toEqual({ seqs: [4], more: true });
    expect(await seqs({ afterSeq: 4n, pageSize: 5 })).toEqual({ seqs: [5], more: false });
    expect(await seqs({ afterSeq: 5n })).toEqual({ seqs: [], more: false });
    expect(await seqs({ pageSize: 100 })).toEqual({ seqs: [1, 2, 3, 4, 5], more: false });
    await expectError(page({ beforeSeq: 4n, afterSeq: 1n }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "after_seq" });

    // Walking with tokens: backward from the latest, and forward from an anchor.
    const back1 = await page({ pageSize: 2 });
    const back2 = await page({ pageSize: 2, pageToken: back1.token });
    const back3 = await page({ pageSize: 2, pageToken: back2.token });
    expect([back1.seqs, back2.seqs, back3.seqs, back3.token]).toEqual([[4, 5], [2, 3], [1], ""]);
    const fwd1 = await page({ afterSeq: 1n, pageSize: 2 });
    const fwd2 = await page({ afterSeq: 1n, pageSize: 2, pageToken: fwd1.token });
    expect([fwd1.seqs, fwd2.seqs, fwd2.token]).toEqual([[2, 3], [4, 5], ""]);
    // A token carries its first request's anchors: other anchors make it PAGE_TOKEN_INVALID.
    await expectError(page({ pageSize: 2, pageToken: fwd1.token }), Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token" });
    await expectError(page({ afterSeq: 2n, pageToken: fwd1.token }), Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token" });
    await expectError(page({ beforeSeq: 5n, pageToken: back1.token }), Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token" });

    const big = await app.group(GroupType.WORK, "alice", ["bob"]);
    for (let i = 1; i <= 21; i++) await alice.send(big, `b${i}`);
    const res = await app.user("bob").messages.listMessages({ groupId: big });
    expect(res.messages.map((m) => Number(m.seq))).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    expect(res.nextPageToken).not.toBe("");
    expect((await app.user("bob").messages.listMessages({ groupId: big, pageSize: 101 })).messages).toHaveLength(21);
  });

  it("MSG-12, TGT-8: a next page token only when messages the caller may see follow; seq gaps for non-receivers", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const alice = app.user("alice");
    await alice.send(g, "one");
    await alice.send(g, "two", { receiverIds: ["carol"] });
    await alice.send(g, "three");
    const page = async (user: string, q: { beforeSeq?: bigint; afterSeq?: bigint; pageSize?: number }) => {
      const res = await app.user(user).messages.listMessages({ groupId: g, ...q });
      return { seqs: res.messages.map((m) => Number(m.seq)), more: res.nextPageToken !== "" };
    };
    expect(await page("bob", {})).toEqual({ seqs: [1, 3], more: false });
    expect(await page("bob", { pageSize: 1 })).toEqual({ seqs: [3], more: true });
    expect(await page("bob", { beforeSeq: 3n, pageSize: 1 })).toEqual({ seqs: [1], more: false });
    expect(await page("bob", { afterSeq: 1n, pageSize: 1 })).toEqual({ seqs: [3], more: false });
    expect(await page("bob", { beforeSeq: 2n, pageSize: 1 })).toEqual({ seqs: [1], more: false });
    expect(await page("carol", { beforeSeq: 3n, pageSize: 1 })).toEqual({ seqs: [2], more: true });
    expect(await page("carol", { afterSeq: 1n, pageSize: 1 })).toEqual({ seqs: [2], more: true });
  });

  it("MSG-14: GetMessage of a missing, foreign-group, invisible or pre-join message is one and the same MESSAGE_NOT_FOUND", async () => {
    const app = await setup(["alice", "bob", "carol", "erin"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const h = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const early = await alice.send(g, "before erin");
    await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["erin"] });
    const visible = await alice.send(g, "visible");
    const hidden = await alice.send(g, "hidden", { receiverIds: ["carol"] });
    const foreign = await alice.send(h, "in h");
    const bob = app.user("bob");
    expect((await bob.messages.getMessage({ groupId: g, messageId: visible.messageId })).message?.messageId).toBe(visible.messageId);
    const details = [];
    for (const [user, messageId] of [
      [bob, "msg_does_not_exist"],
      [bob, foreign.messageId],
      [bob, hidden.messageId],
      [app.user("erin"), early.messageId],
    ] as const) {
      const err = await expectError(user.messages.getMessage({ groupId: g, messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
      details.push(toJson(ErrorInfoSchema, err.findDetails(ErrorInfoSchema)[0]));
    }
    expect(new Set(details.map((d) => JSON.stringify(d))).size).toBe(1);
  });

  it("ERR-3: GetMessage and RecallMessage with an empty message_id are FIELD_INVALID", async () => {
    const app = await setup(["alice"]);
    const g = await app.group(GroupType.WORK, "alice");
    const alice = app.user("alice");
    await expectError(alice.messages.recallMessage({ groupId: g, messageId: "" }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "message_id",
    });
    await expectError(alice.messages.getMessage({ groupId: g, messageId: "" }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "message_id",
    });
  });

  it("ERR-2: extreme numbers get results or typed errors, never Internal", async () => {
    const app = await setup(["alice"]);
    const g = await app.group(GroupType.WORK, "alice");
    const alice = app.user("alice");
    await alice.send(g, "one");
    const max = 2n ** 63n - 1n;
    expect((await alice.messages.listMessages({ groupId: g, beforeSeq: max })).messages.map((m) => m.seq)).toEqual([1n]);
    expect((await alice.messages.listMessages({ groupId: g, afterSeq: max })).messages).toEqual([]);
    expect((await alice.conversations.markConversationRead({ groupId: g, readSeq: max })).conversation?.readSeq).toBe(1n);
    // PAG-2: a page size above the maximum is coerced, not refused.
    expect((await alice.messages.listMessages({ groupId: g, pageSize: 2 ** 31 - 1 })).messages).toHaveLength(1);
    // No unsigned ints in v1: negative seqs and sizes are FIELD_INVALID.
    const min = -(2n ** 63n);
    await expectError(alice.messages.listMessages({ groupId: g, beforeSeq: -1n }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "before_seq" });
    await expectError(alice.messages.listMessages({ groupId: g, afterSeq: min }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "after_seq" });
    await expectError(alice.messages.listMessages({ groupId: g, pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "page_size" });
    await expectError(alice.conversations.markConversationRead({ groupId: g, readSeq: -1n }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "read_seq",
    });
    await expectError(alice.groups.inviteMembers({ groupId: g, userIds: ["u".repeat(65)] }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "user_ids[0]",
    });
  });

  it("ERR-3: an undefined enum value (priority) is FIELD_INVALID", async () => {
    const app = await setup(["alice"]);
    const g = await app.group(GroupType.WORK, "alice");
    await expectError(
      app.user("alice").send(g, "odd", { priority: 99 as MessagePriority }),
      Code.InvalidArgument,
      ErrorReason.FIELD_INVALID,
      { field: "priority" },
    );
    expect(await app.user("alice").history(g)).toEqual([]);
  });

  it("MSG-11, UNR-7: recall by sender, admin and owner; others refused; content removed everywhere; unread unchanged", async () => {
    const app = await setup(["alice", "bob", "carol", "dave"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave"]);
    await app.admin.setMemberRole({ appId: app.appId, groupId: g, userId: "bob", role: MemberRole.ADMIN });
    const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => app.user(u));
    const daveStream = await dave.subscribe();
    const c1 = await carol.send(g, "c1", { customData: new Uint8Array([1]) });
    const unreadBefore = (await dave.conversation(g)).unreadCount;
    await expectError(dave.messages.recallMessage({ groupId: g, messageId: c1.messageId }), Code.PermissionDenied, ErrorReason.RECALL_NOT_ALLOWED);
    const recalled = (await carol.messages.recallMessage({ groupId: g, messageId: c1.messageId })).message!;
    expect(recalled.elements).toEqual([]);
    expect(recalled.customData).toEqual(new Uint8Array(0));
    expect(recalled.recall?.recalledBy).toBe("carol");
    const fetched = (await dave.messages.getMessage({ groupId: g, messageId: c1.messageId })).message!;
    expect(fetched.elements).toEqual([]);
    expect(fetched.recall?.recalledBy).toBe("carol");
    expect((await dave.history(g)).find((m) => m.messageId === c1.messageId)?.recall).toBeDefined();
    const last = (await dave.conversation(g)).lastMessage!;
    expect(last.messageId).toBe(c1.messageId);
    expect(last.recall).toBeDefined();
    expect(last.elements).toEqual([]);
    expect((await dave.conversation(g)).unreadCount).toBe(unreadBefore);
    const event = await daveStream.waitFor(isEvent("messageRecalled"));
    expect(event.item.case === "event" && event.item.value.payload.case === "messageRecalled" && event.item.value.payload.value).toMatchObject({
      groupId: g,
      messageId: c1.messageId,
      seq: c1.seq,
      recall: { recalledBy: "carol" },
    });
    await expectError(carol.messages.recallMessage({ groupId: g, messageId: c1.messageId }), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED);

    const c2 = await carol.send(g, "c2");
    expect((await bob.messages.recallMessage({ groupId: g, messageId: c2.messageId })).message!.recall?.recalledBy).toBe("bob");
    const c3 = await carol.send(g, "c3");
    expect((await alice.messages.recallMessage({ groupId: g, messageId: c3.messageId })).message!.recall?.recalledBy).toBe("alice");
    await expectError(carol.messages.recallMessage({ groupId: g, messageId: "msg_missing" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    const online = await carol.send(g, "online", { onlineOnly: true });
    await expectError(carol.messages.recallMessage({ groupId: g, messageId: online.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    daveStream.close();
  });

  it("EVT-2: MessageRecalled of an ordinary message skips members who joined after it, except in MEETING groups", async () => {
    const app = await setup(["alice", "bob", "erin", "fay"]);
    const work = await app.group(GroupType.WORK, "alice", ["bob"]);
    const meeting = await app.group(GroupType.MEETING, "alice", ["bob"]);
    const alice = app.user("alice");
    const w = await alice.send(work, "old work");
    const m = await alice.send(meeting, "old meeting");
    await app.admin.addMembers({ appId: app.appId, groupId: work, userIds: ["erin"] });
    await app.admin.addMembers({ appId: app.appId, groupId: meeting, userIds: ["fay"] });
    const erin = await app.user("erin").subscribe();
    const fay = await app.user("fay").subscribe();
    const bob = await app.user("bob").subscribe();
    await alice.messages.recallMessage({ groupId: work, messageId: w.messageId });
    await alice.messages.recallMessage({ groupId: meeting, messageId: m.messageId });
    await alice.send(work, "barrier");
    await bob.waitFor(isAboutMessage(w.messageId));
    await bob.waitFor(isAboutMessage(m.messageId));
    await erin.expectNone(isAboutMessage(w.messageId), isMessage("barrier"));
    await fay.waitFor(isAboutMessage(m.messageId));
    for (const s of [erin, fay, bob]) s.close();
  });
});
