// Replay across membership changes and long resumes (EVT-3, VIS-2, GRP-6).
import { GroupType, type Event } from "@narrowcast/gen";
import type { ConformanceCase } from "../case.js";
import { defineCase } from "../case.js";
import { check, expectEqual } from "../check.js";
import { isIn, isLeft, isMessage, isRecallOf, receivedMessage } from "../events.js";
import type { Subscription } from "../subscription.js";
import { userIds } from "./util.js";

/**
 * A short key of an event for comparing streams: kind and what it is about (message ID, member).
 * Content is left out: a message recalled since is replayed without it (MSG-11).
 */
function keyOf(e: Event): string {
  switch (e.payload.case) {
    case "messageReceived":
      return `received:${receivedMessage(e)?.messageId}`;
    case "messageRecalled":
      return `recalled:${e.payload.value.messageId}`;
    case "memberJoined":
      return `joined:${e.payload.value.member?.userId}`;
    case "memberLeft":
      return `left:${e.payload.value.userId}`;
    case "groupDismissed":
      return "dismissed";
    case "conversationUpdated":
      return "conversation";
    default:
      return "?";
  }
}

/** The keys of a group's events among `events`, in order (ConversationUpdated left out). */
function groupKeys(events: readonly Event[], groupId: string): string[] {
  return events.filter(isIn(groupId)).map(keyOf).filter((k) => k !== "conversation");
}

/** Fails unless the group's events among `events` are exactly `expected`, in order. */
function expectGroupEvents(events: readonly Event[], groupId: string, expected: readonly string[], what: string): void {
  const actual = groupKeys(events, groupId);
  if (actual.length > 40 || expected.length > 40) {
    // Long streams: report where they first differ rather than printing hundreds of keys.
    const at = actual.findIndex((k, i) => k !== expected[i]);
    const first = at < 0 ? Math.min(actual.length, expected.length) : at;
    check(
      actual.length === expected.length && at < 0,
      `${what}: the group's events differ from index ${first} (${actual.length} events, ${expected.length} expected)`,
      JSON.stringify(expected.slice(first, first + 5)),
      JSON.stringify(actual.slice(first, first + 5)),
    );
    return;
  }
  expectEqual(actual, [...expected], what);
}

/** Resumes `user` from `cursor`; skips the case when the cursor outlived a very short event retention. */
async function resume(
  user: { replay(cursor: string, takenAt: number, label?: string): Promise<Subscription | undefined> },
  cursor: string,
  takenAt: number,
  label: string,
  skip: (why: string) => never,
): Promise<Subscription> {
  const sub = await user.replay(cursor, takenAt, label);
  if (!sub) return skip(`${label}: the cursor outlived the declared event_retention before the replay began`);
  return sub;
}

