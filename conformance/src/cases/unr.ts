// Unread counts and mention flags (UNR), computed per viewer.
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { Code } from "@connectrpc/connect";
import { defineCase } from "../case.js";
import { expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import { isConversationUpdate, isIn, isMessage } from "../events.js";
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
    rules: ["UNR-4", "TGT-6"],
    requirement:
      "Messages sent with exclude_from_unread never count as unread, whoever sends them and whatever else is set: a targeted message with both exclude_from_unread and count_as_unread_for_receivers does not count for its receivers either.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("alice").send(w.groupId, { excludeFromUnread: true });
      expectEqual(sent.excludeFromUnread, true, "exclude_from_unread echoed");
      await w.app.adminSend("", w.groupId, { excludeFromUnread: true });
      const both = await w.user("alice").send(w.groupId, { receiverIds: ["bob"], excludeFromUnread: true, countAsUnreadForReceivers: true });
      expectEqual([both.excludeFromUnread, both.countAsUnreadForReceivers], [true, true], "[exclude_from_unread, count_as_unread_for_receivers] echoed");
      await expectUnread(w.user("bob"), w.groupId, 0, "three excluded messages, one of them targeted to bob with count_as_unread_for_receivers");
      await w.user("alice").send(w.groupId, "counted");
      await expectUnread(w.user("bob"), w.groupId, 1, "three excluded and one counted message");
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
  defineCase({
    id: "unr-mention-survives-recall",
    rules: ["UNR-8", "UNR-7", "MSG-11"],
    requirement: "Recalling a message that mentioned a member changes neither their unread count nor mentioned_me / mentioned_all: the flags stay until they read past it.",
    async run(ctx) {
      const w = await ctx.world();
      const byId = await w.user("alice").send(w.groupId, { text: "@bob look", mentionedUserIds: ["bob"] });
      const all = await w.user("alice").send(w.groupId, { text: "@all look", mentionAll: true });
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: byId.messageId });
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: all.messageId });
      const bob = await expectUnread(w.user("bob"), w.groupId, 2, "two recalled messages");
      expectEqual([bob.mentionedMe, bob.mentionedAll], [true, true], "bob's [mentioned_me, mentioned_all] after both mentions were recalled");
      await w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq: byId.seq });
      const half = await w.user("bob").conversation(w.groupId);
      expectEqual([half.mentionedMe, half.mentionedAll, Number(half.unreadCount)], [false, true, 1], "bob's [mentioned_me, mentioned_all, unread] after reading past the first");
      await w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq: 0n });
      const done = await w.user("bob").conversation(w.groupId);
      expectEqual([done.mentionedMe, done.mentionedAll, Number(done.unreadCount)], [false, false, 0], "bob's flags after reading everything");
    },
  }),
  defineCase({
    id: "unr-mentions-in-meeting",
    rules: ["UNR-8", "UNR-2"],
    requirement: "Mention flags work in MEETING groups (unread stays 0 there): mentioned_me and mentioned_all are set by unread mentions and cleared by marking read.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.MEETING });
      await w.user("alice").send(w.groupId, { text: "@bob", mentionedUserIds: ["bob"] });
      await w.user("alice").send(w.groupId, { text: "@all", mentionAll: true });
      const bob = await expectUnread(w.user("bob"), w.groupId, 0, "MEETING group with two mentions");
      expectEqual([bob.mentionedMe, bob.mentionedAll], [true, true], "bob's [mentioned_me, mentioned_all] in a MEETING group");
      const carol = await w.user("carol").conversation(w.groupId);
      expectEqual([carol.mentionedMe, carol.mentionedAll], [false, true], "carol's [mentioned_me, mentioned_all] in a MEETING group");
      const alice = await w.user("alice").conversation(w.groupId);
      expectEqual([alice.mentionedMe, alice.mentionedAll], [false, false], "the sender's flags (its own messages)");
      const marked = (await w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq: 0n })).conversation;
      expectEqual([marked?.mentionedMe, marked?.mentionedAll, Number(marked?.readSeq)], [false, false, 2], "bob's [mentioned_me, mentioned_all, read_seq] after marking read");
      const listed = (await w.user("carol").conversations.listConversations({})).conversations.find((c) => c.groupId === w.groupId);
      expectEqual([listed?.mentionedAll, Number(listed?.unreadCount)], [true, 0], "carol's [mentioned_all, unread] in ListConversations");
    },
  }),
  defineCase({
    id: "unr-mark-read-no-move-no-event",
    rules: ["UNR-3", "EVT-2", "EVT-8"],
    requirement: "A MarkConversationRead that does not move the read position sends no ConversationUpdated and stores none (nothing replayed); one that moves it sends exactly one, after the message it marks read.",
    async run(ctx) {
      const w = await ctx.world();
      for (let i = 1; i <= 3; i++) await w.user("alice").send(w.groupId, `m${i}`);
      const cursorAt = Date.now();
      const bob = await w.user("bob").subscribe();
      const cursor = await bob.ready();
      const mark = (readSeq: bigint) => w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq });
      await mark(2n);
      await bob.waitFor("ConversationUpdated with read_seq 2", (e) => isConversationUpdate(w.groupId)(e) && e.payload.case === "conversationUpdated" && Number(e.payload.value.conversation?.readSeq) === 2);
      for (const [what, seq] of [["the same position", 2n], ["a lower position", 1n]] as const) {
        const c = (await mark(seq)).conversation;
        expectEqual([Number(c?.readSeq), Number(c?.unreadCount)], [2, 1], `[read_seq, unread] after marking ${what}`);
      }
      const after = await w.user("alice").send(w.groupId, "fence");
      await bob.waitFor("the fence message", isMessage(after.messageId));
      await ctx.settle();
      expectEqual(bob.events.filter(isConversationUpdate(w.groupId)).length, 1, "ConversationUpdated events after marks that moved nothing (only the first mark's)");
      await mark(0n);
      await bob.waitFor("ConversationUpdated with read_seq 4", (e) => isConversationUpdate(w.groupId)(e) && e.payload.case === "conversationUpdated" && Number(e.payload.value.conversation?.readSeq) === 4);
      await mark(0n);
      await mark(4n);
      const last = await w.user("alice").send(w.groupId, "second fence");
      await bob.waitFor("the second fence", isMessage(last.messageId));
      await ctx.settle();
      expectEqual(bob.events.filter(isConversationUpdate(w.groupId)).map((e) => (e.payload.case === "conversationUpdated" ? Number(e.payload.value.conversation?.readSeq) : -1)), [2, 4], "read_seq of every ConversationUpdated bob received live");
      bob.close();
      const replay = await w.user("bob").replay(cursor, cursorAt);
      if (!replay) return; // the cursor outlived a (very short) event retention
      const events = replay.replayed.filter(isIn(w.groupId));
      expectEqual(
        events.map((e) => (e.payload.case === "conversationUpdated" ? `read ${Number(e.payload.value.conversation?.readSeq)}` : e.payload.case === "messageReceived" ? `seq ${Number(e.payload.value.message?.seq)}` : e.payload.case)),
        ["read 2", "seq 4", "read 4", "seq 5"],
        "the group's events replayed to bob, in order (a ConversationUpdated after the message it marks read)",
      );
    },
  }),
  defineCase({
    id: "unr-read-seq-clamps-to-latest",
    rules: ["UNR-3", "TGT-8"],
    requirement: "A read position beyond the latest seq is clamped to the group's latest seq, even when that is a targeted message the viewer cannot see.",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, "1");
      await w.user("alice").send(w.groupId, "2");
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["carol"] });
      expectEqual(Number(secret.seq), 3, "seq of the targeted message");
      const c = (await w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq: 1000n })).conversation;
      expectEqual([Number(c?.readSeq), Number(c?.unreadCount)], [3, 0], "bob's [read_seq, unread] after marking 1000 (clamped to the latest seq, 3)");
      const again = await w.user("bob").conversation(w.groupId);
      expectEqual(Number(again.readSeq), 3, "bob's read_seq in GetConversation");
      const next = await w.user("alice").send(w.groupId, "4");
      expectEqual(Number(next.seq), 4, "seq of the next message");
      await expectUnread(w.user("bob"), w.groupId, 1, "one message after the clamped read position");
    },
  }),
];
