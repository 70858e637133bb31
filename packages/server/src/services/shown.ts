// What the read paths show of messages to one member (rules RCT-5, RPL-3, RCP-4): their
// reactions, their quotes, and the member's own messages' read receipts, as they are now. GetMessage, ListMessages and the reaction RPCs'
// responses go through here; events and last messages carry the stored message alone.
import { create } from "@bufbuild/protobuf";
import { ReactionCountSchema, ReadReceiptCountsSchema, type Message } from "@narrowcast/gen";
import type { Caller, Deps } from "../context.js";
import type { GroupRecord, MemberRecord } from "../store/types.js";
import { withQuotes } from "./replies.js";

export async function shownTo(deps: Deps, group: GroupRecord, member: MemberRecord, messages: Message[]): Promise<Message[]> {
  await Promise.all([
    withQuotes(deps, group, member, messages),
    withReceipts(deps, group, member, messages),
    withReactions(deps, { appId: group.appId, userId: member.userId }, group.groupId, messages),
  ]);
  return messages;
}

/** RCP-4: the receipt counts of the member's own messages that asked for them, in one store read. */
async function withReceipts(deps: Deps, group: GroupRecord, member: MemberRecord, messages: Message[]): Promise<void> {
  const own = messages.filter((m) => m.readReceiptsRequested && m.senderId === member.userId && m.seq > 0n);
  if (own.length === 0) return;
  const counts = await deps.store.receiptCounts(group.appId, group.groupId, own.map((m) => Number(m.seq)));
  for (const m of own) {
    const c = counts.get(Number(m.seq)) ?? { read: 0, unread: 0 };
    m.readReceipts = create(ReadReceiptCountsSchema, { readCount: c.read, unreadCount: c.unread });
  }
}

/**
 * RCT-5: fills `reactions` of messages the caller may see, in one store read. A recalled
 * message's are gone from the store (RCT-8).
 */
async function withReactions(deps: Deps, caller: Caller, groupId: string, messages: Message[]): Promise<Message[]> {
  const stored = messages.filter((m) => m.seq > 0n);
  if (stored.length === 0) return messages;
  const tallies = await deps.store.reactionCounts(caller.appId, groupId, stored.map((m) => Number(m.seq)), caller.userId);
  for (const m of stored) {
    m.reactions = (tallies.get(Number(m.seq)) ?? []).map((t) =>
      create(ReactionCountSchema, { reaction: t.reaction, count: t.count, callerReacted: t.callerReacted }),
    );
  }
  return messages;
}
