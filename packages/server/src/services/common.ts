// Lookups and conversions shared by the user and admin services.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  ConversationSchema,
  ErrorReason,
  GroupMemberSchema,
  GroupSchema,
  GroupType,
  JoinRequestSchema,
  MemberRole,
  type Conversation,
  type Group,
  type GroupMember,
  type JoinRequest,
  type Message,
} from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { requireId } from "../ids.js";
import type { Deps } from "../context.js";
import { MAX_DISTINCT_REACTIONS, groupCountsUnread, maySee } from "../rules/index.js";
import {
  StoreConflict,
  type ConversationCounters,
  type GroupRecord,
  type JoinRequestRecord,
  type MemberRecord,
} from "../store/types.js";

/** The group, or GROUP_NOT_FOUND (rule AUTH-5). */
export async function requireGroup(deps: Deps, appId: string, groupId: string): Promise<GroupRecord> {
  requireId(groupId, "group_id");
  return foundGroup(await deps.store.getGroup(appId, groupId), groupId);
}

/** `group` as read, or GROUP_NOT_FOUND when there is none (rule AUTH-5). */
export function foundGroup(group: GroupRecord | undefined, groupId: string): GroupRecord {
  if (!group) throw narrowcastError(ErrorReason.GROUP_NOT_FOUND, `group ${groupId} not found`, { field: "group_id", ids: [groupId] });
  return group;
}

/** The caller's membership, or NOT_A_MEMBER (rules AUTH-5, MSG-1). */
export async function requireMember(deps: Deps, group: GroupRecord, userId: string): Promise<MemberRecord> {
  return foundMember(await deps.store.getMember(group.appId, group.groupId, userId), group, userId);
}

/** `member` as read, or NOT_A_MEMBER when there is none (rules AUTH-5, MSG-1). */
export function foundMember(member: MemberRecord | undefined, group: GroupRecord, userId: string): MemberRecord {
  if (!member) {
    throw narrowcastError(ErrorReason.NOT_A_MEMBER, `${userId} is not a member of group ${group.groupId}`, {
      field: "group_id",
      ids: [userId],
    });
  }
  return member;
}

export function requireRole(member: MemberRecord, roles: readonly MemberRole[], what: string): void {
  if (!roles.includes(member.role)) {
    throw narrowcastError(ErrorReason.ROLE_REQUIRED, `only ${roles.map((r) => MemberRole[r]).join(" or ")} may ${what}`);
  }
}

/** Checks that every user exists (USER_NOT_FOUND lists the missing ones). */
export async function requireUsers(deps: Deps, appId: string, userIds: readonly string[], field: string): Promise<void> {
  userIds.forEach((id, i) => requireId(id, `${field}[${i}]`));
  const found = await deps.store.existingUsers(appId, userIds);
  const missing = [...new Set(userIds)].filter((id) => !found.has(id));
  if (missing.length) throw narrowcastError(ErrorReason.USER_NOT_FOUND, `unknown users: ${missing.join(", ")}`, { field, ids: missing });
}

/**
 * Maps a conflict found inside a store transaction to the spec's error. `field` is the request's
 * user list (or `group_id` for a self-join), named by ALREADY_MEMBER, NOT_A_MEMBER, GROUP_FULL,
 * USER_NOT_FOUND and JOIN_REQUEST_NOT_FOUND.
 */