export const replayCases: ConformanceCase[] = [
  defineCase({
    id: "replay-leave-rejoin-spans",
    rules: ["EVT-3", "VIS-2", "VIS-3", "GRP-10", "EVT-2", "TGT-4", "MSG-11"],
    requirement:
      "Live and on replay alike, a member who leaves and re-joins gets the group's events of each membership (their own MemberLeft and MemberJoined included) and nothing from while away; after a WORK re-join no MessageRecalled of older messages, after a MEETING re-join those of every message in their audience.",
    async run(ctx) {
      const w = await ctx.world({ groupId: "rj-work" });
      const g = w.groupId;
      const gm = await w.app.createGroup(GroupType.MEETING, { owner: "alice", members: ["bob", "carol"], groupId: "rj-meeting" });
      const alice = w.user("alice");
      const bobUser = w.user("bob");
      const recall = (groupId: string, messageId: string) => alice.messages.recallMessage({ groupId, messageId });
      const live = await bobUser.subscribe({}, "bob's live subscription");
      // Two windows, each replayed right after it, so that their cursors stay younger than a short
      // event_retention (8 s in the self tests) even on a loaded deployment.
      const workAt = Date.now();
      const workStart = await live.ready();

      // WORK: a floor at the re-join hides everything before it, recalls included.
      const m1 = await alice.send(g, "m1");
      const t1 = await alice.send(g, { text: "for bob", receiverIds: ["bob"] });
      const t2 = await alice.send(g, { text: "for carol", receiverIds: ["carol"] });
      await bobUser.groups.leaveGroup({ groupId: g });
      const away = await alice.send(g, "while bob is away");
      await ctx.admin.removeMembers({ appId: w.app.appId, groupId: g, userIds: ["carol"] });
      await recall(g, m1.messageId);
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: g, userIds: ["bob"] });
      await recall(g, t1.messageId);
      await recall(g, away.messageId);
      const m3 = await alice.send(g, "after bob is back");
      await recall(g, m3.messageId);
      const workExpected = [`received:${m1.messageId}`, `received:${t1.messageId}`, "left:bob", "joined:bob", `received:${m3.messageId}`, `recalled:${m3.messageId}`];
      await live.waitFor("MessageRecalled of m3", isRecallOf(m3.messageId));
      expectGroupEvents(live.events, g, workExpected, "the WORK group's events bob received live");
      const leftCursor = live.events.find(isLeft(g, "bob"))!.cursor;
      // A replay whose cursor outlived a very short event_retention is not checked (the live stream was).
      const workReplay = await bobUser.replay(workStart, workAt, "bob's replay of the WORK window");
      if (workReplay) expectGroupEvents(workReplay.replayed, g, workExpected, "the WORK group's events replayed to bob");
      const fromLeft = await bobUser.replay(leftCursor, workAt, "bob's replay from his MemberLeft");
      if (fromLeft) expectGroupEvents(fromLeft.replayed, g, workExpected.slice(3), "the WORK group's events replayed to bob after his MemberLeft");

      // MEETING: no floor; the re-joined member sees (and is told of recalls of) all history in their audience.
      const meetingAt = Date.now();
      const meetingStart = live.resumeCursor;
      const o = await alice.send(gm, "o");
      const s = await alice.send(gm, { text: "for bob", receiverIds: ["bob"] });
      const forCarol = await alice.send(gm, { text: "for carol", receiverIds: ["carol"] });
      await bobUser.groups.leaveGroup({ groupId: gm });
      const x = await alice.send(gm, "while bob is away");
      await bobUser.groups.joinGroup({ groupId: gm });
      await recall(gm, s.messageId);
      await recall(gm, forCarol.messageId);
      await recall(gm, o.messageId);
      await recall(gm, x.messageId);
      const last = await alice.send(gm, "last");
      const meetingExpected = [
        `received:${o.messageId}`,
        `received:${s.messageId}`,
        "left:bob",
        "joined:bob",
        `recalled:${s.messageId}`,
        `recalled:${o.messageId}`,
        `recalled:${x.messageId}`,
        `received:${last.messageId}`,
      ];
      await live.waitFor("the last message (fence)", isMessage(last.messageId));
      expectGroupEvents(live.events, gm, meetingExpected, "the MEETING group's events bob received live");
      check(!live.events.some((e) => [t2, forCarol].some((m) => isMessage(m.messageId)(e) || isRecallOf(m.messageId)(e))), "bob received an event of a message targeted to carol", "none", live.describeItems());
      // bob's own event (ConversationUpdated) carries a cursor too: nothing follows it yet.
      await bobUser.conversations.markConversationRead({ groupId: gm, readSeq: 0n });
      const read = await live.waitFor("bob's ConversationUpdated", (e) => e.payload.case === "conversationUpdated" && e.payload.value.conversation?.groupId === gm);
      live.close();
      const meetingReplay = await bobUser.replay(meetingStart, meetingAt, "bob's replay of the MEETING window");
      if (meetingReplay) {
        expectGroupEvents(meetingReplay.replayed, gm, meetingExpected, "the MEETING group's events replayed to bob");
        expectGroupEvents(meetingReplay.replayed, g, [], "the WORK group's events replayed after the WORK window");
        check(meetingReplay.replayed.some((e) => e.payload.case === "conversationUpdated"), "the replay of the MEETING window lacks bob's ConversationUpdated", "ConversationUpdated of the MEETING group", meetingReplay.describeItems());
      }
      const fromRead = await bobUser.replay(read.cursor, meetingAt, "bob's replay from his ConversationUpdated");
      if (fromRead) expectEqual(fromRead.replayed.map(keyOf), [], "events replayed from the cursor of bob's latest event (his own ConversationUpdated)");
    },
  }),
  defineCase({
    id: "replay-long-resume",
    rules: ["EVT-3", "EVT-8", "VIS-2", "GRP-10", "TGT-4"],
    requirement:
      "A resume that replays hundreds of events of two groups (more than a server reads at once) delivers every event of the caller's stream exactly once in each group's order, nothing from while the caller was away and no targeted message to others; resuming from a cursor in the middle of that replay delivers exactly the rest.",
    async run(ctx) {
      const w = await ctx.world({ members: ["alice", "bob", "carol"], others: ["dave"], groupId: "long-a" });
      const ga = w.groupId;
      const gb = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", "dave"], groupId: "long-b" });
      const fillers = userIds(510, "f");
      await w.app.importUsers(fillers);
      const add = (groupId: string, ids: string[]) => ctx.admin.addMembers({ appId: w.app.appId, groupId, userIds: ids });
      const joined = (ids: string[]) => ids.map((id) => `joined:${id}`);
      const bobUser = w.user("bob");
      await w.user("alice").token();
      await bobUser.token();

      const startedAt = Date.now();
      // Closed at once: the events below are read by replay only.
      const first = await bobUser.subscribe({}, "bob's subscription");
      const start = await first.ready();
      first.close();
      await add(ga, fillers.slice(0, 150));
      const secret = await w.user("alice").send(ga, { text: "for carol", receiverIds: ["carol"] });
      const a1 = await w.user("alice").send(ga, "ga 1");
      await add(gb, fillers.slice(150, 300));
      await ctx.admin.removeMembers({ appId: w.app.appId, groupId: gb, userIds: ["bob"] });
      await add(gb, fillers.slice(300, 320));
      await add(gb, ["bob"]);
      await add(gb, fillers.slice(320, 360));
      await add(ga, fillers.slice(360, 510));
      const a2 = await w.user("alice").send(ga, "ga 2");
      const expectedA = [...joined(fillers.slice(0, 150)), `received:${a1.messageId}`, ...joined(fillers.slice(360, 510)), `received:${a2.messageId}`];
      const expectedB = [...joined(fillers.slice(150, 300)), "left:bob", "joined:bob", ...joined(fillers.slice(320, 360))];

      const replay = await resume(bobUser, start, startedAt, "bob's long replay", ctx.skip);
      replay.assertNone("a replayed message targeted to carol", isMessage(secret.messageId));
      expectGroupEvents(replay.replayed, ga, expectedA, "long-a's events replayed to bob");
      expectGroupEvents(replay.replayed, gb, expectedB, "long-b's events replayed to bob");
      const all = replay.replayed;
      expectEqual(all.length, expectedA.length + expectedB.length, "events replayed to bob in all");
      check(all.every((e) => e.cursor !== ""), "a replayed event has no cursor", "a cursor on every replayed event", replay.describeItems());
      replay.close();

      // Resuming from a cursor deep inside that replay (two consecutive ones) replays exactly the rest
      // of it, each group in its order: a cursor taken anywhere in a replay must hold.
      for (const index of [254, 255]) {
        const rest = all.slice(index + 1);
        const again = await resume(bobUser, all[index]!.cursor, startedAt, `bob's replay from the cursor of replayed event #${index + 1}`, ctx.skip);
        for (const groupId of [ga, gb]) {
          expectGroupEvents(again.replayed, groupId, groupKeys(rest, groupId), `${groupId}'s events replayed after the cursor of replayed event #${index + 1}`);
        }
        again.close();
      }
    },
  }),
];
