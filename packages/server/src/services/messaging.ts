// Sending and recalling messages: the rules of MSG-n and TGT-n, shared by MessageService (as
// the caller) and AdminService (as any member or the system). Checks run in the order the spec
// gives; a rejected send touches nothing (rule MSG-15).
import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Plan } from "@narrowcast/gen/admin";
import {
  ErrorReason,
  GroupType,
  MemberRole,
  MessagePriority,
  MessageSchema,
  type Message,
  type MessageElement,
  type SendMessageRequest,
} from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { requireId } from "../ids.js";
import type { Deps } from "../context.js";
import { StoreConflict } from "../store/types.js";
import type { WebhookRecord } from "../store/webhooks.js";
import { askBeforeSend } from "../webhooks/before-send.js";
import { countsForAudience } from "../rules/index.js";
import { conflictError, foundGroup, foundMember, requireGroup, requireMember, visibleTo } from "./common.js";
import { checkReply, validateReplyId } from "./replies.js";
import { checkReceiptsAllowed } from "./receipts.js";

/** Who sends: a user, or the system (senderId "") through AdminService (rule MSG-13). */
export interface Sender {
  appId: string;
  senderId: string;
}

const MAX_CLIENT_MESSAGE_ID = 128;

/** Rules MSG-3 and MSG-4: a message body (of a send, or of an edit, EDT-3). */
export function validateContent(deps: Deps, elements: MessageElement[], customData: Uint8Array): void {
  if (elements.length === 0) {
    throw narrowcastError(ErrorReason.EMPTY_MESSAGE, "a message needs at least one element", { field: "elements" });
  }
  elements.forEach((el, i) => {
    // Rule MSG-3: the field is the element itself, whatever part of it is wrong.
    const bad = (_part: string, why: string) => narrowcastError(ErrorReason.INVALID_ELEMENT, why, { field: `elements[${i}]` });
    switch (el.element.case) {
      case undefined:
        throw bad("", "element has no kind set");
      case "text":
        if (el.element.value.text.length === 0) throw bad(".text", "text element is empty");
        break;
      // Sizes and indexes are signed on the wire (no unsigned ints in v1); negative ones are invalid.
      case "image": {
        const { url, width, height, sizeBytes } = el.element.value;
        if (!url) throw bad(".url", "image element needs a url");
        if (width < 0 || height < 0 || sizeBytes < 0n) throw bad("", "image width, height and size_bytes must not be negative");
        break;
      }
      case "file":
        if (!el.element.value.url) throw bad(".url", "file element needs a url");
        if (el.element.value.sizeBytes < 0n) throw bad(".size_bytes", "file size_bytes must not be negative");
        break;
      case "face":
        if (el.element.value.index < 0) throw bad(".index", "face index must not be negative");
        break;
      case "location": {
        const { latitude, longitude } = el.element.value;
        if (!(Math.abs(latitude) <= 90) || !(Math.abs(longitude) <= 180)) throw bad("", "location out of range");
        break;
      }
    }
  });
  const size = toBinary(MessageSchema, create(MessageSchema, { elements: elements, customData: customData })).length;
  if (size > deps.limits.maxMessageBytes) {
    throw narrowcastError(ErrorReason.MESSAGE_TOO_LARGE, `message is ${size} bytes; the limit is ${deps.limits.maxMessageBytes}`, {
      field: "elements",
    });
  }
}

/**
 * Rule MSG-5: one token of the group's bucket, or RATE_LIMITED (sends and edits, EDT-5, share it).
 * Returns the function that gives the token back when the write then stores nothing (MSG-15).
 */
export function takeGroupToken(deps: Deps, appId: string, groupId: string): () => void {
  const bucket = `${appId}\u0000${groupId}`;
  if (!deps.rateLimiter.take(bucket)) {
    throw narrowcastError(ErrorReason.RATE_LIMITED, "too many messages in this group; retry shortly", {
      field: "group_id",
      retryDelayMs: deps.rateLimiter.retryDelayMs(bucket),
    });
  }
  return () => deps.rateLimiter.giveBack(bucket);
}

