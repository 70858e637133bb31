// AdminService (narrowcast.admin.v1): the app backends' API (rules ADM-1 to ADM-11). Enough to
// build isolated fixtures (a fresh app per test) on any server, and to run one.
import { randomBytes } from "node:crypto";
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason, GroupType, MemberRole } from "@narrowcast/gen";
import { AdminService, AppSchema, Plan, UserSchema, type App } from "@narrowcast/gen/admin";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { durationMsOf } from "../durations.js";
import { newId, requireId } from "../ids.js";
import { mintUserToken, previousSecretExpiry } from "../auth.js";
import type { Deps } from "../context.js";
import { LIST_SIZES, isIdKey, openPage } from "../paging.js";
import { StoreConflict, type AppRecord } from "../store/types.js";
import { conflictError, groupProto, limitsOf, memberProto, requireGroup, requireUsers } from "./common.js";
import { recallMessage, sendMessage } from "./messaging.js";
import { webhookRpcs } from "./webhook-admin.js";

const DAY_MS = 86_400_000;
const DEFAULT_TTL_MS = DAY_MS;
const MAX_TTL_MS = 30 * DAY_MS;
const MAX_GRACE_MS = 30 * DAY_MS;
const rpc = (name: string) => `${AdminService.typeName}/${name}`;

/** The app as the wire shows it; the secret only where the RPC hands it out (CreateApp, RotateAppSecret). */
function appProto(app: AppRecord, withSecret: boolean, now: number): App {
  const previousExpiry = previousSecretExpiry(app, now);
  return create(AppSchema, {
    appId: app.appId,
    name: app.name,
    plan: app.plan,
    secret: withSecret ? app.secret : "",
    createTime: timestampFromMs(app.createdAt),
    previousSecretExpireTime: previousExpiry === undefined ? undefined : timestampFromMs(previousExpiry),
  });
}

function newSecret(): string {
  return randomBytes(32).toString("base64url");
}

