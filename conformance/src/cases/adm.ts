// The admin API (ADM): apps, users, tokens and admin group management.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, MemberRole } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { isJoined, isLeft, isMessage } from "../events.js";
import { decodeClaims, nowSeconds, signToken } from "../jwt.js";
import { sleep } from "../subscription.js";
import { expectSeqs } from "./util.js";

const seconds = (n: number) => ({ seconds: BigInt(n) });

export const admCases = [
  defineCase({
    id: "adm-create-app",
    rules: ["ADM-1", "ERR-3"],
    requirement: "CreateApp returns a new app with an ID, the plan (UNSPECIFIED means STANDARD), a create_time and a base64url secret.",
    async run(ctx) {
      const made = await Promise.all([Plan.UNSPECIFIED, Plan.STANDARD, Plan.ULTIMATE].map((plan) => ctx.admin.createApp({ name: "adm", plan })));
      const apps = made.map((r) => r.app);
      expectEqual(apps.map((a) => (a ? Plan[a.plan] : "none")), ["STANDARD", "STANDARD", "ULTIMATE"], "plans of apps created with UNSPECIFIED, STANDARD, ULTIMATE");
      for (const app of apps) {
        check(app && app.appId !== "", "CreateApp returned no app ID", "an app ID", JSON.stringify(app?.appId));
        check(/^[A-Za-z0-9_-]+$/.test(app.secret) && Buffer.from(app.secret, "base64url").length >= 16, "the app secret is not base64url of at least 16 bytes", "base64url secret", JSON.stringify(app.secret));
        const created = Number(app.createTime?.seconds ?? 0n);
        check(Math.abs(created - nowSeconds()) <= 300, "CreateApp's create_time is not now", `about ${nowSeconds()}`, String(created));
        check(!app.previousSecretExpireTime, "a new app has a previous_secret_expire_time", "absent", String(app.previousSecretExpireTime?.seconds));
      }
      expectEqual(new Set(apps.map((a) => a!.appId)).size, 3, "distinct app IDs");
      await expectError(ctx.admin.createApp({ name: "adm", plan: 9 as Plan }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "plan", what: "CreateApp with an undefined plan value (ERR-3)" });
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
        ["GetApp", () => ctx.admin.getApp({ appId })],
        ["SetAppPlan", () => ctx.admin.setAppPlan({ appId, plan: Plan.ULTIMATE })],
        ["RotateAppSecret", () => ctx.admin.rotateAppSecret({ appId })],
        ["ImportUsers", () => ctx.admin.importUsers({ appId, users: [{ userId: "alice" }] })],
        ["GetUser", () => ctx.admin.getUser({ appId, userId: "alice" })],
        ["ListUsers", () => ctx.admin.listUsers({ appId })],
        ["DeleteUser", () => ctx.admin.deleteUser({ appId, userId: "alice" })],
        ["IssueUserToken", () => ctx.admin.issueUserToken({ appId, userId: "alice" })],
        ["CreateGroup", () => ctx.admin.createGroup({ appId, type: GroupType.WORK })],
        ["GetGroup", () => ctx.admin.getGroup({ appId, groupId: "g1" })],
        ["ListGroups", () => ctx.admin.listGroups({ appId })],
        ["ListMembers", () => ctx.admin.listMembers({ appId, groupId: "g1" })],
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
    requirement: "ImportUsers creates or updates users and returns them in the request's order; a bad user ID is InvalidArgument FIELD_INVALID (field users[i].user_id) and imports nobody.",
    async run(ctx) {
      const app = await ctx.createApp();
      const imported = await ctx.admin.importUsers({ appId: app.appId, users: [{ userId: "bob", nickname: "Bob" }, { userId: "alice", nickname: "Alice" }] });
      expectEqual(imported.users.map((u) => [u.userId, u.nickname]), [["bob", "Bob"], ["alice", "Alice"]], "users returned by ImportUsers, in the request's order");
      const updated = await ctx.admin.importUsers({ appId: app.appId, users: [{ userId: "alice", nickname: "Alice 2" }] });
      expectEqual(updated.users.map((u) => [u.userId, u.nickname]), [["alice", "Alice 2"]], "the user returned by an updating ImportUsers");
      expectEqual((await ctx.admin.getUser({ appId: app.appId, userId: "alice" })).user?.nickname, "Alice 2", "alice's nickname after the update");
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
    requirement:
      "IssueUserToken returns a token valid for ttl (default one day) that user RPCs accept; unknown users are NotFound USER_NOT_FOUND (ids); a ttl over 30 days, negative or not whole seconds is FIELD_INVALID (field ttl).",
    async run(ctx) {
      const app = await ctx.createApp();
      await app.importUsers(["alice"]);
      const now = nowSeconds();
      const byDefault = await ctx.admin.issueUserToken({ appId: app.appId, userId: "alice" });
      const short = await ctx.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(600) });
      const longest = await ctx.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(2_592_000) });
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
      await expectError(ctx.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl: seconds(2_592_001) }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "ttl",
        what: "IssueUserToken with a ttl over 30 days",
      });
      for (const [what, ttl] of [
        ["a negative ttl", { seconds: -60n, nanos: 0 }],
        ["a ttl of 1.5 s (not whole seconds)", { seconds: 1n, nanos: 500_000_000 }],
        ["a ttl of 0.5 s", { seconds: 0n, nanos: 500_000_000 }],
      ] as const) {
        await expectError(ctx.admin.issueUserToken({ appId: app.appId, userId: "alice", ttl }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "ttl", what: `IssueUserToken with ${what}` });
      }
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
      const promoted = await ctx.admin.setMemberRole({ appId: app.appId, groupId, userId: "bob", role: MemberRole.OWNER });
      expectEqual([promoted.member?.userId, promoted.member ? MemberRole[promoted.member.role] : "none"], ["bob", "OWNER"], "the member returned by AdminService.SetMemberRole");
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
  defineCase({
    id: "adm-get-app",
    rules: ["ADM-7"],
    requirement: "GetApp returns the app (ID, name, plan, create_time) without its secret; an unknown app is NotFound APP_NOT_FOUND.",
    async run(ctx) {
      const created = (await ctx.admin.createApp({ name: "get me", plan: Plan.ULTIMATE })).app;
      check(created, "CreateApp returned no app");
      const got = (await ctx.admin.getApp({ appId: created.appId })).app;
      check(got, "GetApp returned no app");
      expectEqual(
        { appId: got.appId, name: got.name, plan: Plan[got.plan], created: Number(got.createTime?.seconds ?? -1n) },
        { appId: created.appId, name: "get me", plan: "ULTIMATE", created: Number(created.createTime?.seconds ?? -2n) },
        "the app returned by GetApp",
      );
      expectEqual(got.secret, "", "secret in GetApp's app (only CreateApp and RotateAppSecret return it)");
      await expectError(ctx.admin.getApp({ appId: "no-such-app" }), Code.NotFound, ErrorReason.APP_NOT_FOUND, { what: "GetApp of an unknown app" });
    },
  }),
  defineCase({
    id: "adm-set-app-plan",
    rules: ["ADM-8", "TGT-9"],
    requirement:
      "SetAppPlan moves an app to a plan for every later request and returns it without secret: after STANDARD a targeted send is PermissionDenied FEATURE_NOT_IN_PLAN, after ULTIMATE it is accepted; PLAN_UNSPECIFIED is FIELD_INVALID (field plan).",
    async run(ctx) {
      const w = await ctx.world({ plan: Plan.ULTIMATE });
      const alice = w.user("alice");
      await alice.send(w.groupId, { receiverIds: ["bob"] });
      const down = (await ctx.admin.setAppPlan({ appId: w.app.appId, plan: Plan.STANDARD })).app;
      expectEqual([down?.appId, down ? Plan[down.plan] : "none", down?.secret], [w.app.appId, "STANDARD", ""], "[app_id, plan, secret] returned by SetAppPlan(STANDARD)");
      expectEqual(Plan[(await ctx.admin.getApp({ appId: w.app.appId })).app?.plan ?? 0], "STANDARD", "GetApp's plan after SetAppPlan(STANDARD)");
      await expectError(alice.send(w.groupId, { receiverIds: ["bob"] }), Code.PermissionDenied, ErrorReason.FEATURE_NOT_IN_PLAN, { what: "a targeted send after moving the app to STANDARD" });
      await expectError(w.app.adminSend("alice", w.groupId, { receiverIds: ["bob"] }), Code.PermissionDenied, ErrorReason.FEATURE_NOT_IN_PLAN, {
        what: "an admin targeted send after moving the app to STANDARD",
      });
      const ordinary = await alice.send(w.groupId, "ordinary still works");
      expectEqual(Number(ordinary.seq), 2, "seq of an ordinary send on STANDARD (the rejected targeted ones consumed none)");
      const up = (await ctx.admin.setAppPlan({ appId: w.app.appId, plan: Plan.ULTIMATE })).app;
      expectEqual(up ? Plan[up.plan] : "none", "ULTIMATE", "plan returned by SetAppPlan(ULTIMATE)");
      const again = await alice.send(w.groupId, { receiverIds: ["bob"] });
      expectEqual([Number(again.seq), again.receiverIds], [3, ["bob"]], "[seq, receiver_ids] of a targeted send after moving back to ULTIMATE");
      for (const plan of [Plan.UNSPECIFIED, 9 as Plan]) {
        await expectError(ctx.admin.setAppPlan({ appId: w.app.appId, plan }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "plan", what: `SetAppPlan with plan ${plan}` });
      }
      expectEqual(Plan[(await ctx.admin.getApp({ appId: w.app.appId })).app?.plan ?? 0], "ULTIMATE", "plan after rejected SetAppPlan calls (unchanged)");
    },
  }),
  defineCase({
    id: "adm-rotate-app-secret",
    rules: ["ADM-9", "AUTH-2"],
    requirement:
      "RotateAppSecret returns a new secret; tokens of the old secret are TOKEN_INVALID at once, or with a grace period keep working until previous_secret_expire_time; a second rotation drops the older secret; a grace period over 30 days or negative is FIELD_INVALID.",
    async run(ctx) {
      const w = await ctx.world();
      const appId = w.app.appId;
      const exp = nowSeconds() + 3600;
      const tokenFor = (secret: string) => signToken({ iss: appId, sub: "alice", exp, iat: nowSeconds() }, secret);
      const calls = (token: string) => ctx.clientsWithToken(token).groups.listGroups({});
      const issued = (await ctx.admin.issueUserToken({ appId, userId: "alice" })).token;
      const secret1 = w.app.app.secret;
      await calls(issued);
      const r1 = (await ctx.admin.rotateAppSecret({ appId })).app;
      check(r1 && r1.secret !== "" && r1.secret !== secret1, "RotateAppSecret returned no new secret", "a new secret", JSON.stringify(r1?.secret));
      check(!r1.previousSecretExpireTime, "a rotation without grace period has a previous_secret_expire_time", "absent", String(r1.previousSecretExpireTime?.seconds));
      const secret2 = r1.secret;
      await expectError(calls(issued), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: "an issued token signed with the rotated-out secret (no grace period)" });
      await expectError(calls(tokenFor(secret1)), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: "a self-minted token with the rotated-out secret" });
      await calls(tokenFor(secret2));
      await calls((await ctx.admin.issueUserToken({ appId, userId: "alice" })).token);
      expectEqual((await ctx.admin.getApp({ appId })).app?.secret, "", "GetApp's secret after a rotation");

      const r2 = (await ctx.admin.rotateAppSecret({ appId, previousSecretGracePeriod: { seconds: 3600n } })).app;
      check(r2 && r2.secret !== "" && r2.secret !== secret2, "RotateAppSecret with a grace period returned no new secret", "a new secret", JSON.stringify(r2?.secret));
      const until = Number(r2.previousSecretExpireTime?.seconds ?? 0n);
      check(Math.abs(until - (nowSeconds() + 3600)) <= 300, "previous_secret_expire_time is not now + the grace period", `about ${nowSeconds() + 3600}`, String(until));
      const secret3 = r2.secret;
      await calls(tokenFor(secret2));
      await calls(tokenFor(secret3));
      await expectError(calls(tokenFor(secret1)), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: "a token of the secret before the previous one" });
      expectEqual(Number((await ctx.admin.getApp({ appId })).app?.previousSecretExpireTime?.seconds ?? 0n), until, "GetApp's previous_secret_expire_time during the grace period");

      const secret4 = (await ctx.admin.rotateAppSecret({ appId })).app?.secret ?? "";
      await expectError(calls(tokenFor(secret2)), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: "a token of the previous secret after a second rotation" });
      await expectError(calls(tokenFor(secret3)), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: "a token of the just-replaced secret (second rotation without grace)" });
      for (const grace of [2_592_001n, -1n]) {
        await expectError(ctx.admin.rotateAppSecret({ appId, previousSecretGracePeriod: { seconds: grace } }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
          field: "previous_secret_grace_period",
          what: `RotateAppSecret with a grace period of ${grace} s`,
        });
      }
      await calls(tokenFor(secret4));
      check(!(await ctx.admin.getApp({ appId })).app?.previousSecretExpireTime, "a rejected RotateAppSecret changed the app (ERR-2)", "no previous secret accepted");

    },
  }),
  defineCase({
    id: "adm-rotate-grace-period-ends",
    rules: ["ADM-9", "ADM-7"],
    requirement:
      "When a rotation's grace period ends, tokens of the previous secret are TOKEN_INVALID and GetApp no longer returns previous_secret_expire_time.",
    async run(ctx) {
      const w = await ctx.world();
      const appId = w.app.appId;
      const tokenFor = (secret: string) => signToken({ iss: appId, sub: "alice", exp: nowSeconds() + 3600, iat: nowSeconds() }, secret);
      const calls = (token: string) => ctx.clientsWithToken(token).groups.listGroups({});
      const previous = w.app.app.secret;
      const rotated = (await ctx.admin.rotateAppSecret({ appId, previousSecretGracePeriod: { seconds: 1n } })).app;
      check(rotated?.previousSecretExpireTime, "a rotation with a 1 s grace period has no previous_secret_expire_time");
      await calls(tokenFor(previous));
      const until = Number(rotated.previousSecretExpireTime.seconds) * 1000 + rotated.previousSecretExpireTime.nanos / 1e6;
      await sleep(Math.max(0, until - Date.now()) + 1200);
      await expectError(calls(tokenFor(previous)), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: "a token of the previous secret after its grace period ended" });
      await calls(tokenFor(rotated.secret));
      const after = (await ctx.admin.getApp({ appId })).app;
      check(!after?.previousSecretExpireTime, "GetApp still returns previous_secret_expire_time after the grace period ended", "absent", String(after?.previousSecretExpireTime?.seconds));
    },
  }),
  defineCase({
    id: "adm-read-users-and-groups",
    rules: ["ADM-10"],
    requirement:
      "Admin GetUser/ListUsers/GetGroup/ListGroups/ListMembers read any user or group of the app (users and members by user ID, groups by group ID, dismissed groups gone); unknown ones are USER_NOT_FOUND (ids) / GROUP_NOT_FOUND.",
    async run(ctx) {
      const app = await ctx.createApp();
      await ctx.admin.importUsers({ appId: app.appId, users: [{ userId: "carol", nickname: "C" }, { userId: "alice", nickname: "A" }, { userId: "bob", nickname: "B" }] });
      const other = await ctx.createApp();
      await other.importUsers(["zed"]);
      await other.createGroup(GroupType.WORK, { owner: "zed", groupId: "other-app-group" });
      expectEqual((await ctx.admin.getUser({ appId: app.appId, userId: "bob" })).user?.nickname, "B", "GetUser's nickname");
      await expectError(ctx.admin.getUser({ appId: app.appId, userId: "zed" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["zed"], what: "GetUser of another app's user" });
      const users = await ctx.admin.listUsers({ appId: app.appId });
      expectEqual([users.users.map((u) => [u.userId, u.nickname]), users.nextPageToken], [[["alice", "A"], ["bob", "B"], ["carol", "C"]], ""], "ListUsers (by user ID, one page)");
      await app.createGroup(GroupType.WORK, { owner: "bob", members: ["carol"], groupId: "w" });
      await app.createGroup(GroupType.MEETING, { owner: "", members: ["alice"], groupId: "m" });
      await app.createGroup(GroupType.PUBLIC, { owner: "carol", groupId: "p" });
      await app.createGroup(GroupType.COMMUNITY, { owner: "alice", groupId: "gone" });
      await ctx.admin.dismissGroup({ appId: app.appId, groupId: "gone" });
      const g = (await ctx.admin.getGroup({ appId: app.appId, groupId: "w" })).group;
      expectEqual({ id: g?.groupId, type: g ? GroupType[g.type] : "", owner: g?.ownerId, count: g?.memberCount }, { id: "w", type: "WORK", owner: "bob", count: 2 }, "admin GetGroup");
      const groups = await ctx.admin.listGroups({ appId: app.appId });
      expectEqual([groups.groups.map((x) => x.groupId), groups.nextPageToken], [["m", "p", "w"], ""], "admin ListGroups (by group ID, dismissed group gone)");
      const members = await ctx.admin.listMembers({ appId: app.appId, groupId: "w" });
      expectEqual(members.members.map((m) => [m.userId, MemberRole[m.role]]), [["bob", "OWNER"], ["carol", "MEMBER"]], "admin ListMembers");
      expectEqual((await ctx.admin.listMembers({ appId: app.appId, groupId: "m" })).members.map((m) => m.userId), ["alice"], "admin ListMembers of an ownerless group");
      for (const groupId of ["gone", "other-app-group", "nope"]) {
        await expectError(ctx.admin.getGroup({ appId: app.appId, groupId }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: `admin GetGroup of ${groupId}` });
        await expectError(ctx.admin.listMembers({ appId: app.appId, groupId }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { what: `admin ListMembers of ${groupId}` });
      }
    },
  }),
  defineCase({
    id: "adm-delete-user",
    rules: ["ADM-11", "GRP-10", "AUTH-2"],
    requirement:
      "DeleteUser ends every membership with MemberLeft (removed_by empty; an owned group is left without owner), drops pending join requests, makes the user's tokens TOKEN_INVALID at once, keeps their messages (sender_id) and receiver lists; a re-imported user starts with no memberships; unknown users are USER_NOT_FOUND.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol"] });
      const owned = await w.app.createGroup(GroupType.WORK, { owner: "bob", members: ["alice"], groupId: "bobs" });
      const pub = await w.app.createGroup(GroupType.PUBLIC, { owner: "carol", groupId: "pub" });
      await w.user("bob").groups.joinGroup({ groupId: pub, message: "let me in" });
      const fromBob = await w.user("bob").send(w.groupId, "bob was here");
      const toBob = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      const bobToken = await w.user("bob").token();
      const alice = await w.user("alice").subscribe();
      await ctx.admin.deleteUser({ appId: w.app.appId, userId: "bob" });
      for (const groupId of [w.groupId, owned]) {
        const e = await alice.waitFor(`MemberLeft of bob from ${groupId}`, isLeft(groupId, "bob"));
        if (e.payload.case === "memberLeft") expectEqual(e.payload.value.removedBy, "", "removed_by of a MemberLeft caused by DeleteUser");
      }
      await expectError(ctx.clientsWithToken(bobToken).groups.listGroups({}), Code.Unauthenticated, ErrorReason.TOKEN_INVALID, { what: "a deleted user's token" });
      await expectError(ctx.admin.getUser({ appId: w.app.appId, userId: "bob" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["bob"], what: "GetUser of a deleted user" });
      await expectError(ctx.admin.deleteUser({ appId: w.app.appId, userId: "bob" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["bob"], what: "DeleteUser of a deleted user" });
      expectEqual((await w.user("alice").members(w.groupId)).map((m) => m.userId), ["alice", "carol"], "members of the group after bob's deletion");
      const orphan = (await w.user("alice").groups.getGroup({ groupId: owned })).group;
      expectEqual([orphan?.ownerId, orphan?.memberCount], ["", 1], "[owner_id, member_count] of the group bob owned");
      const requests = (await w.user("carol").groups.listJoinRequests({ groupId: pub })).joinRequests.map((r) => r.userId);
      expectEqual(requests, [], "pending join requests after the applicant's deletion");
      const history = await w.user("alice").history(w.groupId);
      const kept = history.find((m) => m.messageId === fromBob.messageId);
      expectEqual(kept?.senderId, "bob", "sender_id of a deleted user's message in history");
      expectEqual(history.find((m) => m.messageId === toBob.messageId)?.receiverIds, ["bob"], "receiver_ids naming a deleted user");
      const later = await w.user("alice").send(w.groupId, "after bob left");
      await alice.waitFor("alice's next message", isMessage(later.messageId));
      await w.app.importUsers(["bob"]);
      const reborn = ctx.clientsWithToken((await ctx.admin.issueUserToken({ appId: w.app.appId, userId: "bob" })).token);
      expectEqual((await reborn.groups.listGroups({})).groups.map((g) => g.groupId), [], "groups of a re-imported user (a new user, no memberships)");
      await expectError(ctx.admin.deleteUser({ appId: w.app.appId, userId: "ghost" }), Code.NotFound, ErrorReason.USER_NOT_FOUND, { ids: ["ghost"], what: "DeleteUser of an unknown user" });
      expectEqual(alice.events.filter(isLeft(w.groupId, "bob")).length, 1, "MemberLeft events of bob that alice received for the group");
    },
  }),
];