/** Stateless checks of a send request (first part of the spec's order of checks). */
export function validateSendRequest(deps: Deps, sender: Sender, req: SendMessageRequest): string[] {
  requireId(req.groupId, "group_id");
  if (req.clientMessageId.length > MAX_CLIENT_MESSAGE_ID) {
    throw fieldInvalid("client_message_id", `client_message_id is longer than ${MAX_CLIENT_MESSAGE_ID} characters`);
  }
  if (!(req.priority in MessagePriority)) throw fieldInvalid("priority", "unknown priority");
  validateReplyId(req.replyToMessageId);
  validateContent(deps, req.elements, req.customData);
  // Rule TGT-2: the single-receiver form of the vendor SDKs is this list with one entry.
  const receivers = [...req.receiverIds];
  const receiverField = "receiver_ids";
  if (receivers.length > 0 && (req.mentionedUserIds.length > 0 || req.mentionAll)) {
    throw narrowcastError(ErrorReason.TARGETED_WITH_MENTION, "a targeted message cannot @-mention", {
      field: req.mentionAll ? "mention_all" : "mentioned_user_ids",
    });
  }
  if (receivers.length > deps.limits.maxReceivers) {
    throw narrowcastError(
      ErrorReason.RECEIVER_LIST_TOO_LONG,
      `${receivers.length} receivers; at most ${deps.limits.maxReceivers}`,
      { field: receiverField },
    );
  }
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const r of receivers) (seen.has(r) ? duplicates : seen).add(r);
  if (duplicates.size) {
    throw narrowcastError(ErrorReason.DUPLICATE_RECEIVER, `duplicate receivers: ${[...duplicates].join(", ")}`, {
      field: receiverField,
      ids: [...duplicates],
    });
  }
  if (sender.senderId && seen.has(sender.senderId)) {
    throw narrowcastError(ErrorReason.SENDER_IN_RECEIVER_LIST, "the sender cannot be a receiver", {
      field: receiverField,
      ids: [sender.senderId],
    });
  }
  if (new Set(req.mentionedUserIds).size > deps.limits.maxMentions) {
    throw narrowcastError(ErrorReason.MENTION_LIST_TOO_LONG, `at most ${deps.limits.maxMentions} mentions`, {
      field: "mentioned_user_ids",
    });
  }
  return receivers;
}

export async function sendMessage(deps: Deps, sender: Sender, req: SendMessageRequest): Promise<Message> {
  const receivers = validateSendRequest(deps, sender, req);
  const receiverField = "receiver_ids";
  const { appId, senderId } = sender;
  const now = deps.now();
  const mentions = [...new Set(req.mentionedUserIds)];
  // Everything the checks below need, in one read; they run in the spec's order on it.
  const context = await deps.store.sendContext(appId, req.groupId, senderId, {
    clientMessageId: req.clientMessageId,
    since: now - deps.limits.idempotencyWindowMs,
    userIds: [...receivers, ...mentions],
  });
  const group = foundGroup(context.group, req.groupId);
  if (senderId) foundMember(context.sender, group, senderId);
  // Rule MSG-10: the original, nothing stored or delivered again.
  if (context.earlier) return context.earlier;

  const targeted = receivers.length > 0;
  if (targeted) {
    // Rule TGT-9, checked at send time: a SetAppPlan applies to the very next send (ADM-8).
    if (context.plan !== Plan.ULTIMATE) {
      throw narrowcastError(ErrorReason.FEATURE_NOT_IN_PLAN, "targeted group messages need the ULTIMATE plan", {
        field: receiverField,
      });
    }
    if (group.type === GroupType.COMMUNITY || group.type === GroupType.AVCHATROOM) {
      throw narrowcastError(
        ErrorReason.GROUP_TYPE_UNSUPPORTED,
        `${GroupType[group.type]} groups do not allow targeted messages`,
        { field: receiverField },
      );
    }
    const outsiders = receivers.filter((r) => !context.members.has(r));
    if (outsiders.length) {
      throw narrowcastError(ErrorReason.RECEIVER_NOT_MEMBER, `receivers not in the group: ${outsiders.join(", ")}`, {
        field: receiverField,
        ids: outsiders,
      });
    }
  }
  if (mentions.length) {
    const outsiders = mentions.filter((r) => !context.members.has(r));
    if (outsiders.length) {
      throw narrowcastError(ErrorReason.MENTIONED_USER_NOT_MEMBER, `mentioned users not in the group: ${outsiders.join(", ")}`, {
        field: "mentioned_user_ids",
        ids: outsiders,
      });
    }
  }
  // Rules RPL-1, RPL-2: checks 16 to 18, only for a reply.
  if (req.replyToMessageId) await checkReply(deps, group, senderId ? context.sender : undefined, req.replyToMessageId, receivers);
  const persist = !req.onlineOnly && group.type !== GroupType.AVCHATROOM;
  if (req.requestReadReceipts) checkReceiptsAllowed({ stored: persist, system: !senderId, targeted, memberCount: group.memberCount });
  const giveBack = takeGroupToken(deps, appId, group.groupId);

  const message = create(MessageSchema, {
    elements: req.elements,
    receiverIds: receivers,
    mentionedUserIds: mentions,
    mentionAll: req.mentionAll,
    priority: req.priority,
    onlineOnly: req.onlineOnly,
    excludeFromUnread: req.excludeFromUnread,
    excludeFromLastMessage: req.excludeFromLastMessage,
    countAsUnreadForReceivers: targeted && req.countAsUnreadForReceivers,
    clientMessageId: req.clientMessageId,
    customData: req.customData,
    offlinePushInfo: req.offlinePushInfo,
    replyTo: req.replyToMessageId ? { messageId: req.replyToMessageId } : undefined,
    readReceiptsRequested: req.requestReadReceipts,
  });
  // Rules HOOK-10 to HOOK-12: the app's backend has the last word, after every other check.
  if (context.beforeSend) {
    try {
      await applyBeforeSend(deps, context.beforeSend, message, { appId, groupId: group.groupId, senderId, receivers, now });
    } catch (err) {
      giveBack();
      throw err;
    }
  }
  const countsAsUnread = persist && countsForAudience(group.type, message);
  let result;
  try {
    result = await deps.store.appendMessage({
      appId,
      groupId: group.groupId,
      senderId,
      message,
      persist,
      countsAsUnread,
      now,
      dedupeSince: now - deps.limits.idempotencyWindowMs,
    });
  } catch (err) {
    giveBack();
    if (err instanceof StoreConflict && err.kind === "not_member") {
      // A receiver left between the check and the write.
      throw narrowcastError(ErrorReason.RECEIVER_NOT_MEMBER, "a receiver left the group", { field: receiverField, ids: err.ids });
    }
    throw conflictError(err);
  }
  // A replay found only at the write (a concurrent retry) consumes no token either (MSG-5).
  if (result.duplicate) giveBack();
  else deps.publish(result.event);
  return result.message;
}

