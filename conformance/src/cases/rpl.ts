// Quote replies (RPL) under the rule of every derived item (DRV-1): a reply names the quoted
// message by ID, never copies it; each reader is shown the quote as they may see it, or that it
// is not available — identically whether it is hidden from them or gone; and a reply never shows
// a targeted message to anyone outside its audience.
import { Code } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { ErrorReason, GroupType, QuoteStatus, ReplyToSchema, type Message } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual, show } from "../check.js";
import { checkError, expectError } from "../errors.js";
import { concernsMessage, describeMessage, isMessage, receivedMessage } from "../events.js";
import { fence, textElements, type SendInit, type UserHandle } from "../fixtures.js";
import { errorFingerprint, expectVisible, rejection } from "./util.js";

/** The text of a message's elements, joined ("" for none). */
function textOf(m: Message | undefined): string {
  return (m?.elements ?? []).map((e) => (e.element.case === "text" ? e.element.value.text : `<${e.element.case}>`)).join("|");
}

/** Sends a reply to `quotedId` and returns it as accepted. */
function reply(user: UserHandle, groupId: string, quotedId: string, init: SendInit | string): Promise<Message> {
  const base = typeof init === "string" ? { text: init } : init;
  return user.send(groupId, { ...base, replyToMessageId: quotedId });
}

/** What a reader is shown of a reply's quote: "available: <text>", "unavailable" or "unresolved". */
function quoteOf(m: Message | undefined): string {
  const r = m?.replyTo;
  if (!r) return "no reply_to";
  switch (r.status) {
    case QuoteStatus.AVAILABLE:
      return `available${r.quoted?.recall ? " recalled" : ""}: ${textOf(r.quoted)}`;
    case QuoteStatus.UNAVAILABLE:
      return r.quoted ? `unavailable, yet quoted ${describeMessage(r.quoted)}` : "unavailable";
    default:
      return r.quoted ? `unresolved, yet quoted ${describeMessage(r.quoted)}` : "unresolved";
  }
}

/** The reply as the user's GetMessage and ListMessages show it (they must agree). */
async function shownReply(user: UserHandle, groupId: string, replyMessage: Message, what: string): Promise<string> {
  const viaGet = await expectVisible(user, groupId, replyMessage, what);
  const viaList = (await user.history(groupId)).find((m) => m.messageId === replyMessage.messageId);
  expectEqual(quoteOf(viaList), quoteOf(viaGet), `${user.id}'s quote in ListMessages vs GetMessage (${what})`);
  expectEqual(viaGet.replyTo?.messageId, replyMessage.replyTo?.messageId, `${user.id}'s reply_to.message_id (${what})`);
  return quoteOf(viaGet);
}

