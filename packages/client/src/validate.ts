import { create, toBinary } from "@bufbuild/protobuf";
import { MessageSchema } from "@narrowcast/gen";
import type {
  AddReactionRequest,
  EditMessageRequest,
  ListReactionsRequest,
  ListReadReceiptsRequest,
  MessageElement,
  RemoveReactionRequest,
  SendMessageRequest,
  SendReadReceiptsRequest,
} from "@narrowcast/gen";
import { ReadState } from "@narrowcast/gen";
import { localError } from "./errors.js";
import { Reason } from "./reasons.js";

// Limits from docs/spec.md.
export const MAX_RECEIVERS = 50; // TGT-1
export const MAX_MENTIONS = 50; // MSG-6
export const MAX_MESSAGE_BYTES = 12_288; // MSG-4
export const MAX_CLIENT_MESSAGE_ID_LENGTH = 128; // MSG-10
export const MAX_REPLY_TO_LENGTH = 128; // RPL-1
export const MAX_REACTION_CODE_POINTS = 32; // RCT-2
export const MAX_RECEIPT_MESSAGE_IDS = 100; // RCP-3
const ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/; // GRP-8

/**
 * Rejects a SendMessage request that the server would certainly reject, with the same
 * code, reason, field and IDs, so that nothing goes over the network. The checks run in
 * the spec's order of checks for SendMessage (first failing wins), and only cover what
 * the client can know: the checks that need server state (membership, plan, group
 * type, the sender's own ID) are left to the server.
 */
export function checkSendMessageRequest(req: SendMessageRequest): void {
  checkGroupId(req.groupId);
  // Count code points, the most lenient reading of "characters": never reject what a server accepts.
  if ([...req.clientMessageId].length > MAX_CLIENT_MESSAGE_ID_LENGTH) {
    throw localError(
      Reason.FIELD_INVALID,
      "client_message_id",
      `client_message_id is longer than ${MAX_CLIENT_MESSAGE_ID_LENGTH} characters`,
    );
  }
  // The priority, which the server checks between these two, is left to it (a number goes as given).
  if ([...req.replyToMessageId].length > MAX_REPLY_TO_LENGTH) {
    throw localError(
      Reason.FIELD_INVALID,
      "reply_to_message_id",
      `reply_to_message_id is longer than ${MAX_REPLY_TO_LENGTH} characters`,
    );
  }
  checkContent(req.elements, req.customData);
  const targeted = req.receiverIds.length > 0;
  if (targeted && (req.mentionedUserIds.length > 0 || req.mentionAll)) {
    throw localError(
      Reason.TARGETED_WITH_MENTION,
      req.mentionAll ? "mention_all" : "mentioned_user_ids",
      "a targeted message cannot @-mention anyone",
    );
  }
  if (req.receiverIds.length > MAX_RECEIVERS) {
    throw localError(
      Reason.RECEIVER_LIST_TOO_LONG,
      "receiver_ids",
      `${req.receiverIds.length} receivers, at most ${MAX_RECEIVERS}`,
    );
  }
  const duplicates = findDuplicates(req.receiverIds);
  if (duplicates.length > 0) {
    throw localError(Reason.DUPLICATE_RECEIVER, "receiver_ids", "receivers must be distinct", duplicates);
  }
  // Duplicated mentions are collapsed by the server (MSG-6), so count distinct ones.
  const mentions = new Set(req.mentionedUserIds).size;
  if (mentions > MAX_MENTIONS) {
    throw localError(
      Reason.MENTION_LIST_TOO_LONG,
      "mentioned_user_ids",
      `${mentions} users mentioned, at most ${MAX_MENTIONS}`,
    );
  }
}

/**
 * Rejects an EditMessage request that the server would certainly reject, like
 * `checkSendMessageRequest`: the new content passes the same checks as a send's (rule EDT-3),
 * in EditMessage's order of checks (rule EDT-6: FIELD_INVALID, then EMPTY_MESSAGE /
 * INVALID_ELEMENT, then MESSAGE_TOO_LARGE). Who may edit, the edit window and recall need
 * server state and are left to the server.
 */
export function checkEditMessageRequest(req: EditMessageRequest): void {
  checkGroupId(req.groupId);
  checkMessageId(req.messageId);
  checkContent(req.elements, req.customData);
}

/** The fields of a reaction request the checks read (the wire request, or its init). */
type ReactionFields<T extends { groupId: string; messageId: string; reaction: string }> = Pick<T, "groupId" | "messageId" | "reaction">;

/**
 * Rejects an AddReaction or RemoveReaction request that the server would certainly reject, like
 * `checkSendMessageRequest`: check 1 of their order of checks (section 9.5) — the group ID, a
 * missing message ID, then the reaction (rule RCT-2). Visibility, recall and the limit of
 * distinct reactions need server state and are left to the server.
 */
