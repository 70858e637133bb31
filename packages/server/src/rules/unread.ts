// Unread counts, mention flags and last messages (spec sections 11 and 12) as pure decisions over
// a viewer's visible history. The stores keep counters instead of scanning (UNR-1, CNV-2); the
// store contract suite checks those counters against `conversationOf`, the scan written here.
import { GroupType } from "@narrowcast/gen";
import { isTargeted, maySee, type MessageFacts, type ViewerFacts } from "./visibility.js";

/** The flags of a stored message that unread, mentions and last message depend on. */
export interface CountedMessage extends MessageFacts {
  excludeFromUnread: boolean;
  excludeFromLastMessage: boolean;
  countAsUnreadForReceivers: boolean;
  mentionedUserIds: readonly string[];
  mentionAll: boolean;
}

/** UNR-2: MEETING and AVCHATROOM conversations always have unread 0. */
export function groupCountsUnread(type: GroupType): boolean {
  return type === GroupType.WORK || type === GroupType.PUBLIC || type === GroupType.COMMUNITY;
}

/**
 * Whether a message counts as unread for the users of its audience other than the sender (UNR-1,
 * UNR-4, TGT-6): decided once at send time, so the store can keep it as a counter.
 */
export function countsForAudience(type: GroupType, m: Pick<CountedMessage, "excludeFromUnread" | "countAsUnreadForReceivers" | "receiverIds">): boolean {
  return groupCountsUnread(type) && !m.excludeFromUnread && (m.receiverIds.length === 0 || m.countAsUnreadForReceivers);
}

/** UNR-1: the message counts in this viewer's unread count when it lies above `readSeq`. */
export function countsAsUnreadFor(viewer: ViewerFacts, m: CountedMessage): boolean {
  if (!maySee(viewer, m) || m.senderId === viewer.userId) return false;
  if (!countsForAudience(viewer.groupType, m)) return false;
  return !isTargeted(m) || m.receiverIds.includes(viewer.userId);
}

/** CNV-2, CNV-3: the message can be this viewer's last message. */
export function canBeLastMessageFor(viewer: ViewerFacts, m: CountedMessage): boolean {
  return maySee(viewer, m) && !m.excludeFromLastMessage;
}

/** UNR-8: the mention flags this message raises for the viewer while it lies above `readSeq`. */
export function mentionsOf(viewer: ViewerFacts, m: CountedMessage): { me: boolean; all: boolean } {
  if (!maySee(viewer, m) || m.senderId === viewer.userId) return { me: false, all: false };
  return { me: m.mentionedUserIds.includes(viewer.userId), all: m.mentionAll };
}

export interface ConversationFacts {
  unreadCount: number;
  /** Seq of the last message; 0 when there is none. */
  lastMessageSeq: number;
  mentionedMe: boolean;
  mentionedAll: boolean;
}

/**
 * A viewer's conversation computed by scanning the group's stored messages (recalled ones included,
 * UNR-7): the reference the stores' counters must agree with.
 */
export function conversationOf(viewer: ViewerFacts, readSeq: number, messages: readonly CountedMessage[]): ConversationFacts {
  const c: ConversationFacts = { unreadCount: 0, lastMessageSeq: 0, mentionedMe: false, mentionedAll: false };
  for (const m of messages) {
    if (canBeLastMessageFor(viewer, m) && m.seq > c.lastMessageSeq) c.lastMessageSeq = m.seq;
    if (m.seq <= readSeq) continue;
    if (countsAsUnreadFor(viewer, m)) c.unreadCount++;
    const mention = mentionsOf(viewer, m);
    c.mentionedMe ||= mention.me;
    c.mentionedAll ||= mention.all;
  }
  return c;
}
