// Human-readable lines for the CLI. One line per message or event, so that `tail` output
// can be read, grepped and diffed.
import type { ClientEvent } from "../events.js";
import { NarrowcastError } from "../errors.js";
import { isTargeted } from "../model.js";
import type { Conversation, Group, GroupMember, JoinRequest, Message, MessageElement, Reaction, User } from "../model.js";
import { groupTypeName, priorityName, roleName } from "../names.js";

const utf8 = new TextDecoder();

export function formatElement(element: MessageElement): string {
  const e = element.element;
  switch (e.case) {
    case "text":
      return e.value.text;
    case "custom":
      return `[custom ${e.value.description || utf8.decode(e.value.data)}]`;
    case "image":
      return `[image ${e.value.url}${e.value.width ? ` ${e.value.width}x${e.value.height}` : ""}]`;
    case "file":
      return `[file ${e.value.fileName || e.value.url}]`;
    case "location":
      return `[location ${e.value.description} ${e.value.latitude},${e.value.longitude}]`;
    case "face":
      return `[face ${e.value.index}]`;
    default:
      return "[unknown element]";
  }
}

/**
 * e.g. `g1 #3 alice → bob, carol: hello`, `g1 #4 alice: hi @bob [high]`, `g1 #5 alice: fixed (edited)`
 * or `g1 #6 alice: lunch? {👍 ×2 (you), :+1: ×1}` (reaction counts, where the server gives them).
 * A recalled message shows only "(recalled)": its content, edited or not, is gone.
 */
export function formatMessage(m: Message): string {
  const sender = m.senderId || "(system)";
  const audience = isTargeted(m) ? ` → ${m.receiverIds.join(", ")}` : "";
  const body = m.recall ? "(recalled)" : m.elements.map(formatElement).join(" ") + (m.edit ? " (edited)" : "");
  const mentions = [...m.mentionedUserIds.map((id) => `@${id}`), ...(m.mentionAll ? ["@all"] : [])];
  const flags = [
    m.onlineOnly ? "online only" : "",
    m.priority ? priorityName(m.priority).toLowerCase() : "",
    m.excludeFromUnread ? "not unread" : "",
    m.countAsUnreadForReceivers ? "unread for receivers" : "",
  ].filter(Boolean);
  return (
    `${m.groupId} #${m.seq} ${sender}${audience}: ${body}` +
    (mentions.length ? ` ${mentions.join(" ")}` : "") +
    (flags.length ? ` [${flags.join(", ")}]` : "") +
    (m.reactions.length ? ` {${m.reactions.map((r) => `${r.reaction} ×${r.count}${r.callerReacted ? " (you)" : ""}`).join(", ")}}` : "")
  );
}

/** One line of `reactions`, e.g. `👍 bob 2025-01-02T03:04:05.000Z`. */
export function formatReaction(r: Reaction): string {
  return `${r.reaction} ${r.userId}${r.createTime ? ` ${r.createTime.toISOString()}` : ""}`;
}

/** e.g. `g1 (WORK) unread 2, read #3, last: g1 #5 alice: hi`. */
export function formatConversation(c: Conversation): string {
  const mention = c.mentionedMe ? ", @me" : c.mentionedAll ? ", @all" : "";
  const last = c.lastMessage ? `, last: ${formatMessage(c.lastMessage)}` : "";
  return `${c.groupId} (${groupTypeName(c.groupType)}) unread ${c.unreadCount}, read #${c.readSeq}${mention}${last}`;
}

export function formatGroup(g: Group): string {
  const owner = g.ownerId ? `owner ${g.ownerId}, ` : "";
  return `${g.groupId} (${groupTypeName(g.type)}) ${owner}${g.memberCount} members${g.name ? `, "${g.name}"` : ""}`;
}

/** e.g. `bob ADMIN`. */
export function formatMember(m: GroupMember): string {
  return `${m.userId} ${roleName(m.role)}`;
}

/** e.g. `g1 carol: "let me in"`. */
export function formatJoinRequest(r: JoinRequest): string {
  return `${r.groupId} ${r.userId}${r.message ? `: ${JSON.stringify(r.message)}` : ""}`;
}

/** e.g. `alice "Alice"`. */
export function formatUser(u: User): string {
  return u.nickname ? `${u.userId} ${JSON.stringify(u.nickname)}` : u.userId;
}

/** One line of `tail`. */
export function formatEvent(event: ClientEvent): string {
  switch (event.type) {
    case "messageReceived":
      return `message      ${formatMessage(event.message)}`;
    case "messageRecalled":
      return `recalled     ${event.groupId} #${event.seq} by ${event.recall?.recalledBy || "(system)"}`;
    case "messageEdited":
      return `edited       ${formatMessage(event.message)}`;
    case "reactionChanged":
      return `reaction     ${event.groupId} #${event.seq} ${event.userId} ${event.added ? "added" : "removed"} ${event.reaction} (now ×${event.count})`;
    case "conversationChanged":
      return `conversation ${formatConversation(event.conversation)}`;
    case "memberJoined":
      return `joined       ${event.groupId} ${event.member?.userId ?? "?"}${event.addedBy ? ` (added by ${event.addedBy})` : ""}`;
    case "memberLeft":
      return `left         ${event.groupId} ${event.userId}${event.removedBy ? ` (removed by ${event.removedBy})` : ""}`;
    case "groupDismissed":
      return `dismissed    ${event.groupId}`;
    case "ready":
      return `ready        cursor ${event.cursor || "(none)"}`;
    case "resync":
      return `resync       the saved cursor expired (events were pruned): reload conversations and history`;
    case "reconnecting":
      return `reconnecting in ${event.delayMs} ms after ${event.error.message}`;
  }
}

export function formatError(error: NarrowcastError): string {
  const field = error.field ? ` (field ${error.field})` : "";
  const ids = error.ids.length ? ` [${error.ids.join(", ")}]` : "";
  return `${error.message}${field}${ids}`;
}

export function errorJson(error: NarrowcastError): object {
  return {
    error: {
      code: error.codeName,
      reason: error.reason,
      domain: error.domain,
      field: error.field,
      ids: error.ids,
      message: error.rawMessage,
      ...(error.retryDelayMs !== undefined ? { retryDelayMs: error.retryDelayMs } : {}),
      local: error.local,
    },
  };
}
