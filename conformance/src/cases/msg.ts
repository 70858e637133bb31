// Ordinary messages (MSG): seq numbering, elements, size, mentions, idempotency, recall, history
// pages, and rejected sends that leave no trace.
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, MemberRole, MessagePriority, MessageSchema, type Message } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual, show } from "../check.js";
import { checkError, expectError, observe, reasonOf } from "../errors.js";
import { concernsMessage, describeMessage, isMessage, isRecallOf, receivedMessage } from "../events.js";
import { fence, textElements, type SendInit } from "../fixtures.js";
import { sleep } from "../subscription.js";
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
    id: "msg-element-content-and-ranges",
    rules: ["MSG-3", "MSG-15"],
    requirement:
      "An image or file without url, a location outside -90..90 / -180..180, or a negative width, height, size_bytes or face index is InvalidArgument INVALID_ELEMENT (field elements[i]) and stores nothing; the bounds themselves and custom/face elements without content are accepted.",
    async run(ctx) {
      const w = await ctx.world();
      const alice = w.user("alice");
      const ok = textElements("ok")[0]!;
      const bad: [string, NonNullable<SendInit["elements"]>[number]][] = [
        ["an image without url", { element: { case: "image", value: { url: "" } } }],
        ["a file without url", { element: { case: "file", value: { url: "", fileName: "f" } } }],
        ["latitude 90.5", { element: { case: "location", value: { latitude: 90.5, longitude: 0 } } }],
        ["latitude -91", { element: { case: "location", value: { latitude: -91, longitude: 0 } } }],
        ["longitude 180.01", { element: { case: "location", value: { latitude: 0, longitude: 180.01 } } }],
        ["longitude NaN", { element: { case: "location", value: { latitude: 0, longitude: Number.NaN } } }],
        ["a negative image width", { element: { case: "image", value: { url: "https://x/a.png", width: -1 } } }],
        ["a negative image height", { element: { case: "image", value: { url: "https://x/a.png", height: -5 } } }],
        ["a negative image size_bytes", { element: { case: "image", value: { url: "https://x/a.png", sizeBytes: -1n } } }],
        ["a negative file size_bytes", { element: { case: "file", value: { url: "https://x/f", sizeBytes: -9_223_372_036_854_775_808n } } }],
        ["a negative face index", { element: { case: "face", value: { index: -1 } } }],
      ];
      for (const [what, element] of bad) {
        await expectError(alice.send(w.groupId, { elements: [ok, element] }), Code.InvalidArgument, ErrorReason.INVALID_ELEMENT, { field: "elements[1]", what: `a send with ${what} at index 1` });
      }
      expectSeqs(await alice.history(w.groupId), [], "history after the rejected sends");
      const edges = await alice.send(w.groupId, {
        elements: [
          { element: { case: "location", value: { latitude: -90, longitude: 180 } } },
          { element: { case: "location", value: { latitude: 90, longitude: -180 } } },
          { element: { case: "image", value: { url: "https://x/a.png", width: 0, height: 0, sizeBytes: 0n } } },
          { element: { case: "face", value: {} } },
          { element: { case: "custom", value: {} } },
        ],
      });
      expectEqual([Number(edges.seq), edges.elements.length], [1, 5], "[seq, elements] of a send with boundary locations, zero sizes and empty custom/face elements");
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
    rules: ["MSG-5", "MSG-15", "ERR-5", "SRV-1"],
    requirement:
      "A burst of at least 2 × send_rate_per_group_bound + 1 sends into one group is partly ResourceExhausted RATE_LIMITED, each with a RetryInfo; at most bound × (t + 1) are accepted; history holds exactly the accepted ones; after the retry delay a send is accepted.",
    async run(ctx) {
      const info = await ctx.serverInfo();
      const bound = Math.max(info.sendRatePerGroupBound, info.sendRatePerGroup);
      const w = await ctx.world();
      const senders = ["alice", "bob", "carol"].map((id) => w.user(id));
      await Promise.all(senders.map((s) => s.token()));
      // A burst proves something only if it arrives faster than the rate: on a slow server or
      // network it may not (every send accepted, within bound × (t + 1)); then it is repeated,
      // twice as large, at most 3 times.
      let attempts = Math.max(100, 2 * bound + 1);
      let sent = 0;
      const accepted: Awaited<ReturnType<(typeof senders)[number]["send"]>>[] = [];
      const rejected: ReturnType<typeof observe>[] = [];
      let limited: ReturnType<typeof observe>[] = [];
      for (let round = 0; ; round++) {
        const started = Date.now();
        const outcomes = await Promise.allSettled(Array.from({ length: attempts }, (_, i) => senders[i % 3]!.send(w.groupId, `burst ${round}.${i}`)));
        const elapsed = (Date.now() - started) / 1000;
        sent += attempts;
        const roundAccepted = outcomes.flatMap((o) => (o.status === "fulfilled" ? [o.value] : []));
        accepted.push(...roundAccepted);
        rejected.push(...outcomes.flatMap((o) => (o.status === "rejected" ? [observe(o.reason)] : [])));
        limited = rejected.filter((e) => e.code === Code.ResourceExhausted && reasonOf(e) === "RATE_LIMITED");
        const most = Math.floor(bound * (elapsed + 1));
        check(roundAccepted.length <= most, `more sends were accepted in ${elapsed.toFixed(2)} s than send_rate_per_group_bound × (t + 1)`, `≤ ${most}`, String(roundAccepted.length));
        if (limited.length > 0 || round === 2) break;
        attempts *= 2;
      }
      check(limited.length > 0, `${attempts} concurrent sends into one group were never rate limited`, "at least one ResourceExhausted RATE_LIMITED", `${accepted.length} accepted`);
      check(
        limited.length === rejected.length,
        "a burst of sends failed with something other than RATE_LIMITED",
        "only ResourceExhausted RATE_LIMITED",
        rejected.map((e) => `${e.code}/${reasonOf(e)}`).join(" "),
      );
      for (const e of limited) checkError(e, Code.ResourceExhausted, ErrorReason.RATE_LIMITED, {}, "a rate-limited send");
      const delays = limited.map((e) => {
        const d = e.retryInfos[0]?.retryDelay;
        return d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : -1;
      });
      check(delays.every((d) => d >= 1 && d <= 1000), "a RATE_LIMITED RetryInfo delay is outside 1 ms … 1 s", "1 ms ≤ retry_delay ≤ 1 s", JSON.stringify(delays.slice(0, 10)));
      expectEqual(accepted.length + rejected.length, sent, "accepted + rejected sends");
      const history = await w.user("alice").history(w.groupId);
      expectEqual(
        history.map((m) => m.messageId).sort(),
        accepted.map((m) => m.messageId).sort(),
        "IDs in history vs. IDs of the accepted sends",
      );
      expectEqual(seqsOf(history), Array.from({ length: accepted.length }, (_, i) => i + 1), "history seqs (one per accepted send, no gaps)");
      await sleep(Math.max(...delays) + 5);
      const after = await w.user("alice").send(w.groupId, "after waiting the retry delay");
      expectEqual(Number(after.seq), accepted.length + 1, "seq of a send after waiting the retry delay");
    },
  }),
  defineCase({
    id: "msg-rate-limit-per-group-and-burst",
    rules: ["MSG-5"],
    requirement:
      "The rate is per group: a burst into one group does not limit sends into another group of the app at the same time. The burst is at most the declared bound: after a second of quiet, a burst into a group is accepted at most bound × (t + 1) times.",
    async run(ctx) {
      const info = await ctx.serverInfo();
      const bound = Math.max(info.sendRatePerGroupBound, info.sendRatePerGroup);
      const w = await ctx.world();
      const quiet = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", "carol"], groupId: "g2" });
      const senders = ["alice", "bob", "carol"].map((id) => w.user(id));
      await Promise.all(senders.map((s) => s.token()));
      const burst = (groupId: string, n: number, label: string) =>
        Promise.allSettled(Array.from({ length: n }, (_, i) => senders[i % 3]!.send(groupId, `${label} ${i}`)));
      // Half the rate into g2 while g1 gets a burst far over it: g2's sends are all within its own bucket.
      const [, second] = await Promise.all([burst(w.groupId, 2 * bound + 1, "burst"), burst(quiet, Math.max(1, Math.floor(info.sendRatePerGroup / 2)), "other group")]);
      const refused = second.flatMap((o) => (o.status === "rejected" ? [observe(o.reason)] : []));
      check(refused.length === 0, "sends into a quiet group were refused while another group of the app had a burst", "every send into the quiet group accepted", refused.map((e) => `${e.code}/${reasonOf(e)}`).join(" "));
      // A full bucket holds at most the burst; 1.1 s refills it from empty.
      await sleep(1100);
      const started = Date.now();
      const outcomes = await burst(w.groupId, 2 * bound + 1, "after quiet");
      const elapsed = (Date.now() - started) / 1000;
      const accepted = outcomes.filter((o) => o.status === "fulfilled").length;
      const most = Math.floor(bound * (elapsed + 1));
      check(accepted <= most, `a burst after a quiet second had more sends accepted in ${elapsed.toFixed(2)} s than send_rate_per_group_bound × (t + 1)`, `≤ ${most}`, String(accepted));
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
    requirement:
      "51 mentioned users are InvalidArgument MENTION_LIST_TOO_LONG, but one user mentioned 51 times is one mention (duplicates collapse first); a mentioned non-member is FailedPrecondition MENTIONED_USER_NOT_MEMBER naming them.",
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
      // Duplicates are collapsed before the limit is applied: bob 51 times is one mention.
      await w.user("alice").send(w.groupId, { mentionedUserIds: Array.from({ length: 51 }, () => "bob") });
      expectEqual((await w.user("bob").conversation(w.groupId)).mentionedMe, true, "bob's mentioned_me after a send mentioning him 51 times");
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
    id: "msg-idempotent-after-receiver-left",
    rules: ["MSG-10", "TGT-5"],
    requirement:
      "A retry of a targeted send after one of its receivers left the group returns the original message (same message_id and seq), not RECEIVER_NOT_MEMBER, and stores and delivers nothing more.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const carol = await w.user("carol").subscribe();
      const first = await w.user("alice").send(w.groupId, { text: "for bob and carol", receiverIds: ["bob", "carol"], clientMessageId: "targeted-retry" });
      await w.user("bob").groups.leaveGroup({ groupId: w.groupId });
      const again = await w.user("alice").send(w.groupId, { text: "for bob and carol", receiverIds: ["bob", "carol"], clientMessageId: "targeted-retry" });
      expectEqual([again.messageId, Number(again.seq), again.receiverIds], [first.messageId, Number(first.seq), ["bob", "carol"]], "[message_id, seq, receiver_ids] of the retry after bob left");
      const next = await w.user("alice").send(w.groupId, "next");
      await carol.waitFor("the next message", isMessage(next.messageId));
      expectEqual(carol.events.filter(isMessage(first.messageId)).length, 1, "carol's live deliveries of the message sent twice with one key");
      expectSeqs(await w.user("carol").history(w.groupId), [Number(first.seq), Number(next.seq)], "carol's history seqs");
    },
  }),
  defineCase({
    id: "msg-idempotent-per-group",
    rules: ["MSG-10"],
    requirement:
      "The idempotency key is scoped to (sender, group), the system being one sender: the same client_message_id in another group is a new message there; in the same group it returns the original.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"], groupId: "g2" });
      const alice = w.user("alice");
      await alice.send(w.groupId, "warm-up");
      const first = await alice.send(w.groupId, { text: "in g1", clientMessageId: "k-1" });
      const elsewhere = await alice.send(other, { text: "in g2", clientMessageId: "k-1" });
      check(elsewhere.messageId !== first.messageId, "a send with a key used in another group returned that group's message", "a new message in g2", describeMessage(elsewhere));
      expectEqual([elsewhere.groupId, Number(elsewhere.seq), elsewhere.clientMessageId], [other, 1, "k-1"], "[group_id, seq, client_message_id] of the send in the other group");
      const retryHere = await alice.send(w.groupId, { text: "in g1", clientMessageId: "k-1" });
      expectEqual([retryHere.messageId, Number(retryHere.seq)], [first.messageId, 2], "[message_id, seq] of a retry in the first group");
      const retryThere = await alice.send(other, { text: "in g2", clientMessageId: "k-1" });
      expectEqual([retryThere.messageId, Number(retryThere.seq)], [elsewhere.messageId, 1], "[message_id, seq] of a retry in the other group");
      expectSeqs(await w.user("bob").history(other), [1], "history of the other group");
      expectSeqs(await w.user("bob").history(w.groupId), [1, 2], "history of the first group");
      // The system (AdminService.SendMessage with an empty sender_id) is one sender.
      const sys = await w.app.adminSend("", w.groupId, { text: "system", clientMessageId: "k-1" });
      check(sys.messageId !== first.messageId, "a system message with alice's key returned alice's message", "a new message", describeMessage(sys));
      const sysAgain = await w.app.adminSend("", w.groupId, { text: "system", clientMessageId: "k-1" });
      expectEqual([sysAgain.messageId, Number(sysAgain.seq)], [sys.messageId, Number(sys.seq)], "[message_id, seq] of a repeated system message with the same key");
      const sysOther = await w.app.adminSend("", other, { text: "system", clientMessageId: "k-1" });
      check(sysOther.messageId !== sys.messageId, "a system message with a key used in another group returned that group's message", "a new message", describeMessage(sysOther));
      expectEqual(Number(sysOther.seq), 2, "seq of the system message in the other group");
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
    id: "msg-recall-replayed-as-recalled",
    rules: ["MSG-11", "EVT-3"],
    requirement: "Replaying past a message that was recalled since delivers its MessageReceived showing it recalled (no elements, recall set), then the MessageRecalled.",
    async run(ctx) {
      const w = await ctx.world();
      const takenAt = Date.now();
      const first = await w.user("bob").subscribe();
      const cursor = await first.ready();
      first.close();
      const sent = await w.user("alice").send(w.groupId, { text: "soon gone", customData: new Uint8Array([1]) });
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId });
      const replay = await w.user("bob").replay(cursor, takenAt);
      if (!replay) return; // the cursor outlived a (very short) event retention
      const events = replay.replayed.filter((e) => concernsMessage(sent.messageId)(e));
      expectEqual(events.map((e) => e.payload.case), ["messageReceived", "messageRecalled"], "events of the message replayed to bob");
      const m = receivedMessage(events[0]!);
      check(m?.recall && m.elements.length === 0 && m.customData.length === 0, "the replayed MessageReceived shows the recalled message with its content", "recall set, no elements, no custom_data", describeMessage(m));
      expectEqual([m.seq, m.senderId], [sent.seq, "alice"], "[seq, sender_id] of the replayed recalled message (kept)");
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
    id: "msg-recall-window-expired",
    rules: ["MSG-11", "SRV-1"],
    requirement:
      "After the recall window (--recall-window, declared as recall_window) the sender's recall is FailedPrecondition RECALL_WINDOW_EXPIRED and changes nothing, while the owner may still recall the message.",
    async run(ctx) {
      const windowSeconds = ctx.settings.recallWindowSeconds;
      if (windowSeconds > 20) ctx.skip(`the recall window is ${windowSeconds} s; the case waits it out only up to 20 s (run the server with a shorter window and tell the suite with --recall-window)`);
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "recall me too late");
      const sentAt = Date.now();
      const sub = await w.user("carol").subscribe();
      // 1 s of slack covers the clocks and the transit of the send.
      await sleep(Math.max(0, sentAt + windowSeconds * 1000 + 1000 - Date.now()));
      await expectError(w.user("bob").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId }), Code.FailedPrecondition, ErrorReason.RECALL_WINDOW_EXPIRED, {
        what: `the sender recalling ${windowSeconds} s + 1 s after sending`,
      });
      const still = await expectVisible(w.user("carol"), w.groupId, sent, "after a refused recall");
      check(!still.recall && still.elements.length === 1, "a recall refused for the window changed the message", "unchanged", describeMessage(still));
      const later = await w.user("alice").send(w.groupId, "fence");
      await sub.expectNone("MessageRecalled of the message whose recall was refused", isRecallOf(sent.messageId), fence(later));
      const byOwner = await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId });
      expectEqual(byOwner.message?.recall?.recalledBy, "alice", "recalled_by when the owner recalls after the window");
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
    rules: ["MSG-12", "PAG-1"],
    requirement:
      "ListMessages: no anchor walks back from the latest, before_seq walks back below it, after_seq walks forward above it (after_seq 0 from the first message; before_seq 0 selects nothing; anchors beyond the latest allowed); each page ascending; next_page_token is set exactly when more visible messages lie beyond the page.",
    async run(ctx) {
      const w = await ctx.world();
      for (let i = 1; i <= 5; i++) await w.user("alice").send(w.groupId, `m${i}`);
      const bob = w.user("bob").messages;
      const walk = async (what: string, first: { beforeSeq?: bigint; afterSeq?: bigint; pageSize?: number }, pages: number[][]) => {
        let pageToken = "";
        for (let i = 0; i < pages.length; i++) {
          const res = await bob.listMessages({ groupId: w.groupId, beforeSeq: first.beforeSeq, afterSeq: first.afterSeq, pageSize: first.pageSize ?? 0, pageToken });
          const last = i === pages.length - 1;
          expectEqual({ seqs: seqsOf(res.messages), more: res.nextPageToken !== "" }, { seqs: pages[i]!, more: !last }, `ListMessages ${what}, page ${i + 1}`);
          pageToken = res.nextPageToken;
        }
      };
      await walk("latest, page_size 2", { pageSize: 2 }, [[4, 5], [2, 3], [1]]);
      await walk("latest, default page_size", {}, [[1, 2, 3, 4, 5]]);
      await walk("before_seq 4, page_size 2", { beforeSeq: 4n, pageSize: 2 }, [[2, 3], [1]]);
      await walk("before_seq 2, page_size 2", { beforeSeq: 2n, pageSize: 2 }, [[1]]);
      await walk("after_seq 3", { afterSeq: 3n }, [[4, 5]]);
      await walk("after_seq 1, page_size 2", { afterSeq: 1n, pageSize: 2 }, [[2, 3], [4, 5]]);
      await walk("no anchor (latest), page_size 3", { pageSize: 3 }, [[3, 4, 5], [1, 2]]);
      await walk("after_seq 0 walks from the first message, page_size 3", { afterSeq: 0n, pageSize: 3 }, [[1, 2, 3], [4, 5]]);
      await walk("before_seq 0 selects nothing", { beforeSeq: 0n }, [[]]);
      await walk("after_seq 5", { afterSeq: 5n }, [[]]);
      await walk("before_seq 1", { beforeSeq: 1n }, [[]]);
      await walk("before_seq beyond the latest (starts at the latest), page_size 3", { beforeSeq: 1000n, pageSize: 3 }, [[3, 4, 5], [1, 2]]);
      await walk("after_seq beyond the latest", { afterSeq: 1000n }, [[]]);
    },
  }),
  defineCase({
    id: "msg-history-bad-arguments",
    rules: ["MSG-12", "PAG-2", "PAG-3", "ERR-3"],
    requirement:
      "ListMessages with both anchors is FIELD_INVALID (field after_seq); page_size above 100 is coerced to 100 and a negative one is FIELD_INVALID (field page_size); a page token with other anchors than the first request is PAGE_TOKEN_INVALID.",
    async run(ctx) {
      const w = await ctx.world();
      await w.app.sendMany("alice", w.groupId, 103);
      const bob = w.user("bob").messages;
      await expectError(bob.listMessages({ groupId: w.groupId, beforeSeq: 5n, afterSeq: 1n }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "after_seq",
        what: "ListMessages with before_seq and after_seq",
      });
      await expectError(bob.listMessages({ groupId: w.groupId, pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "page_size", what: "ListMessages with page_size -1" });
      const defaulted = await bob.listMessages({ groupId: w.groupId });
      check(defaulted.messages.length > 0 && defaulted.messages.length <= 20 && defaulted.nextPageToken !== "", "ListMessages with page_size 0 did not use the default of 20", "1..20 messages and a next_page_token", `${defaulted.messages.length} messages`);
      expectEqual(Number(defaulted.messages.at(-1)?.seq), 103, "last seq of the latest page");
      const clamped = await bob.listMessages({ groupId: w.groupId, pageSize: 101 });
      check(clamped.messages.length <= 100 && clamped.messages.length > 0 && clamped.nextPageToken !== "", "page_size 101 was not coerced to at most 100", "1..100 messages and a next_page_token", `${clamped.messages.length} messages, token ${JSON.stringify(clamped.nextPageToken)}`);
      const huge = await bob.listMessages({ groupId: w.groupId, pageSize: 5000, afterSeq: 1n });
      check(huge.messages.length <= 100 && huge.nextPageToken !== "", "page_size 5000 was not coerced to at most 100", "≤ 100 messages and a next_page_token (102 follow)", `${huge.messages.length} messages`);
      const page = await bob.listMessages({ groupId: w.groupId, beforeSeq: 50n, pageSize: 5 });
      check(page.nextPageToken !== "", "a page with more messages before it has no next_page_token");
      for (const [what, anchors] of [
        ["no anchors", {}],
        ["another before_seq", { beforeSeq: 40n }],
        ["after_seq instead", { afterSeq: 50n }],
      ] as const) {
        await expectError(bob.listMessages({ groupId: w.groupId, pageSize: 5, pageToken: page.nextPageToken, ...anchors }), Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, {
          field: "page_token",
          what: `ListMessages with a before_seq=50 page token and ${what}`,
        });
      }
      expectSeqs((await bob.listMessages({ groupId: w.groupId, pageSize: 5, beforeSeq: 50n, pageToken: page.nextPageToken })).messages, [40, 41, 42, 43, 44], "the next page with the same anchor");
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
    rules: ["MSG-15", "ERR-2", "MSG-6"],
    requirement: "Rejected sends store nothing, deliver nothing and change no seq, unread count, last message, mention flag or idempotency record.",
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
        () => alice.send(w.groupId, { text: "keyed", clientMessageId: "key-1", mentionedUserIds: ["erin"] }),
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
      const next = await alice.send(w.groupId, { text: "accepted", clientMessageId: "key-1" });
      expectEqual([Number(next.seq), next.clientMessageId, next.elements.length], [1, "key-1", 1], "[seq, client_message_id, elements] of the first accepted message (its key was used by a rejected send: no idempotency record)");
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
