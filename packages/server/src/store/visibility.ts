// Who may see what, as both stores decide it: the event audience codes kept in `events.audience`,
// the SQL predicate that applies them to a membership span (one predicate for live fan-out,
// replay and recovery, so the three always agree), and the group-size rules GRP-13 / GRP-14.
// Rule EVT-2 / VIS: a user may see a message when they are a current member, they are in its
// audience (ordinary: everyone; targeted: receivers + sender) and, outside MEETING groups, its seq
// is above their history floor (the group's latest seq when their membership began).
import { GroupType } from "@narrowcast/gen";
import type { GroupLimits } from "./types.js";

/** Values of `events.audience`. An event with `target_seq` concerns the message with that seq. */
export const AUDIENCE = {
  /** Every member at the time of the event (for MemberLeft, the one who left too). */
  GROUP: 0,
  /** The message's audience rows (receivers + sender), within their history floor. */
  TARGETED: 1,
  /** One user (`events.user_id`): private events, and GRP-14 member events. */
  USER: 2,
  /** Every member whose history floor is below the message: an ordinary message's recall outside MEETING. */
  HISTORY: 3,
  /** The message's audience rows, whatever their floor: a targeted message's recall in a MEETING group. */
  TARGETED_ALL: 4,
} as const;

export type AudienceCode = (typeof AUDIENCE)[keyof typeof AUDIENCE];

/** Outside MEETING groups a member sees no message from before their (latest) join (rule GRP-6). */
export function historyFloorApplies(type: GroupType): boolean {
  return type !== GroupType.MEETING;
}

/**
 * The audience of a message's MessageRecalled (rule EVT-2): the users who may see the message at
 * recall time. Decided once, when the event is stored; `spanSeesEventSql` applies it.
 */
export function recallAudience(targeted: boolean, type: GroupType): AudienceCode {
  const floor = historyFloorApplies(type);
  if (targeted) return floor ? AUDIENCE.TARGETED : AUDIENCE.TARGETED_ALL;
  return floor ? AUDIENCE.HISTORY : AUDIENCE.GROUP;
}

/**
 * SQL: the membership span `m` (a `memberships` row) receives the stored event `e` (an `events`
 * row), given that the span contains the event (m.join_event_id <= e.event_id <= m.left_event_id).
 * USER events are not span events: they belong to `e.user_id` alone.
 */
export function spanSeesEventSql(e: string, m: string): string {
  const { GROUP, TARGETED_ALL, USER, HISTORY } = AUDIENCE;
  return `(${e}.audience <> ${USER}
    AND (${e}.audience IN (${GROUP}, ${TARGETED_ALL}) OR ${m}.join_seq < ${e}.target_seq)
    AND (${e}.audience IN (${GROUP}, ${HISTORY}) OR EXISTS (SELECT 1 FROM message_audience a
         WHERE a.app_id = ${e}.app_id AND a.group_id = ${e}.group_id AND a.user_id = ${m}.user_id AND a.seq = ${e}.target_seq)))`;
}

/** SQL: the span `m` contains the event `e` (the member's MemberJoined up to their MemberLeft). */
export function spanContainsEventSql(e: string, m: string): string {
  return `(${m}.join_event_id <= ${e}.event_id AND (${m}.left_event_id IS NULL OR ${m}.left_event_id >= ${e}.event_id))`;
}

/** Rule GRP-13: adding `adding` members to `count` would exceed the type's maximum. */
export function exceedsMaxMembers(count: number, adding: number, limits: GroupLimits): boolean {
  return adding > 0 && count + adding > limits.maxMembers;
}

/**
 * Rule GRP-14: in COMMUNITY and AVCHATROOM groups with more than `memberEventsMaxMembers` members
 * (counted after a join, before a leave; 0 = no threshold), MemberJoined / MemberLeft go only to
 * the user who joined or left.
 */
export function memberEventOnlyToSubject(type: GroupType, memberCount: number, limits: GroupLimits): boolean {
  if (type !== GroupType.COMMUNITY && type !== GroupType.AVCHATROOM) return false;
  return limits.memberEventsMaxMembers > 0 && memberCount > limits.memberEventsMaxMembers;
}
