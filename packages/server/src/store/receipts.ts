// What both stores share of read receipts (rules RCP-4, RCP-5): the MessageRead event an
// acknowledgement appends, and whether its one recipient, the message's sender, may have it.
// The stores only read and write the rows (table `receipts`, one row per reader).
import { create } from "@bufbuild/protobuf";
import { EventSchema, type Event, type GroupType } from "@narrowcast/gen";
import { maySee } from "../rules/index.js";
import type { ReceiptCounts } from "./types.js";

/** RCP-5: the event telling the sender that `readerId` acknowledged the message. */
export function messageReadEvent(groupId: string, messageId: string, seq: number, readerId: string, counts: ReceiptCounts): Event {
  return create(EventSchema, {
    payload: {
      case: "messageRead",
      value: { groupId, messageId, seq: BigInt(seq), readerId, counts: { readCount: counts.read, unreadCount: counts.unread } },
    },
  });
}

/**
 * RCP-5, VIS-1: whether the sender, a current member since `joinSeq` (undefined: not a member),
 * may see their own message with this seq now, and so be told of its receipts. `inAudience` is
 * the store's audience of the message for that user ID (TGT-4: for a targeted message, its
 * `message_audience` row, which a user deleted since has lost: ADM-11).
 */
export function senderMaySee(senderId: string, groupType: GroupType, joinSeq: number | undefined, seq: number, inAudience: boolean): boolean {
  if (joinSeq === undefined || !inAudience) return false;
  return maySee({ userId: senderId, groupType, joinSeq }, { seq, senderId, receiverIds: [] });
}
