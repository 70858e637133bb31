// Read receipts (RCP) under the rule of every derived item (DRV-1): a message's readers are
// fixed at send time, they acknowledge it, and only its sender learns who has — a member outside
// a targeted message's audience cannot tell it from a message that does not exist.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, ReadState, type Event, type Message } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { checkError, expectError, observe, reasonOf } from "../errors.js";
import { concernsMessage, isMessage } from "../events.js";
import { fence, type SendInit, type UserHandle } from "../fixtures.js";
import { errorFingerprint, rejection, userIds } from "./util.js";

/** Sends a message that asks for read receipts. */
function sendWithReceipts(user: UserHandle, groupId: string, init: SendInit | string): Promise<Message> {
  const base = typeof init === "string" ? { text: init } : init;
  return user.send(groupId, { ...base, requestReadReceipts: true });
}

/** The message's receipt counts as the user's GetMessage shows them: "read/unread", or "unset". */
async function countsSeenBy(user: UserHandle, groupId: string, messageId: string): Promise<string> {
  const res = await user.messages.getMessage({ groupId, messageId });
  const c = res.message?.readReceipts;
  return c ? `${c.readCount}/${c.unreadCount}` : "unset";
}

/** Every reader of the message in one state, walking ListReadReceipts pages, as the sender. */
async function readers(sender: UserHandle, groupId: string, messageId: string, state: ReadState, pageSize = 2): Promise<string[]> {
  const all: string[] = [];
  let pageToken = "";
  for (let page = 0; page < 1000; page++) {
    const res = await sender.messages.listReadReceipts({ groupId, messageId, state, pageSize, pageToken });
    for (const r of res.receipts) {
      check((state === ReadState.READ) === (r.readTime !== undefined), `a ${ReadState[state]} receipt of ${r.userId} has ${r.readTime ? "a" : "no"} read_time`);
      all.push(r.userId);
    }
    if (res.nextPageToken === "") break;
    pageToken = res.nextPageToken;
  }
  return all;
}

/** Acknowledges messages as read. */
async function acknowledge(user: UserHandle, groupId: string, ...messageIds: string[]): Promise<void> {
  await user.messages.sendReadReceipts({ groupId, messageIds });
}

/** Matches MessageRead of the message (by the reader, when given). */
function isReadOf(messageId: string, readerId?: string) {
  return (e: Event) =>
    e.payload.case === "messageRead" && e.payload.value.messageId === messageId && (readerId === undefined || e.payload.value.readerId === readerId);
}