export const rplCases = [
  defineCase({
    id: "rpl-quote-per-viewer",
    rules: ["RPL-1", "RPL-3", "RPL-4", "DRV-1", "VIS-1", "GRP-6"],
    requirement:
      "A reply to an ordinary message shows each reader the quote as they may see it now — available with the edited content after an edit, recalled after a recall — and unavailable (no quoted message) to a member who joined a WORK group after the quoted message; the reply's event carries only the quoted message's ID.",
    async run(ctx) {
      const w = await ctx.world();
      const quoted = await w.user("bob").send(w.groupId, "the original");
      await w.app.ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["erin"] });
      const subs = [await w.user("carol").subscribe(), await w.user("erin").subscribe()];
      const answer = await reply(w.user("alice"), w.groupId, quoted.messageId, "agreed");
      // Edited right away: a test server's edit window is short. Editing the reply keeps what it quotes.
      await w.user("bob").messages.editMessage({ groupId: w.groupId, messageId: quoted.messageId, elements: textElements("the original, edited") });
      const reEdited = await w.user("alice").messages.editMessage({ groupId: w.groupId, messageId: answer.messageId, elements: textElements("agreed, edited") });
      expectEqual(reEdited.message?.replyTo?.messageId, quoted.messageId, "the reply's reply_to.message_id after an edit of the reply");
      expectEqual(quoteOf(answer), "unresolved", "SendMessage's response: reply_to (the ID alone)");
      expectEqual(answer.replyTo?.messageId, quoted.messageId, "SendMessage's response: reply_to.message_id");
      for (const sub of subs) {
        const received = receivedMessage(await sub.waitFor("the reply", isMessage(answer.messageId)));
        expectEqual([received?.replyTo?.messageId, quoteOf(received)], [quoted.messageId, "unresolved"], `${sub.label}: the reply's MessageReceived [reply_to.message_id, quote]`);
      }
      expectEqual(await shownReply(w.user("carol"), w.groupId, answer, "a member, after an edit of the quoted message"), "available: the original, edited", "carol's quote (the edited content)");
      expectEqual(await shownReply(w.user("erin"), w.groupId, answer, "joined after the quoted message"), "unavailable", "erin's quote (joined after the quoted message)");
      // A reply to the reply: its quote is the reply itself, whose own reply_to is the ID alone.
      const second = await reply(w.user("carol"), w.groupId, answer.messageId, "and me");
      const nested = (await expectVisible(w.user("bob"), w.groupId, second, "a reply to a reply")).replyTo?.quoted;
      expectEqual(textOf(nested), "agreed, edited", "bob's quote in the reply to the reply");
      expectEqual(show(nested?.replyTo), show(create(ReplyToSchema, { messageId: quoted.messageId })), "the quoted reply's own reply_to (the ID alone: a quote is not a thread)");
      // The owner recalls it (at any time; a test server's recall window is short).
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: quoted.messageId });
      expectEqual(await shownReply(w.user("carol"), w.groupId, answer, "after a recall of the quoted message"), "available recalled: ", "carol's quote after the recall");
      expectEqual(await shownReply(w.user("erin"), w.groupId, answer, "after the recall"), "unavailable", "erin's quote after the recall");
    },
  }),
  defineCase({
    id: "rpl-targeted-no-widening",
    rules: ["RPL-2", "RPL-1", "DRV-1", "MSG-15", "TGT-4"],
    requirement:
      "A reply to a message targeted to 2 of 10 members must be targeted within its audience: an ordinary reply, or one with a receiver outside it, is FailedPrecondition REPLY_WIDENS_AUDIENCE and stores nothing; a reply to some receivers, or privately to the sender, is accepted and reaches only them; an outsider's reply to it fails exactly as one to a message ID that does not exist.",
    async run(ctx) {
      const members = ["alice", "bob", "carol", "m4", "m5", "m6", "m7", "m8", "m9", "m10"];
      const w = await ctx.world({ members });
      const outsiders = members.filter((m) => !["alice", "bob", "carol"].includes(m));
      const secret = await w.user("alice").send(w.groupId, { text: "for bob and carol", receiverIds: ["bob", "carol"] });
      const others = await Promise.all(outsiders.map((id) => w.user(id).subscribe()));
      await expectError(reply(w.user("bob"), w.groupId, secret.messageId, "to everyone"), Code.FailedPrecondition, ErrorReason.REPLY_WIDENS_AUDIENCE, {
        field: "reply_to_message_id",
        what: "an ordinary reply to a targeted message",
      });
      await expectError(
        reply(w.user("bob"), w.groupId, secret.messageId, { text: "to carol and m4", receiverIds: ["carol", "m4"] }),
        Code.FailedPrecondition,
        ErrorReason.REPLY_WIDENS_AUDIENCE,
        { field: "receiver_ids", ids: ["m4"], what: "a targeted reply with a receiver outside the quoted message's audience" },
      );
      const toCarol = await reply(w.user("bob"), w.groupId, secret.messageId, { text: "just carol", receiverIds: ["carol"] });
      const toSender = await reply(w.user("carol"), w.groupId, secret.messageId, { text: "privately to alice", receiverIds: ["alice"] });
      // Two refused replies stored nothing: the accepted ones took the next seqs.
      expectEqual([Number(toCarol.seq), Number(toSender.seq)], [Number(secret.seq) + 1, Number(secret.seq) + 2], "seqs of the two accepted replies after two refused ones");
      expectEqual(await shownReply(w.user("carol"), w.groupId, toCarol, "receiver of both"), "available: for bob and carol", "carol's quote in bob's reply");
      expectEqual(await shownReply(w.user("alice"), w.groupId, toSender, "the quoted message's sender"), "available: for bob and carol", "alice's quote in carol's reply");
      const after = await w.user("alice").send(w.groupId, "fence for everyone");
      for (const sub of others) {
        await sub.expectNone("any event of the targeted message or its replies", (e) => [secret, toCarol, toSender].some((m) => concernsMessage(m.messageId)(e)), fence(after));
      }
      const hidden = await rejection(reply(w.user("m4"), w.groupId, secret.messageId, "guess"), "an outsider's reply to a targeted message");
      const missing = await rejection(reply(w.user("m4"), w.groupId, "no-such-message", "guess"), "a reply to an unknown message ID");
      checkError(hidden, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "reply_to_message_id" }, "an outsider's reply to a targeted message");
      expectEqual(errorFingerprint(hidden), errorFingerprint(missing), "the error of replying to a hidden message vs. an unknown one (they must not differ)");
    },
  }),
  defineCase({
    id: "rpl-unavailable-shape",
    rules: ["RPL-3", "RPL-1", "DRV-1", "VIS-3", "MSG-13"],
    requirement:
      "A reader who may not see a quoted message (here: it is from before they re-joined a WORK group) is shown reply_to with the quoted message's ID and status unavailable and nothing else, and cannot reply to it (MESSAGE_NOT_FOUND); the system sender may quote any message, also a targeted one in a reply to its audience.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const secret = await w.user("alice").send(w.groupId, { text: "for bob", receiverIds: ["bob"] });
      const bySystem = await w.app.ctx.admin.sendMessage({
        appId: w.app.appId,
        senderId: "",
        message: { groupId: w.groupId, elements: textElements("about that"), receiverIds: ["bob", "alice"], replyToMessageId: secret.messageId },
      });
      check(bySystem.message, "AdminService.SendMessage returned no message");
      expectEqual(await shownReply(w.user("bob"), w.groupId, bySystem.message, "the system's reply"), "available: for bob", "bob's quote in the system's reply");
      const old = await w.user("carol").send(w.groupId, "before dave re-joined");
      await w.user("dave").groups.leaveGroup({ groupId: w.groupId });
      await w.app.ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["dave"] });
      const aboutOld = await reply(w.user("carol"), w.groupId, old.messageId, "about the old one");
      const viaGet = await expectVisible(w.user("dave"), w.groupId, aboutOld, "a reply after dave re-joined");
      expectEqual(
        show(viaGet.replyTo),
        show(create(ReplyToSchema, { messageId: old.messageId, status: QuoteStatus.UNAVAILABLE })),
        "dave's reply_to of a message from before he re-joined: the ID and the status, nothing else",
      );
      expectEqual(await shownReply(w.user("carol"), w.groupId, aboutOld, "the reply's sender"), "available: before dave re-joined", "carol's quote");
      const hidden = await rejection(reply(w.user("dave"), w.groupId, old.messageId, "what was that?"), "dave's reply to a message from before he re-joined");
      checkError(hidden, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "reply_to_message_id" }, "dave's reply to a message from before he re-joined");
    },
  }),
  defineCase({
    id: "rpl-checks-in-order",
    rules: ["RPL-1", "RPL-2", "MSG-15"],
    requirement:
      "SendMessage checks a reply in section 9.1's order: FIELD_INVALID for an ID over 128 characters first; then, after every other check, MESSAGE_NOT_FOUND (unknown, another group's, online-only), ALREADY_RECALLED, REPLY_WIDENS_AUDIENCE; a refused reply stores nothing.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"] });
      const elsewhere = await w.user("bob").send(other, "in another group");
      const fleeting = await w.user("carol").send(w.groupId, { text: "online only", onlineOnly: true });
      const recalled = await w.user("bob").send(w.groupId, "recalled");
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: recalled.messageId });
      const secret = await w.user("alice").send(w.groupId, { text: "for bob", receiverIds: ["bob"] });
      const bob = w.user("bob");
      const attempts: [() => Promise<unknown>, Code, ErrorReason, string, string][] = [
        [() => reply(bob, "no-such-group", "x".repeat(129), { text: "" }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, "reply_to_message_id", "an ID of 129 characters (and an unknown group, an empty text)"],
        [() => reply(bob, "no-such-group", "no-such-message", "x"), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, "", "an unknown group and message"],
        [() => reply(w.user("erin"), w.groupId, "no-such-message", "x"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, "", "a non-member"],
        [() => reply(bob, w.groupId, secret.messageId, { text: "x", receiverIds: ["erin"] }), Code.FailedPrecondition, ErrorReason.RECEIVER_NOT_MEMBER, "receiver_ids", "a receiver who is not a member"],
        [() => reply(bob, w.groupId, "no-such-message", "x"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, "reply_to_message_id", "an unknown message"],
        [() => reply(bob, w.groupId, elsewhere.messageId, "x"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, "reply_to_message_id", "a message of another group"],
        [() => reply(bob, w.groupId, fleeting.messageId || "online-only", "x"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, "reply_to_message_id", "an online-only message"],
        [() => reply(bob, w.groupId, recalled.messageId, "x"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, "reply_to_message_id", "a recalled message"],
        [() => reply(bob, w.groupId, secret.messageId, "x"), Code.FailedPrecondition, ErrorReason.REPLY_WIDENS_AUDIENCE, "reply_to_message_id", "an ordinary reply to a targeted message"],
      ];
      for (const [call, code, reason, field, what] of attempts) {
        await expectError(call(), code, reason, { ...(field ? { field } : {}), what: `a reply with ${what}` });
      }
      const next = await w.user("alice").send(w.groupId, "after the refused replies");
      expectEqual(Number(next.seq), Number(secret.seq) + 1, "the next message's seq after refused replies (they stored nothing)");
    },
  }),
];
