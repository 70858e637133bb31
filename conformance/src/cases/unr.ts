// Unread counts and mention flags (UNR), computed per viewer.
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { Code } from "@connectrpc/connect";
import { defineCase } from "../case.js";
import { expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { isConversationUpdate } from "../events.js";
import { expectUnread } from "./util.js";

export const unrCases = [
  defineCase({
    id: "unr-counts-others-messages",
    rules: ["UNR-1", "UNR-5"],
    requirement: "Unread counts other members' stored messages after the read position; a sender's own messages never count for them.",
    async run(ctx) {
      const w = await ctx.world();
      for (let i = 0; i < 3; i++) await w.user("bob").send(w.groupId, `b${i}`);
      await expectUnread(w.user("alice"), w.groupId, 3, "three messages from bob");
      const bob = await expectUnread(w.user("bob"), w.groupId, 0, "bob's own messages");
      expectEqual(Number(bob.readSeq), 3, "bob's read_seq after sending seq 3");
    },
  }),
  defineCase({
    id: "unr-sender-read-position",
    rules: ["UNR-5"],
    requirement: "Sending a stored message moves the sender's read position to its seq, clearing what came before.",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, "1");
      await w.user("alice").send(w.groupId, { text: "2", mentionedUserIds: ["bob"] });
      await expectUnread(w.user("bob"), w.groupId, 2, "before bob replies");
      const reply = await w.user("bob").send(w.groupId, "3");
      const c = await expectUnread(w.user("bob"), w.groupId, 0, "after bob replied");
      expectEqual(Number(c.readSeq), Number(reply.seq), "bob's read_seq after replying");
      expectEqual(c.mentionedMe, false, "bob's mentioned_me after replying past the mention");
    },
  }),
  defineCase({
    id: "unr-meeting-and-avchatroom-zero",
    rules: ["UNR-2", "GRP-1"],
    requirement: "MEETING and AVCHATROOM conversations always have unread 0.",
    async run(ctx) {
      for (const type of [GroupType.MEETING, GroupType.AVCHATROOM]) {
        const w = await ctx.world({ type });
        await w.user("alice").send(w.groupId, "hello");
        await w.app.adminSend("", w.groupId, "system");
        await expectUnread(w.user("bob"), w.groupId, 0, `${GroupType[type]} group`);
      }
    },
  }),
  defineCase({
    id: "unr-mark-read",
    rules: ["UNR-3", "EVT-2"],
    requirement: "MarkConversationRead moves the read position forward only (0 = latest, clamped to latest) and sends ConversationUpdated to all the user's subscriptions only.",
    async run(ctx) {
      const w = await ctx.world();
      for (let i = 1; i <= 5; i++) await w.user("alice").send(w.groupId, `m${i}`);
      const phone = await w.user("bob").subscribe({}, "bob's phone");
      const laptop = await w.user("bob").subscribe({}, "bob's laptop");
      const carol = await w.user("carol").subscribe();
      const mark = async (readSeq: bigint) => (await w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq })).conversation;
      const steps: [bigint, number, number][] = [
        [3n, 3, 2],
        [1n, 3, 2],
        [0n, 5, 0],
        [99n, 5, 0],
      ];
      for (const [readSeq, expectedSeq, expectedUnread] of steps) {
        const c = await mark(readSeq);
        expectEqual({ readSeq: Number(c?.readSeq), unread: Number(c?.unreadCount) }, { readSeq: expectedSeq, unread: expectedUnread }, `MarkConversationRead(read_seq=${readSeq})`);
      }
      await expectUnread(w.user("bob"), w.groupId, 0, "after marking all read");
      for (const sub of [phone, laptop]) {
        const e = await sub.waitFor("ConversationUpdated with read_seq 3", (ev) => isConversationUpdate(w.groupId)(ev) && ev.payload.case === "conversationUpdated" && Number(ev.payload.value.conversation?.readSeq) === 3);
        expectEqual(e.payload.case, "conversationUpdated", "event kind");
      }
      await carol.expectNone("bob's ConversationUpdated", isConversationUpdate(w.groupId));
      await expectUnread(w.user("carol"), w.groupId, 5, "carol (bob's reads do not affect her)");
    },
  }),
  defineCase({
    id: "unr-exclude-from-unread",
    rules: ["UNR-4"],
    requirement: "Messages sent with exclude_from_unread never count as unread.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("alice").send(w.groupId, { excludeFromUnread: true });
      expectEqual(sent.excludeFromUnread, true, "exclude_from_unread echoed");
      await w.app.adminSend("", w.groupId, { excludeFromUnread: true });
      await expectUnread(w.user("bob"), w.groupId, 0, "two excluded messages");
      await w.user("alice").send(w.groupId, "counted");
      await expectUnread(w.user("bob"), w.groupId, 1, "two excluded and one counted message");
    },
  }),
  defineCase({
    id: "unr-join-sets-read-position",
    rules: ["UNR-6", "GRP-4"],
    requirement: "Joining a group sets the read position to the latest seq: unread is 0 on join, and later messages count.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.COMMUNITY });
      for (let i = 0; i < 3; i++) await w.user("alice").send(w.groupId, `old ${i}`);
      await w.user("erin").groups.joinGroup({ groupId: w.groupId });
      const c = await expectUnread(w.user("erin"), w.groupId, 0, "just joined");
      expectEqual(Number(c.readSeq), 3, "read_seq on join");
      await w.user("alice").send(w.groupId, "new");
      await expectUnread(w.user("erin"), w.groupId, 1, "one message after joining");
    },
  }),
  defineCase({
    id: "unr-recall-unchanged",
    rules: ["UNR-7", "MSG-11"],
    requirement: "Recalling a message does not change anyone's unread count.",
    async run(ctx) {
      const w = await ctx.world();
      const m1 = await w.user("alice").send(w.groupId, "1");
      await w.user("alice").send(w.groupId, "2");
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: m1.messageId });
      await expectUnread(w.user("bob"), w.groupId, 2, "two messages, one recalled");
    },
  }),
  defineCase({
    id: "unr-mention-flags",
    rules: ["UNR-8"],
    requirement: "mentioned_me / mentioned_all reflect unread mentions of the viewer and are cleared by marking read past them.",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, { mentionedUserIds: ["bob"] });
      let bob = await w.user("bob").conversation(w.groupId);
      expectEqual([bob.mentionedMe, bob.mentionedAll], [true, false], "bob's [mentioned_me, mentioned_all] after @bob");
      await w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq: 0n });
      bob = await w.user("bob").conversation(w.groupId);
      expectEqual([bob.mentionedMe, bob.mentionedAll], [false, false], "bob's flags after marking read");
      await w.user("carol").send(w.groupId, { mentionAll: true });
      bob = await w.user("bob").conversation(w.groupId);
      expectEqual([bob.mentionedMe, bob.mentionedAll], [false, true], "bob's flags after @all");
      const alice = await w.user("alice").conversation(w.groupId);
      expectEqual(alice.mentionedMe, false, "alice's mentioned_me (never mentioned by ID)");
    },
  }),
  defineCase({
    id: "unr-mark-read-errors",
    rules: ["UNR-3", "AUTH-5"],
    requirement: "MarkConversationRead of a group the user is not in is PermissionDenied NOT_A_MEMBER.",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("erin").conversations.markConversationRead({ groupId: w.groupId, readSeq: 0n }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
        what: "MarkConversationRead by a non-member",
      });
    },
  }),
];
