// Conversations (CNV): one per current group, ordered by activity, with a per-viewer last message.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { describeMessage } from "../events.js";
import { sleep } from "../subscription.js";
import { expectLastMessage } from "./util.js";

export const cnvCases = [
  defineCase({
    id: "cnv-list-by-activity",
    rules: ["CNV-1"],
    requirement: "ListConversations returns one conversation per current group, most recent activity first, and none for other groups.",
    async run(ctx) {
      const w = await ctx.world({ groupId: "g1" });
      const g2 = await w.app.createGroup(GroupType.PUBLIC, { owner: "alice", members: ["bob"], groupId: "g2" });
      const g3 = await w.app.createGroup(GroupType.COMMUNITY, { owner: "bob", members: ["alice"], groupId: "g3" });
      await w.app.createGroup(GroupType.WORK, { owner: "carol", groupId: "g4" });
      // Short pauses keep server timestamps distinct; the order is what is checked.
      await w.user("alice").send(g2, "first");
      await sleep(15);
      await w.user("alice").send(g3, "second");
      await sleep(15);
      await w.user("alice").send(w.groupId, "third");
      const list = (await w.user("bob").conversations.listConversations({})).conversations;
      expectEqual(list.map((c) => c.groupId), [w.groupId, g3, g2], "bob's conversations, most recent first");
      expectEqual(list.map((c) => GroupType[c.groupType]), ["WORK", "COMMUNITY", "PUBLIC"], "group types of bob's conversations");
      await sleep(15);
      await w.user("bob").send(g2, "bump");
      const again = (await w.user("bob").conversations.listConversations({})).conversations;
      expectEqual(again.map((c) => c.groupId), [g2, w.groupId, g3], "bob's conversations after new activity in g2");
    },
  }),
  defineCase({
    id: "cnv-left-group-gone",
    rules: ["CNV-1", "GRP-10"],
    requirement: "After leaving a group its conversation is no longer listed and GetConversation is PermissionDenied NOT_A_MEMBER.",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, "hi");
      await w.user("carol").groups.leaveGroup({ groupId: w.groupId });
      const list = (await w.user("carol").conversations.listConversations({})).conversations;
      expectEqual(list.map((c) => c.groupId), [], "carol's conversations after leaving");
      await expectError(w.user("carol").conversations.getConversation({ groupId: w.groupId }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
        what: "GetConversation after leaving",
      });
      await expectError(w.user("erin").conversations.getConversation({ groupId: w.groupId }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
        what: "GetConversation by a user who never joined",
      });
    },
  }),
  defineCase({
    id: "cnv-last-message",
    rules: ["CNV-2"],
    requirement: "last_message is absent for an empty group, is the highest-seq visible message, and shows as recalled once recalled.",
    async run(ctx) {
      const w = await ctx.world();
      const empty = await w.user("bob").conversation(w.groupId);
      check(!empty.lastMessage, "an empty group has a last message", "no last_message", describeMessage(empty.lastMessage));
      await w.user("alice").send(w.groupId, "one");
      const two = await w.user("carol").send(w.groupId, "two");
      const c = await w.user("bob").conversation(w.groupId);
      expectLastMessage(c, two.messageId, "bob's conversation");
      expectEqual(Number(c.lastMessage?.seq), 2, "seq of the last message");
      await w.user("carol").messages.recallMessage({ groupId: w.groupId, messageId: two.messageId });
      const after = await w.user("bob").conversation(w.groupId);
      expectLastMessage(after, two.messageId, "bob's conversation after recall");
      check(after.lastMessage?.recall && after.lastMessage.elements.length === 0, "a recalled last message still shows its content", "recall set, no elements", describeMessage(after.lastMessage));
    },
  }),
  defineCase({
    id: "cnv-exclude-from-last-message",
    rules: ["CNV-3"],
    requirement: "Messages sent with exclude_from_last_message are never a conversation's last message.",
    async run(ctx) {
      const w = await ctx.world();
      const kept = await w.user("alice").send(w.groupId, "visible");
      await w.user("alice").send(w.groupId, { text: "hidden", excludeFromLastMessage: true });
      for (const user of ["alice", "bob"]) expectLastMessage(await w.user(user).conversation(w.groupId), kept.messageId, `${user}'s conversation`);
      const w2 = await ctx.world({ groupId: "only-excluded" });
      await w2.user("alice").send(w2.groupId, { excludeFromLastMessage: true });
      expectLastMessage(await w2.user("bob").conversation(w2.groupId), "", "a group with only an excluded message");
    },
  }),
  defineCase({
    id: "cnv-per-viewer-fields",
    rules: ["CNV-1", "UNR-1", "CNV-2"],
    requirement: "GetConversation and ListConversations compute unread, read_seq and last message for the caller.",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, "1");
      await w.user("bob").send(w.groupId, "2");
      const listed = (await w.user("carol").conversations.listConversations({})).conversations[0];
      const got = await w.user("carol").conversation(w.groupId);
      const view = (c: typeof got | undefined) => ({ group: c?.groupId, unread: Number(c?.unreadCount), readSeq: Number(c?.readSeq), last: Number(c?.lastMessage?.seq) });
      expectEqual(view(listed), { group: w.groupId, unread: 2, readSeq: 0, last: 2 }, "carol's conversation in ListConversations");
      expectEqual(view(got), view(listed), "GetConversation vs. ListConversations");
      expectEqual(view(await w.user("bob").conversation(w.groupId)), { group: w.groupId, unread: 0, readSeq: 2, last: 2 }, "bob's conversation");
    },
  }),
  defineCase({
    id: "cnv-order-ignores-invisible",
    rules: ["CNV-1", "TGT-4", "VIS-1", "CNV-3"],
    requirement:
      "A conversation's activity is the server_time of the viewer's last message (or the group's creation): a targeted message to others or an exclude_from_last_message message does not move the viewer's conversation forward; it does for the receiver.",
    async run(ctx) {
      const w = await ctx.world({ groupId: "g1" });
      const g2 = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", "carol"], groupId: "g2" });
      await w.user("alice").send(w.groupId, "older, in g1");
      await sleep(15);
      await w.user("alice").send(g2, "newer, in g2");
      await sleep(15);
      await w.user("alice").send(w.groupId, { text: "for carol only", receiverIds: ["carol"] });
      await sleep(15);
      await w.user("alice").send(w.groupId, { text: "not a last message", excludeFromLastMessage: true });
      const order = async (user: string) => (await w.user(user).allConversations()).map((c) => c.groupId);
      expectEqual(await order("bob"), [g2, w.groupId], "bob's conversations (the targeted message to carol and the excluded one do not count as his activity)");
      expectEqual(await order("carol"), [w.groupId, g2], "carol's conversations (the targeted message to her is her last message)");
    },
  }),
];
