// Human-readable lines for the CLI. One line per message or event, so that `tail` output
// can be read, grepped and diffed.
import { QuoteStatus } from "@narrowcast/gen";
import type { ClientEvent } from "../events.js";
import { NarrowcastError } from "../errors.js";
import { isTargeted } from "../model.js";
import type {
  Conversation,
  Group,
  GroupMember,
  JoinRequest,
  Message,
  MessageElement,
  Reaction,
  ReadReceipt,
  ReadReceiptCounts,
  ReplyTo,
  User,
} from "../model.js";
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

/** `alice → bob: hi (edited)`; a recalled message shows only "(recalled)": its content, edited or not, is gone. */
function senderAndBody(m: Message): string {
  const sender = m.senderId || "(system)";
  const audience = isTargeted(m) ? ` → ${m.receiverIds.join(", ")}` : "";
  const body = m.recall ? "(recalled)" : m.elements.map(formatElement).join(" ") + (m.edit ? " (edited)" : "");
  return `${sender}${audience}: ${body}`;
}

/**
 * What a reply quotes (rule RPL-3): `↪ re #3 bob: the original` where the server showed this
 * user the quote, `↪ re <id> (not available)` where this user may not see it, and `↪ re <id>`
 * where only the ID is known (events, sends, last messages).
 */
export function formatQuote(r: ReplyTo): string {
  if (r.status === QuoteStatus.AVAILABLE && r.quoted) {
    return `↪ re #${r.quoted.seq} ${senderAndBody(r.quoted)}`;
  }
  return r.status === QuoteStatus.UNAVAILABLE ? `↪ re ${r.messageId} (not available)` : `↪ re ${r.messageId}`;
}

/** `read 2/5`: 2 of the message's 5 readers have read it (rule RCP-4). */
export function formatReceiptCounts(c: ReadReceiptCounts): string {
  return `read ${c.readCount}/${c.readCount + c.unreadCount}`;
}

/**
 * e.g. `g1 #3 alice → bob, carol: hello`, `g1 #4 alice: hi @bob [high]`, `g1 #5 alice: fixed (edited)`,
 * `g1 #8 alice: seen? [read 2/5]` (read receipts: the sender's own message where the server
 * counts them) or `g1 #8 alice: seen? [receipts requested]` (everywhere else),
 * `g1 #6 alice: lunch? {👍 ×2 (you), :+1: ×1}` (reaction counts, where the server gives them) or
 * `g1 #7 bob: yes ↪ re #6 alice: lunch?` (a reply ends with its quote, see formatQuote).
 */
export function formatMessage(m: Message): string {
  const mentions = [...m.mentionedUserIds.map((id) => `@${id}`), ...(m.mentionAll ? ["@all"] : [])];
  const flags = [
    m.onlineOnly ? "online only" : "",
    m.priority ? priorityName(m.priority).toLowerCase() : "",
    m.excludeFromUnread ? "not unread" : "",
    m.countAsUnreadForReceivers ? "unread for receivers" : "",
    m.readReceipts ? formatReceiptCounts(m.readReceipts) : m.readReceiptsRequested ? "receipts requested" : "",
  ].filter(Boolean);
  return (
    `${m.groupId} #${m.seq} ${senderAndBody(m)}` +
    (mentions.length ? ` ${mentions.join(" ")}` : "") +
    (flags.length ? ` [${flags.join(", ")}]` : "") +
    (m.reactions.length ? ` {${m.reactions.map((r) => `${r.reaction} ×${r.count}${r.callerReacted ? " (you)" : ""}`).join(", ")}}` : "") +
    (m.replyTo?.messageId ? ` ${formatQuote(m.replyTo)}` : "")
  );
}

/** One line of `reactions`, e.g. `👍 bob 2025-01-02T03:04:05.000Z`. */
export function formatReaction(r: Reaction): string {
  return `${r.reaction} ${r.userId}${r.createTime ? ` ${r.createTime.toISOString()}` : ""}`;
}

/** One line of `receipts`: `carol 2025-01-02T03:04:05.000Z` (read then), or `dave` (not read). */
export function formatReadReceipt(r: ReadReceipt): string {
  return r.readTime ? `${r.userId} ${r.readTime.toISOString()}` : r.userId;
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
    case "messageRead":
      return `read         ${event.groupId} #${event.seq} by ${event.readerId} (now ${formatReceiptCounts(event.counts)})`;
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
