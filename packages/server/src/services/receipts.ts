// Read receipts (rules RCP-1 to RCP-6), a derived item (DRV-1): a sender asks for them at send
// time, the message's readers acknowledge it, and only the sender learns who has — while they may
// see the message. Anyone who may not see it gets the same MESSAGE_NOT_FOUND as for no message.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  ErrorReason,
  MessageService,
  ReadReceiptCountsSchema,
  ReadReceiptSchema,
  ReadState,
  type ListReadReceiptsRequest,
  type ListReadReceiptsResponseSchema,
  type SendReadReceiptsRequest,
} from "@narrowcast/gen";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { requireId } from "../ids.js";
import type { Caller, Deps } from "../context.js";
import { LIST_SIZES, isIdKey, openPage } from "../paging.js";
import { MAX_RECEIPT_MESSAGE_IDS, receiptsRefusal, type ReceiptRequestFacts } from "../rules/index.js";
import { requireGroup, requireMember, requireVisibleMessage, visibleTo } from "./common.js";

const LIST_RPC = `${MessageService.typeName}/${MessageService.method.listReadReceipts.name}`;

/** Check 19 of section 9.1 (RCP-1), for a send that asks for read receipts. */
export function checkReceiptsAllowed(facts: ReceiptRequestFacts): void {
  const refusal = receiptsRefusal(facts);
  if (refusal) throw narrowcastError(ErrorReason.READ_RECEIPTS_NOT_ALLOWED, refusal, { field: "request_read_receipts" });
}

/** SendReadReceipts (RCP-3, RCP-5): every ID must be visible; then each acknowledgement is recorded once. */
export async function sendReadReceipts(deps: Deps, caller: Caller, req: SendReadReceiptsRequest): Promise<void> {
  requireId(req.groupId, "group_id");
  const ids = [...new Set(req.messageIds)];
  if (ids.length === 0 || ids.length > MAX_RECEIPT_MESSAGE_IDS) {
    throw fieldInvalid("message_ids", `message_ids must hold 1 to ${MAX_RECEIPT_MESSAGE_IDS} message IDs`);
  }
  const group = await requireGroup(deps, caller.appId, req.groupId);
  const member = await requireMember(deps, group, caller.userId);
  const found = await Promise.all(ids.map((id) => deps.store.getMessage(caller.appId, group.groupId, id, caller.userId)));
  // DRV-1: hidden and nonexistent IDs are named alike, and nothing is recorded for any.
  const missing = ids.filter((_, i) => !found[i] || !visibleTo(group, member, found[i]!));
  if (missing.length) throw narrowcastError(ErrorReason.MESSAGE_NOT_FOUND, "messages not found", { field: "message_ids", ids: missing });
  const seqs = found.flatMap((m) => (m!.readReceiptsRequested && m!.senderId !== caller.userId ? [Number(m!.seq)] : []));
  if (seqs.length === 0) return;
  for (const event of await deps.store.acknowledge(caller.appId, group.groupId, caller.userId, seqs, deps.now())) deps.publish(event);
}

/** ListReadReceipts (RCP-4): the sender's view of who has read the message, and who has not. */
export async function listReadReceipts(
  deps: Deps,
  caller: Caller,
  req: ListReadReceiptsRequest,
): Promise<MessageInitShape<typeof ListReadReceiptsResponseSchema>> {
  requireId(req.groupId, "group_id");
  if (!req.messageId) throw fieldInvalid("message_id", "message_id is required");
  if (req.state !== ReadState.READ && req.state !== ReadState.UNREAD) throw fieldInvalid("state", "state must be READ or UNREAD");
  const page = openPage(
    req,
    { rpc: LIST_RPC, appId: caller.appId, caller: caller.userId, groupId: req.groupId, filters: `${req.messageId}|${req.state}` },
    LIST_SIZES,
    isIdKey,
  );
  const group = await requireGroup(deps, caller.appId, req.groupId);
  const member = await requireMember(deps, group, caller.userId);
  const message = await requireVisibleMessage(deps, group, member, req.messageId);
  if (message.senderId !== caller.userId) {
    throw narrowcastError(ErrorReason.READ_RECEIPTS_SENDER_ONLY, "only the message's sender may read its receipts", { field: "message_id" });
  }
  const seq = Number(message.seq);
  const [found, counts] = await Promise.all([
    deps.store.listReceipts(caller.appId, group.groupId, seq, req.state === ReadState.READ, { after: page.after, limit: page.size + 1 }),
    deps.store.receiptCounts(caller.appId, group.groupId, [seq]),
  ]);
  const { items, nextPageToken } = page.finish(found, (r) => r.userId);
  const c = counts.get(seq) ?? { read: 0, unread: 0 };
  return {
    receipts: items.map((r) => create(ReadReceiptSchema, { userId: r.userId, readTime: r.readAt === undefined ? undefined : timestampFromMs(r.readAt) })),
    nextPageToken,
    counts: create(ReadReceiptCountsSchema, { readCount: c.read, unreadCount: c.unread }),
  };
}
