// GroupService over every protocol: types, join rules per type, roles, membership events,
// dismissal, identifiers (rules GRP-1 to GRP-12).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, MemberRole, type Event, type JoinGroupResponse } from "@narrowcast/gen";
import {
  AppFixture,
  PROTOCOLS,
  TestServer,
  expectError,
  isEvent,
  isMessage,
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

/** Membership events of a stream as "joined:user:by" / "left:user:by" / "dismissed". */
function membership(s: EventStream, groupId: string): string[] {
  return s.events.flatMap((e: Event) => {
    const p = e.payload;
    if (p.case === "memberJoined" && p.value.groupId === groupId) return [`joined:${p.value.member?.userId}:${p.value.addedBy}`];
    if (p.case === "memberLeft" && p.value.groupId === groupId) return [`left:${p.value.userId}:${p.value.removedBy}`];
    if (p.case === "groupDismissed" && p.value.groupId === groupId) return ["dismissed"];
    return [];
  });
}

async function roles(user: UserClient, groupId: string): Promise<Record<string, string>> {
  const { members } = await user.groups.listMembers({ groupId });
  return Object.fromEntries(members.map((m) => [m.userId, MemberRole[m.role]]));
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[]) => AppFixture.create(server, protocol, { users });

  it("GRP-1, GRP-5, GRP-10, GRP-12: CreateGroup makes the caller OWNER and the others MEMBERs, once each", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const alice = app.user("alice");
    const aliceStream = await alice.subscribe();
    const bobStream = await app.user("bob").subscribe();
    const { group } = await alice.groups.createGroup({ type: GroupType.WORK, name: "team", memberIds: ["bob", "alice", "bob"] });
    expect(group).toMatchObject({ type: GroupType.WORK, name: "team", ownerId: "alice", memberCount: 2 });
    expect(group!.groupId).toMatch(/^[A-Za-z0-9_.@-]{1,64}$/);
    expect(await roles(alice, group!.groupId)).toEqual({ alice: "OWNER", bob: "MEMBER" });
    // Members join in the request's order, the owner first; each MemberJoined reaches the members
    // at that moment, so bob does not get the creator's.
    const joinedUsers = (s: EventStream) => membership(s, group!.groupId).map((x) => x.split(":")[1]);
    for (const s of [aliceStream, bobStream]) {
      await s.waitFor(isEvent("memberJoined", (e) => e.payload.case === "memberJoined" && e.payload.value.member?.userId === "bob"));
    }
    expect(joinedUsers(aliceStream)).toEqual(["alice", "bob"]);
    expect(joinedUsers(bobStream)).toEqual(["bob"]);
    const named = await alice.groups.createGroup({ type: GroupType.MEETING, groupId: "team.1@x-y_z" });
    expect(named.group?.groupId).toBe("team.1@x-y_z");
    await expectError(alice.groups.createGroup({ type: GroupType.WORK, groupId: "team.1@x-y_z" }), Code.AlreadyExists, ErrorReason.GROUP_ALREADY_EXISTS);
    await expectError(
      app.admin.createGroup({ appId: app.appId, type: GroupType.WORK, groupId: "team.1@x-y_z" }),
      Code.AlreadyExists,
      ErrorReason.GROUP_ALREADY_EXISTS,
    );
    await expectError(alice.groups.createGroup({ type: GroupType.UNSPECIFIED }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "type" });
    await expectError(alice.groups.createGroup({ type: 99 as GroupType }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "type" });
    await expectError(app.admin.createGroup({ appId: app.appId, type: GroupType.UNSPECIFIED }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "type",
    });
    await expectError(alice.groups.createGroup({ type: GroupType.WORK, memberIds: ["bob", "ghost", "phantom"] }), Code.NotFound, ErrorReason.USER_NOT_FOUND, {
      ids: ["ghost", "phantom"],
    });
    expect((await alice.groups.listGroups({})).groups.map((g) => g.groupId).sort()).toEqual([group!.groupId, "team.1@x-y_z"].sort());
    aliceStream.close();
    bobStream.close();
  });

  it("GRP-8: IDs are 1 to 64 characters of [A-Za-z0-9_.@-]", async () => {
    const app = await setup(["alice"]);
    const alice = app.user("alice");
    expect((await alice.groups.createGroup({ type: GroupType.WORK, groupId: "g".repeat(64) })).group?.groupId).toHaveLength(64);
    for (const groupId of ["g".repeat(65), "has space", "slash/", "ünïcode"]) {
      await expectError(alice.groups.createGroup({ type: GroupType.WORK, groupId }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "group_id",
      });
      await expectError(alice.groups.getGroup({ groupId }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "group_id" });
    }
    await expectError(alice.groups.getGroup({ groupId: "" }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "group_id" });
    await expectError(alice.groups.createGroup({ type: GroupType.WORK, memberIds: ["ok", "bad id"] }), Code.InvalidArgument, ErrorReason.FIELD_INVALID);
  });

  it("GRP-2, GRP-10: WORK groups are joined by invitation of any member; JoinGroup is JOIN_NOT_ALLOWED", async () => {
    const app = await setup(["alice", "bob", "carol", "dave"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const aliceStream = await app.user("alice").subscribe();
    const carolStream = await app.user("carol").subscribe();
    await expectError(app.user("carol").groups.joinGroup({ groupId: g }), Code.FailedPrecondition, ErrorReason.JOIN_NOT_ALLOWED);
    const res = await app.user("bob").groups.inviteMembers({ groupId: g, userIds: ["carol"] });
    expect(res.members.map((m) => [m.userId, m.role])).toEqual([["carol", MemberRole.MEMBER]]);
    for (const s of [aliceStream, carolStream]) {
      await s.waitFor(isEvent("memberJoined"));
      expect(membership(s, g)).toEqual(["joined:carol:bob"]);
    }
    expect((await app.user("carol").groups.getGroup({ groupId: g })).group?.memberCount).toBe(3);
    aliceStream.close();
    carolStream.close();
  });

  it("GRP-3: PUBLIC groups: apply, replace the note, owner/admin list, approve and reject; others ROLE_REQUIRED", async () => {
    const app = await setup(["alice", "bob", "carol", "dave", "erin"]);
    const g = await app.group(GroupType.PUBLIC, "alice", ["bob", "carol"]);
    const alice = app.user("alice");
    await app.admin.setMemberRole({ appId: app.appId, groupId: g, userId: "bob", role: MemberRole.ADMIN });
    const aliceStream = await alice.subscribe();
    const pending = (res: JoinGroupResponse) => (res.result.case === "joinRequest" ? res.result.value : undefined);
    const first = pending(await app.user("dave").groups.joinGroup({ groupId: g, message: "hi" }));
    expect(first).toMatchObject({ groupId: g, userId: "dave", message: "hi" });
    expect(pending(await app.user("erin").groups.joinGroup({ groupId: g, message: "me too" }))?.userId).toBe("erin");
    // A repeated application replaces the note and keeps its time.
    const again = pending(await app.user("dave").groups.joinGroup({ groupId: g, message: "hi again" }));
    expect(again).toMatchObject({ message: "hi again", createTime: first!.createTime });
    const { joinRequests } = await alice.groups.listJoinRequests({ groupId: g });
    expect(joinRequests.map((r) => [r.userId, r.message, r.groupId])).toEqual([
      ["dave", "hi again", g],
      ["erin", "me too", g],
    ]);
    await expectError(app.user("carol").groups.listJoinRequests({ groupId: g }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(app.user("carol").groups.approveJoinRequest({ groupId: g, userId: "dave" }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(app.user("carol").groups.rejectJoinRequest({ groupId: g, userId: "dave" }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(app.user("dave").groups.listJoinRequests({ groupId: g }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    // Pending applicants are not members yet.
    await expectError(app.user("dave").groups.getGroup({ groupId: g }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    const approved = await app.user("bob").groups.approveJoinRequest({ groupId: g, userId: "dave" });
    expect(approved.member).toMatchObject({ userId: "dave", role: MemberRole.MEMBER });
    const rejected = await alice.groups.rejectJoinRequest({ groupId: g, userId: "erin" });
    expect(rejected.joinRequest).toMatchObject({ groupId: g, userId: "erin", message: "me too" });
    expect((await alice.groups.listJoinRequests({ groupId: g })).joinRequests).toEqual([]);
    expect(Object.keys(await roles(alice, g)).sort()).toEqual(["alice", "bob", "carol", "dave"]);
    await aliceStream.waitFor(isEvent("memberJoined"));
    expect(membership(aliceStream, g)).toEqual(["joined:dave:bob"]);
    for (const decide of [alice.groups.approveJoinRequest, alice.groups.rejectJoinRequest]) {
      await expectError(decide({ groupId: g, userId: "erin" }), Code.NotFound, ErrorReason.JOIN_REQUEST_NOT_FOUND, {
        field: "user_id",
        ids: ["erin"],
      });
    }
    // Invitations to PUBLIC groups are for the owner and admins.
    await expectError(app.user("carol").groups.inviteMembers({ groupId: g, userIds: ["erin"] }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await app.user("bob").groups.inviteMembers({ groupId: g, userIds: ["erin"] });
    expect(Object.keys(await roles(alice, g))).toContain("erin");
    // Other group types have no join requests.
    const meeting = await app.group(GroupType.MEETING, "alice");
    expect((await alice.groups.listJoinRequests({ groupId: meeting })).joinRequests).toEqual([]);
    aliceStream.close();
  });

  it("GRP-4, GRP-10: MEETING, COMMUNITY and AVCHATROOM are joined freely; any member invites", async () => {
    for (const type of [GroupType.MEETING, GroupType.COMMUNITY, GroupType.AVCHATROOM]) {
      const app = await setup(["alice", "bob", "carol"]);
      const g = await app.group(type, "alice");
      const aliceStream = await app.user("alice").subscribe();
      const bobStream = await app.user("bob").subscribe();
      const joined = await app.user("bob").groups.joinGroup({ groupId: g, message: "" });
      expect(joined.result.case).toBe("member");
      expect(joined.result.value).toMatchObject({ userId: "bob", role: MemberRole.MEMBER });
      await app.user("bob").groups.inviteMembers({ groupId: g, userIds: ["carol"] });
      for (const s of [aliceStream, bobStream]) {
        await s.waitFor(isEvent("memberJoined", (e) => e.payload.case === "memberJoined" && e.payload.value.member?.userId === "carol"));
        expect(membership(s, g)).toEqual(["joined:bob:", "joined:carol:bob"]);
      }
      await expectError(app.user("bob").groups.joinGroup({ groupId: g }), Code.AlreadyExists, ErrorReason.ALREADY_MEMBER);
      aliceStream.close();
      bobStream.close();
    }
  });

  it("GRP-11: inviting members or unknown users rejects the whole request", async () => {
    const app = await setup(["alice", "bob", "carol", "dave"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    await expectError(alice.groups.inviteMembers({ groupId: g, userIds: ["carol", "bob"] }), Code.AlreadyExists, ErrorReason.ALREADY_MEMBER, {
      ids: ["bob"],
    });
    await expectError(alice.groups.inviteMembers({ groupId: g, userIds: ["carol", "ghost"] }), Code.NotFound, ErrorReason.USER_NOT_FOUND, {
      ids: ["ghost"],
    });
    await expectError(app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["dave", "bob"] }), Code.AlreadyExists, ErrorReason.ALREADY_MEMBER, {
      ids: ["bob"],
    });
    expect(Object.keys(await roles(alice, g)).sort()).toEqual(["alice", "bob"]);
  });

  it("GRP-5: roles: owner sets roles and dismisses; owner or admin removes; admins cannot remove owner or admins", async () => {
    const app = await setup(["alice", "bob", "carol", "dave", "erin", "olaf"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave", "erin"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const { member } = await alice.groups.setMemberRole({ groupId: g, userId: "bob", role: MemberRole.ADMIN });
    expect(member).toMatchObject({ userId: "bob", role: MemberRole.ADMIN });
    await alice.groups.setMemberRole({ groupId: g, userId: "carol", role: MemberRole.ADMIN });
    expect(await roles(alice, g)).toMatchObject({ alice: "OWNER", bob: "ADMIN", carol: "ADMIN", dave: "MEMBER" });
    await expectError(alice.groups.setMemberRole({ groupId: g, userId: "bob", role: MemberRole.OWNER }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "role",
    });
    await expectError(alice.groups.setMemberRole({ groupId: g, userId: "bob", role: MemberRole.UNSPECIFIED }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "role",
    });
    await expectError(alice.groups.setMemberRole({ groupId: g, userId: "olaf", role: MemberRole.ADMIN }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
      ids: ["olaf"],
    });
    await expectError(alice.groups.setMemberRole({ groupId: g, userId: "alice", role: MemberRole.MEMBER }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
      field: "user_id",
    });
    await expectError(bob.groups.setMemberRole({ groupId: g, userId: "dave", role: MemberRole.ADMIN }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(bob.groups.dismissGroup({ groupId: g }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(app.user("dave").groups.removeMembers({ groupId: g, userIds: ["erin"] }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(bob.groups.removeMembers({ groupId: g, userIds: ["alice"] }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(bob.groups.removeMembers({ groupId: g, userIds: ["carol"] }), Code.PermissionDenied, ErrorReason.ROLE_REQUIRED);
    await expectError(bob.groups.removeMembers({ groupId: g, userIds: ["dave", "olaf"] }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
      ids: ["olaf"],
    });
    expect(Object.keys(await roles(alice, g))).toContain("dave");
    const erinStream = await app.user("erin").subscribe();
    await bob.groups.removeMembers({ groupId: g, userIds: ["dave"] });
    await alice.groups.removeMembers({ groupId: g, userIds: ["carol"] });
    await expectError(alice.groups.leaveGroup({ groupId: g }), Code.FailedPrecondition, ErrorReason.OWNER_CANNOT_LEAVE);
    await app.user("erin").groups.leaveGroup({ groupId: g });
    await erinStream.waitFor(isEvent("memberLeft", (e) => e.payload.case === "memberLeft" && e.payload.value.userId === "erin"));
    expect(membership(erinStream, g)).toEqual(["left:dave:bob", "left:carol:alice", "left:erin:"]);
    expect(await roles(alice, g)).toEqual({ alice: "OWNER", bob: "ADMIN" });
    await expectError(carol.groups.getGroup({ groupId: g }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    erinStream.close();
  });

  it("GRP-10: after leaving, a user gets no more events of the group", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.COMMUNITY, "alice", ["bob"]);
    const other = await app.group(GroupType.WORK, "alice", ["bob"]);
    const bobStream = await app.user("bob").subscribe();
    const aliceStream = await app.user("alice").subscribe();
    await app.user("bob").groups.leaveGroup({ groupId: g });
    await app.user("alice").send(g, "gone");
    await app.user("alice").send(other, "barrier");
    await bobStream.expectNone(isMessage("gone"), isMessage("barrier"));
    expect(membership(bobStream, g)).toEqual(["left:bob:"]);
    await aliceStream.waitFor(isMessage("gone"));
    expect(membership(aliceStream, g)).toEqual(["left:bob:"]);
    await expectError(app.user("bob").messages.listMessages({ groupId: g }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    bobStream.close();
    aliceStream.close();
  });

  it("GRP-9: dismissal tells every member, then the group is GROUP_NOT_FOUND everywhere", async () => {
    for (const by of ["owner", "admin service"] as const) {
      const app = await setup(["alice", "bob", "carol"]);
      const g = await app.group(GroupType.WORK, "alice", ["bob"]);
      const m = await app.user("alice").send(g, "last words");
      const streams = [await app.user("alice").subscribe(), await app.user("bob").subscribe()];
      if (by === "owner") await app.user("alice").groups.dismissGroup({ groupId: g });
      else await app.admin.dismissGroup({ appId: app.appId, groupId: g });
      for (const s of streams) {
        await s.waitFor(isEvent("groupDismissed"));
        expect(membership(s, g)).toEqual(["dismissed"]);
      }
      const bob = app.user("bob");
      const notFound = [
        bob.groups.getGroup({ groupId: g }),
        bob.groups.listMembers({ groupId: g }),
        bob.groups.leaveGroup({ groupId: g }),
        app.user("carol").groups.joinGroup({ groupId: g }),
        bob.messages.sendMessage({ groupId: g, elements: [{ element: { case: "text", value: { text: "x" } } }] }),
        bob.messages.listMessages({ groupId: g }),
        bob.messages.getMessage({ groupId: g, messageId: m.messageId }),
        bob.conversations.getConversation({ groupId: g }),
        bob.conversations.markConversationRead({ groupId: g }),
        app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["carol"] }),
        app.admin.dismissGroup({ appId: app.appId, groupId: g }),
      ];
      // Handlers attach to every call at once: none is left rejected and unobserved meanwhile.
      await Promise.all(notFound.map((call) => expectError(call, Code.NotFound, ErrorReason.GROUP_NOT_FOUND)));
      expect((await bob.groups.listGroups({})).groups).toEqual([]);
      expect((await bob.conversations.listConversations({})).conversations).toEqual([]);
      for (const s of streams) s.close();
    }
  });

  it("AUTH-5: group-scoped RPCs: unknown group is GROUP_NOT_FOUND, non-member is NOT_A_MEMBER (JoinGroup excepted)", async () => {
    const app = await setup(["alice", "olaf"]);
    const g = await app.group(GroupType.PUBLIC, "alice");
    const m = await app.user("alice").send(g, "private");
    const olaf = app.user("olaf");
    const calls = (groupId: string) => [
      olaf.groups.getGroup({ groupId }),
      olaf.groups.listMembers({ groupId }),
      olaf.groups.inviteMembers({ groupId, userIds: ["olaf"] }),
      olaf.groups.listJoinRequests({ groupId }),
      olaf.groups.approveJoinRequest({ groupId, userId: "olaf" }),
      olaf.groups.rejectJoinRequest({ groupId, userId: "olaf" }),
      olaf.groups.leaveGroup({ groupId }),
      olaf.groups.removeMembers({ groupId, userIds: ["alice"] }),
      olaf.groups.setMemberRole({ groupId, userId: "alice", role: MemberRole.MEMBER }),
      olaf.groups.dismissGroup({ groupId }),
      olaf.messages.sendMessage({ groupId, elements: [{ element: { case: "text", value: { text: "x" } } }] }),
      olaf.messages.getMessage({ groupId, messageId: m.messageId }),
      olaf.messages.listMessages({ groupId }),
      olaf.messages.recallMessage({ groupId, messageId: m.messageId }),
      olaf.conversations.getConversation({ groupId }),
      olaf.conversations.markConversationRead({ groupId }),
    ];
    await Promise.all(calls("no-such-group").map((call) => expectError(call, Code.NotFound, ErrorReason.GROUP_NOT_FOUND)));
    await Promise.all(calls(g).map((call) => expectError(call, Code.PermissionDenied, ErrorReason.NOT_A_MEMBER)));
    await expectError(olaf.groups.joinGroup({ groupId: "no-such-group" }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    expect((await olaf.groups.joinGroup({ groupId: g })).result.case).toBe("joinRequest");
  });
});

describe("a user deleted between the service's check and the store's transaction (rule ADM-11)", () => {
  let racy: TestServer;
  beforeAll(async () => {
    // existingUsers answers as it would just before a concurrent DeleteUser commits: everyone exists.
    racy = await TestServer.start({
      wrapStore: (inner) =>
        new Proxy(inner, {
          get(target, prop, receiver) {
            if (prop === "existingUsers") return async (_appId: string, ids: readonly string[]) => new Set(ids);
            const value = Reflect.get(target, prop, receiver);
            return typeof value === "function" ? value.bind(target) : value;
          },
        }),
    });
  });
  afterAll(async () => {
    await racy?.close();
  });

  it("InviteMembers and CreateGroup are USER_NOT_FOUND naming the missing users, and add nobody", async () => {
    const app = await AppFixture.create(racy, "connect", { users: ["alice", "bob"] });
    const alice = app.user("alice");
    const g = await app.group(GroupType.WORK, "alice");
    await expectError(alice.groups.inviteMembers({ groupId: g, userIds: ["bob", "ghost"] }), Code.NotFound, ErrorReason.USER_NOT_FOUND, {
      field: "user_ids",
      ids: ["ghost"],
    });
    expect(Object.keys(await roles(alice, g))).toEqual(["alice"]);
    await expectError(alice.groups.createGroup({ type: GroupType.WORK, memberIds: ["ghost"] }), Code.NotFound, ErrorReason.USER_NOT_FOUND, {
      field: "member_ids",
      ids: ["ghost"],
    });
  });
});
