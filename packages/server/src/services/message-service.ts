// MessageService: send, fetch by ID, history pages, recall, edit, reactions, read receipts (rules MSG-n, TGT-n, EDT-n, RCT-n, RCP-n, GRP-6, GRP-7).
import type { ServiceImpl } from "@connectrpc/connect";
import { GroupType, MessageService, type ListMessagesRequest } from "@narrowcast/gen";
import { fieldInvalid } from "../errors.js";
import { callerOf, type Deps } from "../context.js";
import { MESSAGE_SIZES, decodePageToken, encodePageToken, pageSizeOf, type PageScope } from "../paging.js";
import { historyFloor } from "../rules/index.js";
import { requireGroup, requireMember, requireVisibleMessage, seqBound } from "./common.js";
import { recallMessage, sendMessage } from "./messaging.js";
import { editMessage } from "./editing.js";
import { changeReaction, listReactions } from "./reactions.js";
import { shownTo } from "./shown.js";
import { listReadReceipts, sendReadReceipts } from "./receipts.js";

const LIST_RPC = `${MessageService.typeName}/${MessageService.method.listMessages.name}`;

/** A message page key: the seq the next page starts beyond. */
function isPageSeq(a: unknown): a is number {
  return Number.isSafeInteger(a) && (a as number) > 0;
}

/**
 * The first page's anchors and direction of a ListMessages walk (rule MSG-12). A page token
 * repeats them: they are part of its scope, so a token with other anchors is PAGE_TOKEN_INVALID.
 */
function anchorsOf(req: ListMessagesRequest) {
  // The anchors have presence: after_seq = 0 walks forward from the first message, before_seq = 0
  // selects nothing; unset means no anchor (the latest messages, walking back).
  const beforeSeq = req.beforeSeq === undefined ? undefined : seqBound(req.beforeSeq, "before_seq");
  const afterSeq = req.afterSeq === undefined ? undefined : seqBound(req.afterSeq, "after_seq");
  if (beforeSeq !== undefined && afterSeq !== undefined) throw fieldInvalid("after_seq", "set before_seq or after_seq, not both");
  return { beforeSeq, afterSeq, direction: afterSeq !== undefined ? ("forward" as const) : ("backward" as const) };
}

export function messageService(deps: Deps): ServiceImpl<typeof MessageService> {
  return {
    async sendMessage(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      return { message: await sendMessage(deps, { appId, senderId: userId }, req) };
    },

    async getMessage(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      if (!req.messageId) throw fieldInvalid("message_id", "message_id is required");
      const group = await requireGroup(deps, appId, req.groupId);
      const member = await requireMember(deps, group, userId);
      // Rule MSG-14: invisible and nonexistent look the same, history floor included (GRP-6).
      const message = await requireVisibleMessage(deps, group, member, req.messageId);
      const [shown] = await shownTo(deps, group, member, [message]);
      return { message: shown };
    },

    async listMessages(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const size = pageSizeOf(req.pageSize, MESSAGE_SIZES);
      const anchors = anchorsOf(req);
      const scope: PageScope = {
        rpc: LIST_RPC,
        appId,
        caller: userId,
        groupId: req.groupId,
        filters: `before=${anchors.beforeSeq ?? "-"};after=${anchors.afterSeq ?? "-"}`,
      };
      const after = req.pageToken ? decodePageToken(req.pageToken, scope, isPageSeq) : undefined;
      const group = await requireGroup(deps, appId, req.groupId);
      const member = await requireMember(deps, group, userId);
      if (group.type === GroupType.AVCHATROOM) return { messages: [], nextPageToken: "" };
      const forward = anchors.direction === "forward";
      // The store reads beforeSeq 0 as "no upper bound"; an explicit before_seq 0 selects nothing.
      const upper = forward ? 0 : (after ?? anchors.beforeSeq ?? 0);
      if (!forward && upper === 0 && (after ?? anchors.beforeSeq) !== undefined) return { messages: [], nextPageToken: "" };
      const { messages, hasMore } = await deps.store.listMessages(appId, group.groupId, {
        viewerId: userId,
        floorSeq: historyFloor(group.type, member.joinSeq),
        direction: anchors.direction,
        beforeSeq: upper,
        afterSeq: forward ? (after ?? anchors.afterSeq ?? 0) : 0,
        limit: size,
      });
      // Messages are ascending within the page; the walk continues beyond its far end.
      const edge = forward ? messages[messages.length - 1] : messages[0];
      const nextPageToken = hasMore && edge ? encodePageToken(scope, Number(edge.seq)) : "";
      return { messages: await shownTo(deps, group, member, messages), nextPageToken };
    },

    async recallMessage(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      return { message: await recallMessage(deps, appId, req.groupId, req.messageId, userId) };
    },

    async editMessage(req, ctx) {
      return { message: await editMessage(deps, callerOf(ctx), req) };
    },

    async addReaction(req, ctx) {
      return { message: await changeReaction(deps, callerOf(ctx), req, true) };
    },

    async removeReaction(req, ctx) {
      return { message: await changeReaction(deps, callerOf(ctx), req, false) };
    },

    listReactions(req, ctx) {
      return listReactions(deps, callerOf(ctx), req);
    },

    async sendReadReceipts(req, ctx) {
      await sendReadReceipts(deps, callerOf(ctx), req);
      return {};
    },

    listReadReceipts(req, ctx) {
      return listReadReceipts(deps, callerOf(ctx), req);
    },
  };
}
