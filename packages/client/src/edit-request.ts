// The content of `editMessage` in its accepted forms, turned into an EditMessageRequest (rule EDT-3).
import { create, isMessage } from "@bufbuild/protobuf";
import { EditMessageRequestSchema, MessageElementSchema } from "@narrowcast/gen";
import type * as pb from "@narrowcast/gen";
import { createElement, createMessage } from "./builders.js";
import type { ElementInit, MessageDraft } from "./builders.js";
import { toProto } from "./convert.js";
import { localError } from "./errors.js";
import type { MessageElement } from "./model.js";
import { Reason } from "./reasons.js";

/**
 * The new content of an edit (rule EDT-1): elements and custom data only. An edit cannot change
 * who sees a message, its receivers or its mentions (rule DRV-1).
 *
 * - a string: one text element and no custom data, like `createTextMessage(text)`;
 * - a draft from the builders — `createTextMessage("…")`, `createCustomMessage(data)`,
 *   `createMessage([{ text }, { image }], { customData })`, … —: its elements and custom data.
 *   A draft with receivers, @-mentions, a `replyTo` or `requestReadReceipts` is refused, and so is
 *   one whose `to` names another group;
 * - `{ elements, customData }`: elements in `createMessage`'s form (`{ text: "…" }`, `{ image: {…} }`, …)
 *   or as the SDK returns them (`message.elements` of a received message), so a body can be
 *   changed in place.
 *
 * The custom data replaces the old; leaving it out clears it.
 */
export type EditContent =
  | string
  | MessageDraft
  | { elements: readonly (ElementInit | MessageElement)[]; customData?: Uint8Array };

/** One element in any of the forms of EditContent → the wire element. */
function toElement(element: ElementInit | MessageElement | pb.MessageElement): pb.MessageElement {
  if (isMessage(element, MessageElementSchema)) {
    return element;
  }
  if ("element" in element) {
    return toProto(MessageElementSchema, element);
  }
  return createElement(element);
}

/**
 * Turns the new content into the wire request. It checks only what the protocol has no field
 * for (a draft's receivers, mentions, quote, read receipts or other group);
 * `checkEditMessageRequest` checks the request.
 */
export function toEditMessageRequest(groupId: string, messageId: string, content: EditContent): pb.EditMessageRequest {
  const draft = typeof content === "string" ? createMessage([{ text: content }]) : content;
  if ("receiverList" in draft) {
    if (draft.receiverList.length > 0) {
      throw localError(
        Reason.FIELD_INVALID,
        "receiverList",
        "an edit cannot change a message's receivers (rule DRV-1): give the new content without a receiver list",
      );
    }
    if (draft.atUserList.length > 0) {
      throw localError(
        Reason.FIELD_INVALID,
        "atUserList",
        "an edit cannot change a message's mentions (rule DRV-1): give the new content without an @-mention list",
      );
    }
    if (draft.replyTo !== undefined && draft.replyTo !== "") {
      throw localError(
        Reason.FIELD_INVALID,
        "replyTo",
        "an edit cannot change what a message replies to (rule RPL-4): give the new content without replyTo",
      );
    }
    if (draft.requestReadReceipts) {
      throw localError(
        Reason.FIELD_INVALID,
        "requestReadReceipts",
        "an edit cannot ask for read receipts (rule RCP-1: only a send can): give the new content without requestReadReceipts",
      );
    }
    if (draft.to !== undefined && draft.to !== "" && draft.to !== groupId) {
      throw localError(Reason.FIELD_INVALID, "to", `the draft is addressed to group ${draft.to}, not ${groupId}`);
    }
  }
  const elements: readonly (ElementInit | MessageElement | pb.MessageElement)[] = draft.elements;
  return create(EditMessageRequestSchema, {
    groupId,
    messageId,
    elements: elements.map(toElement),
    customData: draft.customData,
  });
}
