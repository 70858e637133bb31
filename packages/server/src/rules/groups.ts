// Group-size rules (GRP-13, GRP-14), decided inside the stores' transactions.
import { GroupType } from "@narrowcast/gen";

/** Per-type limits a store applies inside its transactions. */
export interface GroupLimits {
  /** The most members the group may have after the change (GRP-13). */
  maxMembers: number;
  /**
   * Above this many members (counted after a join, before a leave), MemberJoined / MemberLeft go only
   * to the user who joined or left (GRP-14); 0 = always to every member.
   */
  memberEventsMaxMembers: number;
}

/** GRP-13: adding `adding` members to `count` would exceed the type's maximum. */
export function exceedsMaxMembers(count: number, adding: number, limits: GroupLimits): boolean {
  return adding > 0 && count + adding > limits.maxMembers;
}

/**
 * GRP-14: in COMMUNITY and AVCHATROOM groups with more than `memberEventsMaxMembers` members
 * (counted after a join, before a leave; 0 = no threshold), MemberJoined / MemberLeft go only to
 * the user who joined or left.
 */
export function memberEventOnlyToSubject(type: GroupType, memberCount: number, limits: GroupLimits): boolean {
  if (type !== GroupType.COMMUNITY && type !== GroupType.AVCHATROOM) return false;
  return limits.memberEventsMaxMembers > 0 && memberCount > limits.memberEventsMaxMembers;
}
