// What a stored event's payload says about membership, for stores rebuilding StoredEvents.
import type { Event } from "@narrowcast/gen";
import type { MembershipChange } from "./types.js";

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