export function adminService(deps: Deps): ServiceImpl<typeof AdminService> {
  const { store } = deps;

  async function requireApp(appId: string): Promise<AppRecord> {
    const app = appId ? await store.getApp(appId) : undefined;
    if (!app) throw narrowcastError(ErrorReason.APP_NOT_FOUND, `app ${appId} not found`, { field: "app_id", ids: [appId] });
    return app;
  }

  function requireMemberIds(ids: readonly string[], field: string): string[] {
    if (ids.length === 0) throw fieldInvalid(field, `${field} must not be empty`);
    ids.forEach((id, i) => requireId(id, `${field}[${i}]`));
    return [...new Set(ids)];
  }

  function userNotFound(userId: string) {
    return narrowcastError(ErrorReason.USER_NOT_FOUND, `user ${userId} not found`, { field: "user_id", ids: [userId] });
  }

  return {
    ...webhookRpcs(deps, requireApp),

    async createApp(req) {
      if (!(req.plan in Plan)) throw fieldInvalid("plan", "unknown plan");
      const app: AppRecord = {
        appId: newId("app", 9),
        name: req.name,
        plan: req.plan === Plan.UNSPECIFIED ? Plan.STANDARD : req.plan,
        secret: newSecret(),
        createdAt: deps.now(),
      };
      await store.createApp(app);
      return { app: appProto(app, true, deps.now()) };
    },

    async getApp(req) {
      return { app: appProto(await requireApp(req.appId), false, deps.now()) };
    },

    async setAppPlan(req) {
      if (!(req.plan in Plan) || req.plan === Plan.UNSPECIFIED) throw fieldInvalid("plan", "a valid plan is required");
      await requireApp(req.appId);
      const app = await store.setAppPlan(req.appId, req.plan);
      if (!app) throw narrowcastError(ErrorReason.APP_NOT_FOUND, `app ${req.appId} not found`, { field: "app_id", ids: [req.appId] });
      return { app: appProto(app, false, deps.now()) };
    },

    async rotateAppSecret(req) {
      const graceMs = durationMsOf(req.previousSecretGracePeriod, "previous_secret_grace_period", { minMs: 0, maxMs: MAX_GRACE_MS });
      await requireApp(req.appId);
      // Rule ADM-9: without a grace period the old secret is dropped at once.
      const app = await store.rotateAppSecret(req.appId, newSecret(), graceMs ? deps.now() + Math.ceil(graceMs) : undefined);
      if (!app) throw narrowcastError(ErrorReason.APP_NOT_FOUND, `app ${req.appId} not found`, { field: "app_id", ids: [req.appId] });
      return { app: appProto(app, true, deps.now()) };
    },

    async importUsers(req) {
      await requireApp(req.appId);
      req.users.forEach((u, i) => requireId(u.userId, `users[${i}].user_id`));
      const users = req.users.map((u) => ({ userId: u.userId, nickname: u.nickname }));
      await store.upsertUsers(req.appId, users);
      return { users: users.map((u) => create(UserSchema, u)) };
    },

    async getUser(req) {
      await requireApp(req.appId);
      requireId(req.userId, "user_id");
      const user = await store.getUser(req.appId, req.userId);
      if (!user) throw userNotFound(req.userId);
      return { user: create(UserSchema, { userId: user.userId, nickname: user.nickname }) };
    },

    async listUsers(req) {
      const page = openPage(req, { rpc: rpc("ListUsers"), appId: req.appId, caller: "" }, LIST_SIZES, isIdKey);
      await requireApp(req.appId);
      const users = await store.listUsers(req.appId, { after: page.after, limit: page.size + 1 });
      const { items, nextPageToken } = page.finish(users, (u) => u.userId);
      return { users: items.map((u) => create(UserSchema, { userId: u.userId, nickname: u.nickname })), nextPageToken };
    },

    async deleteUser(req) {
      await requireApp(req.appId);
      requireId(req.userId, "user_id");
      const events = await store.deleteUser(req.appId, req.userId, deps.now(), deps.limits.groupLimits);
      if (!events) throw userNotFound(req.userId);
      // Rule ADM-11: the user's tokens fail from now on, as the authenticator re-checks the user.
      deps.publish(events);
      return {};
    },

    async issueUserToken(req) {
      const ttlMs = durationMsOf(req.ttl, "ttl", { minMs: 1000, maxMs: MAX_TTL_MS, wholeSeconds: true }) ?? DEFAULT_TTL_MS;
      const app = await requireApp(req.appId);
      await requireUsers(deps, app.appId, [req.userId], "user_id");
      const { token, expiresAtMs } = await mintUserToken(app.appId, app.secret, req.userId, ttlMs / 1000, deps.now());
      return { token, expireTime: timestampFromMs(expiresAtMs) };
    },

    async createGroup(req) {
      await requireApp(req.appId);
      if (!(req.type in GroupType) || req.type === GroupType.UNSPECIFIED) throw fieldInvalid("type", "a valid group type is required");
      const groupId = req.groupId ? requireId(req.groupId, "group_id") : newId("grp");
      if (req.ownerId) await requireUsers(deps, req.appId, [req.ownerId], "owner_id");
      const memberIds = [...new Set(req.memberIds)].filter((id) => id !== req.ownerId);
      await requireUsers(deps, req.appId, memberIds, "member_ids");
      const members = [
        ...(req.ownerId ? [{ userId: req.ownerId, role: MemberRole.OWNER }] : []),
        ...memberIds.map((userId) => ({ userId, role: MemberRole.MEMBER })),
      ];
      try {
        const { group, events } = await store.createGroup(
          { appId: req.appId, groupId, type: req.type, name: req.name, ownerId: req.ownerId, createdAt: deps.now() },
          members,
          limitsOf(deps, req.type),
        );
        deps.publish(events);
        return { group: groupProto(group) };
      } catch (err) {
        throw conflictError(err, "member_ids");
      }
    },

    async getGroup(req) {
      await requireApp(req.appId);
      return { group: groupProto(await requireGroup(deps, req.appId, req.groupId)) };
    },

    async listGroups(req) {
      const page = openPage(req, { rpc: rpc("ListGroups"), appId: req.appId, caller: "" }, LIST_SIZES, isIdKey);
      await requireApp(req.appId);
      const groups = await store.listGroups(req.appId, { after: page.after, limit: page.size + 1 });
      const { items, nextPageToken } = page.finish(groups, (g) => g.groupId);
      return { groups: items.map(groupProto), nextPageToken };
    },

    async listMembers(req) {
      const page = openPage(
        req,
        { rpc: rpc("ListMembers"), appId: req.appId, caller: "", groupId: req.groupId },
        LIST_SIZES,
        isIdKey,
      );
      await requireApp(req.appId);
      const group = await requireGroup(deps, req.appId, req.groupId);
      const members = await store.listMembers(req.appId, group.groupId, undefined, { after: page.after, limit: page.size + 1 });
      const { items, nextPageToken } = page.finish(members, (m) => m.userId);
      return { members: items.map(memberProto), nextPageToken };
    },

    async addMembers(req) {
      await requireApp(req.appId);
      const group = await requireGroup(deps, req.appId, req.groupId);
      const ids = requireMemberIds(req.userIds, "user_ids");
      await requireUsers(deps, req.appId, ids, "user_ids");
      try {
        deps.publish(
          await store.addMembers(
            req.appId,
            group.groupId,
            ids.map((userId) => ({ userId, role: MemberRole.MEMBER })),
            "",
            deps.now(),
            limitsOf(deps, group.type),
          ),
        );
      } catch (err) {
        throw conflictError(err);
      }
      return { members: (await store.listMembers(req.appId, group.groupId, ids)).map(memberProto) };
    },

    async removeMembers(req) {
      await requireApp(req.appId);
      const group = await requireGroup(deps, req.appId, req.groupId);
      const ids = requireMemberIds(req.userIds, "user_ids");
      try {
        deps.publish(await store.removeMembers(req.appId, group.groupId, ids, "", deps.now(), limitsOf(deps, group.type)));
      } catch (err) {
        throw conflictError(err);
      }
      return {};
    },

    async setMemberRole(req) {
      await requireApp(req.appId);
      const group = await requireGroup(deps, req.appId, req.groupId);
      requireId(req.userId, "user_id");
      if (!(req.role in MemberRole) || req.role === MemberRole.UNSPECIFIED) throw fieldInvalid("role", "a valid role is required");
      try {
        await store.setRoles(req.appId, group.groupId, [{ userId: req.userId, role: req.role }]);
      } catch (err) {
        throw conflictError(err, "user_id");
      }
      const member = await store.getMember(req.appId, group.groupId, req.userId);
      if (!member) throw conflictError(new StoreConflict("not_member", [req.userId]), "user_id");
      return { member: memberProto(member) };
    },

    async dismissGroup(req) {
      await requireApp(req.appId);
      const group = await requireGroup(deps, req.appId, req.groupId);
      deps.publish(await store.dismissGroup(req.appId, group.groupId, deps.now()));
      return {};
    },

    async sendMessage(req) {
      await requireApp(req.appId);
      if (req.senderId) requireId(req.senderId, "sender_id");
      if (!req.message) throw fieldInvalid("message", "message is required");
      return { message: await sendMessage(deps, { appId: req.appId, senderId: req.senderId }, req.message) };
    },

    async recallMessage(req) {
      await requireApp(req.appId);
      return { message: await recallMessage(deps, req.appId, req.groupId, req.messageId, "") };
    },
  };
}
