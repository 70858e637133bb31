// Quote replies (rules RPL-1 to RPL-4), a derived item (DRV-1): a reply names the quoted message
// by ID; the send checks that the sender may see it and that the reply widens nothing, and each
// reader is shown the quote as they may see it when they read — never a copy taken at send time.
import { create } from "@bufbuild/protobuf";
import { ErrorReason, QuoteStatus, ReplyToSchema, type Message } from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import type { Deps } from "../context.js";
import { replyOutsiders } from "../rules/index.js";
import type { GroupRecord, MemberRecord } from "../store/types.js";
import { visibleTo } from "./common.js";

const MAX_MESSAGE_ID = 128;

/** Check 1 of section 9.1 for `reply_to_message_id`. */
export function validateReplyId(messageId: string): void {
  if (messageId.length > MAX_MESSAGE_ID) throw fieldInvalid("reply_to_message_id", `reply_to_message_id is longer than ${MAX_MESSAGE_ID} characters`);
}

/**
 * Checks 16 to 18 of section 9.1: the quoted message exists and the sender may see it (RPL-1;
 * `sender` undefined: the system, which may quote any stored message), is not recalled, and the
 * reply with these receivers widens nothing (RPL-2).
 */
export async function checkReply(deps: Deps, group: GroupRecord, sender: MemberRecord | undefined, messageId: string, receivers: readonly string[]): Promise<void> {
  const quoted = await deps.store.getMessage(group.appId, group.groupId, messageId, sender?.userId ?? null);
  if (!quoted || (sender && !visibleTo(group, sender, quoted))) {
    throw narrowcastError(ErrorReason.MESSAGE_NOT_FOUND, "the message replied to was not found", { field: "reply_to_message_id" });
  }
  if (quoted.recall) {
    throw narrowcastError(ErrorReason.ALREADY_RECALLED, "the message replied to was recalled", { field: "reply_to_message_id" });
  }
  const outsiders = replyOutsiders(
    { seq: Number(quoted.seq), senderId: quoted.senderId, receiverIds: quoted.receiverIds },
    receivers,
  );
  if (outsiders === "everyone") {
    throw narrowcastError(ErrorReason.REPLY_WIDENS_AUDIENCE, "a reply to a targeted message must be targeted within its audience", {
      field: "reply_to_message_id",
    });
  }
  if (outsiders.length) {
    throw narrowcastError(ErrorReason.REPLY_WIDENS_AUDIENCE, `receivers outside the quoted message's audience: ${outsiders.join(", ")}`, {
      field: "receiver_ids",
      ids: outsiders,
    });
  }
}

/** RPL-3: fills each reply's quote as `member` may see it now (one store read per quoted message). */
export async function withQuotes(deps: Deps, group: GroupRecord, member: MemberRecord, messages: Message[]): Promise<Message[]> {
  const ids = [...new Set(messages.flatMap((m) => (m.replyTo?.messageId ? [m.replyTo.messageId] : [])))];
  if (ids.length === 0) return messages;
  const found = await Promise.all(ids.map((id) => deps.store.getMessage(group.appId, group.groupId, id, member.userId)));
  const visible = new Map<string, Message>();
  for (const q of found) {
    if (!q || !visibleTo(group, member, q)) continue;
    // The quote is the message itself, not a thread: its own quote and its reactions stay out.
    if (q.replyTo) q.replyTo = create(ReplyToSchema, { messageId: q.replyTo.messageId });
    q.reactions = [];
    visible.set(q.messageId, q);
  }
  for (const m of messages) {
    if (!m.replyTo?.messageId) continue;
    const quoted = visible.get(m.replyTo.messageId);
    m.replyTo = create(ReplyToSchema, {
      messageId: m.replyTo.messageId,
      status: quoted ? QuoteStatus.AVAILABLE : QuoteStatus.UNAVAILABLE,
      quoted,
    });
  }
  return messages;
}
