// Reactions (RCT) under the rule of every derived item (DRV-1): whoever may see a message reacts
// to it, sees its reactions and hears of them; anyone else cannot tell it from a message that does
// not exist — by any response, event, count or replay.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType, type Message, type Reaction, type ReactionCount } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, expectEqual, show } from "../check.js";
import { checkError, expectError, observe, reasonOf } from "../errors.js";
import { concernsMessage, isReactionOn, isRecallOf, reactionChange } from "../events.js";
import { UserHandle, fence } from "../fixtures.js";
import { sleep } from "../subscription.js";
import { errorFingerprint, expectInvisible, expectLastMessage, rejection } from "./util.js";

type Change = "add" | "remove";

/**
 * Adds or removes the user's reaction and returns the message the response carries. A
 * RATE_LIMITED refusal (RCT-3 draws on the send bucket, which a test server may keep small) is
 * waited out by its RetryInfo; every other error fails the call.
 */
async function react(user: UserHandle, groupId: string, messageId: string, reaction: string, change: Change = "add"): Promise<Message> {
  for (let attempt = 0; ; attempt++) {
    try {
      const req = { groupId, messageId, reaction };
      const res = change === "add" ? await user.messages.addReaction(req) : await user.messages.removeReaction(req);
      check(res.message, `${change === "add" ? "AddReaction" : "RemoveReaction"} returned no message`);
      return res.message;
    } catch (err) {
      const o = observe(err);
      if (reasonOf(o) !== "RATE_LIMITED" || attempt > 50) throw err;
      const d = o.retryInfos[0]?.retryDelay;
      await sleep(Math.min(1000, Math.max(5, d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 25)));
    }
  }
}

/** A message's reactions as "reaction×count" with "*" when the caller reacted, in order. */
function tally(reactions: readonly ReactionCount[] | undefined): string[] {
  return (reactions ?? []).map((r) => `${r.reaction}×${r.count}${r.callerReacted ? "*" : ""}`);
}

/** The message as the user's GetMessage returns it. */
async function fetched(user: UserHandle, groupId: string, messageId: string): Promise<Message> {
  const res = await user.messages.getMessage({ groupId, messageId });
  check(res.message, "GetMessage returned no message");
  return res.message;
}

/** The message as the user's ListMessages returns it. */
async function inHistory(user: UserHandle, groupId: string, messageId: string): Promise<Message> {
  const found = (await user.history(groupId)).find((m) => m.messageId === messageId);
  check(found, `${user.id}'s ListMessages lacks message ${messageId}`);
  return found;
}

/** Every reaction on the message, walking ListReactions pages of `pageSize`. */
async function allReactions(user: UserHandle, groupId: string, messageId: string, pageSize: number, reaction = ""): Promise<Reaction[]> {
  const all: Reaction[] = [];
  let pageToken = "";
  for (let page = 0; page < 1000; page++) {
    const res = await user.messages.listReactions({ groupId, messageId, reaction, pageSize, pageToken });
    check(res.reactions.length <= pageSize, `a ListReactions page holds more than page_size ${pageSize}`, `≤ ${pageSize}`, String(res.reactions.length));
    all.push(...res.reactions);
    if (res.nextPageToken === "") break;
    pageToken = res.nextPageToken;
  }
  return all;
}

