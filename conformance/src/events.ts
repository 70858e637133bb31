// Predicates over events and short renderings of events and messages for reports.
import type { Event, Message, ReactionChanged } from "@narrowcast/gen";

/** The message of a MessageReceived event, or undefined. */
export function receivedMessage(e: Event): Message | undefined {
  return e.payload.case === "messageReceived" ? e.payload.value.message : undefined;
}

/** Matches MessageReceived of the message with this ID. */
export function isMessage(messageId: string): (e: Event) => boolean {
  return (e) => receivedMessage(e)?.messageId === messageId;
}

/** Matches MessageReceived of any message in the group. */
export function isMessageIn(groupId: string): (e: Event) => boolean {
  return (e) => receivedMessage(e)?.groupId === groupId;
}

/** Matches MessageRecalled of the message with this ID. */
export function isRecallOf(messageId: string): (e: Event) => boolean {
  return (e) => e.payload.case === "messageRecalled" && e.payload.value.messageId === messageId;
}

/** The message of a MessageEdited event (the message after the edit), or undefined. */
export function editedMessage(e: Event): Message | undefined {
  return e.payload.case === "messageEdited" ? e.payload.value.message : undefined;
}

/** Matches MessageEdited of the message with this ID. */
export function isEditOf(messageId: string): (e: Event) => boolean {
  return (e) => editedMessage(e)?.messageId === messageId;
}

/** The change a ReactionChanged event carries, or undefined. */
export function reactionChange(e: Event): ReactionChanged | undefined {
  return e.payload.case === "reactionChanged" ? e.payload.value : undefined;
}

/** Matches ReactionChanged on the message with this ID. */
export function isReactionOn(messageId: string): (e: Event) => boolean {
  return (e) => reactionChange(e)?.messageId === messageId;
}

/** Matches MemberJoined of the user into the group. */
export function isJoined(groupId: string, userId: string): (e: Event) => boolean {
  return (e) => e.payload.case === "memberJoined" && e.payload.value.groupId === groupId && e.payload.value.member?.userId === userId;
}

/** Matches MemberLeft of the user from the group. */
export function isLeft(groupId: string, userId: string): (e: Event) => boolean {
  return (e) => e.payload.case === "memberLeft" && e.payload.value.groupId === groupId && e.payload.value.userId === userId;
}

/** Matches GroupDismissed of the group. */
export function isDismissed(groupId: string): (e: Event) => boolean {
  return (e) => e.payload.case === "groupDismissed" && e.payload.value.groupId === groupId;
}

/** Matches ConversationUpdated of the group. */
export function isConversationUpdate(groupId: string): (e: Event) => boolean {
  return (e) => e.payload.case === "conversationUpdated" && e.payload.value.conversation?.groupId === groupId;
}

/** The group an event belongs to ("" if none). */
export function groupOf(e: Event): string {
  switch (e.payload.case) {
    case "messageReceived":
    case "messageEdited":
      return e.payload.value.message?.groupId ?? "";
    case "conversationUpdated":
      return e.payload.value.conversation?.groupId ?? "";
    case "messageRecalled":
    case "reactionChanged":
    case "memberJoined":
    case "memberLeft":
    case "groupDismissed":
      return e.payload.value.groupId;
    default:
      return "";
  }
}

/** Matches any event of the group. */
export function isIn(groupId: string): (e: Event) => boolean {
  return (e) => groupOf(e) === groupId;
}

/** Matches any event that mentions the message ID anywhere (received, edited, reacted to or recalled). */
export function concernsMessage(messageId: string): (e: Event) => boolean {
  return (e) => isMessage(messageId)(e) || isEditOf(messageId)(e) || isRecallOf(messageId)(e) || isReactionOn(messageId)(e);
}

/** One-line rendering of a message: seq, ID, sender, targeting and text. */
export function describeMessage(m: Message | undefined): string {
  if (!m) return "no message";
  const parts = [`seq=${m.seq}`, `id=${m.messageId}`, `sender=${JSON.stringify(m.senderId)}`];
  if (m.receiverIds.length > 0) parts.push(`receivers=${JSON.stringify(m.receiverIds)}`);
  if (m.recall) parts.push("recalled");
  if (m.edit) parts.push(`edited×${m.edit.editCount}`);
  const text = m.elements.map((el) => (el.element.case === "text" ? el.element.value.text : el.element.case ?? "?")).join("|");
  if (text) parts.push(`text=${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)}`);
  return `{${parts.join(" ")}}`;
}

/** One-line rendering of an event. */
export function describeEvent(e: Event): string {
  const cursor = e.cursor === "" ? "" : " (cursor)";
  switch (e.payload.case) {
    case "messageReceived":
      return `MessageReceived${describeMessage(e.payload.value.message)}${cursor}`;
    case "messageRecalled":
      return `MessageRecalled{id=${e.payload.value.messageId} seq=${e.payload.value.seq}}${cursor}`;
    case "conversationUpdated": {
      const c = e.payload.value.conversation;
      return `ConversationUpdated{group=${c?.groupId} unread=${c?.unreadCount} read_seq=${c?.readSeq}}${cursor}`;
    }
    case "memberJoined":
      return `MemberJoined{group=${e.payload.value.groupId} user=${e.payload.value.member?.userId}}${cursor}`;
    case "memberLeft":
      return `MemberLeft{group=${e.payload.value.groupId} user=${e.payload.value.userId}}${cursor}`;
    case "groupDismissed":
      return `GroupDismissed{group=${e.payload.value.groupId}}${cursor}`;
    case "messageEdited":
      return `MessageEdited${describeMessage(e.payload.value.message)}${cursor}`;
    case "reactionChanged": {
      const r = e.payload.value;
      return `ReactionChanged{id=${r.messageId} ${r.added ? "+" : "-"}${JSON.stringify(r.reaction)} by=${r.userId} count=${r.count}}${cursor}`;
    }
    default:
      return "Event{no payload}";
  }
}