/**
 * Asks the app's before-send callback (HOOK-10) and applies its answer to `message`: a rewrite
 * replaces the elements and nothing else (HOOK-11); a rejection or a failure that the app
 * chose to treat as one throws, before anything is stored.
 */
async function applyBeforeSend(
  deps: Deps,
  webhook: WebhookRecord,
  message: Message,
  at: { appId: string; groupId: string; senderId: string; receivers: readonly string[]; now: number },
): Promise<void> {
  const proposed = create(MessageSchema, { ...message, groupId: at.groupId, senderId: at.senderId, serverTime: timestampFromMs(at.now) });
  const audience = at.receivers.length ? [...at.receivers, ...(at.senderId ? [at.senderId] : [])] : [];
  const elements = await askBeforeSend(webhook, proposed, audience, {
    nowMs: at.now,
    log: deps.log,
    validateElements: (els) => validateContent(deps, els, message.customData),
  });
  if (elements) message.elements = elements;
}

/** Recalls a message (rule MSG-11). `recalledBy` is "" for AdminService, which may recall anything. */
export async function recallMessage(
  deps: Deps,
  appId: string,
  groupId: string,
  messageId: string,
  recalledBy: string,
): Promise<Message> {
  if (!messageId) throw fieldInvalid("message_id", "message_id is required");
  const group = await requireGroup(deps, appId, groupId);
  const notFound = () => narrowcastError(ErrorReason.MESSAGE_NOT_FOUND, "message not found", { field: "message_id" });
  let message: Message | undefined;
  if (recalledBy) {
    const member = await requireMember(deps, group, recalledBy);
    message = await deps.store.getMessage(appId, groupId, messageId, recalledBy);
    if (!message || !visibleTo(group, member, message)) throw notFound();
    const privileged = member.role === MemberRole.OWNER || member.role === MemberRole.ADMIN;
    const isSender = message.senderId === recalledBy;
    if (!isSender && !privileged) {
      throw narrowcastError(ErrorReason.RECALL_NOT_ALLOWED, "only the sender, the owner or an admin may recall", {
        field: "message_id",
      });
    }
    if (message.recall) throw conflictError(new StoreConflict("already_recalled"));
    const age = deps.now() - (message.serverTime ? timestampMs(message.serverTime) : 0);
    if (isSender && !privileged && age > deps.limits.recallWindowMs) {
      throw narrowcastError(ErrorReason.RECALL_WINDOW_EXPIRED, "the recall window has passed", { field: "message_id" });
    }
  } else {
    message = await deps.store.getMessage(appId, groupId, messageId, null);
    if (!message) throw notFound();
    if (message.recall) throw conflictError(new StoreConflict("already_recalled"));
  }
  let result;
  try {
    result = await deps.store.recallMessage(appId, groupId, messageId, recalledBy, deps.now());
  } catch (err) {
    throw conflictError(err);
  }
  deps.publish(result.event);
  return result.message;
}