export function conflictError(err: unknown, field = "user_ids"): unknown {
  if (!(err instanceof StoreConflict)) return err;
  switch (err.kind) {
    case "group_exists":
      return narrowcastError(ErrorReason.GROUP_ALREADY_EXISTS, "group already exists", { field: "group_id", ids: err.ids });
    case "already_member":
      return narrowcastError(ErrorReason.ALREADY_MEMBER, `already members: ${err.ids.join(", ")}`, { field, ids: err.ids });
    case "not_member":
      return narrowcastError(ErrorReason.NOT_A_MEMBER, `not members: ${err.ids.join(", ")}`, { field, ids: err.ids });
    case "already_recalled":
      return narrowcastError(ErrorReason.ALREADY_RECALLED, "message already recalled", { field: "message_id" });
    case "group_not_found":
      return narrowcastError(ErrorReason.GROUP_NOT_FOUND, "group not found", { field: "group_id" });
    case "group_full":
      // Rule GRP-13: the whole request is rejected, so no IDs are singled out.
      return narrowcastError(ErrorReason.GROUP_FULL, "the group would exceed its type's member limit", { field });
    case "user_not_found":
      // As requireUsers reports it: the user was deleted between that check and the transaction.
      return narrowcastError(ErrorReason.USER_NOT_FOUND, `unknown users: ${err.ids.join(", ")}`, { field, ids: err.ids });
    case "join_request_not_found":
      return narrowcastError(ErrorReason.JOIN_REQUEST_NOT_FOUND, "no pending join request", { field, ids: err.ids });
    case "reaction_limit":
      return narrowcastError(ErrorReason.REACTION_LIMIT_REACHED, `a message has at most ${MAX_DISTINCT_REACTIONS} distinct reactions`, {
        field: "reaction",
      });
  }
}

export function groupProto(g: GroupRecord): Group {
  return create(GroupSchema, {
    groupId: g.groupId,
    type: g.type,
    name: g.name,
    ownerId: g.ownerId,
    memberCount: g.memberCount,
    createTime: timestampFromMs(g.createdAt),
  });
}

export function memberProto(m: MemberRecord): GroupMember {
  return create(GroupMemberSchema, { userId: m.userId, role: m.role, joinTime: timestampFromMs(m.joinedAt) });
}

export function joinRequestProto(groupId: string, r: JoinRequestRecord): JoinRequest {
  return create(JoinRequestSchema, { groupId, userId: r.userId, message: r.message, createTime: timestampFromMs(r.createdAt) });
}


export function conversationProto(g: GroupRecord, c: ConversationCounters): Conversation {
  return create(ConversationSchema, {
    groupId: g.groupId,
    groupType: g.type,
    groupName: g.name,
    unreadCount: groupCountsUnread(g.type) ? c.unreadCount : 0,
    lastMessage: c.lastMessage,
    readSeq: BigInt(c.readSeq),
    mentionedMe: c.mentionedMe,
    mentionedAll: c.mentionedAll,
  });
}

/** Ordering key of a conversation for its viewer: its last visible message, else creation. */
export function activityOf(g: GroupRecord, c: Conversation): number {
  return c.lastMessage?.serverTime ? timestampMs(c.lastMessage.serverTime) : g.createdAt;
}

/**
 * An int64 seq from the wire as a store bound (rules MSG-12, UNR-3): negative is FIELD_INVALID;
 * every stored seq is a safe integer, so larger values clamp.
 */
export function seqBound(seq: bigint, field: string): number {
  if (seq < 0n) throw fieldInvalid(field, `${field} must not be negative`);
  return seq > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(seq);
}

/** The GroupLimits of a group's type (rules GRP-13, GRP-14). */
export function limitsOf(deps: Deps, type: GroupType) {
  return deps.limits.groupLimits(type);
}

/**
 * DRV-1, MSG-14: the group's stored message `messageId` if the member may see it (VIS-1);
 * otherwise MESSAGE_NOT_FOUND, exactly as for an ID that does not exist.
 */
export async function requireVisibleMessage(deps: Deps, group: GroupRecord, member: MemberRecord, messageId: string): Promise<Message> {
  const message = await deps.store.getMessage(group.appId, group.groupId, messageId, member.userId);
  if (!message || !visibleTo(group, member, message)) {
    throw narrowcastError(ErrorReason.MESSAGE_NOT_FOUND, "message not found", { field: "message_id" });
  }
  return message;
}

/**
 * VIS-1 for a message the store returned to a current member (the store already applied the
 * audience, TGT-4): the rules module decides, history floor included (GRP-6, VIS-3).
 */
export function visibleTo(group: GroupRecord, member: MemberRecord, message: Message): boolean {
  return maySee(
    { userId: member.userId, groupType: group.type, joinSeq: member.joinSeq },
    { seq: Number(message.seq), senderId: message.senderId, receiverIds: message.receiverIds },
  );
}
