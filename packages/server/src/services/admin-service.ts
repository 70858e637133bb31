// AdminService: the app backends' API (rules ADM-1 to ADM-6). Enough to build isolated fixtures
// (a fresh app per test) on any server.
import { randomBytes } from "node:crypto";
import type { ServiceImpl } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { AdminService, Edition, ErrorReason, GroupType, MemberRole } from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { newId, requireId } from "../ids.js";
import { mintUserToken } from "../auth.js";
import type { Deps } from "../context.js";
import type { AppRecord } from "../store/types.js";
import { conflictError, groupProto, memberProto, requireGroup, requireUsers } from "./common.js";
import { recallMessage, sendMessage } from "./messaging.js";

const DEFAULT_TTL = 86_400;
const MAX_TTL = 2_592_000;

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

  return {
    async createApp(req) {
      if (!(req.edition in Edition)) throw fieldInvalid("edition", "unknown edition");
      const app: AppRecord = {
        appId: newId("app", 9),
        name: req.name,
        edition: req.edition === Edition.UNSPECIFIED ? Edition.STANDARD : req.edition,
        secret: randomBytes(32).toString("base64url"),
        createdAt: deps.now(),
      };
      await store.createApp(app);
      return { app: { appId: app.appId, name: app.name, edition: app.edition, secret: app.secret } };
    },

    async importUsers(req) {
      await requireApp(req.appId);
      req.users.forEach((u, i) => requireId(u.userId, `users[${i}].user_id`));
      await store.upsertUsers(
        req.appId,
        req.users.map((u) => ({ userId: u.userId, nickname: u.nickname })),
      );
      return {};
    },

    async issueUserToken(req) {
      const app = await requireApp(req.appId);
      if (req.ttlSeconds > MAX_TTL) throw fieldInvalid("ttl_seconds", `ttl_seconds must be at most ${MAX_TTL}`);
      await requireUsers(deps, app.appId, [req.userId], "user_id");
      const { token, expiresAtMs } = await mintUserToken(app.appId, app.secret, req.userId, req.ttlSeconds || DEFAULT_TTL, deps.now());
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
        );
        deps.publish(events);
        return { group: groupProto(group) };
      } catch (err) {
        throw conflictError(err);
      }
    },

    async addMembers(req) {
      await requireApp(req.appId);
      const group = await requireGroup(deps, req.appId, req.groupId);
      const ids = requireMemberIds(req.userIds, "user_ids");
      await requireUsers(deps, req.appId, ids, "user_ids");
      try {
        deps.publish(
          await store.addMembers(req.appId, group.groupId, ids.map((userId) => ({ userId, role: MemberRole.MEMBER })), "", deps.now()),
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
        deps.publish(await store.removeMembers(req.appId, group.groupId, ids, "", deps.now()));
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
      return {};
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
