// Per-viewer state: conversation order, last message and unread for late joiners and hidden messages
// (CNV, UNR), history pages of a viewer's own targeted messages, and what a send or a user means after
// the world changed: idempotent retries (MSG-10) and re-imported users (ADM-11).
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, type Message } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import type { ConformanceCase } from "../case.js";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { describeMessage } from "../events.js";
import type { UserHandle } from "../fixtures.js";
import { sleep } from "../subscription.js";
import { expectInvisible, expectLastMessage, expectSeqs, expectUnread, seqsOf } from "./util.js";

/** The user's conversations' group IDs, in ListConversations order. */
async function conversationOrder(user: UserHandle): Promise<string[]> {
  return (await user.allConversations()).map((c) => c.groupId);
}

/** Walks ListMessages page by page (repeating the anchors) and returns each page's seqs. */
async function walkPages(user: UserHandle, groupId: string, pageSize: number, anchors: { afterSeq?: bigint } = {}): Promise<number[][]> {
  const pages: number[][] = [];
  let pageToken = "";
  for (let i = 0; i < 50; i++) {
    const res = await user.messages.listMessages({ groupId, pageSize, pageToken, ...anchors });
    pages.push(seqsOf(res.messages));
    if (res.nextPageToken === "") return pages;
    pageToken = res.nextPageToken;
  }
  return pages;
}

/** Checks that a retried send returned the original message. */
function expectOriginal(retry: Message, original: Message, what: string): void {
  expectEqual([retry.messageId, Number(retry.seq)], [original.messageId, Number(original.seq)], `[message_id, seq] of ${what}`);
}