export function checkReactionRequest(req: ReactionFields<AddReactionRequest | RemoveReactionRequest>): void {
  checkGroupId(req.groupId);
  checkMessageId(req.messageId);
  checkReaction(req.reaction);
}

/**
 * Rejects a ListReactions request the server would certainly reject: its IDs, and the reaction
 * filter when one is given (rule RCT-6; empty means every reaction). Page sizes and tokens are
 * left to the server, as for every list.
 */
export function checkListReactionsRequest(req: ReactionFields<ListReactionsRequest>): void {
  checkGroupId(req.groupId);
  checkMessageId(req.messageId);
  if (req.reaction !== "") {
    checkReaction(req.reaction);
  }
}

/**
 * Rejects a SendReadReceipts request the server would certainly reject, like
 * `checkSendMessageRequest`: the group ID, then 1 to 100 message IDs after duplicates collapse
 * (rule RCP-3). Whether the caller may see each message needs server state and is left to it.
 */
export function checkSendReadReceiptsRequest(req: Pick<SendReadReceiptsRequest, "groupId" | "messageIds">): void {
  checkGroupId(req.groupId);
  const distinct = new Set(req.messageIds).size;
  if (distinct === 0 || distinct > MAX_RECEIPT_MESSAGE_IDS) {
    throw localError(
      Reason.FIELD_INVALID,
      "message_ids",
      distinct === 0 ? "message_ids is required" : `${distinct} distinct message IDs, at most ${MAX_RECEIPT_MESSAGE_IDS}`,
    );
  }
}

/**
 * Rejects a ListReadReceipts request the server would certainly reject: its IDs, then a `state`
 * that is neither READ nor UNREAD (rule RCP-4). Page sizes and tokens are left to the server,
 * as for every list.
 */
export function checkListReadReceiptsRequest(req: Pick<ListReadReceiptsRequest, "groupId" | "messageId" | "state">): void {
  checkGroupId(req.groupId);
  checkMessageId(req.messageId);
  if (req.state !== ReadState.READ && req.state !== ReadState.UNREAD) {
    throw localError(Reason.FIELD_INVALID, "state", "state must be read or unread");
  }
}

/** RCT-2: 1 to 32 code points, no control character, not only white space. */
function checkReaction(reaction: string): void {
  const problem = reactionProblem(reaction);
  if (problem !== undefined) {
    throw localError(Reason.FIELD_INVALID, "reaction", problem);
  }
}

function reactionProblem(reaction: string): string | undefined {
  // Code points, not UTF-16 units: "👍" is one code point and two units.
  const length = [...reaction].length;
  if (length === 0) {
    return "reaction is required";
  }
  if (length > MAX_REACTION_CODE_POINTS) {
    return `reaction is longer than ${MAX_REACTION_CODE_POINTS} code points`;
  }
  if (/\p{Cc}/u.test(reaction)) {
    return "reaction must not contain control characters";
  }
  // Unicode's White_Space, not JavaScript's \s (which adds U+FEFF): never reject what a server accepts.
  if (/^\p{White_Space}+$/u.test(reaction)) {
    return "reaction must not be only white space";
  }
  return undefined;
}

function checkGroupId(groupId: string): void {
  if (!ID_PATTERN.test(groupId)) {
    throw localError(
      Reason.FIELD_INVALID,
      "group_id",
      groupId === "" ? "group_id is required" : "group_id must be 1 to 64 characters of [A-Za-z0-9_.@-]",
    );
  }
}

// Message IDs are assigned by the server and opaque to clients: only a missing one is sure to fail.
function checkMessageId(messageId: string): void {
  if (messageId === "") {
    throw localError(Reason.FIELD_INVALID, "message_id", "message_id is required");
  }
}

/** The checks of a message body, shared by sends and edits (rules MSG-3, MSG-4). */
function checkContent(elements: readonly MessageElement[], customData: Uint8Array): void {
  if (elements.length === 0) {
    throw localError(Reason.EMPTY_MESSAGE, "elements", "a message needs at least one element");
  }
  elements.forEach((element, i) => {
    const kind = element.element;
    if (kind.case === undefined) {
      throw localError(Reason.INVALID_ELEMENT, `elements[${i}]`, "element has no kind set");
    }
    if (kind.case === "text" && kind.value.text === "") {
      throw localError(Reason.INVALID_ELEMENT, `elements[${i}]`, "text element is empty");
    }
  });
  const size = toBinary(MessageSchema, create(MessageSchema, { elements: [...elements], customData })).length;
  if (size > MAX_MESSAGE_BYTES) {
    throw localError(
      Reason.MESSAGE_TOO_LARGE,
      "elements",
      `message is ${size} bytes, more than ${MAX_MESSAGE_BYTES}`,
    );
  }
}

/** The IDs that occur more than once, each listed once, in order of first repetition. */
function findDuplicates(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) {
      duplicates.add(id);
    }
    seen.add(id);
  }
  return [...duplicates];
}
