// AdminService over every protocol (rules ADM-1 to ADM-6, MSG-13): apps, users, tokens, group
// administration that bypasses join rules and roles, system messages, recall by the backend.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { decodeJwt, base64url } from "jose";
import { Edition, ErrorReason, GroupType, MemberRole, type Event } from "@narrowcast/gen";
import {
  AppFixture,
  PROTOCOLS,
  TestServer,
  expectError,
  isAboutMessage,
  isEvent,
  isMessage,
  receivedOf,
  text,
  type EventStream,
  type UserClient,
} from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server?.close();
});

async function roles(user: UserClient, groupId: string): Promise<Record<string, string>> {
  const { members } = await user.groups.listMembers({ groupId });
  return Object.fromEntries(members.map((m) => [m.userId, MemberRole[m.role]]));
}

function membershipEvents(s: EventStream): string[] {
  return s.events.flatMap((e: Event) => {
    const p = e.payload;
    if (p.case === "memberJoined") return [`joined:${p.value.member?.userId}:${p.value.addedBy}`];
    if (p.case === "memberLeft") return [`left:${p.value.userId}:${p.value.removedBy}`];
    return [];
  });
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[], edition = Edition.ULTIMATE) => AppFixture.create(server, protocol, { users, edition });

  it("ADM-1: CreateApp assigns an ID and a 32-byte secret; UNSPECIFIED edition becomes STANDARD", async () => {
    const admin = server.admin(protocol);
    const plain = (await admin.createApp({ name: "plain" })).app!;
    const top = (await admin.createApp({ name: "top", edition: Edition.ULTIMATE })).app!;
    expect(plain).toMatchObject({ name: "plain", edition: Edition.STANDARD });
    expect(top.edition).toBe(Edition.ULTIMATE);
    expect(plain.appId).not.toBe(top.appId);
    expect(base64url.decode(plain.secret)).toHaveLength(32);
    expect(plain.secret).not.toBe(top.secret);
    await expectError(admin.createApp({ name: "x", edition: 42 as Edition }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "edition" });
  });

  it("ADM-2: ImportUsers validates every ID and imports nothing on error; re-import is an update", async () => {
    const app = await setup([]);
    await expectError(
      app.admin.importUsers({ appId: app.appId, users: [{ userId: "fine" }, { userId: "not fine" }] }),
      Code.InvalidArgument,
      ErrorReason.FIELD_INVALID,
      { field: "users[1].user_id" },
    );
    await expectError(app.admin.issueUserToken({ appId: app.appId, userId: "fine" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["fine"] });
    await app.admin.importUsers({ appId: app.appId, users: [{ userId: "fine", nickname: "one" }] });
    await app.admin.importUsers({ appId: app.appId, users: [{ userId: "fine", nickname: "two" }] });
    expect((await app.admin.issueUserToken({ appId: app.appId, userId: "fine" })).token).not.toBe("");
  });

  it("ADM-3: IssueUserToken returns an HS256 token for the user with its expiry; ttl is bounded", async () => {
    const app = await setup(["alice"]);
    const { token, expireTime } = await app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttlSeconds: 600 });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: app.appId, sub: "alice", exp: Number(expireTime!.seconds) });
    const byDefault = await app.admin.issueUserToken({ appId: app.appId, userId: "alice" });
    expect(Number(byDefault.expireTime!.seconds) - Number(expireTime!.seconds)).toBeGreaterThanOrEqual(86_400 - 600 - 5);
    expect(Number(byDefault.expireTime!.seconds) - Number(expireTime!.seconds)).toBeLessThanOrEqual(86_400 - 600 + 5);
    await app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttlSeconds: 2_592_000 });
    await expectError(app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttlSeconds: 2_592_001 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "ttl_seconds",
    });
    await expectError(app.admin.issueUserToken({ appId: app.appId, userId: "ghost" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["ghost"] });
  });

  it("ADM-4: admin group RPCs bypass join rules and roles but not membership facts", async () => {
    const app = await setup(["alice", "bob", "carol", "dave"]);
    const admin = app.admin;
    const appId = app.appId;
    // No owner at all.
    const { group: ownerless } = await admin.createGroup({ appId, type: GroupType.AVCHATROOM, memberIds: ["bob"] });
    expect(ownerless?.ownerId).toBe("");
    expect(await roles(app.user("bob"), ownerless!.groupId)).toEqual({ bob: "MEMBER" });
    await expectError(admin.createGroup({ appId, type: GroupType.WORK, ownerId: "ghost" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["ghost"] });
    await expectError(admin.createGroup({ appId, type: GroupType.WORK, ownerId: "alice", memberIds: ["bob", "nope"] }), Code.NotFound, ErrorReason.USER_NOT_FOUND, {
      ids: ["nope"],
    });

    // A WORK group joined without invitation, events with empty added_by.
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const aliceStream = await app.user("alice").subscribe();
    await admin.addMembers({ appId, groupId: g, userIds: ["carol", "dave"] });
    await expectError(admin.addMembers({ appId, groupId: g, userIds: ["ghost"] }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["ghost"] });
    await expectError(admin.addMembers({ appId, groupId: g, userIds: ["carol"] }), Code.AlreadyExists, ErrorReason.ALREADY_MEMBER, { ids: ["carol"] });
    await expectError(admin.addMembers({ appId, groupId: "nope", userIds: ["carol"] }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);

    // OWNER is assignable here; the previous owner becomes ADMIN.
    await admin.setMemberRole({ appId, groupId: g, userId: "bob", role: MemberRole.OWNER });
    expect(await roles(app.user("bob"), g)).toEqual({ alice: "ADMIN", bob: "OWNER", carol: "MEMBER", dave: "MEMBER" });
    expect((await app.user("bob").groups.getGroup({ groupId: g })).group?.ownerId).toBe("bob");
    await expectError(admin.setMemberRole({ appId, groupId: g, userId: "ghost", role: MemberRole.ADMIN }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
      ids: ["ghost"],
    });
    await expectError(admin.setMemberRole({ appId, groupId: g, userId: "carol", role: MemberRole.UNSPECIFIED }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "role",
    });

    // Removing non-members names them; removing the owner leaves the group without one.
    await expectError(admin.removeMembers({ appId, groupId: g, userIds: ["carol", "ghost"] }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
      ids: ["ghost"],
    });
    expect(Object.keys(await roles(app.user("alice"), g))).toContain("carol");
    await admin.removeMembers({ appId, groupId: g, userIds: ["bob", "carol"] });
    expect((await app.user("alice").groups.getGroup({ groupId: g })).group?.ownerId).toBe("");
    await aliceStream.waitFor(isEvent("memberLeft", (e) => e.payload.case === "memberLeft" && e.payload.value.userId === "carol"));
    expect(membershipEvents(aliceStream)).toEqual(["joined:carol:", "joined:dave:", "left:bob:", "left:carol:"]);
    aliceStream.close();
  });

  it("ADM-5, MSG-13: system messages have no sender, count as unread for everyone and reach every member", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const streams = [await app.user("alice").subscribe(), await app.user("bob").subscribe(), await app.user("carol").subscribe()];
    const { message } = await app.admin.sendMessage({ appId: app.appId, message: { groupId: g, elements: [text("system")] } });
    expect(message).toMatchObject({ senderId: "", seq: 1n });
    for (const s of streams) expect(receivedOf(await s.waitFor(isMessage("system")))?.senderId).toBe("");
    for (const u of ["alice", "bob", "carol"]) expect((await app.user(u).conversation(g)).unreadCount).toBe(1n);

    const { message: targeted } = await app.admin.sendMessage({
      appId: app.appId,
      message: { groupId: g, elements: [text("for bob")], receiverIds: ["bob"], countAsUnreadForReceivers: true },
    });
    expect(targeted).toMatchObject({ senderId: "", targeted: true, receiverIds: ["bob"] });
    await streams[1].waitFor(isMessage("for bob"));
    const { message: after } = await app.admin.sendMessage({ appId: app.appId, message: { groupId: g, elements: [text("after")] } });
    await streams[0].expectNone(isMessage("for bob"), isMessage("after"));
    await streams[2].expectNone(isMessage("for bob"), isMessage("after"));
    expect(after?.seq).toBe(3n);
    expect((await app.user("bob").conversation(g)).unreadCount).toBe(3n);
    expect((await app.user("carol").conversation(g)).unreadCount).toBe(2n);
    for (const s of streams) s.close();
  });

  it("ADM-5: sending as a member; non-member senders, bad input and edition checks as for users", async () => {
    const app = await setup(["alice", "bob", "olaf"]);
    const std = await setup(["alice", "bob"], Edition.STANDARD);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const { message } = await app.admin.sendMessage({ appId: app.appId, senderId: "bob", message: { groupId: g, elements: [text("as bob")] } });
    expect(message?.senderId).toBe("bob");
    // UNR-5 applies to the named sender.
    expect((await app.user("bob").conversation(g)).readSeq).toBe(1n);
    expect((await app.user("alice").conversation(g)).unreadCount).toBe(1n);
    const admin = app.admin;
    await expectError(admin.sendMessage({ appId: app.appId, senderId: "olaf", message: { groupId: g, elements: [text("x")] } }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    await expectError(admin.sendMessage({ appId: app.appId, senderId: "bad id", message: { groupId: g, elements: [text("x")] } }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "sender_id",
    });
    await expectError(admin.sendMessage({ appId: app.appId, message: { groupId: g, elements: [] } }), Code.InvalidArgument, ErrorReason.EMPTY_MESSAGE, {
      field: "elements",
    });
    await expectError(
      admin.sendMessage({ appId: app.appId, senderId: "alice", message: { groupId: g, elements: [text("x")], receiverIds: ["olaf"] } }),
      Code.FailedPrecondition,
      ErrorReason.RECEIVER_NOT_MEMBER,
      { field: "receiver_ids", ids: ["olaf"] },
    );
    await expectError(
      admin.sendMessage({ appId: app.appId, senderId: "alice", message: { groupId: g, elements: [text("x")], receiverIds: ["alice"] } }),
      Code.InvalidArgument,
      ErrorReason.SENDER_IN_RECEIVER_LIST,
      { ids: ["alice"] },
    );
    const sg = await std.group(GroupType.WORK, "alice", ["bob"]);
    await expectError(
      std.admin.sendMessage({ appId: std.appId, message: { groupId: sg, elements: [text("x")], receiverIds: ["bob"] } }),
      Code.PermissionDenied,
      ErrorReason.FEATURE_NOT_IN_EDITION,
    );
    // Idempotency applies to the system sender too.
    const once = await admin.sendMessage({ appId: app.appId, message: { groupId: g, elements: [text("once")], clientMessageId: "sys-1" } });
    const again = await admin.sendMessage({ appId: app.appId, message: { groupId: g, elements: [text("once")], clientMessageId: "sys-1" } });
    expect(again.message?.messageId).toBe(once.message?.messageId);
    expect((await app.user("alice").history(g)).map((m) => m.seq)).toEqual([1n, 2n]);
  });

  it("ADM-6: the backend recalls any message, with an empty recalled_by, and the audience is told", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const bobStream = await app.user("bob").subscribe();
    const carolStream = await app.user("carol").subscribe();
    const ordinary = await app.user("bob").send(g, "from bob");
    const secret = await app.user("alice").send(g, "for bob", { receiverIds: ["bob"] });
    const r1 = await app.admin.recallMessage({ appId: app.appId, groupId: g, messageId: ordinary.messageId });
    expect(r1.message).toMatchObject({ elements: [], recall: { recalledBy: "" } });
    const r2 = await app.admin.recallMessage({ appId: app.appId, groupId: g, messageId: secret.messageId });
    expect(r2.message?.recall?.recalledBy).toBe("");
    await bobStream.waitFor(isEvent("messageRecalled", (e) => e.payload.case === "messageRecalled" && e.payload.value.messageId === secret.messageId));
    await carolStream.waitFor(isEvent("messageRecalled", (e) => e.payload.case === "messageRecalled" && e.payload.value.messageId === ordinary.messageId));
    await app.user("alice").send(g, "barrier");
    await carolStream.expectNone(isAboutMessage(secret.messageId), isMessage("barrier"));
    await expectError(app.admin.recallMessage({ appId: app.appId, groupId: g, messageId: ordinary.messageId }), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED);
    await expectError(app.admin.recallMessage({ appId: app.appId, groupId: g, messageId: "msg_nope" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    await expectError(app.admin.recallMessage({ appId: app.appId, groupId: "nope", messageId: ordinary.messageId }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    bobStream.close();
    carolStream.close();
  });
});
