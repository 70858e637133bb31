// ConversationService: per-viewer unread, last message, mention flags; mark read (UNR-n, CNV-n).
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ConversationService, EventSchema } from "@narrowcast/gen";
import { callerOf, type Deps } from "../context.js";
import { activityOf, conversationProto, requireGroup, requireMember } from "./common.js";
import { seqBound } from "./message-service.js";

export function conversationService(deps: Deps): ServiceImpl<typeof ConversationService> {
  const { store } = deps;
  return {
    async listConversations(_req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const groups = await store.listUserGroups(appId, userId);
      const rows = [];
      for (const g of groups) {
        const counters = await store.conversation(appId, g.groupId, userId);
        if (!counters) continue;
        const conversation = conversationProto(g, counters);
        rows.push({ conversation, at: activityOf(g, conversation) });
      }
      rows.sort((a, b) => b.at - a.at || a.conversation.groupId.localeCompare(b.conversation.groupId));
      return { conversations: rows.map((r) => r.conversation) };
    },

    async getConversation(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      await requireMember(deps, group, userId);
      const counters = await store.conversation(appId, group.groupId, userId);
      return { conversation: conversationProto(group, counters!) };
    },

    async markConversationRead(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const group = await requireGroup(deps, appId, req.groupId);
      await requireMember(deps, group, userId);
      const { counters, event } = await store.markRead(appId, group.groupId, userId, seqBound(req.readSeq), deps.now(), (c) =>
        create(EventSchema, {
          payload: { case: "conversationUpdated", value: { conversation: conversationProto(group, c) } },
        }),
      );
      deps.publish(event);
      return { conversation: conversationProto(group, counters) };
    },
  };
}
