// MessageService: send, fetch by ID, history pages, recall (rules MSG-n, TGT-n, GRP-6, GRP-7).
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason, GroupType, MessageService } from "@narrowcast/gen";
import { fieldInvalid, narrowcastError } from "../errors.js";
import { callerOf, type Deps } from "../context.js";
import { requireGroup, requireMember } from "./common.js";
import { recallMessage, sendMessage } from "./messaging.js";

const DEFAULT_PAGE = 20;

/** A seq from the wire as a store bound: every stored seq is a safe integer, so larger values clamp. */
export function seqBound(seq: bigint): number {
  return seq > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(seq);
}
const MAX_PAGE = 100;

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
      const message = await deps.store.getMessage(appId, group.groupId, req.messageId, userId);
      // Rule MSG-14: invisible and nonexistent look the same, history floor included (GRP-6).
      if (!message || (group.type !== GroupType.MEETING && Number(message.seq) <= member.joinSeq)) {
        throw narrowcastError(ErrorReason.MESSAGE_NOT_FOUND, "message not found", { field: "message_id" });
      }
      return { message };
    },

    async listMessages(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      if (req.limit > MAX_PAGE) throw fieldInvalid("limit", `limit must be at most ${MAX_PAGE}`);
      if (req.beforeSeq > 0n && req.afterSeq > 0n) throw fieldInvalid("after_seq", "set before_seq or after_seq, not both");
      const group = await requireGroup(deps, appId, req.groupId);
      const member = await requireMember(deps, group, userId);
      if (group.type === GroupType.AVCHATROOM) return { messages: [], hasMore: false };
      return deps.store.listMessages(appId, group.groupId, {
        viewerId: userId,
        floorSeq: group.type === GroupType.MEETING ? 0 : member.joinSeq,
        beforeSeq: seqBound(req.beforeSeq),
        afterSeq: seqBound(req.afterSeq),
        limit: req.limit || DEFAULT_PAGE,
      });
    },

    async recallMessage(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      return { message: await recallMessage(deps, appId, req.groupId, req.messageId, userId) };
    },
  };
}
