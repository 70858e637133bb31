// The Subscribe stream itself: cursor validation, slow consumers, request headers that change the serving path (EVT).
import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { Code, type Transport } from "@connectrpc/connect";
import { ErrorReason, GroupType, type Event, type SubscribeResponse } from "@narrowcast/gen";
import type { ConformanceCase } from "../case.js";
import { defineCase } from "../case.js";
import { check, durationMs, expectEqual, fail } from "../check.js";
import { checkError, describeObserved, observe, reasonOf, type ObservedError } from "../errors.js";
import { describeEvent, groupOf, isIn, isJoined, isMessage, receivedMessage } from "../events.js";
import { fence, type CaseContext, type UserHandle } from "../fixtures.js";
import { Subscription, type SubscribeOptions } from "../subscription.js";
import { withStreamDeadline } from "../transport.js";

/** A subscription of `user` over another transport (closed when the case ends). */
function subscribeOver(ctx: CaseContext, transport: Transport, user: UserHandle, options: SubscribeOptions, label: string): Subscription {
  const sub = Subscription.open(ctx.clientsWithTransport(transport, () => user.token()).events, options, label, ctx.wait);
  ctx.defer(() => sub.close());
  return sub;
}

/** Seqs of the messages of `groupId` among `events`, in arrival order. */
function seqsIn(events: readonly Event[], groupId: string): number[] {
  const seqs: number[] = [];
  for (const e of events) {
    const m = receivedMessage(e);
    if (m && m.groupId === groupId) seqs.push(Number(m.seq));
  }
  return seqs;
}

/**
 * Waits for a resumed stream's `ready`. False when the server answered CURSOR_EXPIRED for a cursor
 * taken (at `takenAt`, ms) at least the declared event_retention ago, which EVT-10 allows; any
 * other error fails the case.
 */
async function resumedOrExpired(ctx: CaseContext, sub: Subscription, takenAt: number): Promise<boolean> {
  const outcome = await sub.until("ready or an error", () => (sub.readyIndex >= 0 ? ("ready" as const) : sub.ended?.kind === "error" ? sub.ended.error : undefined));
  if (outcome === "ready") return true;
  const retention = durationMs((await ctx.serverInfo()).eventRetention);
  // The cursor's age is measured on this machine; 1 s of slack covers clock and transit.
  if (reasonOf(outcome) === "CURSOR_EXPIRED" && retention !== undefined && Date.now() - takenAt + 1000 >= retention) return false;
  return fail(`${sub.label}: Subscribe with a recent cursor failed`, "ready (the cursor is younger than event_retention)", describeObserved(outcome));
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Text that gzip cannot shrink much, so transports absorb few events (about `bytes` each). */
const incompressible = (bytes: number) => randomBytes(Math.ceil((bytes * 3) / 4)).toString("base64").slice(0, bytes);

/**
 * A stream nobody reads after `ready`: the server's buffer for it fills (EVT-6). `drain` then reads
 * everything the transport held until the stream ends or `stop` matches an item.
 */
class StalledStream {
  private readonly abort = new AbortController();
  private readonly iterator: AsyncIterator<SubscribeResponse>;
  readonly items: SubscribeResponse[] = [];

  constructor(
    ctx: CaseContext,
    transport: Transport,
    user: UserHandle,
    readonly label: string,
  ) {
    const client = ctx.clientsWithTransport(transport, () => user.token()).events;
    this.iterator = client.subscribe({}, { signal: this.abort.signal })[Symbol.asyncIterator]();
    ctx.defer(() => this.abort.abort());
  }

  /** Reads up to `ready` and stops reading. */
  async ready(): Promise<void> {
    for (;;) {
      const next = await this.iterator.next();
      if (next.done) fail(`${this.label}: stream ended before ready`, "ready", "end of stream");
      this.items.push(next.value);
      if (next.value.item.case === "ready") return;
    }
  }

  /** Reads on until the stream fails (returns the error) or `stop` matches (returns undefined); bounded by `timeoutMs`. */
  async drain(stop: (e: Event) => boolean, timeoutMs: number): Promise<ObservedError | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const read = (async () => {
      try {
        for (;;) {
          const next = await this.iterator.next();
          if (next.done) return "completed" as const;
          this.items.push(next.value);
          if (next.value.item.case === "event" && stop(next.value.item.value)) return undefined;
        }
      } catch (err) {
        return observe(err);
      }
    })();
    const outcome = await Promise.race([read, timeout]).finally(() => clearTimeout(timer));
    if (outcome === "timeout") {
      this.abort.abort();
      fail(`${this.label}: timed out reading what the stream held`, "the stream's end (SLOW_CONSUMER) or the fence message", `${this.events.length} events after ${timeoutMs} ms`);
    }
    if (outcome === "completed") fail(`${this.label}: stream ended without an error`, "ResourceExhausted SLOW_CONSUMER", "end of stream (OK)");
    return outcome;
  }

  get events(): Event[] {
    return this.items.flatMap((i) => (i.item.case === "event" ? [i.item.value] : []));
  }

  /** The last non-empty cursor received (ready's or an event's). */
  get lastCursor(): string {
    let cursor = "";
    for (const i of this.items) {
      if (i.item.case === "ready") cursor = i.item.value.cursor;
      else if (i.item.case === "event" && i.item.value.cursor !== "") cursor = i.item.value.cursor;
    }
    return cursor;
  }
}