export const rcpCases = [
  defineCase({
    id: "rcp-ordinary-sender-only",
    rules: ["RCP-1", "RCP-2", "RCP-3", "RCP-4", "RCP-5", "RCP-6"],
    requirement:
      "The sender of an ordinary message with read receipts sees its counts (read/unread over the members at send time) and the lists of who read it and who has not; a reader's acknowledgement reaches the sender alone as MessageRead, once; other members see no counts, get no event, and ListReadReceipts is PermissionDenied READ_RECEIPTS_SENDER_ONLY for them; unread counts do not change.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const sent = await sendWithReceipts(w.user("bob"), w.groupId, "did you all read this?");
      check(sent.readReceiptsRequested, "the sent message lacks read_receipts_requested", "true");
      expectEqual(await countsSeenBy(w.user("bob"), w.groupId, sent.messageId), "0/3", "the sender's read_receipts right after sending");
      expectEqual(await countsSeenBy(w.user("carol"), w.groupId, sent.messageId), "unset", "another member's read_receipts");
      const takenAt = Date.now();
      const subs = [await w.user("bob").subscribe(), await w.user("alice").subscribe(), await w.user("carol").subscribe()];
      const cursors = await Promise.all(subs.map((sub) => sub.ready()));
      const carolBefore = await w.user("carol").conversation(w.groupId);
      await acknowledge(w.user("carol"), w.groupId, sent.messageId);
      const read = await subs[0]!.waitFor("MessageRead of carol", isReadOf(sent.messageId, "carol"));
      const value = read.payload.case === "messageRead" ? read.payload.value : undefined;
      expectEqual([Number(value?.seq), value?.groupId, value?.counts?.readCount, value?.counts?.unreadCount], [Number(sent.seq), w.groupId, 1, 2], "MessageRead [seq, group, read_count, unread_count]");
      await acknowledge(w.user("carol"), w.groupId, sent.messageId); // again: nothing changes
      await acknowledge(w.user("alice"), w.groupId, sent.messageId);
      await subs[0]!.waitFor("MessageRead of alice", isReadOf(sent.messageId, "alice"));
      const later = await w.user("dave").send(w.groupId, "fence");
      for (const sub of subs.slice(1)) await sub.expectNone("MessageRead of a message someone else sent", (e) => e.payload.case === "messageRead", fence(later));
      await subs[0]!.waitFor("the fence", isMessage(later.messageId));
      expectEqual(subs[0]!.events.filter(isReadOf(sent.messageId)).length, 2, "MessageRead events the sender got (carol's second acknowledgement changed nothing)");
      expectEqual(await countsSeenBy(w.user("bob"), w.groupId, sent.messageId), "2/1", "the sender's read_receipts after two readers");
      expectEqual(await readers(w.user("bob"), w.groupId, sent.messageId, ReadState.READ), ["alice", "carol"], "readers who read it (by user ID)");
      expectEqual(await readers(w.user("bob"), w.groupId, sent.messageId, ReadState.UNREAD), ["dave"], "readers who have not");
      await expectError(
        w.user("carol").messages.listReadReceipts({ groupId: w.groupId, messageId: sent.messageId, state: ReadState.READ }),
        Code.PermissionDenied,
        ErrorReason.READ_RECEIPTS_SENDER_ONLY,
        { field: "message_id", what: "a reader's ListReadReceipts of bob's message" },
      );
      // Replayed, too, MessageRead goes to the sender alone.
      const replays = await Promise.all(["bob", "alice", "carol"].map((id, i) => w.user(id).replay(cursors[i]!, takenAt)));
      if (replays[0]) expectEqual(replays[0].replayed.filter(isReadOf(sent.messageId)).map((e) => (e.payload.case === "messageRead" ? e.payload.value.readerId : "")), ["carol", "alice"], "MessageRead replayed to the sender [reader]");
      for (const replay of replays.slice(1)) replay?.assertNone("a replayed MessageRead of a message someone else sent", (e) => e.payload.case === "messageRead");
      const carolAfter = await w.user("carol").conversation(w.groupId);
      expectEqual([Number(carolAfter.unreadCount), Number(carolAfter.readSeq)], [Number(carolBefore.unreadCount) + 1, Number(carolBefore.readSeq)], "carol's [unread_count, read_seq] after acknowledging and one more message (receipts change neither)");
    },
  }),
  defineCase({
    id: "rcp-targeted-audience-only",
    rules: ["RCP-2", "RCP-3", "RCP-4", "DRV-1", "TGT-4"],
    requirement:
      "A message targeted to 2 of 10 members with read receipts has exactly its 2 receivers as readers; the other 7 get no event, and their SendReadReceipts and ListReadReceipts of it fail exactly as for a message ID that does not exist.",
    async run(ctx) {
      const members = ["alice", "bob", "carol", "m4", "m5", "m6", "m7", "m8", "m9", "m10"];
      const w = await ctx.world({ members });
      const outsiders = members.filter((m) => !["alice", "bob", "carol"].includes(m));
      const others = await Promise.all(outsiders.map((id) => w.user(id).subscribe()));
      const alice = await w.user("alice").subscribe();
      const secret = await sendWithReceipts(w.user("alice"), w.groupId, { text: "for bob and carol", receiverIds: ["bob", "carol"] });
      expectEqual(await countsSeenBy(w.user("alice"), w.groupId, secret.messageId), "0/2", "the sender's read_receipts of a message targeted to two");
      await acknowledge(w.user("bob"), w.groupId, secret.messageId);
      await alice.waitFor("MessageRead of bob", isReadOf(secret.messageId, "bob"));
      const hiddenAck = await rejection(w.user("m4").messages.sendReadReceipts({ groupId: w.groupId, messageIds: [secret.messageId] }), "an outsider's SendReadReceipts of a targeted message");
      const missingAck = await rejection(w.user("m4").messages.sendReadReceipts({ groupId: w.groupId, messageIds: ["no-such-message"] }), "SendReadReceipts of an unknown message ID");
      checkError(hiddenAck, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_ids", ids: [secret.messageId] }, "an outsider's SendReadReceipts of a targeted message");
      expectEqual(
        errorFingerprint(hiddenAck).replaceAll(secret.messageId, "<id>"),
        errorFingerprint(missingAck).replaceAll("no-such-message", "<id>"),
        "the error of acknowledging a hidden message vs. an unknown one, IDs aside (they must not differ)",
      );
      const hiddenList = await rejection(w.user("m4").messages.listReadReceipts({ groupId: w.groupId, messageId: secret.messageId, state: ReadState.READ }), "an outsider's ListReadReceipts");
      const missingList = await rejection(w.user("m4").messages.listReadReceipts({ groupId: w.groupId, messageId: "no-such-message", state: ReadState.READ }), "ListReadReceipts of an unknown message ID");
      checkError(hiddenList, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" }, "an outsider's ListReadReceipts of a targeted message");
      expectEqual(errorFingerprint(hiddenList), errorFingerprint(missingList), "the error of ListReadReceipts on a hidden message vs. an unknown one (they must not differ)");
      const after = await w.user("alice").send(w.groupId, "fence for everyone");
      for (const sub of others) await sub.expectNone("any event of a message targeted to others", (e) => concernsMessage(secret.messageId)(e) || e.payload.case === "messageRead", fence(after));
      expectEqual(await readers(w.user("alice"), w.groupId, secret.messageId, ReadState.UNREAD), ["carol"], "readers who have not read it (the outsiders' refused calls changed nothing)");
    },
  }),
  defineCase({
    id: "rcp-readers-fixed-at-send",
    rules: ["RCP-2", "RCP-3", "RCP-5", "VIS-2", "VIS-3"],
    requirement:
      "The readers are the members at send time: one who joins later is not one (and cannot acknowledge the message: MESSAGE_NOT_FOUND), one who leaves stays one; after the sender leaves, acknowledgements are still recorded but no MessageRead reaches the sender.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const sent = await sendWithReceipts(w.user("bob"), w.groupId, "before the changes");
      await w.app.ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["erin"] });
      await w.user("dave").groups.leaveGroup({ groupId: w.groupId });
      expectEqual(await countsSeenBy(w.user("bob"), w.groupId, sent.messageId), "0/3", "the sender's read_receipts after erin joined and dave left");
      expectEqual(await readers(w.user("bob"), w.groupId, sent.messageId, ReadState.UNREAD), ["alice", "carol", "dave"], "readers who have not read it");
      await expectError(w.user("erin").messages.sendReadReceipts({ groupId: w.groupId, messageIds: [sent.messageId] }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, {
        field: "message_ids",
        what: "SendReadReceipts by a member who joined after the message",
      });
      const takenAt = Date.now();
      const bob = await w.user("bob").subscribe();
      const cursor = await bob.ready();
      await w.user("bob").groups.leaveGroup({ groupId: w.groupId });
      await acknowledge(w.user("carol"), w.groupId, sent.messageId);
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob"] });
      const inOther = await w.user("alice").send(other, "fence in another group");
      await bob.expectNone("MessageRead after he left", isReadOf(sent.messageId), { description: "the message in the other group", predicate: isMessage(inOther.messageId) });
      const replay = await w.user("bob").replay(cursor, takenAt);
      if (!replay) return;
      replay.assertNone("a replayed MessageRead after he left", isReadOf(sent.messageId));
    },
  }),
  defineCase({
    id: "rcp-not-allowed-and-checks",
    rules: ["RCP-1", "RCP-3", "RCP-4", "MSG-15", "PAG-2"],
    requirement:
      "Read receipts are FailedPrecondition READ_RECEIPTS_NOT_ALLOWED (field request_read_receipts) for an online-only message, a system message and an ordinary message to a group of 201 members (a targeted one there is fine), storing nothing; SendReadReceipts with no or 101 message IDs and ListReadReceipts without a state are FIELD_INVALID.",
    async run(ctx) {
      const w = await ctx.world();
      const refusals: [() => Promise<unknown>, string][] = [
        [() => sendWithReceipts(w.user("bob"), w.groupId, { text: "fleeting", onlineOnly: true }), "an online-only message"],
        [() => w.app.ctx.admin.sendMessage({ appId: w.app.appId, senderId: "", message: { groupId: w.groupId, elements: [{ element: { case: "text", value: { text: "system" } } }], requestReadReceipts: true } }), "a system message"],
      ];
      for (const [call, what] of refusals) {
        await expectError(call(), Code.FailedPrecondition, ErrorReason.READ_RECEIPTS_NOT_ALLOWED, { field: "request_read_receipts", what: `read receipts on ${what}` });
      }
      const crowd = userIds(199, "reader");
      await w.app.importUsers(crowd);
      let big: string;
      try {
        big = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", ...crowd] });
      } catch (err) {
        if (reasonOf(observe(err)) === "GROUP_FULL") ctx.skip("the server's WORK groups hold fewer than 201 members");
        throw err;
      }
      const before = await w.user("bob").send(big, "before");
      await expectError(sendWithReceipts(w.user("bob"), big, "to 201 members"), Code.FailedPrecondition, ErrorReason.READ_RECEIPTS_NOT_ALLOWED, {
        field: "request_read_receipts",
        what: "read receipts on an ordinary message to a group of 201 members",
      });
      const targeted = await sendWithReceipts(w.user("bob"), big, { text: "to two of them", receiverIds: ["reader-1", "reader-2"] });
      expectEqual(Number(targeted.seq), Number(before.seq) + 1, "the targeted message's seq after the refused send (it stored nothing)");
      expectEqual(await countsSeenBy(w.user("bob"), big, targeted.messageId), "0/2", "read_receipts of a targeted message in the group of 201");
      const fieldErrors: [() => Promise<unknown>, string, string][] = [
        [() => w.user("carol").messages.sendReadReceipts({ groupId: big, messageIds: [] }), "message_ids", "SendReadReceipts without IDs"],
        [() => w.user("carol").messages.sendReadReceipts({ groupId: big, messageIds: userIds(101, "m") }), "message_ids", "SendReadReceipts with 101 IDs"],
        [() => w.user("bob").messages.listReadReceipts({ groupId: big, messageId: targeted.messageId }), "state", "ListReadReceipts without a state"],
        [() => w.user("bob").messages.listReadReceipts({ groupId: big, messageId: targeted.messageId, state: ReadState.READ, pageSize: -1 }), "page_size", "ListReadReceipts with page_size -1"],
      ];
      for (const [call, field, what] of fieldErrors) await expectError(call(), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field, what });
    },
  }),
];
