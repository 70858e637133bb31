// Ordinary messages (MSG): seq numbering, elements, size, mentions, idempotency, recall, history
// pages, and rejected sends that leave no trace.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, MemberRole, MessagePriority, MessageSchema, type Message } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual, show } from "../check.js";
import { expectError, observe, reasonName } from "../errors.js";
import { describeMessage, isMessage, isRecallOf, receivedMessage } from "../events.js";
import { fence, textElements, type SendInit } from "../fixtures.js";
import { expectInvisible, expectLastMessage, expectSeqs, expectUnread, expectVisible, seqsOf, userIds } from "./util.js";

/** The fields of a message that a sender chose, for comparing sent and delivered copies. */
function content(m: Message | undefined): unknown {
  if (!m) return undefined;
  return {
    elements: m.elements.map((e) => ({ case: e.element.case, value: e.element.value })),
    customData: m.customData,
    priority: m.priority,
    mentionedUserIds: m.mentionedUserIds,
    mentionAll: m.mentionAll,
    offlinePushInfo: m.offlinePushInfo ? { title: m.offlinePushInfo.title, description: m.offlinePushInfo.description, extension: m.offlinePushInfo.extension } : undefined,
  };
}

/** Size of elements plus custom_data as MSG-4 measures it. */
function measuredSize(init: Pick<SendInit, "elements" | "customData">): number {
  return toBinary(MessageSchema, create(MessageSchema, { elements: init.elements ?? [], customData: init.customData ?? new Uint8Array() })).length;
}

/** A text message whose MSG-4 size is exactly `bytes`. */
function messageOfSize(bytes: number): SendInit {
  let length = bytes;
  for (let i = 0; i < 8; i++) {
    const size = measuredSize({ elements: textElements("x".repeat(length)) });
    if (size === bytes) return { elements: textElements("x".repeat(length)) };
    length += bytes - size;
  }
  throw new Error(`cannot build a message of ${bytes} bytes`);
}

