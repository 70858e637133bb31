// Targeted group messages (TGT): only the receivers and the sender ever see them, on every path,
// and every malformed receiver list is rejected without a trace.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { expectError } from "../errors.js";
import type { Event } from "@narrowcast/gen";
import { concernsMessage, describeEvent, describeMessage, isIn, isLeft, isMessage, isRecallOf, receivedMessage } from "../events.js";
import { fence } from "../fixtures.js";
import { expectInvisible, expectLastMessage, expectSeqs, expectUnread, expectVisible, seqsOf, userIds } from "./util.js";

export const tgtCases = [
  defineCase({
    id: "tgt-receiver-gets-live",
    rules: ["TGT-7", "TGT-1", "EVT-2"],
    requirement: "A receiver gets a targeted message through MessageReceived with the full receiver list (non-empty receiver_ids marks it targeted).",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const bob = await w.user("bob").subscribe();
      const sent = await w.user("alice").send(w.groupId, { text: "for bob and dave", receiverIds: ["dave", "bob"] });
      expectEqual(sent.receiverIds, ["dave", "bob"], "receiver_ids in the SendMessage response (sender's order)");
      const got = receivedMessage(await bob.waitFor("the targeted message", isMessage(sent.messageId)))!;
      expectEqual(got.receiverIds, ["dave", "bob"], "receiver_ids of the delivered targeted message");
      expectEqual(Number(got.seq), Number(sent.seq), "seq of the delivered targeted message");
      expectEqual(got.senderId, "alice", "sender_id seen by a receiver");
    },
  }),
  defineCase({
    id: "tgt-sender-all-devices",
    rules: ["TGT-4", "EVT-1"],
    requirement: "The sender sees its targeted message on all of its devices (every open subscription).",
    async run(ctx) {
      const w = await ctx.world();
      const phone = await w.user("alice").subscribe({}, "alice's phone");
      const laptop = await w.user("alice").subscribe({}, "alice's laptop");
      const sent = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      for (const device of [phone, laptop]) {
        const got = receivedMessage(await device.waitFor("alice's own targeted message", isMessage(sent.messageId)))!;
        expectEqual(got.receiverIds, ["bob"], `${device.label}: receiver_ids of the echo`);
      }
      await expectVisible(w.user("alice"), w.groupId, sent, "the sender of a targeted message");
    },
  }),
  defineCase({
    id: "tgt-nonreceiver-live",
    rules: ["TGT-4", "EVT-2", "EVT-8"],
    requirement: "A member who is not a receiver never gets the targeted message on the live stream.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const carol = await w.user("carol").subscribe();
      const carol2 = await w.user("carol").subscribe({}, "carol's second device");
      const dave = await w.user("dave").subscribe();
      const secret = await w.user("alice").send(w.groupId, { text: "only bob", receiverIds: ["bob"] });
      const after = await w.user("alice").send(w.groupId, "everyone");
      for (const sub of [carol, carol2, dave]) await sub.expectNone("a targeted message addressed to bob", concernsMessage(secret.messageId), fence(after));
    },
  }),
  defineCase({
    id: "tgt-nonreceiver-history",
    rules: ["TGT-4", "MSG-12", "TGT-8"],
    requirement: "ListMessages never returns a targeted message to a non-receiver; they see a gap in seq instead.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      await alice.send(w.groupId, "one");
      const secret = await alice.send(w.groupId, { text: "only bob", receiverIds: ["bob"] });
      await alice.send(w.groupId, "three");
      expectSeqs(await w.user("carol").history(w.groupId), [1, 3], "seqs in carol's (non-receiver) history");
      expectSeqs(await w.user("bob").history(w.groupId), [1, 2, 3], "seqs in bob's (receiver) history");
      expectSeqs(await alice.history(w.groupId), [1, 2, 3], "seqs in alice's (sender) history");
      const page = await w.user("carol").messages.listMessages({ groupId: w.groupId, afterSeq: 1n, pageSize: 1 });
      expectEqual({ seqs: seqsOf(page.messages), more: page.nextPageToken !== "" }, { seqs: [3], more: false }, "carol's page after seq 1, page_size 1 (the targeted seq 2 skipped; no next page)");
      const below = await w.user("carol").messages.listMessages({ groupId: w.groupId, beforeSeq: 3n, pageSize: 1 });
      expectEqual({ seqs: seqsOf(below.messages), more: below.nextPageToken !== "" }, { seqs: [1], more: false }, "carol's page before seq 3, page_size 1 (the invisible seq 2 makes no next page)");
      const latest = await w.user("carol").messages.listMessages({ groupId: w.groupId, pageSize: 1 });
      expectEqual({ seqs: seqsOf(latest.messages), more: latest.nextPageToken !== "" }, { seqs: [3], more: true }, "carol's latest page, page_size 1");
      const next = await w.user("carol").messages.listMessages({ groupId: w.groupId, pageSize: 1, pageToken: latest.nextPageToken });
      expectEqual({ seqs: seqsOf(next.messages), more: next.nextPageToken !== "" }, { seqs: [1], more: false }, "carol's second page (skips the invisible seq 2)");
      await expectInvisible(w.user("carol"), w.groupId, secret, "targeted to bob");
    },
  }),
  defineCase({
    id: "tgt-nonreceiver-get-message",
    rules: ["TGT-4", "MSG-14"],
    requirement: "GetMessage of a targeted message by a non-receiver fails exactly like GetMessage of a message that does not exist.",
    async run(ctx) {
      const w = await ctx.world();
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      const carol = w.user("carol").messages;
      const hidden = await expectError(carol.getMessage({ groupId: w.groupId, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "carol's GetMessage of a message targeted to bob",
      });
      const missing = await expectError(carol.getMessage({ groupId: w.groupId, messageId: "no-such-message" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "GetMessage of an unknown message ID",
      });
      expectEqual(hidden.field, missing.field, "field of the invisible vs. unknown message error");
      expectEqual(hidden.ids, missing.ids, "ids of the invisible vs. unknown message error");
      check(!hidden.ids.includes("alice") && !hidden.ids.includes("bob"), "the error for an invisible message names its sender or receivers", "no user IDs", JSON.stringify(hidden.ids));
    },
  }),
  defineCase({
    id: "tgt-nonreceiver-last-message",
    rules: ["TGT-4", "CNV-2"],
    requirement: "A targeted message is the last message only for its audience; others keep the previous visible message.",
    async run(ctx) {
      const w = await ctx.world();
      const ordinary = await w.user("alice").send(w.groupId, "hello all");
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      expectLastMessage(await w.user("carol").conversation(w.groupId), ordinary.messageId, "carol's (non-receiver) GetConversation");
      const listed = (await w.user("carol").conversations.listConversations({})).conversations.find((c) => c.groupId === w.groupId);
      check(listed, "carol's ListConversations lacks the group");
      expectLastMessage(listed, ordinary.messageId, "carol's (non-receiver) ListConversations");
      expectLastMessage(await w.user("bob").conversation(w.groupId), secret.messageId, "bob's (receiver) GetConversation");
      expectLastMessage(await w.user("alice").conversation(w.groupId), secret.messageId, "alice's (sender) GetConversation");
    },
  }),
  defineCase({
    id: "tgt-unread-opt-in-receivers-only",
    rules: ["TGT-6", "TGT-4", "UNR-1"],
    requirement: "With count_as_unread_for_receivers a targeted message counts as unread for its receivers and for nobody else.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const sent = await w.user("alice").send(w.groupId, { receiverIds: ["bob", "dave"], countAsUnreadForReceivers: true });
      check(sent.countAsUnreadForReceivers, "count_as_unread_for_receivers is echoed", "true", describeMessage(sent));
      await expectUnread(w.user("bob"), w.groupId, 1, "receiver of an opted-in targeted message");
      await expectUnread(w.user("dave"), w.groupId, 1, "receiver of an opted-in targeted message");
      await expectUnread(w.user("carol"), w.groupId, 0, "non-receiver of an opted-in targeted message");
      await expectUnread(w.user("alice"), w.groupId, 0, "sender of the targeted message");
    },
  }),
  defineCase({
    id: "tgt-unread-excluded-by-default",
    rules: ["TGT-6", "UNR-1"],
    requirement: "Without the opt-in a targeted message counts as unread for nobody, its receivers included.",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      await w.user("alice").send(w.groupId, { receiverIds: ["bob", "carol"] });
      await expectUnread(w.user("bob"), w.groupId, 0, "receiver, no opt-in");
      await expectUnread(w.user("carol"), w.groupId, 0, "receiver, no opt-in");
      await w.user("alice").send(w.groupId, "ordinary");
      await expectUnread(w.user("bob"), w.groupId, 1, "after one ordinary message");
    },
  }),
  defineCase({
    id: "tgt-recall-event-audience",
    rules: ["TGT-4", "MSG-11", "EVT-2"],
    requirement: "Recalling a targeted message sends MessageRecalled to its receivers and the sender only.",
    async run(ctx) {
      const w = await ctx.world();
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      const bob = await w.user("bob").subscribe();
      const alice = await w.user("alice").subscribe();
      const carol = await w.user("carol").subscribe();
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: secret.messageId });
      await bob.waitFor("MessageRecalled of the targeted message", isRecallOf(secret.messageId));
      await alice.waitFor("MessageRecalled of alice's own targeted message", isRecallOf(secret.messageId));
      const after = await w.user("alice").send(w.groupId, "after recall");
      await carol.expectNone("MessageRecalled of a message targeted to bob", concernsMessage(secret.messageId), fence(after));
      await expectInvisible(w.user("carol"), w.groupId, secret, "recalled, targeted to bob");
    },
  }),
  defineCase({
    id: "tgt-owner-nonreceiver-cannot-recall",
    rules: ["TGT-4", "MSG-11"],
    requirement: "A group owner outside a targeted message's audience cannot see it, so recalling it is MESSAGE_NOT_FOUND.",
    async run(ctx) {
      const w = await ctx.world();
      const secret = await w.user("bob").send(w.groupId, { receiverIds: ["carol"] });
      await expectError(w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: secret.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "the owner's RecallMessage of a message targeted to others",
      });
      const still = await expectVisible(w.user("carol"), w.groupId, secret, "receiver");
      check(!still.recall, "a rejected recall changed the message", "not recalled", describeMessage(still));
    },
  }),
  defineCase({
    id: "tgt-receiver-list-too-long",
    rules: ["TGT-1", "MSG-15"],
    requirement: "51 receivers are rejected with InvalidArgument RECEIVER_LIST_TOO_LONG (field receiver_ids) and leave no trace.",
    async run(ctx) {
      const receivers = userIds(51, "member");
      const w = await ctx.world({ members: ["alice", ...receivers], others: [] });
      const sub = await w.user("member-1").subscribe();
      await expectError(w.user("alice").send(w.groupId, { receiverIds: receivers }), Code.InvalidArgument, ErrorReason.RECEIVER_LIST_TOO_LONG, {
        field: "receiver_ids",
        what: "a send with 51 receivers",
      });
      const next = await w.user("alice").send(w.groupId, "after the rejected send");
      expectEqual(Number(next.seq), 1, "seq of the first accepted message after a rejected one");
      await sub.expectNone("anything from the rejected send", (e) => receivedMessage(e) !== undefined && receivedMessage(e)?.messageId !== next.messageId, fence(next));
      expectSeqs(await w.user("member-1").history(w.groupId), [1], "history after the rejected send");
    },
  }),
  defineCase({
    id: "tgt-fifty-receivers",
    rules: ["TGT-1", "TGT-7"],
    requirement: "A receiver list of exactly 50 members is accepted and reaches every receiver.",
    async run(ctx) {
      const receivers = userIds(50, "member");
      const w = await ctx.world({ members: ["alice", ...receivers, "outsider"], others: [] });
      const sent = await w.user("alice").send(w.groupId, { receiverIds: receivers });
      expectEqual(sent.receiverIds.length, 50, "number of receivers accepted");
      await expectVisible(w.user("member-50"), w.groupId, sent, "the 50th receiver");
      await expectInvisible(w.user("outsider"), w.groupId, sent, "a member outside the 50 receivers");
    },
  }),
  defineCase({
    id: "tgt-single-receiver-form",
    rules: ["TGT-2", "TGT-4"],
    requirement: "A receiver list of one is a targeted message like any other: it reaches that receiver (and the sender) only.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = await w.user("bob").subscribe();
      const carol = await w.user("carol").subscribe();
      const sent = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      expectEqual(sent.receiverIds, ["bob"], "receiver_ids of a message sent to one receiver");
      await bob.waitFor("the single-receiver message", isMessage(sent.messageId));
      const after = await w.user("alice").send(w.groupId, "everyone");
      await carol.expectNone("a message targeted to bob alone", concernsMessage(sent.messageId), fence(after));
      await expectInvisible(w.user("carol"), w.groupId, sent, "sent to bob alone");
    },
  }),
  defineCase({
    id: "tgt-checks-every-list-length",
    rules: ["TGT-2", "TGT-3", "TGT-5", "TGT-11", "TGT-6"],
    requirement:
      "Every receiver-list check applies the same to one receiver as to several (a mention, the sender listed, a non-member listed), and the unread opt-in counts for a single receiver exactly as for several.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      for (const receivers of [["bob"], ["bob", "carol"]]) {
        const form = `${receivers.length} receiver${receivers.length > 1 ? "s" : ""}`;
        await expectError(w.user("alice").send(w.groupId, { receiverIds: receivers, mentionedUserIds: ["dave"] }), Code.InvalidArgument, ErrorReason.TARGETED_WITH_MENTION, {
          what: `${form} with a mention`,
        });
        await expectError(w.user("bob").send(w.groupId, { receiverIds: receivers.length === 1 ? ["bob"] : ["carol", "bob"] }), Code.InvalidArgument, ErrorReason.SENDER_IN_RECEIVER_LIST, {
          ids: ["bob"],
          what: `${form} listing the sender`,
        });
        await expectError(w.user("alice").send(w.groupId, { receiverIds: receivers.length === 1 ? ["erin"] : ["bob", "erin"] }), Code.FailedPrecondition, ErrorReason.RECEIVER_NOT_MEMBER, {
          ids: ["erin"],
          what: `${form} listing a non-member`,
        });
      }
      expectSeqs(await w.user("alice").history(w.groupId), [], "history after the rejected sends");
      await w.user("alice").send(w.groupId, { receiverIds: ["bob"], countAsUnreadForReceivers: true });
      await w.user("alice").send(w.groupId, { receiverIds: ["bob", "carol"], countAsUnreadForReceivers: true });
      await w.user("alice").send(w.groupId, { receiverIds: ["dave"] });
      await expectUnread(w.user("bob"), w.groupId, 2, "a one-receiver and a two-receiver message with count_as_unread_for_receivers");
      await expectUnread(w.user("carol"), w.groupId, 1, "one of them to carol");
      await expectUnread(w.user("dave"), w.groupId, 0, "a one-receiver message without the opt-in");
    },
  }),
  defineCase({
    id: "tgt-duplicate-receivers",
    rules: ["TGT-3"],
    requirement: "A receiver listed twice is InvalidArgument DUPLICATE_RECEIVER with ids = the duplicated IDs.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      await expectError(
        w.user("alice").send(w.groupId, { receiverIds: ["bob", "carol", "bob", "dave", "carol"] }),
        Code.InvalidArgument,
        ErrorReason.DUPLICATE_RECEIVER,
        { ids: ["bob", "carol"], what: "a send with duplicated receivers" },
      );
      expectSeqs(await w.user("bob").history(w.groupId), [], "history after the rejected send");
    },
  }),
  defineCase({
    id: "tgt-sender-in-receivers",
    rules: ["TGT-3"],
    requirement: "A sender in its own receiver list is InvalidArgument SENDER_IN_RECEIVER_LIST with ids = [sender].",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("bob").send(w.groupId, { receiverIds: ["carol", "bob"] }), Code.InvalidArgument, ErrorReason.SENDER_IN_RECEIVER_LIST, {
        ids: ["bob"],
        what: "a send listing the sender as a receiver",
      });
      await expectUnread(w.user("carol"), w.groupId, 0, "after the rejected send");
    },
  }),
  defineCase({
    id: "tgt-receiver-not-member",
    rules: ["TGT-5", "MSG-15"],
    requirement: "Receivers who are not current members are FailedPrecondition RECEIVER_NOT_MEMBER naming every one of them; nothing is delivered.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "frank"], others: ["erin"] });
      await ctx.admin.removeMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["frank"] });
      const bob = await w.user("bob").subscribe();
      await expectError(
        w.user("alice").send(w.groupId, { receiverIds: ["bob", "erin", "frank", "nobody"] }),
        Code.FailedPrecondition,
        ErrorReason.RECEIVER_NOT_MEMBER,
        { ids: ["erin", "frank", "nobody"], what: "a send to an outsider, a former member and an unknown user" },
      );
      const next = await w.user("alice").send(w.groupId, "after");
      expectEqual(Number(next.seq), 1, "seq of the next accepted message (the rejected one consumed none)");
      await bob.expectNone("the rejected targeted message", (e) => receivedMessage(e) !== undefined && !isMessage(next.messageId)(e), fence(next));
    },
  }),
  defineCase({
    id: "tgt-with-mention",
    rules: ["TGT-11", "UNR-8"],
    requirement: "A receiver list with mentioned_user_ids or mention_all is InvalidArgument TARGETED_WITH_MENTION; no mention flag is set.",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("alice").send(w.groupId, { receiverIds: ["bob"], mentionedUserIds: ["bob"] }), Code.InvalidArgument, ErrorReason.TARGETED_WITH_MENTION, {
        what: "a targeted send that mentions a user",
      });
      await expectError(w.user("alice").send(w.groupId, { receiverIds: ["bob"], mentionAll: true }), Code.InvalidArgument, ErrorReason.TARGETED_WITH_MENTION, {
        what: "a targeted send that mentions all",
      });
      const c = await w.user("bob").conversation(w.groupId);
      check(!c.mentionedMe && !c.mentionedAll, "a rejected targeted mention set a mention flag", "mentioned_me=false mentioned_all=false", `mentioned_me=${c.mentionedMe} mentioned_all=${c.mentionedAll}`);
    },
  }),
  defineCase({
    id: "tgt-standard-plan",
    rules: ["TGT-9", "ADM-1"],
    requirement: "In a STANDARD app (or one created with PLAN_UNSPECIFIED) targeted sends are PermissionDenied FEATURE_NOT_IN_PLAN; ordinary sends work.",
    async run(ctx) {
      for (const plan of [Plan.STANDARD, Plan.UNSPECIFIED]) {
        const w = await ctx.world({ plan });
        expectEqual(w.app.app.plan, Plan.STANDARD, `plan of an app created with ${Plan[plan]}`);
        await expectError(w.user("alice").send(w.groupId, { receiverIds: ["bob"] }), Code.PermissionDenied, ErrorReason.FEATURE_NOT_IN_PLAN, {
          what: "a targeted send in a STANDARD app",
        });
        const ok = await w.user("alice").send(w.groupId, "ordinary");
        expectEqual(Number(ok.seq), 1, "seq of the first ordinary message after the rejected targeted one");
      }
    },
  }),
  defineCase({
    id: "tgt-community-rejected",
    rules: ["TGT-10", "GRP-1"],
    requirement: "Targeted sends into a COMMUNITY group are FailedPrecondition GROUP_TYPE_UNSUPPORTED.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.COMMUNITY });
      const bob = await w.user("bob").subscribe();
      await expectError(w.user("alice").send(w.groupId, { receiverIds: ["bob"] }), Code.FailedPrecondition, ErrorReason.GROUP_TYPE_UNSUPPORTED, {
        what: "a targeted send into a COMMUNITY group",
      });
      const next = await w.user("alice").send(w.groupId, "ordinary");
      expectEqual(Number(next.seq), 1, "seq of the next accepted message");
      await bob.expectNone("the rejected targeted message", (e) => receivedMessage(e) !== undefined && !isMessage(next.messageId)(e), fence(next));
    },
  }),
  defineCase({
    id: "tgt-avchatroom-rejected",
    rules: ["TGT-10", "GRP-1"],
    requirement: "Targeted sends into an AVCHATROOM group are FailedPrecondition GROUP_TYPE_UNSUPPORTED.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.AVCHATROOM });
      const bob = await w.user("bob").subscribe();
      await expectError(w.user("alice").send(w.groupId, { receiverIds: ["bob"] }), Code.FailedPrecondition, ErrorReason.GROUP_TYPE_UNSUPPORTED, {
        what: "a targeted send into an AVCHATROOM group",
      });
      const next = await w.user("alice").send(w.groupId, "ordinary");
      await bob.expectNone("the rejected targeted message", (e) => receivedMessage(e) !== undefined && !isMessage(next.messageId)(e), fence(next));
    },
  }),
  defineCase({
    id: "tgt-later-joiner-meeting",
    rules: ["TGT-12", "GRP-6", "TGT-4"],
    requirement: "In a MEETING group a member who joins later sees earlier ordinary messages but never an earlier targeted message.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.MEETING });
      const before = await w.user("alice").send(w.groupId, "before erin");
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      const joined = await w.user("erin").groups.joinGroup({ groupId: w.groupId });
      expectEqual(joined.result.case, "member", "JoinGroup on a MEETING group (joined at once)");
      const erin = await w.user("erin").subscribe();
      await expectVisible(w.user("erin"), w.groupId, before, "MEETING history from before joining");
      await expectInvisible(w.user("erin"), w.groupId, secret, "targeted before erin joined");
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: secret.messageId });
      const after = await w.user("alice").send(w.groupId, "after");
      await erin.expectNone("the recall of a targeted message sent before erin joined", concernsMessage(secret.messageId), fence(after));
      expectLastMessage(await w.user("erin").conversation(w.groupId), after.messageId, "erin's conversation");
    },
  }),
  defineCase({
    id: "tgt-later-joiner-not-added",
    rules: ["TGT-12"],
    requirement: "Adding a member after a targeted message does not add them to its audience, even if they are later named in another one.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.PUBLIC });
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      await w.user("alice").groups.inviteMembers({ groupId: w.groupId, userIds: ["erin"] });
      const second = await w.user("alice").send(w.groupId, { receiverIds: ["bob", "erin"] });
      await expectInvisible(w.user("erin"), w.groupId, secret, "targeted before erin was added");
      await expectVisible(w.user("erin"), w.groupId, second, "targeted to erin after she joined");
    },
  }),
  defineCase({
    id: "tgt-seq-gap",
    rules: ["TGT-8", "MSG-2"],
    requirement: "A targeted message consumes the group's next seq; the seqs of a group's stored messages are consecutive.",
    async run(ctx) {
      const w = await ctx.world();
      const a = await w.user("alice").send(w.groupId, "1");
      const b = await w.user("bob").send(w.groupId, { receiverIds: ["alice"] });
      const c = await w.user("carol").send(w.groupId, "3");
      expectEqual([a, b, c].map((m) => Number(m.seq)), [1, 2, 3], "seqs of ordinary, targeted, ordinary");
      const carolView = await w.user("carol").history(w.groupId);
      expectSeqs(carolView, [1, 3], "carol's history (gap at the targeted seq 2)");
    },
  }),
  defineCase({
    id: "tgt-receiver-sees-everywhere",
    rules: ["TGT-7", "TGT-4", "CNV-2"],
    requirement: "A receiver sees the targeted message in history, GetMessage and last message, with the whole receiver list in order.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const sent = await w.user("alice").send(w.groupId, { text: "to carol and bob", receiverIds: ["carol", "bob"] });
      const seen = await expectVisible(w.user("bob"), w.groupId, sent, "receiver");
      expectEqual(seen.receiverIds, ["carol", "bob"], "receiver_ids seen by a receiver");
      const c = await w.user("carol").conversation(w.groupId);
      expectEqual(c.lastMessage?.receiverIds ?? [], ["carol", "bob"], "receiver_ids of carol's last message");
    },
  }),
  defineCase({
    id: "tgt-multi-device-receiver",
    rules: ["TGT-7", "EVT-1"],
    requirement: "Every open subscription of a receiver gets the targeted message.",
    async run(ctx) {
      const w = await ctx.world();
      const subs = [await w.user("bob").subscribe({}, "bob's phone"), await w.user("bob").subscribe({}, "bob's laptop"), await w.user("bob").subscribe({}, "bob's tablet")];
      const sent = await w.user("carol").send(w.groupId, { receiverIds: ["bob"] });
      for (const sub of subs) await sub.waitFor("the targeted message", isMessage(sent.messageId));
    },
  }),
  defineCase({
    id: "tgt-nonreceiver-replay",
    rules: ["TGT-4", "EVT-3"],
    requirement: "Resuming a subscription replays the events the user may see: a targeted message to others is never replayed.",
    async run(ctx) {
      const w = await ctx.world();
      const first = await w.user("carol").subscribe();
      const cursor = await first.ready();
      first.close();
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      const after = await w.user("alice").send(w.groupId, "after");
      const carol = await w.user("carol").subscribe({ cursor });
      await carol.waitFor("the replayed ordinary message", isMessage(after.messageId));
      carol.assertNone("a replayed targeted message addressed to bob", concernsMessage(secret.messageId));
    },
  }),
  defineCase({
    id: "tgt-receiver-replay",
    rules: ["EVT-3", "TGT-7"],
    requirement: "Resuming a subscription replays a targeted message to its receiver.",
    async run(ctx) {
      const w = await ctx.world();
      const first = await w.user("bob").subscribe();
      const cursor = await first.ready();
      first.close();
      const secret = await w.user("alice").send(w.groupId, { receiverIds: ["bob"] });
      const bob = await w.user("bob").subscribe({ cursor });
      const replayed = bob.replayed.map(receivedMessage).filter((m) => m !== undefined);
      expectEqual(replayed.map((m) => m.messageId), [secret.messageId], "messages replayed to the receiver before ready");
    },
  }),
  defineCase({
    id: "tgt-system-targeted",
    rules: ["ADM-5", "MSG-13", "TGT-4"],
    requirement: "A targeted system message (AdminService.SendMessage, empty sender) reaches only its receivers.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = await w.user("bob").subscribe();
      const carol = await w.user("carol").subscribe();
      const sent = await w.app.adminSend("", w.groupId, { receiverIds: ["bob"], countAsUnreadForReceivers: true });
      expectEqual(sent.senderId, "", "sender_id of a system message");
      await bob.waitFor("the targeted system message", isMessage(sent.messageId));
      const after = await w.app.adminSend("", w.groupId, "to all");
      await carol.expectNone("a system message targeted to bob", concernsMessage(sent.messageId), fence(after));
      await expectInvisible(w.user("alice"), w.groupId, sent, "system message targeted to bob");
      await expectUnread(w.user("bob"), w.groupId, 2, "targeted opt-in system message plus an ordinary one");
      await expectUnread(w.user("carol"), w.groupId, 1, "only the ordinary system message");
    },
  }),
  defineCase({
    id: "tgt-admin-send-rules",
    rules: ["ADM-5", "TGT-9", "TGT-10", "TGT-5"],
    requirement: "AdminService.SendMessage applies every targeted-message rule: plan, group type and receiver membership.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.COMMUNITY });
      await expectError(w.app.adminSend("alice", w.groupId, { receiverIds: ["bob"] }), Code.FailedPrecondition, ErrorReason.GROUP_TYPE_UNSUPPORTED, {
        what: "admin targeted send into a COMMUNITY group",
      });
      const work = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: "g2" });
      await expectError(w.app.adminSend("", work, { receiverIds: ["carol"] }), Code.FailedPrecondition, ErrorReason.RECEIVER_NOT_MEMBER, {
        ids: ["carol"],
        what: "admin targeted send to a non-member",
      });
      const std = await ctx.world({ plan: Plan.STANDARD });
      await expectError(std.app.adminSend("", std.groupId, { receiverIds: ["bob"] }), Code.PermissionDenied, ErrorReason.FEATURE_NOT_IN_PLAN, {
        what: "admin targeted send in a STANDARD app",
      });
    },
  }),
  defineCase({
    id: "tgt-check-order",
    rules: ["TGT-11", "TGT-1", "TGT-9", "MSG-1"],
    requirement: "SendMessage checks run in the spec's order: the first failing check decides the error.",
    async run(ctx) {
      const w = await ctx.world({ plan: Plan.STANDARD, type: GroupType.COMMUNITY });
      const alice = w.user("alice");
      const many = userIds(51, "x");
      await expectError(alice.send(w.groupId, { receiverIds: many, mentionAll: true }), Code.InvalidArgument, ErrorReason.TARGETED_WITH_MENTION, {
        what: "51 receivers with a mention (TARGETED_WITH_MENTION comes first)",
      });
      await expectError(alice.send(w.groupId, { receiverIds: [...many, "x-1"] }), Code.InvalidArgument, ErrorReason.RECEIVER_LIST_TOO_LONG, {
        what: "52 receivers with a duplicate (RECEIVER_LIST_TOO_LONG comes before DUPLICATE_RECEIVER)",
      });
      await expectError(w.user("erin").send(w.groupId, { receiverIds: ["bob"] }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, {
        what: "a non-member's targeted send in a STANDARD app (NOT_A_MEMBER comes before FEATURE_NOT_IN_PLAN)",
      });
      await expectError(alice.send(w.groupId, { receiverIds: ["erin"] }), Code.PermissionDenied, ErrorReason.FEATURE_NOT_IN_PLAN, {
        what: "a targeted send to a non-member in a STANDARD COMMUNITY group (the plan comes first)",
      });
      await expectError(alice.send("no-such-group", { receiverIds: ["bob", "bob"] }), Code.InvalidArgument, ErrorReason.DUPLICATE_RECEIVER, {
        ids: ["bob"],
        what: "duplicate receivers into an unknown group (DUPLICATE_RECEIVER comes before GROUP_NOT_FOUND)",
      });
    },
  }),
  defineCase({
    id: "tgt-recall-not-told-to-receiver-who-left",
    rules: ["VIS-2", "EVT-2", "TGT-4", "MSG-11", "GRP-10", "EVT-3"],
    requirement:
      "A targeted message's receiver (or sender) who left the group gets no MessageRecalled for it, neither live nor on replay from a cursor before the recall, and no event of the group after their own MemberLeft.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const beforeAllAt = Date.now();
      const carol = await w.user("carol").subscribe();
      const beforeAll = await carol.ready();
      const bob = await w.user("bob").subscribe();
      const receivedAt = Date.now();
      const secret = await w.user("alice").send(w.groupId, { text: "for bob and carol", receiverIds: ["bob", "carol"] });
      const received = await carol.waitFor("the targeted message", isMessage(secret.messageId));
      await w.user("carol").groups.leaveGroup({ groupId: w.groupId });
      await carol.waitFor("carol's own MemberLeft", isLeft(w.groupId, "carol"));
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: secret.messageId });
      await bob.waitFor("MessageRecalled (bob is still a member)", isRecallOf(secret.messageId));
      const after = await w.user("alice").send(w.groupId, "after the recall");
      await bob.waitFor("the message after the recall", isMessage(after.messageId));
      await ctx.settle();
      carol.assertNone("MessageRecalled of a targeted message after she left the group", isRecallOf(secret.messageId));
      const afterLeaving = (events: Event[]) => {
        const left = events.findIndex(isLeft(w.groupId, "carol"));
        return left < 0 ? events.filter(isIn(w.groupId)) : events.slice(left + 1).filter(isIn(w.groupId));
      };
      const liveLeak = afterLeaving(carol.events);
      check(liveLeak.length === 0, "carol's live stream received events of the group after her MemberLeft", "none", liveLeak.map(describeEvent).join(", "));
      carol.close();
      for (const [what, cursor, at, kinds] of [
        ["the ready cursor before the message", beforeAll, beforeAllAt, ["messageReceived", "memberLeft"]],
        ["the cursor of the targeted message", received.cursor, receivedAt, ["memberLeft"]],
      ] as const) {
        const replay = await w.user("carol").replay(cursor, at, `carol's replay from ${what}`);
        if (!replay) continue; // the cursor outlived a (very short) event retention
        const events = replay.replayed.filter(isIn(w.groupId));
        expectEqual(
          events.filter((e) => e.payload.case !== "conversationUpdated").map((e) => e.payload.case),
          [...kinds],
          `kinds of the group's events replayed to carol from ${what} (${events.map(describeEvent).join(", ")})`,
        );
        replay.assertNone("a replayed MessageRecalled of a targeted message recalled after she left", isRecallOf(secret.messageId));
        const leak = afterLeaving(events);
        check(leak.length === 0, `carol's replay from ${what} holds events of the group after her MemberLeft`, "none", leak.map(describeEvent).join(", "));
      }
      // The sender who left: dave's targeted message to bob is recalled by the admin after dave left.
      const dave = await w.user("dave").subscribe();
      const fromDave = await w.user("dave").send(w.groupId, { text: "for bob, from dave", receiverIds: ["bob"] });
      await dave.waitFor("dave's own targeted message", isMessage(fromDave.messageId));
      await w.user("dave").groups.leaveGroup({ groupId: w.groupId });
      await dave.waitFor("dave's own MemberLeft", isLeft(w.groupId, "dave"));
      await ctx.admin.recallMessage({ appId: w.app.appId, groupId: w.groupId, messageId: fromDave.messageId });
      await bob.waitFor("MessageRecalled of dave's message (bob is its receiver)", isRecallOf(fromDave.messageId));
      const last = await w.user("alice").send(w.groupId, "after the second recall");
      await bob.waitFor("the message after the second recall", isMessage(last.messageId));
      await ctx.settle();
      dave.assertNone("MessageRecalled of his own targeted message after he left the group", isRecallOf(fromDave.messageId));
    },
  }),
  defineCase({
    id: "tgt-rejoin-work-hides-old-targeted",
    rules: ["VIS-3", "VIS-1", "GRP-6", "TGT-4", "EVT-2", "CNV-2", "UNR-6"],
    requirement:
      "In a WORK group a receiver who left and re-joined no longer sees a targeted message from before the re-join on any path: ListMessages, GetMessage, last message, and no MessageRecalled live or on replay.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      const bobUser = w.user("bob");
      const secret = await alice.send(w.groupId, { text: "for bob", receiverIds: ["bob"] });
      const ordinary = await alice.send(w.groupId, "before bob left");
      await bobUser.groups.leaveGroup({ groupId: w.groupId });
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["bob"] });
      const cursorAt = Date.now();
      const bob = await bobUser.subscribe();
      const cursor = await bob.ready();
      await expectInvisible(bobUser, w.groupId, secret, "targeted to bob before he left and re-joined a WORK group");
      await expectInvisible(bobUser, w.groupId, ordinary, "sent before bob re-joined a WORK group");
      const c = await expectUnread(bobUser, w.groupId, 0, "just re-joined");
      expectLastMessage(c, "", "bob's conversation after re-joining (everything is below his history floor)");
      await alice.messages.recallMessage({ groupId: w.groupId, messageId: secret.messageId });
      const after = await alice.send(w.groupId, "after bob re-joined");
      await bob.expectNone("MessageRecalled of a targeted message from before his re-join", isRecallOf(secret.messageId), fence(after));
      bob.close();
      const replay = await bobUser.replay(cursor, cursorAt);
      const messageEvents = (replay?.replayed ?? bob.events).filter((e) => e.payload.case === "messageReceived" || e.payload.case === "messageRecalled");
      expectEqual(messageEvents.map(describeEvent), [`MessageReceived${describeMessage(after)} (cursor)`], `message events ${replay ? "replayed" : "received live"} after bob's re-join (only the later message, no recall)`);
      expectLastMessage(await bobUser.conversation(w.groupId), after.messageId, "bob's conversation after the later message");
    },
  }),
  defineCase({
    id: "tgt-rejoin-meeting-shows-old-targeted",
    rules: ["VIS-3", "VIS-1", "GRP-6", "TGT-4", "TGT-12", "EVT-2", "CNV-2", "UNR-6"],
    requirement:
      "In a MEETING group a receiver who left and re-joined again sees the targeted messages they received, on every path: ListMessages, GetMessage, last message and MessageRecalled, live and on replay alike; targeted messages to others stay hidden.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.MEETING });
      const alice = w.user("alice");
      const bobUser = w.user("bob");
      await alice.send(w.groupId, { text: "@bob before he left", mentionedUserIds: ["bob"] });
      const secret = await alice.send(w.groupId, { text: "for bob", receiverIds: ["bob"] });
      await bobUser.groups.leaveGroup({ groupId: w.groupId });
      const toCarol = await alice.send(w.groupId, { text: "for carol", receiverIds: ["carol"] });
      const rejoined = await bobUser.groups.joinGroup({ groupId: w.groupId });
      expectEqual(rejoined.result.case, "member", "JoinGroup on a MEETING group (joined at once)");
      const cursorAt = Date.now();
      const bob = await bobUser.subscribe();
      const cursor = await bob.ready();
      const seen = await expectVisible(bobUser, w.groupId, secret, "targeted to bob before he left and re-joined a MEETING group");
      expectEqual(seen.receiverIds, ["bob"], "receiver_ids of the old targeted message seen again");
      await expectInvisible(bobUser, w.groupId, toCarol, "targeted to carol while bob was away");
      const c = await expectUnread(bobUser, w.groupId, 0, "re-joined a MEETING group");
      expectLastMessage(c, secret.messageId, "bob's conversation after re-joining (the newer message is carol's alone)");
      expectEqual([c.mentionedMe, c.mentionedAll], [false, false], "bob's mention flags after re-joining (the old mention lies below his new read position)");
      await alice.messages.recallMessage({ groupId: w.groupId, messageId: secret.messageId });
      await bob.waitFor("MessageRecalled of his old targeted message", isRecallOf(secret.messageId));
      const after = await alice.send(w.groupId, "after the recall");
      await bob.expectNone("anything about the message targeted to carol", concernsMessage(toCarol.messageId), fence(after));
      bob.close();
      const replay = await bobUser.replay(cursor, cursorAt);
      if (replay) {
        check(replay.replayed.some(isRecallOf(secret.messageId)), "bob's replay lacks the MessageRecalled he received live", "MessageRecalled of the old targeted message", replay.describeItems());
        replay.assertNone("a replayed event about the message targeted to carol", concernsMessage(toCarol.messageId));
      }
      const recalled = await expectVisible(bobUser, w.groupId, secret, "recalled, targeted to bob");
      check(recalled.recall, "the recalled message is not shown as recalled", "recall set", describeMessage(recalled));
    },
  }),

];
