// Who may see a stored message (spec section 8, rule VIS-1), as pure decisions. Every path that
// shows a message — ListMessages, GetMessage, RecallMessage, last message, unread, mention flags,
// event audiences — follows these; the stores index them (store/visibility-sql.ts) and the store
// contract suite checks the indexes against these functions.
import { GroupType } from "@narrowcast/gen";

/** What visibility needs to know about a stored message. */
export interface MessageFacts {
  seq: number;
  /** Empty for a system message. */
  senderId: string;
  /** Empty for an ordinary message; a targeted message's receivers otherwise (TGT-1). */
  receiverIds: readonly string[];
}

/** A viewer's current membership of the message's group. */
export interface ViewerFacts {
  userId: string;
  groupType: GroupType;
  /** The group's latest seq when this membership began (rule GRP-6). */
  joinSeq: number;
}

/** Outside MEETING groups a member sees no message from before their latest join (GRP-6, VIS-1.4). */
export function historyFloorApplies(type: GroupType): boolean {
  return type !== GroupType.MEETING;
}

/** The seq a member's visible history starts above: their join seq, or 0 in MEETING groups (VIS-3). */
export function historyFloor(type: GroupType, joinSeq: number): number {
  return historyFloorApplies(type) ? joinSeq : 0;
}

export function isTargeted(m: MessageFacts): boolean {
  return m.receiverIds.length > 0;
}

/** VIS-1.3 / TGT-4: ordinary messages are for everyone; targeted ones for receivers and sender. */
export function inAudience(userId: string, m: MessageFacts): boolean {
  return !isTargeted(m) || m.senderId === userId || m.receiverIds.includes(userId);
}

/** VIS-1: a current member (undefined = not a member) may see a stored message. */
export function maySee(viewer: ViewerFacts | undefined, m: MessageFacts): boolean {
  if (!viewer) return false;
  return inAudience(viewer.userId, m) && m.seq > historyFloor(viewer.groupType, viewer.joinSeq);
}
