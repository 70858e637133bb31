// Changes to a stored message after it was sent — recall (MSG-11) and edit (EDT-3) — shared by
// both stores: what the message becomes, the event that announces it, and how the events already
// logged about it are rewritten so that a replay never shows content the message no longer has
// (MSG-11, DRV-1). The stores only read and write the rows.
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
 * Whether the message's earlier MessageEdited events must be rewritten too: after a recall, none
 * may replay the content (EDT-4). After another edit they keep the version they announced.
 */
export function rewritesEdits(message: Message, revision: Revision): boolean {
  return revision.kind === "recall" && !!message.edit;
}

/**
 * A logged MessageReceived or MessageEdited of the message, carrying the message as it is now;
 * its time (and anything else) is kept. Other events come back unchanged.
 */
export function rewrittenEvent(payload: Uint8Array, message: Message): Uint8Array {
  const event = fromBinary(EventSchema, payload);
  const p = event.payload;
  if (p.case !== "messageReceived" && p.case !== "messageEdited") return payload;
  p.value.message = message;
  return toBinary(EventSchema, event);
}
