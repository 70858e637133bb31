import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MessageReadSchema, MessageRecalledSchema, ReactionChangedSchema } from "@narrowcast/gen";
import type { Event } from "@narrowcast/gen";
import { fromProto } from "./convert.js";
import type { NarrowcastError } from "./errors.js";
import { toConversation, toGroupMember, toMessage } from "./model.js";
import type { Conversation, GroupMember, Message, ReadReceiptCounts, RecallInfo } from "./model.js";

/** Fields of every event that comes from the server's event log. */
interface StoredEventBase {
  /** Resume position after this event; empty for online-only events (rule EVT-7). */
  cursor: string;
  /** When it happened. */
  time: Date | undefined;
  /** The event as the protocol delivered it (wire form: int64 as bigint). */
  event: Event;
}

/**
 * A new message; targeted and ordinary messages alike (rule TGT-7). A quote reply's `replyTo`
 * holds the quoted message's ID alone (rule RPL-3: one event goes to many viewers, so it carries
 * nobody's view of the quote); `client.resolveQuote(message)` resolves it for this user.
 */
export interface MessageReceivedEvent extends StoredEventBase {
  type: "messageReceived";
  message: Message;
}

/**
 * A message this user can see was edited (rules EDT-3, EDT-4): `message` is the message as the
 * edit left it — new elements and custom data, `edit` set, everything else as sent. Replace the
 * shown message that has the same `messageId`. Replayed, it carries the message as it is then
 * (rule DRV-1): edited again since, the latest content; recalled since, no content and `recall` set.
 */
export interface MessageEditedEvent extends StoredEventBase {
  type: "messageEdited";
  message: Message;
}

/** A message this user could see was recalled (rule MSG-11). */
export interface MessageRecalledEvent extends StoredEventBase {
  type: "messageRecalled";
  groupId: string;
  messageId: string;
  seq: number;
  recall: RecallInfo | undefined;
}

/**
 * A user added or removed a reaction on a message this user can see (rules RCT-7, DRV-1): it
 * reaches exactly the users who may see the message. `count` is how many users have `reaction`
 * on the message after the change, so a shown count can be set, not incremented; `added` is
 * false for a removal. A recall sends no reactionChanged: its messageRecalled means the message
 * has no reactions any more (rule RCT-8).
 */
export interface ReactionChangedEvent extends StoredEventBase {
  type: "reactionChanged";
  groupId: string;
  messageId: string;
  seq: number;
  reaction: string;
  /** Who added or removed it. */
  userId: string;
  added: boolean;
  count: number;
}

/**
 * A reader acknowledged a message this user sent with read receipts (rules RCP-3, RCP-5). It
 * reaches the sender alone — every device of theirs, live and on replay — and only while they may
 * see the message (not after they left the group); readers and other members get nothing.
 * `counts` are the message's counts after this acknowledgement, so shown counts can be set, not
 * incremented. A reader who acknowledges again sends none.
 */
export interface MessageReadEvent extends StoredEventBase {
  type: "messageRead";
  groupId: string;
  messageId: string;
  seq: number;
  /** The reader who acknowledged it. */
  readerId: string;
  counts: ReadReceiptCounts;
}

/** This user's view of a conversation changed, e.g. it was read on another device (rule UNR-3). */
export interface ConversationChangedEvent extends StoredEventBase {
  type: "conversationChanged";
  conversation: Conversation;
}

/** A user joined a group this user is in (rule GRP-10). */
export interface MemberJoinedEvent extends StoredEventBase {
  type: "memberJoined";
  groupId: string;
  member: GroupMember | undefined;
  addedBy: string;
}

/** A user left or was removed from a group this user is (or was) in (rule GRP-10). */
export interface MemberLeftEvent extends StoredEventBase {
  type: "memberLeft";
  groupId: string;
  userId: string;
  removedBy: string;
}

/** A group this user was in was dismissed (rule GRP-9). */
export interface GroupDismissedEvent extends StoredEventBase {
  type: "groupDismissed";
  groupId: string;
}

/** The stream is live: every missed event has been replayed (rule EVT-3). Sent after every (re)connect. */
export interface ReadyEvent {
  type: "ready";
  /** The position the stream resumes from after a disconnect. */
  cursor: string;
}

