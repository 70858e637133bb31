// Mutants of the pure rules module (packages/server/src/rules): every path takes its decisions
// from it, so one bug here shows on several paths.
import { defineMutants } from "../types.js";

export const ruleMutants = defineMutants([
  {
    id: "receivers-flag-overrides-exclude",
    rule: "UNR-4",
    bug: "count_as_unread_for_receivers overrides exclude_from_unread: a targeted message with both flags counts as unread.",
    file: "rules/unread.ts",
    from: "return groupCountsUnread(type) && !m.excludeFromUnread && (",
    to: "return groupCountsUnread(type) && (!m.excludeFromUnread || m.countAsUnreadForReceivers) && (",
  },
  {
    id: "receivers-flag-inverted",
    rule: "TGT-6",
    bug: "Reads count_as_unread_for_receivers inverted: targeted messages count as unread unless it is set.",
    file: "rules/unread.ts",
    from: "(m.receiverIds.length === 0 || m.countAsUnreadForReceivers)",
    to: "(m.receiverIds.length === 0 || !m.countAsUnreadForReceivers)",
  },
  {
    id: "meeting-counts-unread",
    rule: "UNR-2",
    bug: "Counts unread messages in MEETING groups.",
    file: "rules/unread.ts",
    from: "return type === GroupType.WORK || type === GroupType.PUBLIC || type === GroupType.COMMUNITY;",
    to: "return type === GroupType.WORK || type === GroupType.PUBLIC || type === GroupType.COMMUNITY || type === GroupType.MEETING;",
  },
  {
    id: "history-floor-inclusive",
    rule: "GRP-6",
    bug: "Lets a member see the message at their join seq (the last one before they joined).",
    file: "rules/visibility.ts",
    from: "return inAudience(viewer.userId, m) && m.seq > historyFloor(viewer.groupType, viewer.joinSeq);",
    to: "return inAudience(viewer.userId, m) && m.seq >= historyFloor(viewer.groupType, viewer.joinSeq);",
  },
  {
    id: "recall-audience-floor-in-meeting",
    rule: "VIS-3",
    bug: "Applies the history floor to a targeted message's recall audience in MEETING groups too.",
    file: "rules/audiences.ts",
    from: "if (targeted) return floor ? AUDIENCE.TARGETED : AUDIENCE.TARGETED_ALL;",
    to: "if (targeted) return AUDIENCE.TARGETED;",
  },
  {
    id: "group-full-off-by-one",
    rule: "GRP-13",
    bug: "Refuses the member that would make the group exactly full.",
    file: "rules/groups.ts",
    from: "return adding > 0 && count + adding > limits.maxMembers;",
    to: "return adding > 0 && count + adding >= limits.maxMembers;",
  },
  {
    id: "member-events-threshold-inclusive",
    rule: "GRP-14",
    bug: "Stops sending member events to everyone at exactly the threshold instead of above it.",
    file: "rules/groups.ts",
    from: "return limits.memberEventsMaxMembers > 0 && memberCount > limits.memberEventsMaxMembers;",
    to: "return limits.memberEventsMaxMembers > 0 && memberCount >= limits.memberEventsMaxMembers;",
  },
]);
