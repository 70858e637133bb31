// Per-type group limits on a server configured with small ones (rules GRP-13, GRP-14, SRV-1):
// every path that adds members is refused with GROUP_FULL as a whole; above the member-event
// threshold MemberJoined/MemberLeft go only to the user concerned; GetServerInfo declares exactly
// what the server was configured with.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { AppFixture, PROTOCOLS, TestServer, expectError, isEvent, isMessage, type EventStream } from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({
    groupLimits: {
      [GroupType.WORK]: { maxMembers: 3 },
      [GroupType.PUBLIC]: { maxMembers: 4 },
      [GroupType.MEETING]: { maxMembers: 3 },
      [GroupType.COMMUNITY]: { memberEventsMaxMembers: 3 },
    },
    rateLimitNodes: 3,
    eventRetentionSeconds: 3600,
  });
});
afterAll(async () => {
  await server?.close();
});

const joinedOf = (user: string) =>
  isEvent("memberJoined", (e) => e.payload.case === "memberJoined" && e.payload.value.member?.userId === user);
const leftOf = (user: string) => isEvent("memberLeft", (e) => e.payload.case === "memberLeft" && e.payload.value.userId === user);

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[]) => AppFixture.create(server, protocol, { users });

  it("GRP-13: creating or inviting beyond the limit is GROUP_FULL and changes nothing", async () => {
    const app = await setup(["alice", "bob", "carol", "dave"]);
    const alice = app.user("alice");
    await expectError(
      alice.groups.createGroup({ type: GroupType.WORK, groupId: "too-big", memberIds: ["bob", "carol", "dave"] }),
      Code.FailedPrecondition,
      ErrorReason.GROUP_FULL,
      { field: "member_ids" },
    );
    await expectError(
      app.admin.createGroup({ appId: app.appId, type: GroupType.WORK, groupId: "too-big", ownerId: "alice", memberIds: ["bob", "carol", "dave"] }),
      Code.FailedPrecondition,
      ErrorReason.GROUP_FULL,
      { field: "member_ids" },
    );
    expect((await alice.groups.listGroups({})).groups).toEqual([]);

    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const bob = await app.user("bob").subscribe();
    // Room for one, two asked: the whole request is refused.
    await expectError(alice.groups.inviteMembers({ groupId: g, userIds: ["carol", "dave"] }), Code.FailedPrecondition, ErrorReason.GROUP_FULL, {
      field: "user_ids",
    });
    await expectError(app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["carol", "dave"] }), Code.FailedPrecondition, ErrorReason.GROUP_FULL, {
      field: "user_ids",
    });
    expect((await alice.groups.getGroup({ groupId: g })).group?.memberCount).toBe(2);
    // Exactly up to the limit is fine.
    await alice.groups.inviteMembers({ groupId: g, userIds: ["carol"] });
    await bob.waitFor(joinedOf("carol"));
    expect(bob.items.filter(isEvent("memberJoined"))).toHaveLength(1);
    bob.close();
  });

  it("GRP-13: JoinGroup and ApproveJoinRequest on a full group are GROUP_FULL on group_id; the request stays pending", async () => {
    const app = await setup(["alice", "bob", "carol", "dave", "erin"]);
    const meeting = await app.group(GroupType.MEETING, "alice", ["bob", "carol"]);
    await expectError(app.user("dave").groups.joinGroup({ groupId: meeting }), Code.FailedPrecondition, ErrorReason.GROUP_FULL, {
      field: "group_id",
    });
    await app.user("carol").groups.leaveGroup({ groupId: meeting });
    expect((await app.user("dave").groups.joinGroup({ groupId: meeting })).result.case).toBe("member");

    const pub = await app.group(GroupType.PUBLIC, "alice", ["bob", "carol"]);
    expect((await app.user("dave").groups.joinGroup({ groupId: pub, message: "hi" })).result.case).toBe("joinRequest");
    expect((await app.user("erin").groups.joinGroup({ groupId: pub, message: "me too" })).result.case).toBe("joinRequest");
    const before = (await app.user("alice").groups.listJoinRequests({ groupId: pub })).joinRequests;
    await app.user("alice").groups.approveJoinRequest({ groupId: pub, userId: "dave" });
    await expectError(app.user("alice").groups.approveJoinRequest({ groupId: pub, userId: "erin" }), Code.FailedPrecondition, ErrorReason.GROUP_FULL, {
      field: "group_id",
    });
    const after = (await app.user("alice").groups.listJoinRequests({ groupId: pub })).joinRequests;
    expect(after).toEqual(before.filter((r) => r.userId === "erin"));
    expect((await app.admin.listMembers({ appId: app.appId, groupId: pub })).members).toHaveLength(4);
  });

  it("GRP-14: above the threshold MemberJoined and MemberLeft go only to the user who joined or left", async () => {
    const app = await setup(["alice", "bob", "carol", "dave"]);
    const g = await app.group(GroupType.COMMUNITY, "alice", ["bob"]);
    const streams: Record<string, EventStream> = {};
    for (const u of ["alice", "bob", "carol", "dave"]) streams[u] = await app.user(u).subscribe();
    const barrier = async (text: string) => {
      await app.user("alice").send(g, text);
      for (const u of ["alice", "bob"]) await streams[u].waitFor(isMessage(text));
    };

    // 3 members after carol's join: not above 3, everyone is told.
    await app.user("carol").groups.joinGroup({ groupId: g });
    for (const u of ["alice", "bob", "carol"]) await streams[u].waitFor(joinedOf("carol"));
    // 4 after dave's: only dave.
    expect((await app.user("dave").groups.joinGroup({ groupId: g })).result.case).toBe("member");
    await streams.dave.waitFor(joinedOf("dave"));
    await barrier("after dave joined");
    for (const u of ["alice", "bob", "carol"]) expect(streams[u].items.filter(joinedOf("dave")), u).toEqual([]);
    // 4 before dave leaves: only dave. 3 before carol leaves: everyone.
    await app.user("dave").groups.leaveGroup({ groupId: g });
    await streams.dave.waitFor(leftOf("dave"));
    await app.user("carol").groups.leaveGroup({ groupId: g });
    for (const u of ["alice", "bob", "carol"]) await streams[u].waitFor(leftOf("carol"));
    await barrier("after both left");
    for (const u of ["alice", "bob", "carol"]) expect(streams[u].items.filter(leftOf("dave")), u).toEqual([]);
    // Membership itself is unaffected: dave was a member and could read the group.
    expect((await app.admin.getGroup({ appId: app.appId, groupId: g })).group?.memberCount).toBe(2);
    for (const s of Object.values(streams)) s.close();
  });

  it("GRP-14: other types (threshold 0) always tell everyone", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const bob = await app.user("bob").subscribe();
    await app.admin.addMembers({ appId: app.appId, groupId: g, userIds: ["carol"] });
    await bob.waitFor(joinedOf("carol"));
    bob.close();
  });

  it("SRV-1, AUTH-7: GetServerInfo declares the configured limits, without a token", async () => {
    const { serverInfo } = await server.serverInfo(protocol).getServerInfo({});
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string };
    expect(serverInfo?.serverVersion).toBe(`narrowcast-reference/${pkg.version}`);
    expect(serverInfo?.groupTypeLimits.map((l) => [GroupType[l.type], l.maxMembers, l.memberEventsMaxMembers])).toEqual([
      ["WORK", 3, 0],
      ["PUBLIC", 4, 0],
      ["MEETING", 3, 0],
      ["COMMUNITY", 100_000, 3],
      ["AVCHATROOM", 1_000_000, 1_000],
    ]);
    expect(serverInfo).toMatchObject({ sendRatePerGroup: 40, sendRatePerGroupBound: 120 });
    expect(durationMs(serverInfo!.recallWindow!)).toBe(120_000);
    expect(durationMs(serverInfo!.idempotencyWindow!)).toBe(86_400_000);
    expect(durationMs(serverInfo!.eventRetention!)).toBe(3_600_000);
    expect(serverInfo?.messageRetention).toBeUndefined();
  });
});

describe("SRV-1: the reference defaults", () => {
  it("are declared by a server started without options", async () => {
    const plain = await TestServer.start();
    try {
      const { serverInfo } = await plain.serverInfo().getServerInfo({});
      expect(serverInfo?.groupTypeLimits.map((l) => [GroupType[l.type], l.maxMembers, l.memberEventsMaxMembers])).toEqual([
        ["WORK", 2_000, 0],
        ["PUBLIC", 5_000, 0],
        ["MEETING", 10_000, 0],
        ["COMMUNITY", 100_000, 1_000],
        ["AVCHATROOM", 1_000_000, 1_000],
      ]);
      expect(serverInfo).toMatchObject({ sendRatePerGroup: 40, sendRatePerGroupBound: 40 });
      expect(durationMs(serverInfo!.eventRetention!)).toBe(7 * 86_400_000);
    } finally {
      await plain.close();
    }
  });
});
