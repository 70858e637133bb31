// Editing messages (EDT) and the rule every derived item follows (DRV-1): only the sender edits,
// the edit reaches exactly the users who may see the message, and a user who may not see it
// cannot tell it from a message that does not exist — by any response, event, count or replay.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, type Event, type Message } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { checkError, expectError, observe, reasonOf } from "../errors.js";
import { concernsMessage, describeMessage, editedMessage, isEditOf, isMessage, receivedMessage } from "../events.js";
import { fence, textElements, type UserHandle } from "../fixtures.js";
import { sleep } from "../subscription.js";
import { errorFingerprint, expectInvisible, expectLastMessage, expectUnread, expectVisible, rejection } from "./util.js";

/** The text of a message's elements, joined ("" for none). */
function textOf(m: Message | undefined): string {
  return (m?.elements ?? []).map((e) => (e.element.case === "text" ? e.element.value.text : `<${e.element.case}>`)).join("|");
}

/** Edits a message to one text element (and optional custom data); returns the edited message. */
async function edit(user: UserHandle, groupId: string, messageId: string, text: string, customData = new Uint8Array()): Promise<Message> {
  const res = await user.messages.editMessage({ groupId, messageId, elements: textElements(text), customData });
  check(res.message, "EditMessage returned no message");
  return res.message;
}

/** A cursor at the head of the user's stream now, and when it was taken (for UserHandle.replay). */
async function cursorNow(user: UserHandle): Promise<{ cursor: string; takenAt: number }> {
  const takenAt = Date.now();
  const sub = await user.subscribe();
  const cursor = await sub.ready();
  sub.close();
  return { cursor, takenAt };
}

/** Whether the event is a ConversationUpdated showing the message as last message. */
function carriesLast(e: Event, messageId: string): boolean {
  return e.payload.case === "conversationUpdated" && e.payload.value.conversation?.lastMessage?.messageId === messageId;
}

/** The message an event carries: MessageReceived's, MessageEdited's, or a ConversationUpdated's last message. */
function messageIn(e: Event): Message | undefined {
  if (e.payload.case === "conversationUpdated") return e.payload.value.conversation?.lastMessage;
  return receivedMessage(e) ?? editedMessage(e);
}