/**
 * The saved cursor was older than the server's event retention (OutOfRange CURSOR_EXPIRED,
 * rule EVT-10): the events after it are gone, so the stream started afresh without a cursor and
 * this client missed an unknown number of events. Sent once the fresh stream is live (right
 * after its `ready`): reload what the app shows — `conversations()`, and `listMessages()` of the
 * open conversations — then keep applying events as usual (an event may repeat something the
 * reload already has: match messages by `messageId`).
 */
export interface ResyncEvent {
  type: "resync";
  /** The new stream's cursor. */
  cursor: string;
  /** The CURSOR_EXPIRED error that caused it. */
  error: NarrowcastError;
}

/** The stream broke and will reconnect after `delayMs`, resuming from the last cursor. */
export interface ReconnectingEvent {
  type: "reconnecting";
  /** Consecutive failed connections so far (1 for the first). */
  attempt: number;
  delayMs: number;
  error: NarrowcastError;
}

/** The stream stopped for good with a non-retryable error (e.g. Unauthenticated). */
export interface ErrorEvent {
  type: "error";
  error: NarrowcastError;
}

/** Every event `on()` can listen to, by name. */
export interface ClientEventMap {
  messageReceived: MessageReceivedEvent;
  messageRecalled: MessageRecalledEvent;
  messageEdited: MessageEditedEvent;
  reactionChanged: ReactionChangedEvent;
  messageRead: MessageReadEvent;
  conversationChanged: ConversationChangedEvent;
  memberJoined: MemberJoinedEvent;
  memberLeft: MemberLeftEvent;
  groupDismissed: GroupDismissedEvent;
  ready: ReadyEvent;
  resync: ResyncEvent;
  reconnecting: ReconnectingEvent;
  error: ErrorEvent;
}

export type ClientEventType = keyof ClientEventMap;

/** What the async iterator yields; a fatal error is thrown from it instead of yielded. */
export type ClientEvent = Exclude<ClientEventMap[ClientEventType], ErrorEvent>;

/** Maps a protocol Event to the SDK's event, or undefined for a payload this SDK does not know. */
export function toClientEvent(event: Event): ClientEvent | undefined {
  const base: StoredEventBase = {
    cursor: event.cursor,
    time: event.time ? timestampDate(event.time) : undefined,
    event,
  };
  const payload = event.payload;
  switch (payload.case) {
    case "messageReceived":
      if (!payload.value.message) {
        return undefined;
      }
      return { ...base, type: "messageReceived", message: toMessage(payload.value.message) };
    case "messageRecalled": {
      const { groupId, messageId, seq, recall } = fromProto(MessageRecalledSchema, payload.value);
      return { ...base, type: "messageRecalled", groupId, messageId, seq, recall };
    }
    case "messageEdited":
      if (!payload.value.message) {
        return undefined;
      }
      return { ...base, type: "messageEdited", message: toMessage(payload.value.message) };
    case "reactionChanged": {
      const { groupId, messageId, seq, reaction, userId, added, count } = fromProto(ReactionChangedSchema, payload.value);
      return { ...base, type: "reactionChanged", groupId, messageId, seq, reaction, userId, added, count };
    }
    case "messageRead": {
      const { groupId, messageId, seq, readerId, counts } = fromProto(MessageReadSchema, payload.value);
      // The protocol always sets the counts; without them the event says nothing usable.
      if (!counts) {
        return undefined;
      }
      return { ...base, type: "messageRead", groupId, messageId, seq, readerId, counts };
    }
    case "conversationUpdated":
      if (!payload.value.conversation) {
        return undefined;
      }
      return { ...base, type: "conversationChanged", conversation: toConversation(payload.value.conversation) };
    case "memberJoined":
      return {
        ...base,
        type: "memberJoined",
        groupId: payload.value.groupId,
        member: payload.value.member && toGroupMember(payload.value.member),
        addedBy: payload.value.addedBy,
      };
    case "memberLeft":
      return {
        ...base,
        type: "memberLeft",
        groupId: payload.value.groupId,
        userId: payload.value.userId,
        removedBy: payload.value.removedBy,
      };
    case "groupDismissed":
      return { ...base, type: "groupDismissed", groupId: payload.value.groupId };
    default:
      return undefined;
  }
}
