// ConversationService: per-viewer unread, last message, mention flags; mark read (UNR-n, CNV-n).
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ConversationService, EventSchema } from "@narrowcast/gen";
import { callerOf, type Deps } from "../context.js";
import { LIST_SIZES, isActivityKey, openPage } from "../paging.js";
import { activityOf, conversationProto, requireGroup, requireMember, seqBound } from "./common.js";

const LIST_RPC = `${ConversationService.typeName}/${ConversationService.method.listConversations.name}`;

export function conversationService(deps: Deps): ServiceImpl<typeof ConversationService> {
  const { store } = deps;
  return {
    async listConversations(req, ctx) {
      const { appId, userId } = callerOf(ctx);
      const page = openPage(req, { rpc: LIST_RPC, appId, caller: userId }, LIST_SIZES, isActivityKey);
      // Every conversation is computed (in one store read) and sorted, then sliced: the order
      // (activity desc, group ID) depends on the viewer's last visible message, which no store
      // index holds. O(groups of the user) per page, acceptable at the reference server's scale;
      // a store-side activity index per member would make it O(page).
      const rows = (await store.conversations(appId, userId)).map(({ group, counters }) => {
        const conversation = conversationProto(group, counters);
        return { conversation, at: activityOf(group, conversation), groupId: group.groupId };
      });
      rows.sort((a, b) => b.at - a.at || (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
      const after = page.after;
      const start = after ? rows.findIndex((r) => r.at < after.at || (r.at === after.at && r.groupId > after.groupId)) : 0;
      const rest = start < 0 ? [] : rows.slice(start, start + page.size + 1);
      const { items, nextPageToken } = page.finish(rest, (r) => ({ at: r.at, groupId: r.groupId }));
      return { conversations: items.map((r) => r.conversation), nextPageToken };
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
      const readSeq = seqBound(req.readSeq, "read_seq");
      const group = await requireGroup(deps, appId, req.groupId);
      await requireMember(deps, group, userId);
      const { counters, event } = await store.markRead(appId, group.groupId, userId, readSeq, deps.now(), (c) =>
        create(EventSchema, {
          payload: { case: "conversationUpdated", value: { conversation: conversationProto(group, c) } },
        }),
      );
      // Rule UNR-3: a mark that does not move the read position has no event to send.
      deps.publish(event);
      return { conversation: conversationProto(group, counters) };
    },
  };
}
