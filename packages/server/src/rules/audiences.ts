// The audience of each stored event (rule EVT-2, section 8), decided once when the event is
// stored and kept as a code in `events.audience`. Live fan-out, recovery and replay all apply the
// same decision (store/visibility.ts indexes `spanReceives` in SQL), so they cannot disagree.
import { GroupType } from "@narrowcast/gen";
import { historyFloorApplies, inAudience, type MessageFacts } from "./visibility.js";

/** Values of `events.audience`. An event with `target_seq` concerns the message with that seq. */
export const AUDIENCE = {
  /** Every member at the time of the event (for MemberLeft, the one who left too). */
  GROUP: 0,
  /** The message's audience (receivers + sender), within their history floor. */
  TARGETED: 1,
  /** One user (`events.user_id`): private events, and GRP-14 member events. */
  USER: 2,
  /** Every member whose history floor is below the message: an ordinary message's recall outside MEETING. */
  HISTORY: 3,
  /** The message's audience, whatever their floor: a targeted message's recall in a MEETING group. */
  TARGETED_ALL: 4,
} as const;

export type AudienceCode = (typeof AUDIENCE)[keyof typeof AUDIENCE];

/** MessageReceived of a stored message (EVT-2): every member, or the targeted audience. */
export function messageAudience(targeted: boolean): AudienceCode {
  return targeted ? AUDIENCE.TARGETED : AUDIENCE.GROUP;
}

/**
 * An event derived from a message — MessageRecalled, MessageEdited (EVT-2, DRV-1): the users who
 * may see the message when it happens (VIS-1). In MEETING groups there is no history floor
 * (VIS-3), so a re-joined member of the audience gets it too.
 */
export function derivedAudience(targeted: boolean, type: GroupType): AudienceCode {
  const floor = historyFloorApplies(type);
  if (targeted) return floor ? AUDIENCE.TARGETED : AUDIENCE.TARGETED_ALL;
  return floor ? AUDIENCE.HISTORY : AUDIENCE.GROUP;
}

/** A membership span of one user in one group, as the event log sees it. */
export interface SpanFacts {
  userId: string;
  /** The group's latest seq when the span began (the history floor outside MEETING). */
  joinSeq: number;
  /** The span's MemberJoined event ID. */
  joinEventId: number;
  /** Its MemberLeft (or the group's GroupDismissed) event ID; undefined while it lasts. */
  leftEventId?: number;
}

/** A stored group event as far as its audience goes. */
export interface EventFacts {
  eventId: number;
  audience: AudienceCode;
  /** The message the event concerns (TARGETED, HISTORY, TARGETED_ALL). */
  target?: MessageFacts;
  /** USER events: the one user. */
  userId?: string;
}

/** VIS-2: the span contains the event (from its MemberJoined up to its MemberLeft, inclusive). */
export function spanContains(span: SpanFacts, e: Pick<EventFacts, "eventId">): boolean {
  return span.joinEventId <= e.eventId && (span.leftEventId === undefined || e.eventId <= span.leftEventId);
}

/** EVT-2: the span's user receives the event, given the span contains it. */
export function spanReceives(span: SpanFacts, e: EventFacts): boolean {
  switch (e.audience) {
    case AUDIENCE.USER:
      return false;
    case AUDIENCE.GROUP:
      return true;
    case AUDIENCE.HISTORY:
      return span.joinSeq < e.target!.seq;
    case AUDIENCE.TARGETED:
      return span.joinSeq < e.target!.seq && inAudience(span.userId, e.target!);
    case AUDIENCE.TARGETED_ALL:
      return inAudience(span.userId, e.target!);
  }
}

/** EVT-2, VIS-2: whether `userId`, with these spans in the event's group, receives the event. */
export function receives(userId: string, spans: readonly SpanFacts[], e: EventFacts): boolean {
  if (e.audience === AUDIENCE.USER) return e.userId === userId;
  return spans.some((s) => s.userId === userId && spanContains(s, e) && spanReceives(s, e));
}
