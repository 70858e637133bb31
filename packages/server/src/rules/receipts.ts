// Read receipts (rules RCP-1, RCP-3): which messages may ask for them, and how many a request may
// acknowledge. Who the readers are (RCP-2) is fixed in the send's transaction by the stores; who
// may see the receipts (RCP-4) and who is told (RCP-5) are the sender, while VIS-1 lets them.

/** RCP-1: an ordinary message asks for receipts only in a group of at most this many members. */
export const MAX_RECEIPT_GROUP_MEMBERS = 200;
/** RCP-3: message IDs one SendReadReceipts acknowledges at most. */
export const MAX_RECEIPT_MESSAGE_IDS = 100;

/** What RCP-1 looks at when a send asks for read receipts. */
export interface ReceiptRequestFacts {
  /** False for online-only and AVCHATROOM messages. */
  stored: boolean;
  /** The system sender (MSG-13). */
  system: boolean;
  targeted: boolean;
  /** The group's members at send time. */
  memberCount: number;
}

/** RCP-1: why the message may not ask for read receipts, or undefined when it may. */
export function receiptsRefusal(m: ReceiptRequestFacts): string | undefined {
  if (!m.stored) return "only stored messages can ask for read receipts";
  if (m.system) return "system messages cannot ask for read receipts";
  if (!m.targeted && m.memberCount > MAX_RECEIPT_GROUP_MEMBERS) {
    return `ordinary messages ask for read receipts only in groups of at most ${MAX_RECEIPT_GROUP_MEMBERS} members`;
  }
  return undefined;
}
