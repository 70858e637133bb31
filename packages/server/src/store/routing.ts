// What a stored event's payload says about membership and routing, for stores rebuilding
// StoredEvents and EventTicks.
import type { Event } from "@narrowcast/gen";
import type { EventTick, MembershipChange } from "./types.js";
import type { Row } from "./records.js";

/** The membership change an event carries, if any (the hub's group index follows it). */
export function membershipOf(event: Event): MembershipChange | undefined {
  switch (event.payload.case) {
    case "memberJoined":
      return event.payload.value.member ? { change: "joined", userId: event.payload.value.member.userId } : undefined;
    case "memberLeft":
      return { change: "left", userId: event.payload.value.userId };
    case "groupDismissed":
      return { change: "dismissed" };
    default:
      return undefined;
  }
}

/** The user a MemberJoined adds (stored as events.joined_user_id for interest routing). */
export function joinedUserOf(event: Event): string | undefined {
  return event.payload.case === "memberJoined" ? event.payload.value.member?.userId : undefined;
}

/** An events row read without its payload, as a tick (interest routing). */
export function tickOf(appId: string, r: Row): EventTick {
  return { appId, partition: r.part, position: r.event_id, groupId: r.group_id, joinedUserId: r.joined_user_id ?? undefined };
}