export const streamCases: ConformanceCase[] = [
  defineCase({
    id: "stream-slow-consumer-cut-and-resume",
    rules: ["EVT-6", "ERR-5", "EVT-3", "EVT-8"],
    requirement:
      "A subscriber that stops reading is cut with ResourceExhausted SLOW_CONSUMER (with a RetryInfo) once well over its buffer behind, on either serving path, while one that keeps reading the same events is not; resuming from the last cursor it got replays everything it missed, exactly once and in each group's order.",
    async run(ctx) {
      const buffer = ctx.settings.subscriberBufferBytes;
      // The buffer holds about buffer / 10 kB of these events. HTTP/2 flow control and socket
      // buffers absorb some more (about 10) before it fills: send that and a margin on top.
      const total = Math.ceil(buffer / 10_000) + 40;
      if (total > 2500) return ctx.skip(`the subscriber buffer (${buffer} bytes) needs ${total} sends of 10 kB to overflow; run with a server configured with a smaller buffer (--subscriber-buffer-bytes)`);
      // Many groups sent to at once: the burst is quick, so the stalled streams resume well within
      // a short event retention, and each group stays under its rate limit.
      const perGroup = Math.max(1, Math.min(10, Math.floor(ctx.settings.sendRatePerGroup * 0.9)));
      const w = await ctx.world({ members: ["alice", "bob", "carol", "dave"] });
      const groups = [w.groupId];
      const extra = await Promise.all(
        range(2, Math.ceil(total / perGroup)).map((i) => w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", "carol", "dave"], groupId: `g${i}` })),
      );
      groups.push(...extra);
      const carol = subscribeOver(ctx, ctx.openTransport(ctx.protocol, "2", { compression: "identity" }), w.user("carol"), {}, "carol's subscription (reading)");
      await carol.ready();
      const text = incompressible(10_000);
      // bob stalls on a plain stream (the fast path), dave on a compressed one (connect-es), each
      // on its own HTTP/2 connection so flow control holds back only their own stream.
      const bob = new StalledStream(ctx, ctx.openTransport(ctx.protocol, "2", { compression: "identity" }), w.user("bob"), "bob's stalled subscription");
      const dave = new StalledStream(ctx, ctx.openTransport(ctx.protocol, "2", { compression: "gzip" }), w.user("dave"), "dave's stalled (gzip) subscription");
      await Promise.all([bob.ready(), dave.ready()]);
      const readyAt = Date.now();
      const counts = groups.map((_, i) => Math.floor(total / groups.length) + (i < total % groups.length ? 1 : 0));
      const sent = await Promise.all(groups.map((g, i) => w.app.sendMany("alice", g, counts[i]!, (n) => `${n} ${text}`)));
      // carol read all along: every event reached her, so it reached the stalled streams' buffers too.
      const isOurs = (e: Event) => receivedMessage(e) !== undefined && groups.includes(groupOf(e));
      await carol.waitForCount("messages (a subscriber that keeps reading is not cut)", total, isOurs);
      const lastSeq = Number(sent[0]!.at(-1)!.seq);
      // A fence: a later message of g1 that a stream still open would deliver after the burst.
      const isFence = (e: Event) => groupOf(e) === w.groupId && Number(receivedMessage(e)?.seq ?? 0) > lastSeq;
      const stalled = [bob, dave] as const;
      const draining = stalled.map((s) => s.drain(isFence, ctx.wait.timeoutMs * 3));
      const fence = await w.app.adminSend("alice", w.groupId, "fence");
      const errors = await Promise.all(draining);
      stalled.forEach((s, i) => {
        const error = errors[i];
        if (!error) {
          fail(
            `${s.label}: a subscriber that read nothing while ${total} events came (buffer ${buffer} bytes) was not cut`,
            "the stream ends with ResourceExhausted SLOW_CONSUMER before the later fence message",
            `the fence arrived after ${s.events.length} events`,
          );
        }
        checkError(error, Code.ResourceExhausted, ErrorReason.SLOW_CONSUMER, {}, `${s.label}'s end`);
      });
      const who = ["bob", "dave"] as const;
      const resumed = await Promise.all(stalled.map((s, i) => w.user(who[i]).replay(s.lastCursor, readyAt, `${who[i]}'s resumed subscription`)));
      stalled.forEach((s, k) => {
        const replay = resumed[k];
        if (!replay) return ctx.skip("the resume cursor outlived the declared event_retention before the case could resume (machine too slow for this retention)");
        for (let i = 0; i < groups.length; i++) {
          const g = groups[i]!;
          const expected = sent[i]!.map((m) => Number(m.seq));
          if (g === w.groupId) expected.push(Number(fence.seq));
          const got = [...seqsIn(s.events, g), ...seqsIn(replay.replayed, g)];
          expectEqual(got, expected, `${who[k]}: seqs of ${g} received before the cut, then replayed after resuming from the last cursor (no gap, no repeat, in order)`);
        }
      });
    },
  }),
  defineCase({
    id: "stream-serving-paths-agree",
    rules: ["EVT-8", "EVT-5", "WIRE-1", "WIRE-3", "EVT-1"],
    requirement:
      "A user's streams opened with a compressed request, with a deadline, plainly, and (Connect) with the JSON codec all get a concurrent burst of one group in seq order and then heartbeats once idle; heartbeat_interval 300 s and 0 (the default) are accepted.",
    async run(ctx) {
      const w = await ctx.world();
      const bob = w.user("bob");
      const variants: [string, Transport][] = [
        ["gzip", ctx.openTransport(ctx.protocol, ctx.httpVersion, { compression: "gzip" })],
        ["a deadline", withStreamDeadline(ctx.openTransport(ctx.protocol, ctx.httpVersion, { compression: "identity" }), 120_000)],
        ["plain binary", ctx.openTransport(ctx.protocol, ctx.httpVersion, { compression: "identity", useBinaryFormat: true })],
      ];
      // JSON is a MUST for Connect only (WIRE-3).
      if (ctx.protocol === "connect") variants.push(["plain JSON", ctx.openTransport("connect", ctx.httpVersion, { compression: "identity", useBinaryFormat: false })]);
      const subs = variants.map(([what, transport]) => subscribeOver(ctx, transport, bob, { heartbeatIntervalSeconds: 1 }, `bob's subscription (${what})`));
      await Promise.all(subs.map((s) => s.ready()));
      const senders = ["alice", "carol", "bob"].map((u) => w.user(u));
      await Promise.all(senders.map((s) => s.token()));
      const count = 24;
      await Promise.all(range(1, count).map((i) => senders[i % 3]!.send(w.groupId, `burst ${i}`)));
      for (const sub of subs) {
        const events = await sub.waitForCount("messages of the burst", count, (e) => receivedMessage(e)?.groupId === w.groupId);
        expectEqual(seqsIn(events, w.groupId), range(1, count), `${sub.label}: seqs in delivery order`);
      }
      for (const sub of subs) {
        await sub.until("a heartbeat once the stream is idle after the burst", () => {
          const last = sub.items.findLastIndex((i) => i.item.case === "event");
          return sub.items.slice(last + 1).find((i) => i.item.case === "heartbeat");
        });
      }
      await bob.subscribe({ heartbeatIntervalSeconds: 300 }, "bob's subscription with heartbeat_interval 300 s");
      await bob.subscribe({ heartbeatInterval: { seconds: 0n, nanos: 0 } }, "bob's subscription with heartbeat_interval 0 (the default)");
    },
  }),
  defineCase({
    id: "stream-cursor-junk-rejected",
    rules: ["EVT-4", "EVT-11"],
    requirement: "A cursor the server issued with anything appended (a space, punctuation, a newline, a letter, a non-ASCII character) is malformed: InvalidArgument CURSOR_INVALID, field cursor; the cursor itself still resumes.",
    async run(ctx) {
      const w = await ctx.world();
      const sub = await w.user("bob").subscribe();
      const ready = await sub.ready();
      const m = await w.user("alice").send(w.groupId, "for an event cursor");
      const event = (await sub.waitFor("the message", isMessage(m.messageId))).cursor;
      const junk = ["!", " ", "\n", "A", "#x", ".", "\u00e9"];
      const tries = [ready, event].flatMap((cursor, i) => junk.map((j) => [`${i === 0 ? "the ready cursor" : "an event cursor"} + ${JSON.stringify(j)}`, cursor + j] as const));
      const outcomes = await Promise.all(tries.map(([what, cursor]) => w.user("bob").openSubscription({ cursor }, `subscription with ${what}`).error(`Subscribe with ${what} to fail`)));
      outcomes.forEach((o, i) => checkError(o, Code.InvalidArgument, ErrorReason.CURSOR_INVALID, { field: "cursor" }, `Subscribe with ${tries[i]![0]}`));
      const resumed = await w.user("bob").subscribe({ cursor: ready }, "bob's subscription resumed from the ready cursor itself");
      expectEqual(resumed.replayed.map((e) => receivedMessage(e)?.messageId), [m.messageId], "events replayed after the ready cursor");
    },
  }),
  defineCase({
    id: "stream-membership-and-long-replay",
    rules: ["EVT-3", "EVT-1", "EVT-2", "VIS-2", "EVT-8"],
    requirement:
      "Closing one of a user's streams leaves the others served; a replay of more than 280 events holds each exactly once in the group's order, and resuming from a replayed event's cursor replays exactly the events after it; a member who left gets no later event of the group live, and one added while online gets their MemberJoined and the group's later messages.",
    async run(ctx) {
      const crowd = 280;
      const info = await ctx.serverInfo();
      const workMax = info.groupTypeLimits.find((l) => l.type === GroupType.WORK)?.maxMembers ?? 0;
      if (workMax > 0 && workMax < crowd + 10) return ctx.skip(`WORK groups hold at most ${workMax} members; the long replay needs ${crowd + 10}`);
      const w = await ctx.world();
      const crowdIds = range(1, crowd).map((i) => `crowd-${i}`);
      await w.app.importUsers(crowdIds);
      const bob = w.user("bob");
      const [first, second] = [await bob.subscribe({}, "bob's first device"), await bob.subscribe({}, "bob's second device")];
      const cursor = await second.ready();
      const takenAt = Date.now();
      first.close();
      const m1 = await w.user("alice").send(w.groupId, "after bob closed one device");
      await second.waitFor("the message on bob's other device (one device closed)", isMessage(m1.messageId));
      // One AddMembers makes 280 events at once, more than a small subscriber buffer holds even for
      // a reader that keeps up: bob's stream is closed meanwhile, and the replay brings them.
      second.close();
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: crowdIds });
      await w.user("alice").send(w.groupId, "after the crowd joined");
      const key = (e: Event): string | undefined => {
        const m = receivedMessage(e);
        if (m) return `message ${m.seq}`;
        if (e.payload.case === "memberJoined") return `${e.payload.value.member?.userId} joined`;
        if (e.payload.case === "memberLeft") return `${e.payload.value.userId} left`;
        return undefined;
      };
      const keysOf = (events: readonly Event[]) => events.filter(isIn(w.groupId)).map(key).filter((k) => k !== undefined);
      const expected = ["message 1", ...crowdIds.map((id) => `${id} joined`), "message 2"];
      const tooOld = "a cursor outlived the declared event_retention before the case could resume (machine too slow for this retention)";
      const all = await bob.replay(cursor, takenAt, "bob's subscription resumed from his ready cursor");
      if (!all) return ctx.skip(tooOld);
      expectEqual(keysOf(all.replayed), expected, "the group's events replayed to bob, in order, each once");
      const replayed = all.replayed.filter(isIn(w.groupId)).filter((e) => key(e) !== undefined);
      for (const at of [1, 200]) {
        const from = replayed[at]!;
        check(from.cursor !== "", "a replayed event has no cursor", "a cursor", describeEvent(from));
        const tail = await bob.replay(from.cursor, takenAt, `bob's subscription resumed from replayed event #${at + 1} (${key(from)})`);
        if (!tail) return ctx.skip(tooOld);
        expectEqual(keysOf(tail.replayed), expected.slice(at + 1), `events replayed after the cursor of replayed event #${at + 1}`);
      }
      // Membership changes while online (no cursors from here on).
      const carol = await w.user("carol").subscribe();
      const erin = await w.user("erin").subscribe();
      // A group no stream follows yet: erin is added to it while online.
      const g3 = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: [], groupId: "g3" });
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: g3, userIds: ["erin"] });
      await erin.waitFor("erin's own MemberJoined of a group she was added to while online", isJoined(g3, "erin"));
      const inG3 = await w.user("alice").send(g3, "welcome, erin");
      await erin.waitFor("a message of the group erin joined while online", isMessage(inG3.messageId));
      await w.user("carol").groups.leaveGroup({ groupId: w.groupId });
      const afterLeft = await w.user("alice").send(w.groupId, "after carol left");
      const g2 = await w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["carol"], groupId: "g2" });
      const later = await w.user("alice").send(g2, "for carol, later");
      await carol.expectNone("a message of the group carol left, sent after she left", isMessage(afterLeft.messageId), fence(later));
    },
  }),
  defineCase({
    id: "stream-replay-live-handover",
    rules: ["EVT-3", "EVT-8"],
    requirement:
      "Streams resumed while messages keep coming in several groups, each with a replay of hundreds of events to send first, get every event after the cursor exactly once, in each group's order, whether the replay or live delivery brings it.",
    async run(ctx) {
      const [early, late] = [80, 190];
      const info = await ctx.serverInfo();
      const workMax = info.groupTypeLimits.find((l) => l.type === GroupType.WORK)?.maxMembers ?? 0;
      if (workMax > 0 && workMax < early + late + 10) return ctx.skip(`WORK groups hold at most ${workMax} members; the long replays need ${early + late + 10}`);
      const w = await ctx.world();
      const earlyIds = range(1, early).map((i) => `early-${i}`);
      const lateIds = range(1, late).map((i) => `late-${i}`);
      await w.app.importUsers([...earlyIds, ...lateIds]);
      const groups = [w.groupId, ...(await Promise.all(["g2", "g3"].map((groupId) => w.app.createGroup(GroupType.WORK, { owner: "alice", members: ["bob", "carol"], groupId }))))];
      const bob = w.user("bob");
      const senders = ["alice", "carol"].map((u) => w.user(u));
      await Promise.all([bob, ...senders].map((u) => u.token()));
      // Long replays (hundreds of MemberJoined: more than a transport takes in one write, and one
      // or two pages of a store's reads), so a replay is still being written while the sends below
      // commit: those must come live, exactly once, after it. Streams are closed while the crowds
      // join (a burst of hundreds of events may cut even a reader that keeps up).
      const readyCursor = async () => {
        const sub = await bob.subscribe({}, "bob's subscription for a cursor");
        const cursor = await sub.ready();
        sub.close();
        return cursor;
      };
      const cursors = [await readyCursor()];
      const takenAt = Date.now();
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: earlyIds });
      cursors.push(await readyCursor());
      await ctx.admin.addMembers({ appId: w.app.appId, groupId: w.groupId, userIds: lateIds });
      const perGroup = Math.max(8, Math.min(20, Math.floor(ctx.settings.sendRatePerGroup * 0.5)));
      const resumes: { sub: Subscription; from: number }[] = [];
      const gzip = ctx.openTransport(ctx.protocol, ctx.httpVersion, { compression: "gzip" });
      await Promise.all(
        groups.map(async (g, gi) => {
          for (let i = 1; i <= perGroup; i++) {
            if (gi === 0 && i % 3 === 1) {
              const n = resumes.length;
              const from = n % 2;
              const label = `bob's resume #${n + 1} (from before ${from === 0 ? "both crowds" : "the second crowd"}${n % 4 >= 2 ? ", gzip" : ""})`;
              // Half of them compressed: servers may serve those on another path (connect-es here).
              const sub = n % 4 >= 2 ? subscribeOver(ctx, gzip, bob, { cursor: cursors[from] }, label) : bob.openSubscription({ cursor: cursors[from] }, label);
              resumes.push({ from, sub });
            }
            await senders[i % 2]!.send(g, `${g} ${i}`);
          }
        }),
      );
      const joined = (ids: string[]) => ids.map((id) => `${id} joined`);
      const messages = range(1, perGroup).map((n) => `message ${n}`);
      let checked = 0;
      for (const { sub, from } of resumes) {
        if (!(await resumedOrExpired(ctx, sub, takenAt))) continue;
        checked++;
        for (const g of groups) {
          await sub.waitForCount(`messages of ${g}`, perGroup, (e) => receivedMessage(e)?.groupId === g);
          const keys = sub.events.filter(isIn(g)).flatMap((e) => {
            const m = receivedMessage(e);
            if (m) return [`message ${m.seq}`];
            return e.payload.case === "memberJoined" ? [`${e.payload.value.member?.userId} joined`] : [];
          });
          const crowd = g !== w.groupId ? [] : from === 0 ? [...joined(earlyIds), ...joined(lateIds)] : joined(lateIds);
          expectEqual(keys, [...crowd, ...messages], `${sub.label}: events of ${g} received (replay, then live), each once, in order`);
        }
      }
      if (checked === 0) return ctx.skip("every resume's cursor outlived the declared event_retention (machine too slow for this retention)");
    },
  }),
  defineCase({
    id: "stream-malformed-request-body",
    rules: ["ERR-4", "ERR-2"],
    requirement: "A Subscribe whose body does not decode gets InvalidArgument, never Internal, whether sent plainly, with a deadline, or gzip-compressed.",
    async run(ctx) {
      const w = await ctx.world();
      const token = await w.user("bob").token();
      // Connect streaming over plain HTTP: the framing is the same for every server, whatever ctx.protocol.
      const envelope = (flags: number, payload: Uint8Array) => {
        const out = new Uint8Array(new ArrayBuffer(5 + payload.length));
        out[0] = flags;
        new DataView(out.buffer).setUint32(1, payload.length);
        out.set(payload, 5);
        return out;
      };
      const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12]);
      const variants: [string, Record<string, string>, ReturnType<typeof envelope>][] = [
        ["plain", {}, envelope(0, garbage)],
        ["with a deadline", { "connect-timeout-ms": "60000" }, envelope(0, garbage)],
        ["gzip-compressed", { "connect-content-encoding": "gzip" }, envelope(1, gzipSync(garbage))],
      ];
      for (const [what, headers, body] of variants) {
        const res = await fetch(new URL("/narrowcast.v1.EventService/Subscribe", ctx.baseUrl), {
          method: "POST",
          headers: { "content-type": "application/connect+proto", "connect-protocol-version": "1", authorization: `Bearer ${token}`, ...headers },
          body,
        });
        const bytes = new Uint8Array(await res.arrayBuffer());
        let code = "";
        if (res.status === 200) {
          // The error is in the end-of-stream message (flag 0x02), the last envelope.
          for (let i = 0; i + 5 <= bytes.length; ) {
            const length = new DataView(bytes.buffer, bytes.byteOffset + i + 1, 4).getUint32(0);
            if (bytes[i]! & 2) code = (JSON.parse(Buffer.from(bytes.subarray(i + 5, i + 5 + length)).toString("utf8")) as { error?: { code?: string } }).error?.code ?? "";
            i += 5 + length;
          }
        } else {
          try {
            code = (JSON.parse(Buffer.from(bytes).toString("utf8")) as { code?: string }).code ?? "";
          } catch {
            // not JSON: code stays empty
          }
        }
        check(code === "invalid_argument", `a malformed Subscribe body (${what}) got the wrong error`, "invalid_argument", `HTTP ${res.status}, code ${JSON.stringify(code)}: ${Buffer.from(bytes).toString("utf8").slice(0, 200)}`);
      }
    },
  }),
];

