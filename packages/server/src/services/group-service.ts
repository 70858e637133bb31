// GroupService: join rules per group type and roles (rules GRP-1 to GRP-14).
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason, GroupService, GroupType, MemberRole } from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { newId, requireId } from "../ids.js";
import { callerOf, type Deps } from "../context.js";
import { LIST_SIZES, isIdKey, isJoinRequestKey, openPage } from "../paging.js";
import {
  conflictError,
  groupProto,
  joinRequestProto,
  limitsOf,
  memberProto,
  requireGroup,
  requireMember,
  requireRole,
  requireUsers,
} from "./common.js";
import { StoreConflict } from "../store/types.js";

const PRIVILEGED = [MemberRole.OWNER, MemberRole.ADMIN] as const;
const rpc = (name: string) => `${GroupService.typeName}/${name}`;

function requireType(type: GroupType): void {
  if (!(type in GroupType) || type === GroupType.UNSPECIFIED) throw fieldInvalid("type", "a valid group type is required");
}

function requireNonEmpty(ids: readonly string[], field: string): void {
  if (ids.length === 0) throw fieldInvalid(field, `${field} must not be empty`);
}

export function groupService(deps: Deps): ServiceImpl<typeof GroupService> {
  const { store } = deps;

  /** The member just added or approved (the store has committed it). */
  async function memberOf(appId: string, groupId: string, userId: string) {
    const member = await store.getMember(appId, groupId, userId);
    if (!member) throw narrowcastError(ErrorReason.NOT_A_MEMBER, `${userId} left the group meanwhile`, { ids: [userId] });
    return memberProto(member);
  }

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
          limitsOf(deps, req.type),
        );
        deps.publish(events);
        return { group: groupProto(group) };
      } catch (err) {
        throw conflictError(err, "member_ids");
      }
    },

    async getGroup(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      await requireMember(deps, group, userId);
      return { group: groupProto(group) };
    },

    async listGroups(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const page = openPage(req, { rpc: rpc("ListGroups"), appId, caller: userId }, LIST_SIZES, isIdKey);
      const groups = await store.listUserGroups(appId, userId, { after: page.after, limit: page.size + 1 });
      const { items, nextPageToken } = page.finish(groups, (g) => g.groupId);
      return { groups: items.map(groupProto), nextPageToken };
    },

    async listMembers(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const page = openPage(req, { rpc: rpc("ListMembers"), appId, caller: userId, groupId: req.groupId }, LIST_SIZES, isIdKey);
      const group = await requireGroup(deps, appId, req.groupId);
      await requireMember(deps, group, userId);
      const members = await store.listMembers(appId, group.groupId, undefined, { after: page.after, limit: page.size + 1 });
      const { items, nextPageToken } = page.finish(members, (m) => m.userId);
      return { members: items.map(memberProto), nextPageToken };
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
          limitsOf(deps, group.type),
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
        const request = await store.addJoinRequest(appId, group.groupId, userId, req.message, deps.now()).catch((err: unknown) => {
          throw conflictError(err, "group_id");
        });
        return { result: { case: "joinRequest", value: joinRequestProto(group.groupId, request) } };
      }
      try {
        deps.publish(
          await store.addMembers(appId, group.groupId, [{ userId, role: MemberRole.MEMBER }], "", deps.now(), limitsOf(deps, group.type)),
        );
      } catch (err) {
        throw conflictError(err, "group_id");
      }
      return { result: { case: "member", value: await memberOf(appId, group.groupId, userId) } };
    },

    async listJoinRequests(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const page = openPage(
        req,
        { rpc: rpc("ListJoinRequests"), appId, caller: userId, groupId: req.groupId },
        LIST_SIZES,
        isJoinRequestKey,
      );
      const group = await requireGroup(deps, appId, req.groupId);
      requireRole(await requireMember(deps, group, userId), PRIVILEGED, "list join requests");
      const requests = await store.listJoinRequests(appId, group.groupId, { after: page.after, limit: page.size + 1 });
      const { items, nextPageToken } = page.finish(requests, (r) => ({ createdAt: r.createdAt, userId: r.userId }));
      return { joinRequests: items.map((r) => joinRequestProto(group.groupId, r)), nextPageToken };
    },

    async approveJoinRequest(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      requireRole(await requireMember(deps, group, userId), PRIVILEGED, "approve join requests");
      requireId(req.userId, "user_id");
      try {
        // One store transaction: a concurrent approve or reject of the same request finds it gone,
        // and on GROUP_FULL it stays pending as it was.
        const { member, events } = await store.approveJoinRequest(
          appId,
          group.groupId,
          req.userId,
          userId,
          deps.now(),
          limitsOf(deps, group.type),
        );
        deps.publish(events);
        return { member: memberProto(member) };
      } catch (err) {
        // GROUP_FULL names the group (rule GRP-13); JOIN_REQUEST_NOT_FOUND names the applicant.
        throw conflictError(err, err instanceof StoreConflict && err.kind === "group_full" ? "group_id" : "user_id");
      }
    },

    async rejectJoinRequest(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      requireRole(await requireMember(deps, group, userId), PRIVILEGED, "reject join requests");
      requireId(req.userId, "user_id");
      const request = await store.deleteJoinRequest(appId, group.groupId, req.userId);
      if (!request) {
        throw narrowcastError(ErrorReason.JOIN_REQUEST_NOT_FOUND, "no pending join request", { field: "user_id", ids: [req.userId] });
      }
      return { joinRequest: joinRequestProto(group.groupId, request) };
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
      deps.publish(await store.removeMembers(appId, group.groupId, [userId], "", deps.now(), limitsOf(deps, group.type)));
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
        deps.publish(await store.removeMembers(appId, group.groupId, ids, userId, deps.now(), limitsOf(deps, group.type)));
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
      return { member: await memberOf(appId, group.groupId, req.userId) };
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