/** Code point order (RCT-5, RCT-6): UTF-8 byte order, not JavaScript's UTF-16 `<`. */
function compareCodePoints(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

/** A reaction's place in RCT-6's order: (create_time, reaction, user ID). */
function reactionOrder(a: Reaction, b: Reaction): number {
  const at = (r: Reaction) => Number(r.createTime?.seconds ?? 0n) * 1e9 + (r.createTime?.nanos ?? 0);
  return at(a) - at(b) || compareCodePoints(a.reaction, b.reaction) || compareCodePoints(a.userId, b.userId);
}

/** RCT-5's tallies for `viewer`, derived from a complete ListReactions walk. */
function expectedTally(listed: readonly Reaction[], viewer: string): string[] {
  const groups = new Map<string, Reaction[]>();
  for (const r of listed) groups.set(r.reaction, [...(groups.get(r.reaction) ?? []), r]);
  const oldest = (rs: Reaction[]) => [...rs].sort(reactionOrder)[0]!;
  return [...groups.values()]
    .sort((a, b) => reactionOrder(oldest(a), oldest(b)))
    .map((rs) => `${rs[0]!.reaction}×${rs.length}${rs.some((r) => r.userId === viewer) ? "*" : ""}`);
}

export const rctCases = [
  defineCase({
    id: "rct-add-remove-counts",
    rules: ["RCT-1", "RCT-3", "RCT-5", "RCT-7", "RCT-8"],
    requirement:
      "Members react to a message: the responses, GetMessage and ListMessages show each reaction's count, with caller_reacted per caller and the oldest reaction first; each change reaches every member as ReactionChanged with the new count; adding a reaction again or removing one the caller lacks changes nothing and sends nothing; reactions change no unread count or last message.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "react to me");
      const carolBefore = await w.user("carol").conversation(w.groupId);
      const subs = [await w.user("bob").subscribe(), await w.user("carol").subscribe()];
      const first = await react(w.user("carol"), w.groupId, sent.messageId, "👍");
      expectEqual(tally(first.reactions), ["👍×1*"], "carol's AddReaction response: reactions");
      await react(w.user("alice"), w.groupId, sent.messageId, "👍");
      const third = await react(w.user("alice"), w.groupId, sent.messageId, "❤️");
      expectEqual(tally(third.reactions), ["👍×2*", "❤️×1*"], "alice's second AddReaction response: reactions");
      expectEqual(tally((await fetched(w.user("bob"), w.groupId, sent.messageId)).reactions), ["👍×2", "❤️×1"], "bob's GetMessage: reactions");
      expectEqual(tally((await inHistory(w.user("carol"), w.groupId, sent.messageId)).reactions), ["👍×2*", "❤️×1"], "carol's ListMessages: reactions");
      for (const sub of subs) {
        const changes = (await sub.waitForCount("three ReactionChanged", 3, isReactionOn(sent.messageId))).map(reactionChange);
        expectEqual(
          changes.map((c) => `${c?.added ? "+" : "-"}${c?.reaction}:${c?.userId}:${c?.count}:${c?.seq}:${c?.groupId}`),
          [`+👍:carol:1:${sent.seq}:${w.groupId}`, `+👍:alice:2:${sent.seq}:${w.groupId}`, `+❤️:alice:1:${sent.seq}:${w.groupId}`],
          `${sub.label}: ReactionChanged events [added, reaction, user, count, seq, group]`,
        );
      }
      const again = await react(w.user("carol"), w.groupId, sent.messageId, "👍");
      expectEqual(tally(again.reactions), ["👍×2*", "❤️×1"], "carol adding 👍 again (no change): reactions");
      const absent = await react(w.user("carol"), w.groupId, sent.messageId, "❤️", "remove");
      expectEqual(tally(absent.reactions), ["👍×2*", "❤️×1"], "carol removing ❤️ she does not have (no change): reactions");
      const removed = await react(w.user("alice"), w.groupId, sent.messageId, "👍", "remove");
      expectEqual(tally(removed.reactions), ["👍×1", "❤️×1*"], "alice removing her 👍: reactions");
      const change = reactionChange(await subs[0]!.waitFor("ReactionChanged of alice's removal", (e) => reactionChange(e)?.added === false));
      expectEqual([change?.reaction, change?.userId, change?.count], ["👍", "alice", 1], "ReactionChanged of the removal [reaction, user, count]");
      const later = await w.user("alice").send(w.groupId, "fence");
      for (const sub of subs) {
        const all = sub.events.filter(isReactionOn(sent.messageId));
        await sub.waitFor("the fence", (e) => e.payload.case === "messageReceived" && e.payload.value.message?.messageId === later.messageId);
        expectEqual(sub.events.filter(isReactionOn(sent.messageId)).length, 4, `${sub.label}: ReactionChanged events in all (no-op changes send none; ${all.length} before the fence)`);
      }
      const carolAfter = await w.user("carol").conversation(w.groupId);
      expectEqual(Number(carolAfter.unreadCount), Number(carolBefore.unreadCount) + 1, "carol's unread count after reactions and one more message (reactions count for nothing)");
      expectLastMessage(carolAfter, later.messageId, "carol after reactions");
    },
  }),
  defineCase({
    id: "rct-targeted-audience-only",
    rules: ["DRV-1", "RCT-1", "RCT-6", "RCT-7", "TGT-4", "MSG-14"],
    requirement:
      "Reactions on a message targeted to 2 of 10 members: its receivers react and see the counts; the other 7 get no event, and their AddReaction, RemoveReaction and ListReactions of it fail exactly as for a message ID that does not exist.",
    async run(ctx) {
      const members = ["alice", "bob", "carol", "m4", "m5", "m6", "m7", "m8", "m9", "m10"];
      const w = await ctx.world({ members });
      const outsiders = members.filter((m) => !["alice", "bob", "carol"].includes(m));
      const audience = await Promise.all(["alice", "bob", "carol"].map((id) => w.user(id).subscribe()));
      const others = await Promise.all(outsiders.map((id) => w.user(id).subscribe()));
      const secret = await w.user("alice").send(w.groupId, { text: "for bob and carol", receiverIds: ["bob", "carol"] });
      await react(w.user("bob"), w.groupId, secret.messageId, "👀");
      const byCarol = await react(w.user("carol"), w.groupId, secret.messageId, "👀");
      expectEqual(tally(byCarol.reactions), ["👀×2*"], "carol's AddReaction on the targeted message: reactions");
      expectEqual(tally((await fetched(w.user("alice"), w.groupId, secret.messageId)).reactions), ["👀×2"], "the sender's GetMessage: reactions");
      for (const sub of audience) await sub.waitForCount("both ReactionChanged", 2, isReactionOn(secret.messageId));
      const after = await w.user("alice").send(w.groupId, "fence for everyone");
      for (const sub of others) await sub.expectNone("any event of a message targeted to others", concernsMessage(secret.messageId), fence(after));
      await expectInvisible(w.user("m4"), w.groupId, secret, "reacted to, targeted to bob and carol");
      const calls: [string, (messageId: string) => Promise<unknown>][] = [
        ["AddReaction", (messageId) => w.user("m4").messages.addReaction({ groupId: w.groupId, messageId, reaction: "👀" })],
        ["RemoveReaction", (messageId) => w.user("m4").messages.removeReaction({ groupId: w.groupId, messageId, reaction: "👀" })],
        ["ListReactions", (messageId) => w.user("m4").messages.listReactions({ groupId: w.groupId, messageId })],
      ];
      for (const [name, call] of calls) {
        const hidden = await rejection(call(secret.messageId), `an outsider's ${name} of a targeted message`);
        const missing = await rejection(call("no-such-message"), `${name} of an unknown message ID`);
        checkError(hidden, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" }, `an outsider's ${name} of a targeted message`);
        expectEqual(errorFingerprint(hidden), errorFingerprint(missing), `the error of ${name} on a hidden message vs. an unknown one (they must not differ)`);
      }
      const listed = await allReactions(w.user("bob"), w.groupId, secret.messageId, 10);
      expectEqual(listed.map((r) => `${r.reaction}:${r.userId}`).sort(), ["👀:bob", "👀:carol"], "bob's ListReactions of the targeted message after the outsiders' refused calls");
    },
  }),
  defineCase({
    id: "rct-list-reactions-paged",
    rules: ["RCT-6", "RCT-5", "PAG-1", "PAG-2", "PAG-3"],
    requirement:
      "ListReactions walks every reaction on a message once, in (create_time, reaction in code point order, user ID) order, page by page; with `reaction` set only that reaction's; a token of one listing is PAGE_TOKEN_INVALID for another, and a negative page_size FIELD_INVALID.",
    async run(ctx) {
      const members = ["alice", "bob", "carol", ...Array.from({ length: 9 }, (_, i) => `r${i + 1}`)];
      const w = await ctx.world({ members });
      const sent = await w.user("alice").send(w.groupId, "vote");
      const choices = ["👍", "z", "\uFFFD", "😀"]; // UTF-16 order and code point order differ for these
      const expected: string[] = [];
      for (const [i, id] of members.entries()) {
        const reaction = choices[i % choices.length]!;
        await react(w.user(id), w.groupId, sent.messageId, reaction);
        expected.push(`${reaction}:${id}`);
      }
      await react(w.user("alice"), w.groupId, sent.messageId, "z");
      expected.push("z:alice");
      const listed = await allReactions(w.user("bob"), w.groupId, sent.messageId, 5);
      expectEqual(listed.map((r) => `${r.reaction}:${r.userId}`).sort(), [...expected].sort(), "every reaction, walking pages of 5");
      const ordered = [...listed].sort(reactionOrder);
      expectEqual(show(listed.map((r) => `${r.reaction}:${r.userId}`)), show(ordered.map((r) => `${r.reaction}:${r.userId}`)), "ListReactions order (create_time, reaction in code point order, user ID)");
      const zs = await allReactions(w.user("bob"), w.groupId, sent.messageId, 2, "z");
      expectEqual(zs.map((r) => r.userId).sort(), expected.filter((e) => e.startsWith("z:")).map((e) => e.slice(2)).sort(), "ListReactions with reaction = z");
      check(zs.every((r) => r.reaction === "z"), "ListReactions with reaction = z returned other reactions", "only z");
      // The counts agree with the listing, in order of each reaction's oldest use.
      const counts = (await fetched(w.user("r1"), w.groupId, sent.messageId)).reactions;
      expectEqual(tally(counts), expectedTally(listed, "r1"), "r1's GetMessage: reactions, in order of each one's oldest use (ties in code point order)");
      const filtered = await w.user("bob").messages.listReactions({ groupId: w.groupId, messageId: sent.messageId, reaction: "z", pageSize: 1 });
      check(filtered.nextPageToken, "a first page of 1 of 4 z reactions has no next_page_token", "a token");
      await expectError(
        w.user("bob").messages.listReactions({ groupId: w.groupId, messageId: sent.messageId, pageSize: 1, pageToken: filtered.nextPageToken }),
        Code.InvalidArgument,
        ErrorReason.PAGE_TOKEN_INVALID,
        { field: "page_token", what: "a token of the z listing used for the listing of every reaction" },
      );
      await expectError(
        w.user("bob").messages.listReactions({ groupId: w.groupId, messageId: sent.messageId, pageSize: -1 }),
        Code.InvalidArgument,
        ErrorReason.FIELD_INVALID,
        { field: "page_size", what: "ListReactions with page_size -1" },
      );
    },
  }),
  defineCase({
    id: "rct-checks-in-order",
    rules: ["RCT-2", "RCT-1", "RCT-8"],
    requirement:
      "AddReaction and RemoveReaction check in section 9.5's order — FIELD_INVALID (an empty reaction, 33 code points, a control character, only white space), GROUP_NOT_FOUND, NOT_A_MEMBER, MESSAGE_NOT_FOUND, ALREADY_RECALLED — and a reaction of 32 emoji code points is accepted.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "check me");
      const recalled = await w.user("bob").send(w.groupId, "recall me");
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: recalled.messageId });
      const bob = w.user("bob");
      for (const change of ["add", "remove"] as const) {
        const call = (user: UserHandle, groupId: string, messageId: string, reaction: string) =>
          change === "add" ? user.messages.addReaction({ groupId, messageId, reaction }) : user.messages.removeReaction({ groupId, messageId, reaction });
        const name = change === "add" ? "AddReaction" : "RemoveReaction";
        const attempts: [() => Promise<unknown>, Code, ErrorReason, string, string][] = [
          [() => call(bob, w.groupId, "", "👍"), Code.InvalidArgument, ErrorReason.FIELD_INVALID, "message_id", "no message_id"],
          [() => call(bob, "no-such-group", "no-such-message", ""), Code.InvalidArgument, ErrorReason.FIELD_INVALID, "reaction", "an empty reaction (unknown group)"],
          [() => call(bob, w.groupId, sent.messageId, "x".repeat(33)), Code.InvalidArgument, ErrorReason.FIELD_INVALID, "reaction", "a reaction of 33 code points"],
          [() => call(bob, w.groupId, sent.messageId, "ok\u0007"), Code.InvalidArgument, ErrorReason.FIELD_INVALID, "reaction", "a reaction with a control character"],
          [() => call(bob, w.groupId, sent.messageId, "  \t "), Code.InvalidArgument, ErrorReason.FIELD_INVALID, "reaction", "a reaction of white space only"],
          [() => call(bob, "no-such-group", sent.messageId, "👍"), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, "", "an unknown group"],
          [() => call(w.user("erin"), w.groupId, "no-such-message", "👍"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER, "", "a non-member (unknown message)"],
          [() => call(bob, w.groupId, "no-such-message", "👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, "message_id", "an unknown message"],
          [() => call(bob, w.groupId, recalled.messageId, "👍"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, "", "a recalled message"],
        ];
        for (const [attempt, code, reason, field, what] of attempts) {
          await expectError(attempt(), code, reason, { ...(field ? { field } : {}), what: `${name} with ${what}` });
        }
      }
      const long = "👍".repeat(32);
      const accepted = await react(bob, w.groupId, sent.messageId, long);
      expectEqual(tally(accepted.reactions), [`${long}×1*`], "a reaction of 32 emoji code points (128 bytes) accepted");
      const after = await react(bob, w.groupId, sent.messageId, long, "remove");
      expectEqual(tally(after.reactions), [], "after removing it");
    },
  }),
  defineCase({
    id: "rct-distinct-limit",
    rules: ["RCT-4", "RCT-3"],
    requirement:
      "A message takes 20 distinct reactions; a 21st distinct one is FailedPrecondition REACTION_LIMIT_REACHED (field reaction) and changes nothing, while another user adding one of the 20 succeeds.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "so many feelings");
      for (let i = 1; i <= 20; i++) await react(w.user(i % 2 ? "alice" : "bob"), w.groupId, sent.messageId, `r${i}`);
      const sub = await w.user("bob").subscribe();
      await expectError(w.user("carol").messages.addReaction({ groupId: w.groupId, messageId: sent.messageId, reaction: "r21" }), Code.FailedPrecondition, ErrorReason.REACTION_LIMIT_REACHED, {
        field: "reaction",
        what: "a 21st distinct reaction",
      });
      const joined = await react(w.user("carol"), w.groupId, sent.messageId, "r7");
      const counts = tally(joined.reactions);
      expectEqual([counts.length, counts[6]], [20, "r7×2*"], "after carol adds r7 [distinct reactions, r7's tally]");
      await sub.waitFor("ReactionChanged of carol's r7", (e) => reactionChange(e)?.userId === "carol");
      sub.assertNone("a ReactionChanged of the refused r21", (e) => reactionChange(e)?.reaction === "r21");
      const r21 = await allReactions(w.user("alice"), w.groupId, sent.messageId, 100, "r21");
      expectEqual(r21.length, 0, "reactions r21 after the refusal");
    },
  }),
  defineCase({
    id: "rct-recall-clears",
    rules: ["RCT-8", "MSG-11", "DRV-1"],
    requirement:
      "Recalling a message with reactions removes them: GetMessage and ListMessages show none, ListReactions lists none, no ReactionChanged is sent (only MessageRecalled), and reacting to it or removing a reaction is ALREADY_RECALLED.",
    async run(ctx) {
      const w = await ctx.world();
      const sent = await w.user("bob").send(w.groupId, "regrettable");
      await react(w.user("alice"), w.groupId, sent.messageId, "😬");
      await react(w.user("carol"), w.groupId, sent.messageId, "😬");
      const sub = await w.user("carol").subscribe();
      // The owner recalls it (at any time; a test server's recall window is short).
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: sent.messageId });
      await sub.waitFor("MessageRecalled", isRecallOf(sent.messageId));
      expectEqual(tally((await fetched(w.user("carol"), w.groupId, sent.messageId)).reactions), [], "GetMessage of the recalled message: reactions");
      expectEqual(tally((await inHistory(w.user("alice"), w.groupId, sent.messageId)).reactions), [], "ListMessages of the recalled message: reactions");
      expectEqual((await allReactions(w.user("carol"), w.groupId, sent.messageId, 10)).length, 0, "ListReactions of the recalled message");
      for (const change of ["add", "remove"] as const) {
        await expectError(react(w.user("carol"), w.groupId, sent.messageId, "😬", change), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, {
          what: `${change === "add" ? "AddReaction" : "RemoveReaction"} on a recalled message`,
        });
      }
      const later = await w.user("alice").send(w.groupId, "fence");
      await sub.expectNone("ReactionChanged on the recalled message", isReactionOn(sent.messageId), fence(later));
    },
  }),
  defineCase({
    id: "rct-audience-over-time",
    rules: ["RCT-7", "DRV-1", "VIS-2", "VIS-3", "EVT-3"],
    requirement:
      "ReactionChanged goes to the users who may see the message when it changes: a member who left gets none after leaving, live or on replay from a cursor before; a member who joined a WORK group after the message gets none and cannot react to it (MESSAGE_NOT_FOUND).",
    async run(ctx) {
      const w = await ctx.world();
      const takenAt = Date.now();
      const carol = await w.user("carol").subscribe();
      const cursor = await carol.ready();
      const sent = await w.user("bob").send(w.groupId, "before erin");
      await react(w.user("alice"), w.groupId, sent.messageId, "1");
      await carol.waitFor("ReactionChanged before she left", isReactionOn(sent.messageId));
      await w.user("carol").groups.leaveGroup({ groupId: w.groupId });
      await w.app.ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["erin"] });
      const erin = await w.user("erin").subscribe();
      await react(w.user("alice"), w.groupId, sent.messageId, "2");
      const bobs = await w.user("bob").send(w.groupId, "fence");
      await erin.expectNone("ReactionChanged on a message from before erin joined", isReactionOn(sent.messageId), fence(bobs));
      const other = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["carol"] });
      const inOther = await w.user("alice").send(other, "fence in another group");
      await carol.expectNone("ReactionChanged after she left", (e) => reactionChange(e)?.reaction === "2", {
        description: "the message in the other group",
        predicate: (e) => e.payload.case === "messageReceived" && e.payload.value.message?.messageId === inOther.messageId,
      });
      const hidden = await rejection(w.user("erin").messages.addReaction({ groupId: w.groupId, messageId: sent.messageId, reaction: "3" }), "erin's AddReaction below her history floor");
      checkError(hidden, Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" }, "erin's AddReaction below her history floor");
      const replay = await w.user("carol").replay(cursor, takenAt);
      if (!replay) return;
      const replayed = replay.replayed.filter(isReactionOn(sent.messageId)).map((e) => reactionChange(e)?.reaction);
      expectEqual(replayed, ["1"], "ReactionChanged replayed to carol from a cursor before she left");
    },
  }),
  defineCase({
    id: "rct-deleted-user-has-none",
    rules: ["RCT-5", "ADM-11"],
    requirement:
      "AdminService.DeleteUser removes the user's reactions: after a re-import under the same ID and a re-join of a MEETING group (no history floor), the message shows no reaction of theirs, and they cannot remove the old one.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.MEETING });
      const sent = await w.user("bob").send(w.groupId, "react and vanish");
      await react(w.user("alice"), w.groupId, sent.messageId, "👋");
      await react(w.user("carol"), w.groupId, sent.messageId, "👋");
      await ctx.admin.deleteUser({ appId: w.app.appId, userId: "carol" });
      await w.app.importUsers(["carol"]);
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["carol"] });
      const again = new UserHandle(w.app, "carol"); // the old token died with the old user
      expectEqual(tally((await fetched(again, w.groupId, sent.messageId)).reactions), ["👋×1"], "the re-imported carol's GetMessage: reactions (alice's only)");
      const removed = await react(again, w.groupId, sent.messageId, "👋", "remove");
      expectEqual(tally(removed.reactions), ["👋×1"], "the re-imported carol removing the old carol's reaction (nothing to remove)");
      expectEqual((await allReactions(w.user("bob"), w.groupId, sent.messageId, 10)).map((r) => r.userId), ["alice"], "ListReactions after carol's deletion");
    },
  }),
  defineCase({
    id: "rct-rate-limited",
    rules: ["RCT-3", "MSG-5", "ERR-5"],
    requirement:
      "Reactions draw on the group's send bucket: of a burst far over the rate, at most send_rate_per_group_bound × (t + 1) are accepted in t seconds, every other one is ResourceExhausted RATE_LIMITED with a RetryInfo, and the reactions stored are exactly the accepted ones.",
    async run(ctx) {
      const info = await ctx.serverInfo();
      const bound = Math.max(info.sendRatePerGroupBound, info.sendRatePerGroup);
      const w = await ctx.world();
      // Spread over messages of at most 20 reactions each (RCT-4), and one message's changes may
      // wait for each other (a server may lock it): the point is the group's bucket.
      const total = 2 * bound + 1;
      const messages: Message[] = [];
      for (let i = 0; i < Math.ceil(total / 10); i++) messages.push(await w.user("bob").send(w.groupId, `m${i}`));
      await sleep(1100); // the bucket is full again
      const started = Date.now();
      const outcomes = await Promise.allSettled(
        Array.from({ length: total }, (_, i) => w.user("carol").messages.addReaction({ groupId: w.groupId, messageId: messages[Math.floor(i / 10)]!.messageId, reaction: `r${i % 10}` })),
      );
      const elapsed = (Date.now() - started) / 1000;
      const refused = outcomes.flatMap((o) => (o.status === "rejected" ? [observe(o.reason)] : []));
      const accepted = outcomes.length - refused.length;
      const most = Math.floor(bound * (elapsed + 1));
      check(accepted <= most, `${total} reactions at once had more accepted in ${elapsed.toFixed(2)} s than send_rate_per_group_bound × (t + 1): reactions must draw on the send bucket`, `≤ ${most}`, String(accepted));
      for (const o of refused) checkError(o, Code.ResourceExhausted, ErrorReason.RATE_LIMITED, {}, "a reaction over the rate");
      check(refused.every((o) => o.retryInfos.length === 1), "a RATE_LIMITED reaction lacks its RetryInfo", "one RetryInfo each", refused.map((o) => `${reasonOf(o)}:${o.retryInfos.length}`).join(" "));
      let stored = 0;
      for (const m of messages) stored += (await allReactions(w.user("alice"), w.groupId, m.messageId, 100)).length;
      expectEqual(stored, accepted, "reactions stored after the burst (the accepted ones only)");
    },
  }),
];