export const edtCases = [
  defineCase({
    id: "edt-edit-by-sender",
    rules: ["EDT-1", "EDT-3", "EDT-4", "EDT-5", "EVT-2", "CNV-2"],
    requirement:
      "The sender edits a message: the response, every member's MessageEdited, GetMessage, history and last_message show the new elements and custom data with edit_count 1, then 2; seq, ID, sender and server_time are kept, and unread counts do not change.",
    async run(ctx) {
      const w = await ctx.world();
      const subs = [await w.user("alice").subscribe(), await w.user("carol").subscribe(), await w.user("bob").subscribe()];
      const sent = await w.user("bob").send(w.groupId, { text: "draft", customData: new Uint8Array([1]) });
      const edited = await edit(w.user("bob"), w.groupId, sent.messageId, "final", new Uint8Array([2, 2]));
      expectEqual(
        [textOf(edited), [...edited.customData], edited.edit?.editCount, edited.messageId, Number(edited.seq), edited.senderId, edited.serverTime?.seconds],
        ["final", [2, 2], 1, sent.messageId, Number(sent.seq), "bob", sent.serverTime?.seconds],
        "EditMessage response [text, custom_data, edit_count, message_id, seq, sender_id, server_time.seconds]",
      );
      check(edited.edit?.editTime, "EditMessage response lacks edit.edit_time", "edit_time set");
      for (const sub of subs) {
        const m = editedMessage(await sub.waitFor("MessageEdited of bob's message", isEditOf(sent.messageId)));
        expectEqual([textOf(m), m?.edit?.editCount], ["final", 1], `${sub.label}: MessageEdited [text, edit_count]`);
      }
      const viaGet = await expectVisible(w.user("carol"), w.groupId, sent, "edited message");
      expectEqual([textOf(viaGet), [...viaGet.customData], viaGet.edit?.editCount], ["final", [2, 2], 1], "GetMessage after the edit [text, custom_data, edit_count]");
      const [inHistory] = (await w.user("alice").history(w.groupId)).filter((m) => m.messageId === sent.messageId);
      expectEqual(textOf(inHistory), "final", "ListMessages after the edit: text");
      const carol = await expectUnread(w.user("carol"), w.groupId, 1, "after the edit (unchanged)");
      expectLastMessage(carol, sent.messageId, "carol after the edit");
      expectEqual([textOf(carol.lastMessage), carol.lastMessage?.serverTime?.seconds], ["final", sent.serverTime?.seconds], "carol's last_message [text, server_time.seconds]");
      const again = await edit(w.user("bob"), w.groupId, sent.messageId, "final, really");
      expectEqual([textOf(again), again.edit?.editCount], ["final, really", 2], "second edit [text, edit_count]");
      await subs[1]!.waitFor("the second MessageEdited", (e) => editedMessage(e)?.edit?.editCount === 2);
    },
  }),
  defineCase({
    id: "edt-not-allowed",
    rules: ["EDT-1", "EDT-6"],
    requirement: "A member who may see a message but did not send it — even the owner, even a targeted message's receiver — is PermissionDenied EDIT_NOT_ALLOWED (field message_id), and nothing changes or is sent.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "bob's");
      const secret = await w.user("bob").send(w.groupId, { text: "for carol", receiverIds: ["carol"] });
      const sub = await w.user("carol").subscribe();
      for (const [who, m, what] of [
        ["carol", sent, "a member editing another member's message"],
        ["alice", sent, "the owner editing a member's message"],
        ["carol", secret, "the receiver editing a targeted message"],
      ] as const) {
        await expectError(edit(w.user(who), w.groupId, m.messageId, "hijacked"), Code.PermissionDenied, ErrorReason.EDIT_NOT_ALLOWED, { field: "message_id", what });
      }
      const still = await expectVisible(w.user("carol"), w.groupId, sent, "after refused edits");
      check(!still.edit && textOf(still) === "bob's", "a refused edit changed the message", "unchanged, no edit", describeMessage(still));
      const later = await w.user("alice").send(w.groupId, "fence");
      await sub.expectNone("MessageEdited after refused edits", (e) => e.payload.case === "messageEdited", fence(later));
    },
  }),
  defineCase({
    id: "edt-targeted-audience-only",
    rules: ["DRV-1", "EDT-4", "TGT-4", "MSG-14"],
    requirement:
      "An edit of a message targeted to 2 of 10 members reaches the 2 receivers and the sender only; the other 7 get no event, no change in unread or last message, and their EditMessage of it fails exactly as for a message ID that does not exist.",
    async run(ctx) {
      const members = ["alice", "bob", "carol", "m4", "m5", "m6", "m7", "m8", "m9", "m10"];
      const w = await ctx.world({ members });
      const outsiders = members.filter((m) => !["alice", "bob", "carol"].includes(m));
      const before = await Promise.all(outsiders.map((id) => w.user(id).conversation(w.groupId)));
      const audience = await Promise.all(["alice", "bob", "carol"].map((id) => w.user(id).subscribe()));
      const others = await Promise.all(outsiders.map((id) => w.user(id).subscribe()));
      const secret = await w.user("alice").send(w.groupId, { text: "v1", receiverIds: ["bob", "carol"] });
      await edit(w.user("alice"), w.groupId, secret.messageId, "v2 for bob and carol");
      for (const sub of audience) await sub.waitFor("MessageEdited of the targeted message", isEditOf(secret.messageId));
      const after = await w.user("alice").send(w.groupId, "fence for everyone");
      for (const sub of others) await sub.expectNone("any event of a message targeted to others", concernsMessage(secret.messageId), fence(after));
      // Each outsider's view is what it was, apart from the ordinary message sent after.
      for (const [i, id] of outsiders.entries()) {
        const c = await w.user(id).conversation(w.groupId);
        expectEqual([Number(c.unreadCount), c.lastMessage?.messageId], [Number(before[i]!.unreadCount) + 1, after.messageId], `${id}'s [unread_count, last_message] after the edit and one ordinary message`);
      }
      await expectInvisible(w.user("m4"), w.groupId, secret, "edited, targeted to bob and carol");
      const hidden = await rejection(edit(w.user("m4"), w.groupId, secret.messageId, "guess"), "an outsider's EditMessage of a targeted message");
      const missing = await rejection(edit(w.user("m4"), w.groupId, "no-such-message", "guess"), "EditMessage of an unknown message ID");
      checkError(hidden, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" }, "an outsider's EditMessage of a targeted message");
      expectEqual(errorFingerprint(hidden), errorFingerprint(missing), "the error of editing a hidden message vs. an unknown one (they must not differ)");
      const still = await expectVisible(w.user("bob"), w.groupId, secret, "receiver");
      expectEqual([textOf(still), still.edit?.editCount], ["v2 for bob and carol", 1], "the targeted message after an outsider's refused edit [text, edit_count]");
    },
  }),
  defineCase({
    id: "edt-replayed-edited",
    rules: ["EDT-3", "EDT-4", "DRV-1", "EVT-3"],
    requirement:
      "Replaying past a message edited twice delivers its MessageReceived, the ConversationUpdated that showed it as last message, and both MessageEdited, each showing only the latest content (edit_count 2): an edit that takes text out takes it out of the replay too.",
    async run(ctx) {
      const w = await ctx.world();
      const { cursor, takenAt } = await cursorNow(w.user("carol"));
      const sent = await w.user("bob").send(w.groupId, "my password is hunter2");
      await w.user("carol").conversations.markConversationRead({ groupId: w.groupId, readSeq: sent.seq });
      await edit(w.user("bob"), w.groupId, sent.messageId, "my password is ******");
      await edit(w.user("bob"), w.groupId, sent.messageId, "(removed)");
      const replay = await w.user("carol").replay(cursor, takenAt);
      if (!replay) return; // the cursor outlived a (very short) event retention
      const events = replay.replayed.filter((e) => concernsMessage(sent.messageId)(e) || carriesLast(e, sent.messageId));
      expectEqual(events.map((e) => e.payload.case), ["messageReceived", "conversationUpdated", "messageEdited", "messageEdited"], "events with the message in them replayed to carol");
      for (const e of events) {
        const m = messageIn(e);
        expectEqual([textOf(m), m?.edit?.editCount], ["(removed)", 2], `the replayed ${e.payload.case}'s message [text, edit_count]`);
      }
    },
  }),
  defineCase({
    id: "edt-recall-hides-edits",
    rules: ["EDT-4", "DRV-1", "MSG-11", "EVT-3"],
    requirement:
      "After an edited message is recalled, replay delivers its MessageReceived, the ConversationUpdated that showed it as last message and every MessageEdited as the recalled message (no elements, no custom data, recall set), then MessageRecalled: no replayed event carries any version of its content. Editing it then is FailedPrecondition ALREADY_RECALLED.",
    async run(ctx) {
      const w = await ctx.world();
      const { cursor, takenAt } = await cursorNow(w.user("carol"));
      const sent = await w.user("bob").send(w.groupId, { text: "one", customData: new Uint8Array([1]) });
      await w.user("carol").conversations.markConversationRead({ groupId: w.groupId, readSeq: sent.seq });
      await edit(w.user("bob"), w.groupId, sent.messageId, "two", new Uint8Array([2]));
      await edit(w.user("bob"), w.groupId, sent.messageId, "three", new Uint8Array([3]));
      await w.user("bob").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId });
      await expectError(edit(w.user("bob"), w.groupId, sent.messageId, "four"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, {
        what: "editing a recalled message",
      });
      const replay = await w.user("carol").replay(cursor, takenAt);
      if (!replay) return;
      const events = replay.replayed.filter((e) => concernsMessage(sent.messageId)(e) || carriesLast(e, sent.messageId));
      expectEqual(
        events.map((e) => e.payload.case),
        ["messageReceived", "conversationUpdated", "messageEdited", "messageEdited", "messageRecalled"],
        "events with the message in them replayed to carol",
      );
      for (const e of events.slice(0, 4)) {
        const m = messageIn(e);
        check(m?.recall && m.elements.length === 0 && m.customData.length === 0, `a replayed ${e.payload.case} of a recalled message carries content`, "recall set, no elements, no custom_data", describeMessage(m));
      }
    },
  }),
  defineCase({
    id: "edt-checks-in-order",
    rules: ["EDT-6", "EDT-3", "MSG-3", "MSG-4", "AUTH-5"],
    requirement:
      "EditMessage checks in EDT-6's order — FIELD_INVALID, EMPTY_MESSAGE / INVALID_ELEMENT, MESSAGE_TOO_LARGE, GROUP_NOT_FOUND, NOT_A_MEMBER, MESSAGE_NOT_FOUND — and a refused edit changes nothing.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "keep me");
      const bob = w.user("bob");
      const big = textElements("x".repeat(13_000));
      const attempts: [() => Promise<unknown>, Code, ErrorReason, string, string][] = [
        [() => bob.messages.editMessage({ groupId: w.groupId, messageId: "", elements: [] }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, "message_id", "no message_id (and no elements)"],
        [() => bob.messages.editMessage({ groupId: w.groupId, messageId: sent.messageId, elements: [] }), Code.InvalidArgument, ErrorReason.EMPTY_MESSAGE, "elements", "no elements"],
        [() => bob.messages.editMessage({ groupId: "no-such-group", messageId: "no-such-message", elements: [{ element: { case: "text", value: { text: "" } } }] }), Code.InvalidArgument, ErrorReason.INVALID_ELEMENT, "elements[0]", "an empty text element (unknown group and message)"],
        [() => bob.messages.editMessage({ groupId: "no-such-group", messageId: sent.messageId, elements: big }), Code.InvalidArgument, ErrorReason.MESSAGE_TOO_LARGE, "elements", "13,000 bytes of text (unknown group)"],
        [() => edit(bob, "no-such-group", sent.messageId, "x"), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, "", "an unknown group"],
        [() => edit(w.user("erin"), w.groupId, "no-such-message", "x"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, "", "a non-member (unknown message)"],
        [() => edit(bob, w.groupId, "no-such-message", "x"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, "message_id", "an unknown message"],
      ];
      for (const [call, code, reason, field, what] of attempts) {
        await expectError(call(), code, reason, { ...(field ? { field } : {}), what: `EditMessage with ${what}` });
      }
      const still = await expectVisible(w.user("carol"), w.groupId, sent, "after refused edits");
      check(!still.edit && textOf(still) === "keep me", "a refused edit changed the message", "unchanged", describeMessage(still));
    },
  }),
  defineCase({
    id: "edt-window-expired",
    rules: ["EDT-2", "SRV-1"],
    requirement: "After the edit window (--edit-window, declared as edit_window) the sender's edit is FailedPrecondition EDIT_WINDOW_EXPIRED and changes nothing.",
    async run(ctx) {
      const windowSeconds = ctx.settings.editWindowSeconds;
      if (windowSeconds > 20) ctx.skip(`the edit window is ${windowSeconds} s; the case waits it out only up to 20 s (run the server with a shorter window and tell the suite with --edit-window)`);
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "edit me too late");
      const sentAt = Date.now();
      const sub = await w.user("carol").subscribe();
      await sleep(Math.max(0, sentAt + windowSeconds * 1000 + 1000 - Date.now()));
      await expectError(edit(w.user("bob"), w.groupId, sent.messageId, "late"), Code.FailedPrecondition, ErrorReason.EDIT_WINDOW_EXPIRED, {
        what: `the sender editing ${windowSeconds} s + 1 s after sending`,
      });
      const still = await expectVisible(w.user("carol"), w.groupId, sent, "after a refused edit");
      check(!still.edit && textOf(still) === "edit me too late", "an edit refused for the window changed the message", "unchanged", describeMessage(still));
      const later = await w.user("alice").send(w.groupId, "fence");
      await sub.expectNone("MessageEdited of a message whose edit was refused", isEditOf(sent.messageId), fence(later));
    },
  }),
  defineCase({
    id: "edt-not-told-to-leaver",
    rules: ["VIS-2", "EDT-4", "DRV-1"],
    requirement: "A member who left gets no MessageEdited of a message they received before leaving, neither live nor on replay from a cursor before they left.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["carol"], groupId: "g2" });
      const takenAt = Date.now();
      const carol = await w.user("carol").subscribe();
      const cursor = await carol.ready();
      const sent = await w.user("bob").send(w.groupId, "seen by carol");
      await carol.waitFor("bob's message", isMessage(sent.messageId));
      await w.user("carol").groups.leaveGroup({ groupId: w.groupId });
      await edit(w.user("bob"), w.groupId, sent.messageId, "edited after carol left");
      const after = await w.user("alice").send(other, "fence in g2");
      await carol.expectNone("MessageEdited after she left", isEditOf(sent.messageId), { description: "the message in g2", predicate: isMessage(after.messageId) });
      const replay = await w.user("carol").replay(cursor, takenAt);
      if (!replay) return;
      replay.assertNone("a replayed MessageEdited of an edit after she left", isEditOf(sent.messageId));
    },
  }),
  defineCase({
    id: "edt-rate-limited",
    rules: ["EDT-5", "MSG-5", "ERR-5"],
    requirement:
      "Edits draw on the group's send bucket: of a burst of edits far over the rate, at most send_rate_per_group_bound × (t + 1) are accepted in t seconds, every other one is ResourceExhausted RATE_LIMITED with a RetryInfo (or, answered after a short edit window, EDIT_WINDOW_EXPIRED), and edit_count counts exactly the accepted edits.",
    async run(ctx) {
      const info = await ctx.serverInfo();
      const bound = Math.max(info.sendRatePerGroupBound, info.sendRatePerGroup);
      const windowMs = ctx.settings.editWindowSeconds * 1000;
      const w = await ctx.world();
      // Edits spread over ten messages: edits of one message wait for each other (a server may
      // lock it), and the point is the group's bucket, not that queue.
      const sent: Message[] = [];
      const firstSentAt = Date.now();
      for (let i = 0; i < 10; i++) sent.push(await w.user("bob").send(w.groupId, `m${i} v0`));
      await sleep(1100); // the bucket is full again
      const started = Date.now();
      const outcomes = await Promise.allSettled(Array.from({ length: 2 * bound + 1 }, (_, i) => edit(w.user("bob"), w.groupId, sent[i % 10]!.messageId, `v${i + 1}`)));
      const elapsed = (Date.now() - started) / 1000;
      const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [observe(o.reason)] : []));
      const accepted = outcomes.length - refused.length;
      // The bucket held at most `bound` and refilled for `elapsed` seconds.
      const most = Math.floor(bound * (elapsed + 1));
      check(accepted <= most, `${outcomes.length} edits at once had more accepted in ${elapsed.toFixed(2)} s than send_rate_per_group_bound × (t + 1): edits must draw on the send bucket`, `≤ ${most}`, String(accepted));
      // A short edit window (a test server's) may pass while a loaded server answers the burst.
      const overRate = refused.filter((o) => !(reasonOf(o) === "EDIT_WINDOW_EXPIRED" && Date.now() - firstSentAt >= windowMs - 1000));
      for (const o of overRate) checkError(o, Code.ResourceExhausted, ErrorReason.RATE_LIMITED, {}, "an edit over the rate");
      check(overRate.every((o) => o.retryInfos.length === 1), "a RATE_LIMITED edit lacks its RetryInfo", "one RetryInfo each", overRate.map((o) => `${reasonOf(o)}:${o.retryInfos.length}`).join(" "));
      const counts = (await w.user("carol").history(w.groupId)).filter((m) => sent.some((s) => s.messageId === m.messageId)).map((m) => m.edit?.editCount ?? 0);
      expectEqual(counts.reduce((a, b) => a + b, 0), accepted, "the edit_count of the ten messages together after a burst of edits (the accepted ones only)");
    },
  }),
];
