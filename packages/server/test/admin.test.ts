// AdminService over every protocol (rules ADM-1 to ADM-11, MSG-13): apps, users, tokens, group
// administration that bypasses join rules and roles, system messages, recall by the backend,
// reading any user or group, deleting users. (Secret rotation: auth.test.ts; plans: send.test.ts.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, createClient } from "@connectrpc/connect";
import { decodeJwt, base64url } from "jose";
import { ErrorReason, GroupService, GroupType, MemberRole, type Event } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import {
  AppFixture,
  PROTOCOLS,
  TestServer,
  expectError,
  isAboutMessage,
  isEvent,
  isMessage,
  receivedOf,
  seconds,
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
  const setup = (users: string[], plan = Plan.ULTIMATE) => AppFixture.create(server, protocol, { users, plan });

  it("ADM-1: CreateApp assigns an ID and a 32-byte secret; UNSPECIFIED plan becomes STANDARD", async () => {
    const admin = server.admin(protocol);
    const plain = (await admin.createApp({ name: "plain" })).app!;
    const top = (await admin.createApp({ name: "top", plan: Plan.ULTIMATE })).app!;
    expect(plain).toMatchObject({ name: "plain", plan: Plan.STANDARD });
    expect(plain.previousSecretExpireTime).toBeUndefined();
    expect(plain.createTime).toBeDefined();
    expect(top.plan).toBe(Plan.ULTIMATE);
    expect(plain.appId).not.toBe(top.appId);
    expect(base64url.decode(plain.secret)).toHaveLength(32);
    expect(plain.secret).not.toBe(top.secret);
    await expectError(admin.createApp({ name: "x", plan: 42 as Plan }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "plan" });
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
    const first = await app.admin.importUsers({ appId: app.appId, users: [{ userId: "fine", nickname: "one" }, { userId: "b", nickname: "bee" }] });
    expect(first.users.map((u) => [u.userId, u.nickname])).toEqual([["fine", "one"], ["b", "bee"]]);
    const again = await app.admin.importUsers({ appId: app.appId, users: [{ userId: "fine", nickname: "two" }] });
    expect(again.users.map((u) => [u.userId, u.nickname])).toEqual([["fine", "two"]]);
    expect((await app.admin.getUser({ appId: app.appId, userId: "fine" })).user?.nickname).toBe("two");
    expect((await app.admin.issueUserToken({ appId: app.appId, userId: "fine" })).token).not.toBe("");
  });

  it("ADM-3: IssueUserToken returns an HS256 token for the user with its expiry; ttl is a bounded Duration", async () => {
    const app = await setup(["alice"]);
    const { token, expireTime } = await app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(600) });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: app.appId, sub: "alice", exp: Number(expireTime!.seconds) });
    const byDefault = await app.admin.issueUserToken({ appId: app.appId, userId: "alice" });
    expect(Number(byDefault.expireTime!.seconds) - Number(expireTime!.seconds)).toBeGreaterThanOrEqual(86_400 - 600 - 5);
    expect(Number(byDefault.expireTime!.seconds) - Number(expireTime!.seconds)).toBeLessThanOrEqual(86_400 - 600 + 5);
    await app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(2_592_000) });
    await app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(1) });
    const zero = await app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(0) });
    expect(Number(zero.expireTime!.seconds) - Number(expireTime!.seconds)).toBeGreaterThanOrEqual(86_400 - 600 - 5);
    for (const ttl of [seconds(2_592_001), seconds(-1), { seconds: 10n, nanos: 500_000_000 }, { seconds: 0n, nanos: 5 }]) {
      await expectError(app.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "ttl",
      });
    }
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
    const { member } = await admin.setMemberRole({ appId, groupId: g, userId: "bob", role: MemberRole.OWNER });
    expect(member).toMatchObject({ userId: "bob", role: MemberRole.OWNER });
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
    for (const u of ["alice", "bob", "carol"]) expect((await app.user(u).conversation(g)).unreadCount).toBe(1);

    const { message: targeted } = await app.admin.sendMessage({
      appId: app.appId,
      message: { groupId: g, elements: [text("for bob")], receiverIds: ["bob"], countAsUnreadForReceivers: true },
    });
    expect(targeted).toMatchObject({ senderId: "", receiverIds: ["bob"] });
    await streams[1].waitFor(isMessage("for bob"));
    const { message: after } = await app.admin.sendMessage({ appId: app.appId, message: { groupId: g, elements: [text("after")] } });
    await streams[0].expectNone(isMessage("for bob"), isMessage("after"));
    await streams[2].expectNone(isMessage("for bob"), isMessage("after"));
    expect(after?.seq).toBe(3n);
    expect((await app.user("bob").conversation(g)).unreadCount).toBe(3);
    expect((await app.user("carol").conversation(g)).unreadCount).toBe(2);
    for (const s of streams) s.close();
  });

  it("ADM-5: sending as a member; non-member senders, bad input and plan checks as for users", async () => {
    const app = await setup(["alice", "bob", "olaf"]);
    const std = await setup(["alice", "bob"], Plan.STANDARD);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const { message } = await app.admin.sendMessage({ appId: app.appId, senderId: "bob", message: { groupId: g, elements: [text("as bob")] } });
    expect(message?.senderId).toBe("bob");
    // UNR-5 applies to the named sender.
    expect((await app.user("bob").conversation(g)).readSeq).toBe(1n);
    expect((await app.user("alice").conversation(g)).unreadCount).toBe(1);
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
      ErrorReason.FEATURE_NOT_IN_PLAN,
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
  it("ADM-7, ADM-10: GetApp, GetUser, GetGroup read any app, user or group; unknown ones are NOT_FOUND", async () => {
    const app = await setup(["alice", "bob"]);
    const { app: got } = await app.admin.getApp({ appId: app.appId });
    expect(got).toMatchObject({ appId: app.appId, name: "test", plan: Plan.ULTIMATE, secret: "" });
    expect(got?.createTime).toBeDefined();
    await expectError(app.admin.getApp({ appId: "app_nope" }), Code.NotFound, ErrorReason.APP_NOT_FOUND, { ids: ["app_nope"] });
    expect((await app.admin.getUser({ appId: app.appId, userId: "bob" })).user).toMatchObject({ userId: "bob", nickname: "bob" });
    await expectError(app.admin.getUser({ appId: app.appId, userId: "ghost" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, {
      field: "user_id",
      ids: ["ghost"],
    });
    // A group the admin never touched after creation, in which alice is not a member.
    const { group } = await createClient(GroupService, app.user("bob").transport).createGroup({ type: GroupType.WORK, name: "bob's" });
    const fetched = (await app.admin.getGroup({ appId: app.appId, groupId: group!.groupId })).group;
    expect(fetched).toMatchObject({ groupId: group!.groupId, ownerId: "bob", memberCount: 1, name: "bob's" });
    expect((await app.admin.listGroups({ appId: app.appId })).groups.map((g) => g.groupId)).toEqual([group!.groupId]);
    await expectError(app.admin.getGroup({ appId: app.appId, groupId: "nope" }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(app.admin.listMembers({ appId: app.appId, groupId: "nope" }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
  });

  it("ADM-11: DeleteUser ends memberships with MemberLeft, drops requests and idempotency records, kills tokens; history stays", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const appId = app.appId;
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const owned = await app.group(GroupType.MEETING, "bob", ["carol"]);
    const pub = await app.group(GroupType.PUBLIC, "alice");
    await app.user("bob").groups.joinGroup({ groupId: pub, message: "let me in" });
    const fromBob = await app.user("bob").send(g, "from bob", { clientMessageId: "k" });
    const toBob = await app.user("alice").send(g, "to bob", { receiverIds: ["bob"] });
    const aliceStream = await app.user("alice").subscribe();
    const carolStream = await app.user("carol").subscribe();
    const bobStream = await app.user("bob").subscribe();

    await app.admin.deleteUser({ appId, userId: "bob" });

    const leftBob = (groupId: string) =>
      isEvent("memberLeft", (e) => e.payload.case === "memberLeft" && e.payload.value.groupId === groupId && e.payload.value.userId === "bob");
    await aliceStream.waitFor(leftBob(g));
    await carolStream.waitFor(leftBob(owned));
    await bobStream.waitFor(leftBob(g));
    await bobStream.waitFor(leftBob(owned));
    for (const s of [aliceStream, carolStream]) {
      for (const e of s.events) if (e.payload.case === "memberLeft") expect(e.payload.value.removedBy).toBe("");
    }
    // The tokens stop working at once; the user is gone.
    await expectError(app.user("bob").groups.listGroups({}), Code.Unauthenticated, ErrorReason.TOKEN_INVALID);
    await expectError(app.admin.getUser({ appId, userId: "bob" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["bob"] });
    await expectError(app.admin.deleteUser({ appId, userId: "bob" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["bob"] });
    await expectError(app.admin.issueUserToken({ appId, userId: "bob" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["bob"] });
    // Memberships, ownership and pending requests are gone; history is unchanged.
    expect(Object.keys(await roles(app.user("alice"), g)).sort()).toEqual(["alice", "carol"]);
    expect((await app.admin.getGroup({ appId, groupId: owned })).group).toMatchObject({ ownerId: "", memberCount: 1 });
    expect((await app.user("alice").groups.listJoinRequests({ groupId: pub })).joinRequests).toEqual([]);
    const history = await app.user("alice").history(g);
    expect(history.map((m) => [m.messageId, m.senderId, m.receiverIds])).toEqual([
      [fromBob.messageId, "bob", []],
      [toBob.messageId, "alice", ["bob"]],
    ]);
    expect((await app.user("alice").messages.getMessage({ groupId: g, messageId: fromBob.messageId })).message?.senderId).toBe("bob");

    // Re-importing the ID makes a new user: no memberships, a fresh idempotency key space.
    const [newBob] = await app.addUsers("bob");
    expect((await newBob.groups.listGroups({})).groups).toEqual([]);
    await app.admin.addMembers({ appId, groupId: g, userIds: ["bob"] });
    const again = await newBob.send(g, "from new bob", { clientMessageId: "k" });
    expect(again.messageId).not.toBe(fromBob.messageId);
    // The new membership starts a new history floor: the old messages are hidden.
    expect((await newBob.history(g)).map((m) => m.messageId)).toEqual([again.messageId]);
    for (const s of [aliceStream, carolStream, bobStream]) s.close();
  });
});
