// Group management through the user client: the JoinGroup oneof, the Approve / Reject split,
// SetMemberRole returning the member, and ServerInfo.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, GroupType, MemberRole, Reason } from "../src/index.js";
import { rejection, startFixture } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

describe("joining", () => {
  it("a MEETING group is joined at once: the result is the member", async () => {
    const app = await fx.app({ users: ["alice", "bob"], groupType: "meeting" });
    await fx.admin.removeMembers(app.appId, app.groupId, ["bob"]);
    const bob = await app.client("bob");
    const result = await bob.joinGroup(app.groupId);
    expect(result.joinRequest).toBeUndefined();
    expect(result.member).toMatchObject({ userId: "bob", role: MemberRole.MEMBER });
    expect(result.member?.joinTime).toBeInstanceOf(Date);
  });

  it("a PUBLIC group is applied to: the result is the join request; approve returns the member, reject the request", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"], groupType: "public" });
    await fx.admin.removeMembers(app.appId, app.groupId, ["bob", "carol"]);
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));

    const applied = await bob.joinGroup(app.groupId, "let me in");
    expect(applied.member).toBeUndefined();
    expect(applied.joinRequest).toMatchObject({ groupId: app.groupId, userId: "bob", message: "let me in" });
    await carol.joinGroup(app.groupId);

    const pending: string[] = [];
    for await (const request of alice.joinRequests(app.groupId, { pageSize: 1 })) {
      pending.push(request.userId);
    }
    expect(pending).toEqual(["bob", "carol"]);

    const approved = await alice.approveJoinRequest(app.groupId, "bob");
    expect(approved).toMatchObject({ userId: "bob", role: MemberRole.MEMBER });
    const rejected = await alice.rejectJoinRequest(app.groupId, "carol");
    expect(rejected).toMatchObject({ groupId: app.groupId, userId: "carol" });
    expect((await alice.listJoinRequests(app.groupId)).items).toEqual([]);
    const again = await rejection(() => alice.approveJoinRequest(app.groupId, "carol"));
    expect(again).toMatchObject({ code: Code.NotFound, reason: Reason.JOIN_REQUEST_NOT_FOUND });
  });
});

describe("roles and lifecycle", () => {
  it("setMemberRole returns the changed member; dismissGroup ends the group", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    expect(await alice.setMemberRole(app.groupId, "bob", "admin")).toMatchObject({ userId: "bob", role: MemberRole.ADMIN });
    expect(await alice.getGroup(app.groupId)).toMatchObject({ groupId: app.groupId, type: GroupType.WORK, memberCount: 2 });
    await alice.dismissGroup(app.groupId);
    expect(await rejection(() => alice.getGroup(app.groupId))).toMatchObject({ reason: Reason.GROUP_NOT_FOUND });
  });
});

describe("server info", () => {
  it("getServerInfo returns the declared limits with plain numbers", async () => {
    const app = await fx.app({ users: ["alice"] });
    const info = await (await app.client("alice")).getServerInfo();
    expect(info.serverVersion).toMatch(/0\.2\.0/);
    expect(info.groupTypeLimits.find((l) => l.type === GroupType.WORK)).toMatchObject({ maxMembers: 2000 });
    expect(info.eventRetention).toEqual({ seconds: 604_800, nanos: 0 });
  });
});