export const viewerCases: ConformanceCase[] = [
  defineCase({
    id: "viewer-late-joiner-last-message",
    rules: ["CNV-2", "CNV-3", "CNV-1", "GRP-6", "VIS-1", "VIS-3", "MSG-12", "TGT-4"],
    requirement:
      "A member who joined a WORK group late has no last message and no history from before the join, whatever the ListMessages anchor; a targeted message excluded from last message never becomes one; the order of conversations follows each viewer's own last message; a MEETING member who re-joins finds their last eligible targeted message again.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob"], others: ["erin"], groupId: "g1" });
      const g1 = w.groupId;
      const alice = w.user("alice");
      const erin = w.user("erin");
      const g2 = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", "erin"], groupId: "g2" });
      await alice.send(g1, "first, before erin joined");
      const beforeErin = await alice.send(g1, "second, before erin joined");
      // Short pauses keep server timestamps distinct; the order is what is checked.
      await sleep(15);
      await alice.send(g2, "in g2");
      await sleep(15);
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: g1, userIds: ["erin"] });
      let c = await erin.conversation(g1);
      expectLastMessage(c, "", "erin's g1 conversation right after joining (every message lies at or below her history floor)");
      expectEqual(Number(c.readSeq), 2, "erin's read_seq right after joining (the latest seq)");
      for (const anchors of [{}, { afterSeq: 0n }, { afterSeq: 1n }, { beforeSeq: 3n }]) {
        const res = await erin.messages.listMessages({ groupId: g1, ...anchors });
        expectEqual([seqsOf(res.messages), res.nextPageToken], [[], ""], `erin's ListMessages ${JSON.stringify(anchors, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))} (nothing above her history floor yet)`);
      }
      expectEqual(await conversationOrder(erin), [g2, g1], "erin's conversations (g1's activity is its creation: nothing in it is hers to see)");

      // A targeted message to erin that must not become her last message, then one that may.
      const hidden = await alice.send(g1, { text: "for erin, never a last message", receiverIds: ["erin"], excludeFromLastMessage: true });
      c = await erin.conversation(g1);
      expectLastMessage(c, "", "erin's g1 conversation after a targeted message with exclude_from_last_message");
      expectEqual(await conversationOrder(erin), [g2, g1], "erin's conversations after a message that is not a last message");
      await sleep(15);
      const forErin = await alice.send(g1, { text: "for erin", receiverIds: ["erin"] });
      await alice.send(g1, { text: "ordinary, never a last message", excludeFromLastMessage: true });
      expectLastMessage(await erin.conversation(g1), forErin.messageId, "erin's g1 conversation (her targeted message; the newer one is excluded)");
      expectLastMessage(await w.user("bob").conversation(g1), beforeErin.messageId, "bob's g1 conversation (the targeted messages are erin's, the newest is excluded)");
      expectEqual(await conversationOrder(erin), [g1, g2], "erin's conversations (her last g1 message is newer than g2's)");
      expectEqual(await conversationOrder(w.user("bob")), [g2, g1], "bob's conversations (nothing newer in g1 is his to see as last message)");
      expectSeqs(await erin.history(g1), [Number(hidden.seq), Number(forErin.seq), Number(forErin.seq) + 1], "erin's g1 history");

      // MEETING: a re-joined member's last message is their newest eligible message, targeted ones included.
      const gm = await w.app.createGroup(GroupType.MEETING, { owner: "alice", members: ["bob"], groupId: "gm" });
      const meetingOrdinary = await alice.send(gm, "ordinary");
      const eligible = await alice.send(gm, { text: "for bob", receiverIds: ["bob"] });
      const excluded = await alice.send(gm, { text: "for bob, never a last message", receiverIds: ["bob"], excludeFromLastMessage: true });
      expectLastMessage(await w.user("bob").conversation(gm), eligible.messageId, "bob's MEETING conversation before leaving");
      await w.user("bob").groups.leaveGroup({ groupId: gm });
      await w.user("bob").groups.joinGroup({ groupId: gm });
      const back = await w.user("bob").conversation(gm);
      expectLastMessage(back, eligible.messageId, "bob's MEETING conversation after re-joining (his newest targeted message that may be a last message)");
      check(back.lastMessage?.messageId !== excluded.messageId, "a message with exclude_from_last_message became a last message", "not the excluded message", describeMessage(back.lastMessage));
      // A late joiner of a MEETING group has no history floor: the ordinary message from before is theirs.
      await erin.groups.joinGroup({ groupId: gm });
      expectLastMessage(await erin.conversation(gm), meetingOrdinary.messageId, "erin's MEETING conversation after joining late (the targeted messages are bob's)");
      expectSeqs(await erin.history(gm), [Number(meetingOrdinary.seq)], "erin's MEETING history after joining late");
    },
  }),
  defineCase({
    id: "viewer-reimported-user-is-new",
    rules: ["ADM-11", "VIS-1", "MSG-10", "CNV-2"],
    requirement:
      "A user deleted and imported again under the same ID is a new user: in a MEETING group they see none of the targeted messages the deleted user sent or received (history, GetMessage, last message), and the deleted user's client_message_id sends a new message.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.MEETING });
      const g = w.groupId;
      const ordinary = await w.user("alice").send(g, "for everyone");
      const toBob = await w.user("alice").send(g, { text: "for bob", receiverIds: ["bob"] });
      const request = { text: "for carol, from bob", receiverIds: ["carol"], clientMessageId: "k-1" };
      const fromBob = await w.user("bob").send(g, request);
      await ctx.admin.deleteUser({ appId: w.app.appId, userId: "bob" });
      await w.app.importUsers(["bob"]);
      await w.user("bob").groups.joinGroup({ groupId: g });
      const bob = w.user("bob");
      for (const [m, why] of [
        [toBob, "targeted to the deleted bob"],
        [fromBob, "sent by the deleted bob"],
      ] as const) {
        await expectInvisible(bob, g, m, why);
      }
      expectLastMessage(await bob.conversation(g), ordinary.messageId, "the new bob's conversation (the ordinary message is the newest he may see)");
      const again = await bob.send(g, request);
      check(again.messageId !== fromBob.messageId, "the new bob's send with the deleted bob's client_message_id returned the deleted bob's message", "a new message", describeMessage(again));
      expectEqual(Number(again.seq), Number(fromBob.seq) + 1, "seq of the new bob's message");
    },
  }),
  defineCase({
    id: "viewer-history-pages-own-targeted",
    rules: ["MSG-12", "PAG-1", "TGT-4"],
    requirement:
      "ListMessages pages mix ordinary messages with the viewer's own targeted messages in seq order, backward and forward, when the viewer's targeted messages outnumber a page; targeted messages to others are skipped.",
    async run(ctx) {
      const w = await ctx.world();
      for (let i = 1; i <= 3; i++) await w.app.adminSend("alice", w.groupId, `ordinary ${i}`);
      for (let i = 1; i <= 5; i++) await w.app.adminSend("alice", w.groupId, { text: `for bob ${i}`, receiverIds: ["bob"] });
      await w.app.adminSend("alice", w.groupId, { text: "for carol", receiverIds: ["carol"] });
      const bob = w.user("bob");
      expectEqual(await walkPages(bob, w.groupId, 2), [[7, 8], [5, 6], [3, 4], [1, 2]], "bob's pages of 2, walking backward from the latest");
      expectEqual(await walkPages(bob, w.groupId, 2, { afterSeq: 0n }), [[1, 2], [3, 4], [5, 6], [7, 8]], "bob's pages of 2, walking forward from after_seq 0");
      expectEqual(await walkPages(bob, w.groupId, 3, { afterSeq: 4n }), [[5, 6, 7], [8]], "bob's pages of 3, walking forward from after_seq 4");
      expectEqual(await walkPages(w.user("carol"), w.groupId, 2), [[3, 9], [1, 2]], "carol's pages of 2, walking backward");
      expectEqual(await walkPages(w.user("alice"), w.groupId, 4), [[6, 7, 8, 9], [2, 3, 4, 5], [1]], "alice's pages of 4 (she sent every targeted message)");
    },
  }),
  defineCase({
    id: "viewer-unread-across-rejoin",
    rules: ["UNR-1", "UNR-3", "UNR-5", "UNR-6", "VIS-3", "TGT-6"],
    requirement:
      "Unread counts targeted messages that count for the viewer; the viewer's own send clears them; after leaving and re-joining, marking read counts only the new membership's messages: targeted messages of the earlier membership neither count nor cancel ordinary ones.",
    async run(ctx) {
      const w = await ctx.world();
      const g = w.groupId;
      const alice = w.user("alice");
      const bob = w.user("bob");
      const counted = (text: string) => alice.send(g, { text, receiverIds: ["bob"], countAsUnreadForReceivers: true });
      await counted("t1");
      await counted("t2");
      await expectUnread(bob, g, 2, "two targeted messages that count for him");
      const reply = await bob.send(g, "bob replies");
      const afterReply = await expectUnread(bob, g, 0, "after his own send (UNR-5 moves his read position past both)");
      expectEqual(Number(afterReply.readSeq), Number(reply.seq), "bob's read_seq after his send");
      await counted("t3");
      await expectUnread(bob, g, 1, "one more counted targeted message");
      await bob.groups.leaveGroup({ groupId: g });
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: g, userIds: ["bob"] });
      const rejoined = await expectUnread(bob, g, 0, "just re-joined");
      expectEqual(Number(rejoined.readSeq), 4, "bob's read_seq after re-joining (the latest seq)");
      const o1 = await alice.send(g, "o1");
      const o2 = await alice.send(g, "o2");
      await alice.send(g, "o3");
      await expectUnread(bob, g, 3, "three ordinary messages after the re-join");
      const mark = async (m: Message, expected: number) => {
        const res = await bob.conversations.markConversationRead({ groupId: g, readSeq: m.seq });
        expectEqual([Number(res.conversation?.readSeq), Number(res.conversation?.unreadCount)], [Number(m.seq), expected], `MarkConversationRead(read_seq=${m.seq}) after the re-join: [read_seq, unread]`);
        await expectUnread(bob, g, expected, `after marking read up to seq ${m.seq}`);
      };
      await mark(o1, 2);
      await counted("t4");
      await expectUnread(bob, g, 3, "two ordinary and one counted targeted message unread");
      await mark(o2, 2);
      await bob.conversations.markConversationRead({ groupId: g, readSeq: 0n });
      await expectUnread(bob, g, 0, "after marking everything read");
    },
  }),
  defineCase({
    id: "viewer-idempotent-retry-after-changes",
    rules: ["MSG-10", "TGT-5", "MSG-6", "TGT-9", "MSG-15"],
    requirement:
      "A retry with the same client_message_id returns the original message even after the world changed: its receiver left, its mentioned user was removed, the app lost the targeted plan; nothing new is stored.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const g = w.groupId;
      const alice = w.user("alice");
      const targetedReq = { text: "for bob", receiverIds: ["bob"], clientMessageId: "k-targeted" };
      const mentionReq = { text: "@carol", mentionedUserIds: ["carol"], clientMessageId: "k-mention" };
      const targeted = await alice.send(g, targetedReq);
      const mention = await alice.send(g, mentionReq);
      await w.user("bob").groups.leaveGroup({ groupId: g });
      await ctx.admin.removeMembers({ appId: w.app.appId, groupId: g, userIds: ["carol"] });
      expectOriginal(await alice.send(g, targetedReq), targeted, "a retry of a targeted message whose receiver has left");
      expectOriginal(await alice.send(g, mentionReq), mention, "a retry of a message whose mentioned user was removed");
      // A new send is checked against the current members: those who left are not members any more.
      await expectError(alice.send(g, { ...mentionReq, clientMessageId: "k-mention-2" }), Code.FailedPrecondition, ErrorReason.MENTIONED_USER_NOT_MEMBER, {
        ids: ["carol"],
        what: "a new send mentioning a user who was removed",
      });
      await expectError(alice.send(g, { ...targetedReq, clientMessageId: "k-targeted-2" }), Code.FailedPrecondition, ErrorReason.RECEIVER_NOT_MEMBER, {
        ids: ["bob"],
        what: "a new send targeted to a receiver who left",
      });
      await ctx.admin.setAppPlan({ appId: w.app.appId, plan: Plan.STANDARD });
      const retried = await alice.send(g, targetedReq);
      expectOriginal(retried, targeted, "a retry of a targeted message after the app moved to a plan without targeted messages");
      expectEqual(retried.receiverIds, ["bob"], "receiver_ids of the retried targeted message");
      expectSeqs(await alice.history(g), [1, 2], "alice's history after the retries (nothing new stored)");
      expectSeqs(await w.user("dave").history(g), [2], "dave's history after the retries");
      const next = await alice.send(g, { text: "a new message", clientMessageId: "k-new" });
      expectEqual(Number(next.seq), 3, "seq of the next new message (the retries consumed none)");
    },
  }),
];
