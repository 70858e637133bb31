// GroupService: join rules per group type and roles (rules GRP-1 to GRP-12).
import type { ServiceImpl } from "@connectrpc/connect";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason, GroupService, GroupType, MemberRole } from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { newId, requireId } from "../ids.js";
import { callerOf, type Deps } from "../context.js";
import {
  conflictError,
  groupProto,
  memberProto,
  requireGroup,
  requireMember,
  requireRole,
  requireUsers,
} from "./common.js";

const PRIVILEGED = [MemberRole.OWNER, MemberRole.ADMIN] as const;

function requireType(type: GroupType): void {
  if (!(type in GroupType) || type === GroupType.UNSPECIFIED) throw fieldInvalid("type", "a valid group type is required");
}

function requireNonEmpty(ids: readonly string[], field: string): void {
  if (ids.length === 0) throw fieldInvalid(field, `${field} must not be empty`);
}

export function groupService(deps: Deps): ServiceImpl<typeof GroupService> {
  const { store } = deps;
  return {
    async createGroup(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      requireType(req.type);
      const groupId = req.groupId ? requireId(req.groupId, "group_id") : newId("grp");
      const memberIds = [...new Set(req.memberIds)].filter((id) => id !== userId);
      await requireUsers(deps, appId, memberIds, "member_ids");
      try {
        const { group, events } = await store.createGroup(
          { appId, groupId, type: req.type, name: req.name, ownerId: userId, createdAt: deps.now() },
          [{ userId, role: MemberRole.OWNER }, ...memberIds.map((id) => ({ userId: id, role: MemberRole.MEMBER }))],
        );
        deps.publish(events);
        return { group: groupProto(group) };
      } catch (err) {
        throw conflictError(err);
      }
    },

    async getGroup(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      await requireMember(deps, group, userId);
      return { group: groupProto(group) };
    },

    async listGroups(_req, ctx) {
      const { appId, userId } = callerOf(ctx);
      return { groups: (await store.listUserGroups(appId, userId)).map(groupProto) };
    },

    async listMembers(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      await requireMember(deps, group, userId);
      return { members: (await store.listMembers(appId, group.groupId)).map(memberProto) };
    },

    async inviteMembers(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      const me = await requireMember(deps, group, userId);
      // WORK: any member invites (GRP-2); PUBLIC: owner or admin (GRP-3); free-join types: anyone (GRP-4).
      if (group.type === GroupType.PUBLIC) requireRole(me, PRIVILEGED, "invite to a PUBLIC group");
      requireNonEmpty(req.userIds, "user_ids");
      await requireUsers(deps, appId, req.userIds, "user_ids");
      const ids = [...new Set(req.userIds)];
      try {
        const events = await store.addMembers(
          appId,
          group.groupId,
          ids.map((id) => ({ userId: id, role: MemberRole.MEMBER })),
          userId,
          deps.now(),
        );
        deps.publish(events);
      } catch (err) {
        throw conflictError(err);
      }
      return { members: (await store.listMembers(appId, group.groupId, ids)).map(memberProto) };
    },

    async joinGroup(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      if (await store.getMember(appId, group.groupId, userId)) {
        throw narrowcastError(ErrorReason.ALREADY_MEMBER, "already a member", { field: "group_id", ids: [userId] });
      }
      if (group.type === GroupType.WORK) {
        throw narrowcastError(ErrorReason.JOIN_NOT_ALLOWED, "WORK groups are joined by invitation only", { field: "group_id" });
      }
      if (group.type === GroupType.PUBLIC) {
        await store.addJoinRequest(appId, group.groupId, userId, req.message, deps.now());
        return { joined: false };
      }
      try {
        deps.publish(await store.addMembers(appId, group.groupId, [{ userId, role: MemberRole.MEMBER }], "", deps.now()));
      } catch (err) {
        throw conflictError(err);
      }
      return { joined: true };
    },

    async listJoinRequests(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      requireRole(await requireMember(deps, group, userId), PRIVILEGED, "list join requests");
      const requests = await store.listJoinRequests(appId, group.groupId);
      return {
        requests: requests.map((r) => ({
          groupId: group.groupId,
          userId: r.userId,
          message: r.message,
          createTime: timestampFromMs(r.createdAt),
        })),
      };
    },

    async decideJoinRequest(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      requireRole(await requireMember(deps, group, userId), PRIVILEGED, "decide join requests");
      requireId(req.userId, "user_id");
      if (!(await store.deleteJoinRequest(appId, group.groupId, req.userId))) {
        throw narrowcastError(ErrorReason.JOIN_REQUEST_NOT_FOUND, "no pending join request", { field: "user_id", ids: [req.userId] });
      }
      if (req.approve && !(await store.getMember(appId, group.groupId, req.userId))) {
        deps.publish(
          await store.addMembers(appId, group.groupId, [{ userId: req.userId, role: MemberRole.MEMBER }], userId, deps.now()),
        );
      }
      return {};
    },

    async leaveGroup(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      const me = await requireMember(deps, group, userId);
      if (me.role === MemberRole.OWNER) {
        throw narrowcastError(ErrorReason.OWNER_CANNOT_LEAVE, "the owner must dismiss the group or hand it over", {
          field: "group_id",
        });
      }
      deps.publish(await store.removeMembers(appId, group.groupId, [userId], "", deps.now()));
      return {};
    },

    async removeMembers(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      const me = await requireMember(deps, group, userId);
      requireRole(me, PRIVILEGED, "remove members");
      requireNonEmpty(req.userIds, "user_ids");
      req.userIds.forEach((id, i) => requireId(id, `user_ids[${i}]`));
      const ids = [...new Set(req.userIds)];
      const targets = await store.listMembers(appId, group.groupId, ids);
      const found = new Set(targets.map((t) => t.userId));
      const missing = ids.filter((id) => !found.has(id));
      if (missing.length) {
        throw narrowcastError(ErrorReason.NOT_A_MEMBER, `not members: ${missing.join(", ")}`, { field: "user_ids", ids: missing });
      }
      for (const t of targets) {
        if (t.role === MemberRole.OWNER) {
          throw t.userId === userId
            ? narrowcastError(ErrorReason.OWNER_CANNOT_LEAVE, "the owner cannot leave", { field: "user_ids", ids: [t.userId] })
            : narrowcastError(ErrorReason.ROLE_REQUIRED, "an admin cannot remove the owner", { field: "user_ids", ids: [t.userId] });
        }
        if (me.role === MemberRole.ADMIN && t.role === MemberRole.ADMIN && t.userId !== userId) {
          throw narrowcastError(ErrorReason.ROLE_REQUIRED, "an admin cannot remove another admin", {
            field: "user_ids",
            ids: [t.userId],
          });
        }
      }
      try {
        deps.publish(await store.removeMembers(appId, group.groupId, ids, userId, deps.now()));
      } catch (err) {
        throw conflictError(err);
      }
      return {};
    },

    async setMemberRole(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      requireRole(await requireMember(deps, group, userId), [MemberRole.OWNER], "set roles");
      if (req.role !== MemberRole.ADMIN && req.role !== MemberRole.MEMBER) {
        throw fieldInvalid("role", "role must be MEMBER_ROLE_ADMIN or MEMBER_ROLE_MEMBER");
      }
      requireId(req.userId, "user_id");
      if (req.userId === userId) throw fieldInvalid("user_id", "the owner cannot change its own role");
      try {
        await store.setRoles(appId, group.groupId, [{ userId: req.userId, role: req.role }]);
      } catch (err) {
        throw conflictError(err, "user_id");
      }
      return {};
    },

    async dismissGroup(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      requireRole(await requireMember(deps, group, userId), [MemberRole.OWNER], "dismiss the group");
      deps.publish(await store.dismissGroup(appId, group.groupId, deps.now()));
      return {};
    },
  };
}
