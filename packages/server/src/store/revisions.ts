// Changes to a stored message after it was sent — recall (MSG-11) and edit (EDT-3) — shared by
// both stores: what the message becomes, the event that announces it, and how the events already
// logged with the message in them are rewritten: a replay shows the message as it is now, never
// content it no longer has — a recall's, or an edit's that took something out (EDT-4, DRV-1).
// Those events are its MessageReceived (by its event ID), and the events whose target_seq is its
// seq (events_by_target): its MessageEdited, and ConversationUpdated events showing it as the last
// message. The stores only read and write the rows.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EditInfoSchema,
  EventSchema,
  RecallInfoSchema,
  type Event,
  type Message,
  type MessageElement,
} from "@narrowcast/gen";

/** What happens to the message. */
export type Revision =
  | { kind: "recall"; recalledBy: string }
  | { kind: "edit"; elements: MessageElement[]; customData: Uint8Array };

/** Applies the revision to the stored message (in place); returns the event that announces it. */
export function revise(message: Message, revision: Revision, now: number): Event {
  if (revision.kind === "recall") {
    message.elements = [];
    message.customData = new Uint8Array(0);
    message.recall = create(RecallInfoSchema, { recalledBy: revision.recalledBy, recallTime: timestampFromMs(now) });
    const { groupId, messageId, seq, recall } = message;
    return create(EventSchema, { payload: { case: "messageRecalled", value: { groupId, messageId, seq, recall } } });
  }
  message.elements = revision.elements;
  message.customData = revision.customData;
  message.edit = create(EditInfoSchema, { editCount: (message.edit?.editCount ?? 0) + 1, editTime: timestampFromMs(now) });
  return create(EventSchema, { payload: { case: "messageEdited", value: { message } } });
}

/**
 * A logged event with the message in it, carrying the message as it is now; its time (and
 * anything else) is kept. An event without it comes back unchanged.
 */
export function rewrittenEvent(payload: Uint8Array, message: Message): Uint8Array {
  const event = fromBinary(EventSchema, payload);
  const p = event.payload;
  switch (p.case) {
    case "messageReceived":
    case "messageEdited":
      if (p.value.message?.messageId !== message.messageId) return payload;
      p.value.message = message;
      break;
    case "conversationUpdated":
      if (p.value.conversation?.lastMessage?.messageId !== message.messageId) return payload;
      p.value.conversation.lastMessage = message;
      break;
    default:
      return payload;
  }
  return toBinary(EventSchema, event);
}
