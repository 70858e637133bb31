import { create } from "@bufbuild/protobuf";
import { MessagePriority, SendMessageRequestSchema } from "@narrowcast/gen";
import type { SendMessageRequest } from "@narrowcast/gen";
import { AT_ALL } from "./builders.js";
import type { MessageDraft } from "./builders.js";
import { localError } from "./errors.js";
import { Reason } from "./reasons.js";

/** A priority as the enum or by name; "default" leaves it unspecified (rule MSG-7). */
export type PriorityInit = MessagePriority | "default" | "high" | "normal" | "low";

/** How to send a draft; the names follow the vendor SDKs' `sendMessage` parameters. */
export interface SendOptions {
  /** The group; defaults to the draft's `to`. */
  groupId?: string;
  /**
   * The vendor SDKs' single-receiver form (group ID plus one receiver): a targeted message to
   * this one member, sent as a receiver list of one (rule TGT-2). Not together with a draft that
   * has a receiver list.
   */
  receiver?: string;
  /** Delivery priority (rule MSG-7). */
  priority?: PriorityInit;
  /** Deliver only to members online now; not stored, not counted (rule MSG-9). */
  onlineUserOnly?: boolean;
  /** Hints for offline push, stored and returned unchanged. */
  offlinePushInfo?: { title?: string; description?: string; extension?: string };
  /** Do not count the message as unread for anyone (rule UNR-4). */
  excludeFromUnread?: boolean;
  /** Do not make the message any conversation's last message (rule CNV-3). */
  excludeFromLastMessage?: boolean;
  /** Targeted messages: count as unread for the receivers (rule TGT-6). */
  countAsUnreadForReceivers?: boolean;
  /** More users to @-mention, added to the draft's `atUserList`; AT_ALL mentions everyone. */
  mentions?: readonly string[];
  /** Idempotency key (rule MSG-10); a random UUID when absent, reused by every retry. */
  clientMessageId?: string;
  /**
   * Makes the message a quote reply to this message of the group, which this user must be able
   * to see (rule RPL-1); wins over the draft's `replyTo`. A reply to a targeted message must be
   * targeted too, to members of its audience only (rule RPL-2).
   */
  replyTo?: string;
  /**
   * Asks for read receipts (rule RCP-1): the message's readers — a targeted message's receivers,
   * or the group's members at send time — acknowledge it with `sendReadReceipts`, and only this
   * user sees who has. Wins over the draft's `requestReadReceipts`. The server refuses it
   * (READ_RECEIPTS_NOT_ALLOWED) for online-only, AVCHATROOM and system messages and for an
   * ordinary message to a group of more than 200 members.
   */
  requestReadReceipts?: boolean;
}

const priorityByName: Record<string, MessagePriority> = {
  default: MessagePriority.UNSPECIFIED,
  high: MessagePriority.HIGH,
  normal: MessagePriority.NORMAL,
  low: MessagePriority.LOW,
};

/** Parses a priority given by name or enum value. */
export function toPriority(priority: PriorityInit | undefined): MessagePriority {
  if (priority === undefined) {
    return MessagePriority.UNSPECIFIED;
  }
  if (typeof priority === "number") {
    return priority;
  }
  const value = priorityByName[priority];
  if (value === undefined) {
    throw new TypeError(`unknown priority "${priority}": use default, high, normal or low`);
  }
  return value;
}

/**
 * Turns a draft and send options into the wire request. It checks only what the protocol has no
 * field for (a receiver option on a draft that already has receivers); `checkSendMessageRequest`
 * checks the request.
 */
export function toSendMessageRequest(message: MessageDraft, options: SendOptions = {}): SendMessageRequest {
  if (options.receiver !== undefined && message.receiverList.length > 0) {
    throw localError(
      Reason.FIELD_INVALID,
      "receiver_ids",
      "give either the receiver option (single receiver) or a receiver list, not both",
    );
  }
  const receiverIds = options.receiver !== undefined ? [options.receiver] : [...message.receiverList];
  const mentions = [...message.atUserList, ...(options.mentions ?? [])];
  return create(SendMessageRequestSchema, {
    groupId: options.groupId ?? message.to ?? "",
    elements: [...message.elements],
    receiverIds,
    mentionedUserIds: mentions.filter((id) => id !== AT_ALL),
    mentionAll: mentions.includes(AT_ALL),
    priority: toPriority(options.priority),
    onlineOnly: options.onlineUserOnly ?? false,
    excludeFromUnread: options.excludeFromUnread ?? false,
    excludeFromLastMessage: options.excludeFromLastMessage ?? false,
    countAsUnreadForReceivers: options.countAsUnreadForReceivers ?? false,
    clientMessageId: options.clientMessageId ?? "",
    customData: message.customData,
    offlinePushInfo: options.offlinePushInfo,
    replyToMessageId: options.replyTo ?? message.replyTo ?? "",
    requestReadReceipts: options.requestReadReceipts ?? message.requestReadReceipts ?? false,
  });
}