export const msgCases = [
  defineCase({
    id: "msg-seq-consecutive",
    rules: ["MSG-2"],
    requirement: "Stored messages get seq 1, 2, 3 … per group, whoever sends them, independently in each group.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: "g2" });
      const seqs: number[] = [];
      for (const sender of ["alice", "bob", "carol", "alice"]) seqs.push(Number((await w.user(sender).send(w.groupId, `from ${sender}`)).seq));
      expectEqual(seqs, [1, 2, 3, 4], "seqs of four sends");
      expectEqual(Number((await w.user("bob").send(other, "x")).seq), 1, "seq of the first message of another group");
      expectSeqs(await w.user("carol").history(w.groupId), [1, 2, 3, 4], "history seqs");
    },
  }),
  defineCase({
    id: "msg-online-only",
    rules: ["MSG-9", "MSG-2", "EVT-7"],
    requirement: "An online-only message reaches open subscriptions with an empty cursor, has seq 0, and is never stored, counted, a last message or replayed.",
    async run(ctx) {
      const w = await ctx.world();
      const earlier = await w.user("carol").subscribe();
      const cursor = await earlier.ready();
      earlier.close();
      const bob = await w.user("bob").subscribe();
      const sent = await w.user("alice").send(w.groupId, { text: "typing…", onlineOnly: true });
      expectEqual(Number(sent.seq), 0, "seq of an online-only message");
      const event = await bob.waitFor("the online-only message", isMessage(sent.messageId));
      expectEqual(event.cursor, "", "cursor of an online-only message event");
      expectEqual(receivedMessage(event)?.onlineOnly, true, "online_only of the delivered message");
      expectSeqs(await w.user("bob").history(w.groupId), [], "history after an online-only message");
      const c = await expectUnread(w.user("bob"), w.groupId, 0, "after an online-only message");
      expectLastMessage(c, "", "bob's conversation after an online-only message");
      await expectError(w.user("bob").messages.getMessage({ groupId: w.groupId, messageId: sent.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "GetMessage of an online-only message",
      });
      const stored = await w.user("alice").send(w.groupId, "stored");
      expectEqual(Number(stored.seq), 1, "seq of the first stored message after an online-only one");
      const resumed = await w.user("carol").subscribe({ cursor });
      resumed.assertNone("a replayed online-only message", isMessage(sent.messageId));
      expectEqual(resumed.replayed.map((e) => receivedMessage(e)?.messageId), [stored.messageId], "events replayed to carol");
    },
  }),
  defineCase({
    id: "msg-empty-message",
    rules: ["MSG-3"],
    requirement: "A send without elements is InvalidArgument EMPTY_MESSAGE (field elements).",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("alice").send(w.groupId, { elements: [] }), Code.InvalidArgument, ErrorReason.EMPTY_MESSAGE, { field: "elements", what: "a send without elements" });
      await expectError(w.user("alice").send(w.groupId, { elements: [], customData: new Uint8Array([1, 2]) }), Code.InvalidArgument, ErrorReason.EMPTY_MESSAGE, {
        field: "elements",
        what: "a send with only custom_data",
      });
    },
  }),
  defineCase({
    id: "msg-invalid-element",
    rules: ["MSG-3"],
    requirement: "An element with no kind set is InvalidArgument INVALID_ELEMENT (field elements[i]).",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("alice").send(w.groupId, { elements: [{}] }), Code.InvalidArgument, ErrorReason.INVALID_ELEMENT, {
        field: "elements[0]",
        what: "an element without a kind",
      });
      await expectError(w.user("alice").send(w.groupId, { elements: [...textElements("fine"), ...textElements("fine"), {}] }), Code.InvalidArgument, ErrorReason.INVALID_ELEMENT, {
        field: "elements[2]",
        what: "an element without a kind at index 2",
      });
      expectSeqs(await w.user("alice").history(w.groupId), [], "history after rejected sends");
    },
  }),
  defineCase({
    id: "msg-empty-text-element",
    rules: ["MSG-3"],
    requirement: "A text element with empty text is InvalidArgument INVALID_ELEMENT (field elements[i]).",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(
        w.user("alice").send(w.groupId, { elements: [...textElements("fine"), { element: { case: "text", value: { text: "" } } }] }),
        Code.InvalidArgument,
        ErrorReason.INVALID_ELEMENT,
        { field: "elements[1]", what: "an empty text element at index 1" },
      );
      expectSeqs(await w.user("alice").history(w.groupId), [], "history after the rejected send");
    },
  }),
  defineCase({
    id: "msg-element-kinds",
    rules: ["MSG-3", "MSG-7", "MSG-8"],
    requirement: "Every element kind, custom_data, priority and offline push info round-trip unchanged through the response, the live event, history and GetMessage.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = await w.user("bob").subscribe();
      const init: SendInit = {
        elements: [
          { element: { case: "text", value: { text: "héllo 👋" } } },
          { element: { case: "custom", value: { data: new Uint8Array([0, 1, 254, 255]), description: "card", extension: "ext" } } },
          { element: { case: "image", value: { url: "https://example.com/a.png", width: 640, height: 480, sizeBytes: 12345n, thumbnailUrl: "https://example.com/t.png" } } },
          { element: { case: "file", value: { url: "https://example.com/f.pdf", fileName: "f.pdf", sizeBytes: 999n } } },
          { element: { case: "location", value: { description: "Somewhere", latitude: 48.8566, longitude: 2.3522 } } },
          { element: { case: "face", value: { index: 7, data: new Uint8Array([9]) } } },
        ],
        customData: new Uint8Array([1, 2, 3]),
        priority: MessagePriority.HIGH,
        offlinePushInfo: { title: "t", description: "d", extension: "e" },
      };
      const sent = await w.user("alice").send(w.groupId, init);
      const live = receivedMessage(await bob.waitFor("the message", isMessage(sent.messageId)));
      const stored = await expectVisible(w.user("bob"), w.groupId, sent, "member");
      const [fromHistory] = (await w.user("bob").history(w.groupId)).filter((m) => m.messageId === sent.messageId);
      const expected = show(content(sent));
      expectEqual(sent.priority, MessagePriority.HIGH, "priority in the response");
      expectEqual(sent.elements.length, 6, "number of elements in the response");
      for (const [what, m] of [["live event", live], ["GetMessage", stored], ["ListMessages", fromHistory]] as const) {
        expectEqual(show(content(m)), expected, `content of the message in ${what}`);
      }
    },
  }),
  defineCase({
    id: "msg-size-limit",
    rules: ["MSG-4", "MSG-15"],
    requirement: "elements plus custom_data of exactly 12,288 encoded bytes are accepted; one byte more is InvalidArgument MESSAGE_TOO_LARGE (field elements).",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("alice").send(w.groupId, messageOfSize(12_289)), Code.InvalidArgument, ErrorReason.MESSAGE_TOO_LARGE, {
        field: "elements",
        what: "a message of 12,289 bytes",
      });
      const withData: SendInit = { elements: textElements("small"), customData: new Uint8Array(12_288) };
      await expectError(w.user("alice").send(w.groupId, withData), Code.InvalidArgument, ErrorReason.MESSAGE_TOO_LARGE, {
        field: "elements",
        what: "custom_data pushing the message over 12,288 bytes",
      });
      const ok = await w.user("alice").send(w.groupId, messageOfSize(12_288));
      expectEqual(Number(ok.seq), 1, "seq of the 12,288-byte message (rejected ones consumed none)");
    },
  }),
  defineCase({
    id: "msg-rate-limit",
    rules: ["MSG-5", "MSG-15"],
    requirement: "More than 40 sends per second into one group are partly ResourceExhausted RATE_LIMITED; history holds exactly the accepted ones.",
    async run(ctx) {
      const w = await ctx.world();
      const senders = ["alice", "bob", "carol"].map((id) => w.user(id));
      await Promise.all(senders.map((s) => s.token()));
      const attempts = 100;
      const outcomes = await Promise.allSettled(Array.from({ length: attempts }, (_, i) => senders[i % 3]!.send(w.groupId, `burst ${i}`)));
      const accepted = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
      const rejected = outcomes.flatMap((o) => (o.status === "rejected" ? [observe(o.reason)] : []));
      const limited = rejected.filter((e) => e.code === Code.ResourceExhausted && e.details.length === 1 && e.details[0]!.reason === ErrorReason.RATE_LIMITED);
      check(limited.length > 0, `${attempts} concurrent sends into one group were never rate limited`, "at least one ResourceExhausted RATE_LIMITED", `${accepted.length} accepted`);
      check(
        limited.length === rejected.length,
        "a burst of sends failed with something other than RATE_LIMITED",
        "only ResourceExhausted RATE_LIMITED",
        rejected.map((e) => `${e.code}/${e.details.map((d) => reasonName(d.reason)).join(",")}`).join(" "),
      );
      expectEqual(accepted.length + rejected.length, attempts, "accepted + rejected sends");
      const history = await w.user("alice").history(w.groupId);
      expectEqual(
        history.map((m) => m.messageId).sort(),
        accepted.map((m) => m.messageId).sort(),
        "IDs in history vs. IDs of the accepted sends",
      );
      expectEqual(seqsOf(history), Array.from({ length: accepted.length }, (_, i) => i + 1), "history seqs (one per accepted send, no gaps)");
    },
  }),
  defineCase({
    id: "msg-mentions",
    rules: ["MSG-6", "UNR-8"],
    requirement: "Duplicate mentions are collapsed; a mentioned member's conversation has mentioned_me, mention_all sets mentioned_all for everyone but the sender.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("alice").send(w.groupId, { mentionedUserIds: ["bob", "bob"] });
      expectEqual(sent.mentionedUserIds, ["bob"], "mentioned_user_ids with a duplicate collapsed");
      const bob = await w.user("bob").conversation(w.groupId);
      const carol = await w.user("carol").conversation(w.groupId);
      expectEqual([bob.mentionedMe, bob.mentionedAll], [true, false], "bob's [mentioned_me, mentioned_all]");
      expectEqual([carol.mentionedMe, carol.mentionedAll], [false, false], "carol's [mentioned_me, mentioned_all]");
      await w.user("bob").send(w.groupId, { mentionAll: true });
      const carol2 = await w.user("carol").conversation(w.groupId);
      const bob2 = await w.user("bob").conversation(w.groupId);
      expectEqual(carol2.mentionedAll, true, "carol's mentioned_all after @all");
      expectEqual(bob2.mentionedAll, false, "mentioned_all of the @all sender (own message; sending moved the read position)");
    },
  }),
  defineCase({
    id: "msg-mention-limits",
    rules: ["MSG-6"],
    requirement: "51 mentioned users are InvalidArgument MENTION_LIST_TOO_LONG; a mentioned non-member is FailedPrecondition MENTIONED_USER_NOT_MEMBER naming them.",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("alice").send(w.groupId, { mentionedUserIds: userIds(51) }), Code.InvalidArgument, ErrorReason.MENTION_LIST_TOO_LONG, {
        what: "a send mentioning 51 users",
      });
      await expectError(w.user("alice").send(w.groupId, { mentionedUserIds: ["bob", "erin", "ghost"] }), Code.FailedPrecondition, ErrorReason.MENTIONED_USER_NOT_MEMBER, {
        ids: ["erin", "ghost"],
        what: "a send mentioning non-members",
      });
      const c = await w.user("bob").conversation(w.groupId);
      expectEqual(c.mentionedMe, false, "bob's mentioned_me after a rejected mention");
    },
  }),
  defineCase({
    id: "msg-priority-unchanged",
    rules: ["MSG-7"],
    requirement: "priority is stored and returned unchanged; UNSPECIFIED stays UNSPECIFIED.",
    async run(ctx) {
      const w = await ctx.world();
      const priorities = [MessagePriority.UNSPECIFIED, MessagePriority.LOW, MessagePriority.NORMAL, MessagePriority.HIGH];
      for (const priority of priorities) await w.user("alice").send(w.groupId, { priority });
      const history = await w.user("bob").history(w.groupId);
      expectEqual(history.map((m) => MessagePriority[m.priority]), priorities.map((p) => MessagePriority[p]), "priorities in history");
    },
  }),
  defineCase({
    id: "msg-delivered-everywhere",
    rules: ["MSG-8", "EVT-1"],
    requirement: "An ordinary message reaches every open subscription of every member, the sender's other devices included, and appears in history.",
    async run(ctx) {
      const w = await ctx.world();
      const subs = [
        await w.user("alice").subscribe({}, "alice's phone"),
        await w.user("alice").subscribe({}, "alice's laptop"),
        await w.user("bob").subscribe(),
        await w.user("carol").subscribe({}, "carol's phone"),
        await w.user("carol").subscribe({}, "carol's laptop"),
      ];
      const outsider = await w.user("erin").subscribe();
      const sent = await w.user("alice").send(w.groupId, "to everyone");
      for (const sub of subs) await sub.waitFor("the message", isMessage(sent.messageId));
      await expectVisible(w.user("carol"), w.groupId, sent, "member");
      await outsider.expectNone("a message of a group erin is not in", isMessage(sent.messageId));
    },
  }),
  defineCase({
    id: "msg-idempotent-retry",
    rules: ["MSG-10", "MSG-2"],
    requirement: "A retried send with the same client_message_id returns the original message and stores and delivers nothing more.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = await w.user("bob").subscribe();
      const first = await w.user("alice").send(w.groupId, { text: "once", clientMessageId: "retry-1" });
      const again = await w.user("alice").send(w.groupId, { text: "once", clientMessageId: "retry-1" });
      expectEqual([again.messageId, Number(again.seq)], [first.messageId, Number(first.seq)], "[message_id, seq] of the retried send");
      expectEqual(first.clientMessageId, "retry-1", "client_message_id echoed");
      const other = await w.user("bob").send(w.groupId, { text: "same key, other sender", clientMessageId: "retry-1" });
      check(other.messageId !== first.messageId, "another sender's message with the same key was treated as a retry", "a new message", describeMessage(other));
      expectEqual(Number(other.seq), 2, "seq of the next message (the retry consumed none)");
      const next = await w.user("alice").send(w.groupId, "next");
      await bob.waitFor("the next message", isMessage(next.messageId));
      const copies = bob.events.filter(isMessage(first.messageId)).length;
      expectEqual(copies, 1, "live deliveries of a message sent twice with one key");
      expectSeqs(await w.user("carol").history(w.groupId), [1, 2, 3], "history seqs");
    },
  }),
  defineCase({
    id: "msg-idempotent-concurrent",
    rules: ["MSG-10"],
    requirement: "Concurrent sends with one client_message_id store one message and all return it.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      await alice.token();
      const results = await Promise.all(Array.from({ length: 5 }, () => alice.send(w.groupId, { text: "racy", clientMessageId: "race" })));
      expectEqual(new Set(results.map((m) => m.messageId)).size, 1, "distinct message IDs returned for one key");
      expectSeqs(await alice.history(w.groupId), [1], "history after concurrent retries");
    },
  }),
  defineCase({
    id: "msg-client-message-id-too-long",
    rules: ["MSG-10", "ERR-3"],
    requirement: "A client_message_id longer than 128 characters is InvalidArgument FIELD_INVALID (field client_message_id); 128 is accepted.",
    async run(ctx) {
      const w = await ctx.world();
      await expectError(w.user("alice").send(w.groupId, { clientMessageId: "k".repeat(129) }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "client_message_id",
        what: "a 129-character client_message_id",
      });
      const ok = await w.user("alice").send(w.groupId, { clientMessageId: "k".repeat(128) });
      expectEqual(Number(ok.seq), 1, "seq of a send with a 128-character key");
    },
  }),
  defineCase({
    id: "msg-recall-by-sender",
    rules: ["MSG-11", "UNR-7", "EVT-2"],
    requirement: "The sender may recall within the window: the message loses its content, shows recall everywhere, everyone gets MessageRecalled, unread is unchanged.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, { text: "oops", customData: new Uint8Array([7]) });
      await expectUnread(w.user("carol"), w.groupId, 1, "before recall");
      const subs = [await w.user("alice").subscribe(), await w.user("carol").subscribe(), await w.user("bob").subscribe()];
      const res = await w.user("bob").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId });
      const recalled = res.message;
      check(recalled?.recall, "RecallMessage response lacks recall", "recall set", describeMessage(recalled));
      expectEqual(recalled.recall.recalledBy, "bob", "recall.recalled_by");
      expectEqual([recalled.elements.length, recalled.customData.length], [0, 0], "[elements, custom_data bytes] after recall");
      for (const sub of subs) {
        const e = await sub.waitFor("MessageRecalled", isRecallOf(sent.messageId));
        if (e.payload.case === "messageRecalled") expectEqual(Number(e.payload.value.seq), Number(sent.seq), "seq in MessageRecalled");
      }
      const viaGet = await expectVisible(w.user("carol"), w.groupId, sent, "recalled ordinary message");
      check(viaGet.recall && viaGet.elements.length === 0, "GetMessage of a recalled message still shows content", "no elements, recall set", describeMessage(viaGet));
      const [inHistory] = (await w.user("carol").history(w.groupId)).filter((m) => m.messageId === sent.messageId);
      check(inHistory?.recall && inHistory.elements.length === 0 && inHistory.customData.length === 0, "history shows a recalled message with content", "no elements, recall set", describeMessage(inHistory));
      await expectUnread(w.user("carol"), w.groupId, 1, "after recall (unchanged)");
    },
  }),
  defineCase({
    id: "msg-recall-not-allowed",
    rules: ["MSG-11"],
    requirement: "An ordinary member recalling someone else's message is PermissionDenied RECALL_NOT_ALLOWED, and the message is unchanged.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "mine");
      await expectError(w.user("carol").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId }), Code.PermissionDenied, ErrorReason.RECALL_NOT_ALLOWED, {
        what: "a member recalling another member's message",
      });
      const still = await expectVisible(w.user("alice"), w.groupId, sent, "member");
      check(!still.recall && still.elements.length === 1, "a refused recall changed the message", "unchanged", describeMessage(still));
    },
  }),
  defineCase({
    id: "msg-recall-by-owner-and-admin",
    rules: ["MSG-11", "GRP-5"],
    requirement: "The group owner and admins may recall anyone's message.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      await ctx.admin.setMemberRole({ appId: w.app.appId, groupId: w.groupId, userId: "carol", role: MemberRole.ADMIN });
      const m1 = await w.user("bob").send(w.groupId, "one");
      const m2 = await w.user("dave").send(w.groupId, "two");
      const byOwner = await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: m1.messageId });
      expectEqual(byOwner.message?.recall?.recalledBy, "alice", "recalled_by for the owner");
      const byAdmin = await w.user("carol").messages.recallMessage({ groupId: w.groupId, messageId: m2.messageId });
      expectEqual(byAdmin.message?.recall?.recalledBy, "carol", "recalled_by for an admin");
    },
  }),
  defineCase({
    id: "msg-recall-twice",
    rules: ["MSG-11"],
    requirement: "Recalling a recalled message is FailedPrecondition ALREADY_RECALLED.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "x");
      await w.user("bob").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId });
      await expectError(w.user("bob").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId }), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, {
        what: "a second recall by the sender",
      });
      await expectError(w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId }), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, {
        what: "a second recall by the owner",
      });
    },
  }),
  defineCase({
    id: "msg-recall-not-found",
    rules: ["MSG-11", "MSG-14"],
    requirement: "Recalling an unknown message, or one of another group, is NotFound MESSAGE_NOT_FOUND.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: "g2" });
      const elsewhere = await w.user("bob").send(other, "in g2");
      await expectError(w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: "no-such-message" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "recall of an unknown message",
      });
      await expectError(w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: elsewhere.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "recall naming a message of another group",
      });
    },
  }),
  defineCase({
    id: "msg-history-paging",
    rules: ["MSG-12"],
    requirement: "ListMessages pages by seq with exclusive before_seq/after_seq, ascending results, limit and has_more.",
    async run(ctx) {
      const w = await ctx.world();
      for (let i = 1; i <= 5; i++) await w.user("alice").send(w.groupId, `m${i}`);
      const list = (req: { beforeSeq?: bigint; afterSeq?: bigint; limit?: number }) =>
        w.user("bob").messages.listMessages({ groupId: w.groupId, beforeSeq: req.beforeSeq ?? 0n, afterSeq: req.afterSeq ?? 0n, limit: req.limit ?? 0 });
      const cases: [string, Parameters<typeof list>[0], number[], boolean][] = [
        ["latest, limit 2", { limit: 2 }, [4, 5], true],
        ["latest, default limit", {}, [1, 2, 3, 4, 5], false],
        ["before_seq 4, limit 2", { beforeSeq: 4n, limit: 2 }, [2, 3], true],
        ["before_seq 2, limit 2", { beforeSeq: 2n, limit: 2 }, [1], false],
        ["after_seq 3", { afterSeq: 3n }, [4, 5], false],
        ["after_seq 1, limit 2", { afterSeq: 1n, limit: 2 }, [2, 3], true],
        ["after_seq 5", { afterSeq: 5n }, [], false],
      ];
      for (const [what, req, seqs, hasMore] of cases) {
        const page = await list(req);
        expectEqual({ seqs: seqsOf(page.messages), hasMore: page.hasMore }, { seqs, hasMore }, `ListMessages ${what}`);
      }
    },
  }),
  defineCase({
    id: "msg-history-bad-arguments",
    rules: ["MSG-12", "ERR-3"],
    requirement: "ListMessages with both bounds is FIELD_INVALID (field after_seq); a limit over 100 is FIELD_INVALID (field limit).",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, "x");
      await expectError(w.user("bob").messages.listMessages({ groupId: w.groupId, beforeSeq: 5n, afterSeq: 1n }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "after_seq",
        what: "ListMessages with before_seq and after_seq",
      });
      await expectError(w.user("bob").messages.listMessages({ groupId: w.groupId, limit: 101 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "limit",
        what: "ListMessages with limit 101",
      });
      const page = await w.user("bob").messages.listMessages({ groupId: w.groupId, limit: 100 });
      expectSeqs(page.messages, [1], "ListMessages with limit 100");
    },
  }),
  defineCase({
    id: "msg-get-message-not-found",
    rules: ["MSG-14"],
    requirement: "GetMessage of an unknown ID or of a message in another group is NotFound MESSAGE_NOT_FOUND, identical in both cases.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: "g2" });
      const elsewhere = await w.user("alice").send(other, "in g2");
      const here = await w.user("alice").send(w.groupId, "in g1");
      const a = await expectError(w.user("alice").messages.getMessage({ groupId: w.groupId, messageId: elsewhere.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "GetMessage naming a message of another group",
      });
      const b = await expectError(w.user("alice").messages.getMessage({ groupId: w.groupId, messageId: "no-such-message" }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "GetMessage of an unknown message",
      });
      expectEqual(a.field, b.field, "field of the two NotFound errors");
      const ok = await w.user("bob").messages.getMessage({ groupId: w.groupId, messageId: here.messageId });
      expectEqual(ok.message?.messageId, here.messageId, "GetMessage of a visible message");
    },
  }),
  defineCase({
    id: "msg-non-member-send",
    rules: ["MSG-1", "AUTH-5"],
    requirement: "A user who is not a current member cannot send: PermissionDenied NOT_A_MEMBER, and nothing is stored.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "frank"] });
      await w.user("frank").groups.leaveGroup({ groupId: w.groupId });
      await expectError(w.user("erin").send(w.groupId, "let me in"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { what: "a send by a non-member" });
      await expectError(w.user("frank").send(w.groupId, "I left"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, { what: "a send by a former member" });
      expectSeqs(await w.user("alice").history(w.groupId), [], "history after refused sends");
    },
  }),
  defineCase({
    id: "msg-system-message",
    rules: ["MSG-13", "ADM-5", "UNR-1"],
    requirement: "A system message (AdminService.SendMessage with empty sender_id) has an empty sender, reaches everyone and counts as unread for every member.",
    async run(ctx) {
      const w = await ctx.world();
      const subs = [await w.user("alice").subscribe(), await w.user("bob").subscribe()];
      const sent = await w.app.adminSend("", w.groupId, "maintenance tonight");
      expectEqual(sent.senderId, "", "sender_id of a system message");
      for (const sub of subs) {
        const m = receivedMessage(await sub.waitFor("the system message", isMessage(sent.messageId)));
        expectEqual(m?.senderId, "", "sender_id of the delivered system message");
      }
      for (const user of ["alice", "bob", "carol"]) await expectUnread(w.user(user), w.groupId, 1, "one system message");
    },
  }),
  defineCase({
    id: "msg-rejected-send-no-trace",
    rules: ["MSG-15", "ERR-2"],
    requirement: "Rejected sends store nothing, deliver nothing and change no seq, unread count, last message or mention flag.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = await w.user("bob").subscribe();
      const alice = w.user("alice");
      const rejected: (() => Promise<unknown>)[] = [
        () => alice.send(w.groupId, { elements: [] }),
        () => alice.send(w.groupId, { ...messageOfSize(13_000), mentionedUserIds: ["bob"] }),
        () => alice.send(w.groupId, { mentionedUserIds: ["bob", "erin"] }),
        () => alice.send(w.groupId, { mentionAll: true, elements: [{}] }),
        () => alice.send(w.groupId, { receiverIds: ["bob", "erin"], countAsUnreadForReceivers: true }),
        () => alice.send(w.groupId, { receiverIds: ["bob", "bob"] }),
      ];
      for (const call of rejected) {
        const outcome = await call().then(
          () => "accepted" as const,
          (err: unknown) => observe(err),
        );
        check(outcome !== "accepted", "a send that breaks the spec was accepted", "rejected", "accepted");
        check(outcome.code !== Code.Internal && outcome.code !== Code.Unknown, "bad input yielded Internal/Unknown", "a typed error", `${Code[outcome.code]}`);
      }
      const c = await w.user("bob").conversation(w.groupId);
      expectEqual(
        { unread: Number(c.unreadCount), last: c.lastMessage?.messageId ?? "", mentionedMe: c.mentionedMe, mentionedAll: c.mentionedAll },
        { unread: 0, last: "", mentionedMe: false, mentionedAll: false },
        "bob's conversation after rejected sends",
      );
      expectSeqs(await w.user("bob").history(w.groupId), [], "history after rejected sends");
      const next = await alice.send(w.groupId, "accepted");
      expectEqual(Number(next.seq), 1, "seq of the first accepted message");
      await bob.expectNone("a message from a rejected send", (e) => receivedMessage(e) !== undefined && !isMessage(next.messageId)(e), fence(next));
    },
  }),
  defineCase({
    id: "msg-admin-recall",
    rules: ["ADM-6", "MSG-11"],
    requirement: "AdminService.RecallMessage recalls any stored message, targeted ones included; recalled_by is empty.",
    async run(ctx) {
      const w = await ctx.world();
      const ordinary = await w.user("bob").send(w.groupId, "x");
      const targeted = await w.user("bob").send(w.groupId, { receiverIds: ["carol"] });
      for (const m of [ordinary, targeted]) {
        const res = await ctx.admin.recallMessage({ appId: w.app.appId, groupId: w.groupId, messageId: m.messageId });
        check(res.message?.recall, "AdminService.RecallMessage did not recall", "recall set", describeMessage(res.message));
        expectEqual(res.message.recall.recalledBy, "", "recalled_by of an admin recall");
      }
      const seen = await expectVisible(w.user("carol"), w.groupId, targeted, "receiver");
      check(seen.recall, "receiver sees an admin-recalled message unrecalled", "recall set", describeMessage(seen));
      await expectInvisible(w.user("alice"), w.groupId, targeted, "recalled targeted message, alice not in its audience");
    },
  }),
  defineCase({
    id: "msg-avchatroom-not-stored",
    rules: ["GRP-7", "MSG-2", "EVT-7"],
    requirement: "AVCHATROOM messages reach open subscriptions with an empty cursor, get seq 0, are never stored, counted or a last message.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.AVCHATROOM });
      const bob = await w.user("bob").subscribe();
      const sent = await w.user("alice").send(w.groupId, "live only");
      expectEqual(Number(sent.seq), 0, "seq of an AVCHATROOM message");
      const e = await bob.waitFor("the AVCHATROOM message", isMessage(sent.messageId));
      expectEqual(e.cursor, "", "cursor of an AVCHATROOM message event");
      expectSeqs(await w.user("bob").history(w.groupId), [], "AVCHATROOM history");
      await expectError(w.user("bob").messages.getMessage({ groupId: w.groupId, messageId: sent.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        what: "GetMessage of an AVCHATROOM message",
      });
      const c = await expectUnread(w.user("bob"), w.groupId, 0, "AVCHATROOM");
      expectLastMessage(c, "", "AVCHATROOM conversation");
      const late = await w.user("carol").subscribe();
      await late.expectNone("an AVCHATROOM message sent before subscribing", isMessage(sent.messageId));
    },
  }),
];

export { measuredSize };
