// The admin API (ADM): apps, users, tokens and admin group management.
import { Code } from "@connectrpc/connect";
import { Edition, ErrorReason, GroupType, MemberRole } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { isJoined, isLeft } from "../events.js";
import { decodeClaims, nowSeconds } from "../jwt.js";
import { expectSeqs } from "./util.js";

export const admCases = [
  defineCase({
    id: "adm-create-app",
    rules: ["ADM-1"],
    requirement: "CreateApp returns a new app with an ID, the edition (UNSPECIFIED means STANDARD) and a base64url secret.",
    async run(ctx) {
      const made = await Promise.all([Edition.UNSPECIFIED, Edition.STANDARD, Edition.ULTIMATE].map((edition) => ctx.admin.createApp({ name: "adm", edition })));
      const apps = made.map((r) => r.app);
      expectEqual(apps.map((a) => (a ? Edition[a.edition] : "none")), ["STANDARD", "STANDARD", "ULTIMATE"], "editions of apps created with UNSPECIFIED, STANDARD, ULTIMATE");
      for (const app of apps) {
        check(app && app.appId !== "", "CreateApp returned no app ID", "an app ID", JSON.stringify(app?.appId));
        check(/^[A-Za-z0-9_-]+$/.test(app.secret) && Buffer.from(app.secret, "base64url").length >= 16, "the app secret is not base64url of at least 16 bytes", "base64url secret", JSON.stringify(app.secret));
      }
      expectEqual(new Set(apps.map((a) => a!.appId)).size, 3, "distinct app IDs");
      expectEqual(new Set(apps.map((a) => a!.secret)).size, 3, "distinct app secrets");
    },
  }),
  defineCase({
    id: "adm-app-not-found",
    rules: ["ADM-1"],
    requirement: "Any admin RPC naming an unknown app is NotFound APP_NOT_FOUND.",
    async run(ctx) {
      const appId = "no-such-app";
      const calls: [string, () => Promise<unknown>][] = [
        ["ImportUsers", () => ctx.admin.importUsers({ appId, users: [{ userId: "alice" }] })],
        ["IssueUserToken", () => ctx.admin.issueUserToken({ appId, userId: "alice" })],
        ["CreateGroup", () => ctx.admin.createGroup({ appId, type: GroupType.WORK })],
        ["AddMembers", () => ctx.admin.addMembers({ appId, groupId: "g1", userIds: ["alice"] })],
        ["SendMessage", () => ctx.admin.sendMessage({ appId, message: { groupId: "g1", elements: [{ element: { case: "text", value: { text: "x" } } }] } })],
        ["DismissGroup", () => ctx.admin.dismissGroup({ appId, groupId: "g1" })],
      ];
      for (const [rpc, call] of calls) await expectError(call(), Code.NotFound, ErrorReason.APP_NOT_FOUND, { what: `${rpc} with an unknown app` });
    },
  }),
  defineCase({
    id: "adm-import-users",
    rules: ["ADM-2", "GRP-8", "ERR-2"],
    requirement: "ImportUsers creates or updates users; a bad user ID is InvalidArgument FIELD_INVALID (field users[i].user_id) and imports nobody.",
    async run(ctx) {
      const app = await ctx.createApp();
      await app.importUsers(["alice", "bob"]);
      await ctx.admin.importUsers({ appId: app.appId, users: [{ userId: "alice", nickname: "Alice 2" }] });
      await expectError(
        ctx.admin.importUsers({ appId: app.appId, users: [{ userId: "carol" }, { userId: "bad id!" }] }),
        Code.InvalidArgument,
        ErrorReason.FIELD_INVALID,
        { field: "users[1].user_id", what: "ImportUsers with a bad second user ID" },
      );
      for (const bad of ["", "u".repeat(65)]) {
        await expectError(ctx.admin.importUsers({ appId: app.appId, users: [{ userId: bad }] }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
          field: "users[0].user_id",
          what: `ImportUsers with user ID ${JSON.stringify(bad.length > 10 ? `${bad.slice(0, 10)}…(${bad.length})` : bad)}`,
        });
      }
      await expectError(ctx.admin.issueUserToken({ appId: app.appId, userId: "carol" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, {
        ids: ["carol"],
        what: "IssueUserToken for a user of a rejected import",
      });
      const groupId = await app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"] });
      expectEqual((await app.user("bob").groups.getGroup({ groupId })).group?.memberCount, 2, "member_count of a group of imported users");
    },
  }),
  defineCase({
    id: "adm-issue-user-token",
    rules: ["ADM-3", "AUTH-2"],
    requirement: "IssueUserToken returns a token valid for ttl_seconds (default 86400) that user RPCs accept; unknown users are NotFound USER_NOT_FOUND (ids); ttl over 30 days is FIELD_INVALID.",
    async run(ctx) {
      const app = await ctx.createApp();
      await app.importUsers(["alice"]);
      const now = nowSeconds();
      const byDefault = await ctx.admin.issueUserToken({ appId: app.appId, userId: "alice" });
      const short = await ctx.admin.issueUserToken({ appId: app.appId, userId: "alice", ttlSeconds: 600 });
      const longest = await ctx.admin.issueUserToken({ appId: app.appId, userId: "alice", ttlSeconds: 2_592_000 });
      for (const [what, res, ttl] of [["default", byDefault, 86_400], ["600 s", short, 600], ["30 days", longest, 2_592_000]] as const) {
        const claims = decodeClaims(res.token);
        expectEqual({ iss: claims.iss, sub: claims.sub }, { iss: app.appId, sub: "alice" }, `claims of the ${what} token`);
        const exp = Number(claims.exp);
        check(Math.abs(exp - (now + ttl)) <= 300, `exp of the ${what} token is not now + ttl`, `about ${now + ttl}`, String(claims.exp));
        expectEqual(Number(res.expireTime?.seconds), exp, `expire_time vs. exp of the ${what} token`);
        const clients = ctx.clientsWithToken(res.token);
        expectEqual((await clients.groups.listGroups({})).groups.length, 0, `ListGroups with the ${what} token`);
      }
      await expectError(ctx.admin.issueUserToken({ appId: app.appId, userId: "ghost" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["ghost"], what: "IssueUserToken for an unknown user" });
      await expectError(ctx.admin.issueUserToken({ appId: app.appId, userId: "alice", ttlSeconds: 2_592_001 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "ttl_seconds",
        what: "IssueUserToken with a ttl over 30 days",
      });
    },
  }),
  defineCase({
    id: "adm-group-management",
    rules: ["ADM-4", "GRP-10"],
    requirement: "Admin CreateGroup/AddMembers/RemoveMembers/SetMemberRole/DismissGroup bypass join rules and roles, check members, and emit the usual events.",
    async run(ctx) {
      const app = await ctx.createApp();
      await app.importUsers(["alice", "bob", "carol", "erin"]);
      const groupId = await app.createGroup(GroupType.PUBLIC, { owner: "alice", members: ["bob"], groupId: "pub" });
      const bob = await app.user("bob").subscribe();
      const added = await ctx.admin.addMembers({ appId: app.appId, groupId, userIds: ["carol"] });
      expectEqual(added.members.map((m) => m.userId), ["carol"], "members added by AdminService.AddMembers into a PUBLIC group");
      const joined = await bob.waitFor("MemberJoined of carol", isJoined(groupId, "carol"));
      if (joined.payload.case === "memberJoined") expectEqual(joined.payload.value.addedBy, "", "added_by of an admin addition");
      await expectError(ctx.admin.addMembers({ appId: app.appId, groupId, userIds: ["erin", "bob"] }), Code.AlreadyExists, ErrorReason.ALREADY_MEMBER, { ids: ["bob"], what: "AddMembers of a member" });
      await expectError(ctx.admin.addMembers({ appId: app.appId, groupId, userIds: ["erin", "ghost"] }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["ghost"], what: "AddMembers of an unknown user" });
      await expectError(ctx.admin.createGroup({ appId: app.appId, type: GroupType.WORK, ownerId: "ghost" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["ghost"], what: "CreateGroup with an unknown owner" });
      await expectError(ctx.admin.removeMembers({ appId: app.appId, groupId, userIds: ["carol", "erin"] }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { ids: ["erin"], what: "RemoveMembers of a non-member" });
      await expectError(ctx.admin.setMemberRole({ appId: app.appId, groupId, userId: "erin", role: MemberRole.ADMIN }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { ids: ["erin"], what: "SetMemberRole of a non-member" });
      const stillThere = (await app.user("bob").groups.listMembers({ groupId })).members.map((m) => m.userId);
      expectEqual(stillThere, ["alice", "bob", "carol"], "members after rejected admin calls (nothing changed)");
      await ctx.admin.setMemberRole({ appId: app.appId, groupId, userId: "bob", role: MemberRole.OWNER });
      const roles = (await app.user("bob").groups.listMembers({ groupId })).members.map((m) => [m.userId, MemberRole[m.role]]);
      expectEqual(roles, [["alice", "ADMIN"], ["bob", "OWNER"], ["carol", "MEMBER"]], "roles after moving ownership to bob");
      await ctx.admin.removeMembers({ appId: app.appId, groupId, userIds: ["carol"] });
      await bob.waitFor("MemberLeft of carol", isLeft(groupId, "carol"));
      await ctx.admin.removeMembers({ appId: app.appId, groupId, userIds: ["bob"] });
      const ownerless = await app.user("alice").groups.getGroup({ groupId });
      expectEqual([ownerless.group?.ownerId, ownerless.group?.memberCount], ["", 1], "[owner_id, member_count] after removing the owner");
      await ctx.admin.dismissGroup({ appId: app.appId, groupId });
      await expectError(app.user("alice").groups.getGroup({ groupId }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: "GetGroup after admin DismissGroup" });
    },
  }),
  defineCase({
    id: "adm-send-message",
    rules: ["ADM-5", "MSG-1", "MSG-3"],
    requirement: "Admin SendMessage sends as a current member (others: PermissionDenied NOT_A_MEMBER) and applies the message rules.",
    async run(ctx) {
      const w = await ctx.world();
      const asBob = await w.app.adminSend("bob", w.groupId, "on behalf of bob");
      expectEqual([asBob.senderId, Number(asBob.seq)], ["bob", 1], "[sender_id, seq] of a message sent as bob");
      await expectError(w.app.adminSend("erin", w.groupId, "x"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { what: "admin send as a non-member" });
      await expectError(w.app.adminSend("bob", w.groupId, { elements: [] }), Code.InvalidArgument, ErrorReason.EMPTY_MESSAGE, { field: "elements", what: "admin send without elements" });
      await expectError(w.app.adminSend("", "no-such-group", "x"), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: "admin send into an unknown group" });
      expectSeqs(await w.user("carol").history(w.groupId), [1], "history after admin sends");
    },
  }),
];
