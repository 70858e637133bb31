// Live events (EVT): ready, resume by cursor without loss or repeat, heartbeats, ordering.
import { Code } from "@connectrpc/connect";
import { ErrorReason, GroupType } from "@narrowcast/gen";
import { defineCase } from "../case.js";
import { check, durationMs, expectEqual, fail } from "../check.js";
import { checkError } from "../errors.js";
import { concernsMessage, describeEvent, isIn, isMessage, isMessageIn, isRecallOf, receivedMessage } from "../events.js";
import { fence } from "../fixtures.js";
import { sleep } from "../subscription.js";
import { expectSeqs } from "./util.js";

export const evtCases = [
  defineCase({
    id: "evt-ready-first",
    rules: ["EVT-3"],
    requirement: "Without a cursor, Subscribe sends ready (with a cursor) first, then live events.",
    async run(ctx) {
      const w = await ctx.world();
      await w.user("alice").send(w.groupId, "before subscribing");
      const sub = w.user("bob").openSubscription();
      const cursor = await sub.ready();
      check(cursor !== "", "ready carries no cursor", "a non-empty cursor", JSON.stringify(cursor));
      expectEqual(sub.readyIndex, 0, "position of ready among the stream's first items");
      const live = await w.user("alice").send(w.groupId, "after");
      const e = await sub.waitFor("the live message", isMessage(live.messageId));
      check(e.cursor !== "", "a stored message's event has no cursor", "a cursor", describeEvent(e));
      sub.assertNone("a message sent before subscribing without a cursor", (ev) => receivedMessage(ev)?.seq === 1n);
    },
  }),
  defineCase({
    id: "evt-resume-no-loss-no-repeat",
    rules: ["EVT-3", "EVT-6", "EVT-9"],
    requirement: "After a disconnect, resuming from the last cursor replays exactly the missed events in order, then ready, then live events.",
    async run(ctx) {
      const w = await ctx.world();
      const first = await w.user("bob").subscribe();
      const seen = await w.user("alice").send(w.groupId, "seen live");
      await first.waitFor("the first message", isMessage(seen.messageId));
      const cursor = first.resumeCursor;
      first.close();
      const missed = [];
      for (let i = 0; i < 5; i++) missed.push(await w.user(i % 2 ? "carol" : "alice").send(w.groupId, `missed ${i}`));
      const resumed = await w.user("bob").subscribe({ cursor });
      const replayed = resumed.replayed.map((e) => receivedMessage(e)?.messageId ?? describeEvent(e));
      expectEqual(replayed, missed.map((m) => m.messageId), "events replayed before ready (exactly the 5 missed messages, in order)");
      check(resumed.replayed.every((e) => e.cursor !== ""), "a replayed event has no cursor", "a cursor on every replayed event", resumed.describeItems());
      const live = await w.user("alice").send(w.groupId, "live again");
      await resumed.waitFor("the next live message", isMessage(live.messageId));
      const copies = resumed.events.filter((e) => receivedMessage(e) !== undefined).map((e) => Number(receivedMessage(e)!.seq));
      expectEqual(copies, [2, 3, 4, 5, 6, 7], "seqs received on the resumed stream (no gap, no repeat)");
    },
  }),
  defineCase({
    id: "evt-resume-mid-stream",
    rules: ["EVT-3"],
    requirement: "Resuming from the cursor of an event in the middle replays exactly the events after it.",
    async run(ctx) {
      const w = await ctx.world();
      const sub = await w.user("bob").subscribe();
      const sent = [];
      for (let i = 0; i < 4; i++) sent.push(await w.user("alice").send(w.groupId, `m${i}`));
      const events = await sub.waitForCount("messages", 4, isMessageIn(w.groupId));
      sub.close();
      const resumed = await w.user("bob").subscribe({ cursor: events[1]!.cursor });
      expectEqual(resumed.replayed.map((e) => receivedMessage(e)?.messageId), [sent[2]!.messageId, sent[3]!.messageId], "events replayed after the 2nd event's cursor");
      const last = await w.user("bob").subscribe({ cursor: events[3]!.cursor });
      expectEqual(last.replayed.length, 0, "events replayed after the latest event's cursor");
    },
  }),
  defineCase({
    id: "evt-resume-from-ready-cursor",
    rules: ["EVT-3", "EVT-2"],
    requirement: "The ready cursor resumes after everything before it, replaying membership and conversation events as well as messages.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.COMMUNITY });
      const cursor = await (await w.user("bob").subscribe()).ready();
      await w.user("erin").groups.joinGroup({ groupId: w.groupId });
      const m = await w.user("erin").send(w.groupId, "hi, I'm new");
      await w.user("bob").conversations.markConversationRead({ groupId: w.groupId, readSeq: 0n });
      const resumed = await w.user("bob").subscribe({ cursor });
      // Order is promised within a group only (EVT-8): look at this group's events.
      const events = resumed.replayed.filter(isIn(w.groupId));
      const kinds = events.map((e) => e.payload.case).filter((k) => k === "memberJoined" || k === "messageReceived");
      expectEqual(kinds, ["memberJoined", "messageReceived"], "membership and message events of the group replayed to bob, in the group's order");
      expectEqual(receivedMessage(events.find((e) => e.payload.case === "messageReceived")!)?.messageId, m.messageId, "the replayed message");
      const read = events.findIndex((e) => e.payload.case === "conversationUpdated" && Number(e.payload.value.conversation?.readSeq) === 1);
      const msg = events.findIndex((e) => e.payload.case === "messageReceived");
      check(read > msg, "the ConversationUpdated of bob's MarkConversationRead is not replayed after the message it marks read", "ConversationUpdated{read_seq=1} after the message", resumed.describeItems());
    },
  }),
  defineCase({
    id: "evt-replay-after-leaving",
    rules: ["EVT-3", "VIS-2", "GRP-10", "EVT-2"],
    requirement: "Resuming replays the events of a group the user has since left, up to and including their own MemberLeft, and nothing of the group after it.",
    async run(ctx) {
      const w = await ctx.world({ type: GroupType.COMMUNITY });
      const cursor = await (await w.user("carol").subscribe()).ready();
      const before = await w.user("alice").send(w.groupId, "before carol leaves");
      await w.user("carol").groups.leaveGroup({ groupId: w.groupId });
      const after = await w.user("alice").send(w.groupId, "after carol left");
      const resumed = await w.user("carol").subscribe({ cursor });
      const events = resumed.replayed.filter(isIn(w.groupId));
      const replayed = events.map((e) => describeEvent(e));
      const kinds = events.filter((e) => e.payload.case !== "conversationUpdated").map((e) => e.payload.case);
      expectEqual(kinds, ["messageReceived", "memberLeft"], `kinds of the group's events replayed to carol (${replayed.join(", ")})`);
      expectEqual(receivedMessage(events.find((e) => e.payload.case === "messageReceived")!)?.messageId, before.messageId, "the message replayed to carol");
      resumed.assertNone("a message sent after carol left", isMessage(after.messageId));
    },
  }),
  defineCase({
    id: "evt-recall-not-told-to-later-joiner",
    rules: ["EVT-2", "VIS-1", "GRP-6", "MSG-11"],
    requirement: "MessageRecalled of an ordinary message reaches only members whose history holds it: a member who joined a WORK group later is not told.",
    async run(ctx) {
      const w = await ctx.world();
      const old = await w.user("alice").send(w.groupId, "old news");
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: ["erin"] });
      const erin = await w.user("erin").subscribe();
      const bob = await w.user("bob").subscribe();
      await w.user("alice").messages.recallMessage({ groupId: w.groupId, messageId: old.messageId });
      await bob.waitFor("MessageRecalled", isRecallOf(old.messageId));
      const after = await w.user("alice").send(w.groupId, "new");
      await erin.expectNone("MessageRecalled of a message from before erin joined", isRecallOf(old.messageId), fence(after));
    },
  }),
  defineCase({
    id: "evt-cursor-invalid",
    rules: ["EVT-4", "EVT-11"],
    requirement: "A malformed cursor, one longer than 256 bytes, or one issued for another app is InvalidArgument CURSOR_INVALID (field cursor).",
    async run(ctx) {
      const w = await ctx.world();
      const bobSub = await w.user("bob").subscribe();
      const own = await bobSub.ready();
      const m = await w.user("alice").send(w.groupId, "for a real cursor");
      const real = (await bobSub.waitFor("the message", isMessage(m.messageId))).cursor;
      check(real.length > 0 && Buffer.byteLength(real) <= 256 && Buffer.byteLength(own) <= 256, "a cursor is empty or longer than 256 bytes", "1..256 bytes", `${Buffer.byteLength(real)} / ${Buffer.byteLength(own)} bytes`);
      const other = await ctx.world();
      const foreignSub = await other.user("bob").subscribe({}, "another app's bob");
      const foreignReady = await foreignSub.ready();
      const fm = await other.user("alice").send(other.groupId, "in the other app");
      const foreign = (await foreignSub.waitFor("the other app's message", isMessage(fm.messageId))).cursor;
      const bad: [string, string][] = [
        ["not-a-cursor", "not-a-cursor"],
        ["!!!", "!!!"],
        ["200 nines", "9".repeat(200)],
        ["a real cursor padded past 256 bytes", real + "A".repeat(257 - real.length)],
        ["257 bytes", "A".repeat(257)],
        ["another app's event cursor", foreign],
        ["another app's ready cursor", foreignReady],
      ];
      for (const [what, cursor] of bad) {
        const sub = w.user("bob").openSubscription({ cursor }, `subscription with ${what}`);
        checkError(await sub.error(), Code.InvalidArgument, ErrorReason.CURSOR_INVALID, { field: "cursor" }, `Subscribe with ${what}`);
      }
      const ok = await w.user("bob").subscribe({ cursor: own }, "bob's resumed subscription");
      await ok.waitFor("the replayed message (the app's own cursor still works)", isMessage(m.messageId));
    },
  }),
  defineCase({
    id: "evt-cursor-of-another-user",
    rules: ["EVT-4", "EVT-11", "TGT-4"],
    requirement:
      "A cursor delivered to another user of the same app is either rejected with CURSOR_INVALID (field cursor) or, if accepted, replays only the caller's own events: never a targeted message to the cursor's owner.",
    async run(ctx) {
      const w = await ctx.world();
      const bobSub = await w.user("bob").subscribe();
      const m1 = await w.user("alice").send(w.groupId, "for everyone");
      const cursor = (await bobSub.waitFor("the first message", isMessage(m1.messageId))).cursor;
      const secret = await w.user("alice").send(w.groupId, { text: "for bob", receiverIds: ["bob"] });
      await w.user("alice").send(w.groupId, "for everyone, again");
      const carol = w.user("carol").openSubscription({ cursor }, "carol's subscription with bob's cursor");
      const outcome = await carol.until("ready or an error", () => (carol.readyIndex >= 0 ? ("ready" as const) : carol.ended?.kind === "error" ? carol.ended.error : undefined));
      if (outcome !== "ready") {
        checkError(outcome, Code.InvalidArgument, ErrorReason.CURSOR_INVALID, { field: "cursor" }, "Subscribe with another user's cursor");
        return;
      }
      carol.assertNone("a replayed message targeted to bob (the cursor's owner)", concernsMessage(secret.messageId));
      const replayed = carol.replayed.map((e) => receivedMessage(e)?.messageId).filter((id) => id !== undefined);
      check(!replayed.includes(secret.messageId), "the replay holds bob's targeted message", "carol's own events only", carol.describeItems());
    },
  }),
  defineCase({
    id: "evt-cursor-expired",
    rules: ["EVT-10", "SRV-1", "MSG-16"],
    requirement:
      "A cursor older than the declared event_retention (the events after it were pruned) is OutOfRange CURSOR_EXPIRED (field cursor); a fresh Subscribe and history still work. Needs event_retention ≤ 10 s.",
    async run(ctx) {
      const info = await ctx.serverInfo();
      const retentionMs = durationMs(info.eventRetention);
      if (retentionMs === undefined || retentionMs > 10_000) {
        return ctx.skip(`retention too long to test (event_retention ${retentionMs === undefined ? "undeclared" : `${retentionMs / 1000} s`}; needs ≤ 10 s)`);
      }
      const w = await ctx.world();
      const bob = await w.user("bob").subscribe();
      const m1 = await w.user("alice").send(w.groupId, "one");
      const cursor = (await bob.waitFor("the first message", isMessage(m1.messageId))).cursor;
      const m2 = await w.user("alice").send(w.groupId, "two");
      await bob.waitFor("the second message", isMessage(m2.messageId));
      bob.close();
      const started = Date.now();
      await sleep(retentionMs);
      // The server prunes on its own schedule: poll (bounded) until the cursor has expired.
      let last = "";
      for (;;) {
        const sub = w.user("bob").openSubscription({ cursor }, "bob's subscription with an old cursor");
        const outcome = await sub
          .until("ready or an error", () => (sub.readyIndex >= 0 ? ("ready" as const) : sub.ended?.kind === "error" ? sub.ended.error : undefined))
          .catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
        sub.close();
        if (outcome !== "ready" && !(outcome instanceof Error)) {
          checkError(outcome, Code.OutOfRange, ErrorReason.CURSOR_EXPIRED, { field: "cursor" }, "Subscribe with a cursor older than the event retention");
          break;
        }
        last = outcome === "ready" ? "the stream became ready (replay still possible)" : String(outcome);
        // Bounded so the case ends within the runner's 30 s case timeout.
        if (Date.now() - started > Math.min(retentionMs + 15_000, 25_000)) {
          fail(`a cursor ${Math.round((Date.now() - started) / 1000)} s old (event_retention ${retentionMs / 1000} s) has not expired`, "OutOfRange CURSOR_EXPIRED field=\"cursor\"", last);
        }
        await sleep(250);
      }
      const fresh = await w.user("bob").subscribe({}, "bob's fresh subscription");
      const m3 = await w.user("alice").send(w.groupId, "three");
      await fresh.waitFor("a live message on the fresh subscription", isMessage(m3.messageId));
      expectSeqs(await w.user("bob").history(w.groupId), [1, 2, 3], "history after the events were pruned (messages are kept)");
    },
  }),
  defineCase({
    id: "evt-heartbeat",
    rules: ["EVT-5"],
    requirement: "An idle stream gets a Heartbeat per heartbeat_interval; an interval that is not whole seconds from 1 to 300 is FIELD_INVALID (field heartbeat_interval).",
    async run(ctx) {
      const w = await ctx.world();
      const sub = await w.user("bob").subscribe({ heartbeatIntervalSeconds: 1 });
      await sub.until("a heartbeat", () => sub.items.find((i) => i.item.case === "heartbeat"));
      const bad: [string, { seconds: bigint; nanos: number }][] = [
        ["301 s", { seconds: 301n, nanos: 0 }],
        ["1.5 s", { seconds: 1n, nanos: 500_000_000 }],
        ["0.5 s", { seconds: 0n, nanos: 500_000_000 }],
        ["-5 s", { seconds: -5n, nanos: 0 }],
      ];
      for (const [what, heartbeatInterval] of bad) {
        const s = w.user("bob").openSubscription({ heartbeatInterval }, `subscription with heartbeat ${what}`);
        checkError(await s.error(), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "heartbeat_interval" }, `Subscribe with heartbeat_interval ${what}`);
      }
    },
  }),
  defineCase({
    id: "evt-order-within-group",
    rules: ["EVT-8", "MSG-2"],
    requirement: "Events of one group reach a subscriber in seq order, even when sends are concurrent.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = await w.user("bob").subscribe();
      const senders = ["alice", "carol", "bob"].map((u) => w.user(u));
      await Promise.all(senders.map((s) => s.token()));
      const sent = await Promise.all(Array.from({ length: 24 }, (_, i) => senders[i % 3]!.send(w.groupId, `c${i}`)));
      const events = await bob.waitForCount("messages", sent.length, isMessageIn(w.groupId));
      const seqs = events.map((e) => Number(receivedMessage(e)!.seq));
      expectEqual(seqs, Array.from({ length: sent.length }, (_, i) => i + 1), "seqs in delivery order");
      expectSeqs(await w.user("bob").history(w.groupId), seqs, "history seqs");
    },
  }),
  defineCase({
    id: "evt-multi-device-and-isolation",
    rules: ["EVT-1", "EVT-2"],
    requirement: "Each event reaches every open subscription of each user in its audience and no one else's.",
    async run(ctx) {
      const w = await ctx.world();
      const other = await w.app.createGroup(GroupType.WORK, { owner: "erin", members: ["carol"], groupId: "g2" });
      const bobs = [await w.user("bob").subscribe({}, "bob #1"), await w.user("bob").subscribe({}, "bob #2")];
      const erin = await w.user("erin").subscribe();
      const m = await w.user("alice").send(w.groupId, "g1 only");
      for (const s of bobs) await s.waitFor("the g1 message", isMessage(m.messageId));
      const m2 = await w.user("carol").send(other, "g2 only");
      await erin.waitFor("the g2 message", isMessage(m2.messageId));
      await ctx.settle();
      erin.assertNone("a message of a group erin is not in", isMessage(m.messageId));
      for (const s of bobs) s.assertNone("a message of a group bob is not in", isMessage(m2.messageId));
    },
  }),
  defineCase({
    id: "evt-online-only-not-replayed",
    rules: ["EVT-7", "MSG-9"],
    requirement: "Online-only messages are not delivered to subscriptions opened later nor replayed from an earlier cursor.",
    async run(ctx) {
      const w = await ctx.world();
      const cursor = await (await w.user("bob").subscribe()).ready();
      const live = await w.user("carol").subscribe();
      const ephemeral = await w.user("alice").send(w.groupId, { onlineOnly: true, text: "now or never" });
      await live.waitFor("the online-only message", isMessage(ephemeral.messageId));
      const stored = await w.user("alice").send(w.groupId, "stored");
      const resumed = await w.user("bob").subscribe({ cursor });
      expectEqual(resumed.replayed.map((e) => receivedMessage(e)?.messageId), [stored.messageId], "events replayed after an online-only message");
    },
  }),
];
