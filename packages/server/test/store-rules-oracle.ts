// The store contract's randomized part: a seeded sequence of membership changes, sends (every
// flag), recalls, reactions, acknowledgements and reads runs against the store, and after every
// step what the store answers — counters (unread, last message, mention flags), ListMessages,
// GetMessage, reaction and receipt counts, each user's replay and each event's live audience — is
// compared with the rules module applied to the plain history the test keeps. The rules module is
// the oracle: a store's indexes and counters must agree with it.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventSchema, GroupType, MemberRole, MessageSchema } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import {
  AUDIENCE,
  compareCodePoints,
  conversationOf,
  countsForAudience,
  groupCountsUnread,
  historyFloor,
  inAudience,
  maySee,
  messageAudience,
  receives,
  derivedAudience,
  type AudienceCode,
  type CountedMessage,
  type EventFacts,
  type SpanFacts,
} from "../src/rules/index.js";
import type { GroupLimits, Store, StoredEvent } from "../src/store/types.js";
import { origin, partitionOf } from "../src/positions.js";
import { readEvents } from "./replayed.js";

const USERS = ["u1", "u2", "u3", "u4", "u5", "u6"];
const TYPES = [GroupType.WORK, GroupType.PUBLIC, GroupType.MEETING, GroupType.COMMUNITY];
const LIMITS: GroupLimits = { maxMembers: 1000, memberEventsMaxMembers: 0 };
/** Reactions the react step picks from (few, so users share them and repeats happen). */
const REACTIONS = ["👍", "\uFFFD", ":+1:", "z"];
/** Every this many steps, every message of every group is fetched by ID for every user. */
const SWEEP = 25;

/** mulberry32: a small seeded PRNG, so a failing seed replays exactly. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    chance: (p: number) => next() < p,
    pick<T>(xs: readonly T[]): T {
      return xs[Math.floor(next() * xs.length)]!;
    },
    some<T>(xs: readonly T[], p = 0.5): T[] {
      return xs.filter(() => next() < p);
    },
  };
}

interface GroupFacts {
  type: GroupType;
  lastSeq: number;
  spans: SpanFacts[];
  /** Current members → read position. */
  members: Map<string, number>;
  messages: StoredFacts[];
}

/** A stored message as the test keeps it. */
interface StoredFacts extends CountedMessage {
  messageId: string;
  recalled?: boolean;
  /** Reaction → (user → when added), RCT-5's inputs. */
  reactions: Map<string, Map<string, number>>;
  /** RCP-2: reader → when they acknowledged (undefined: not yet); empty when no receipts were asked. */
  readers: Map<string, number | undefined>;
}

/** RCP-4 from the kept facts: the message's counts, or undefined when it has no readers. */
function receiptCountsOf(m: StoredFacts): { read: number; unread: number } | undefined {
  if (m.readers.size === 0) return undefined;
  const read = [...m.readers.values()].filter((at) => at !== undefined).length;
  return { read, unread: m.readers.size - read };
}

/** RCT-5 from the kept facts: "reaction×count" ("*" when the viewer is one of them), oldest current use first, ties in code point order. */
function talliesOf(m: StoredFacts, viewer: string): string[] {
  const first = (users: Map<string, number>) => Math.min(...users.values());
  return [...m.reactions]
    .sort(([ra, a], [rb, b]) => first(a) - first(b) || compareCodePoints(ra, rb))
    .map(([reaction, users]) => `${reaction}×${users.size}${users.has(viewer) ? "*" : ""}`);
}

/** A stored event's facts; `eventId` is its position in its group's partition (positions.ts). */
interface LoggedEvent extends EventFacts {
  groupId: string;
  partition: number;
  /** Who the store said the event goes to live (hub routing of the returned StoredEvent). */
  live: Set<string>;
}

/** Runs `steps` random operations in a fresh app, checking the store against the rules after each. */
export async function runStoreAgainstRules(store: Store, seed: number, steps: number): Promise<void> {
  const rnd = prng(seed);
  const appId = `app_${randomUUID()}`;
  let clock = 1_700_000_000_000;
  const now = () => (clock += 1000);
  await store.createApp({ appId, name: "oracle", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: clock });
  await store.upsertUsers(appId, USERS.map((userId) => ({ userId, nickname: userId })));
  const groups = new Map<string, GroupFacts>();
  const log: LoggedEvent[] = [];
  const trail: string[] = [];

  /** Live routing as the hub does it: "group" → members after a join, before a leave. */
  const liveOf = (e: StoredEvent, g: GroupFacts): Set<string> => {
    switch (e.audience.kind) {
      case "user":
        return new Set([e.audience.userId]);
      case "users":
        return new Set(e.audience.userIds);
      case "group":
        return new Set(g.members.keys());
    }
  };
  /** The last position taken in each partition: every stored event of the app is recorded here. */
  const heads = origin();
  const record = (groupId: string, e: StoredEvent, audience: AudienceCode, extra: Partial<EventFacts>, live: Set<string>) => {
    touched = groupId;
    // A group's events go to its partition, numbered there 1, 2, 3, … in commit order.
    expect({ groupId, partition: e.partition, position: e.position }).toEqual({
      groupId,
      partition: partitionOf(groupId),
      position: heads[e.partition] + 1,
    });
    heads[e.partition] = e.position;
    log.push({ groupId, partition: e.partition, eventId: e.position, audience, live, ...extra });
  };

  /** The user's current membership as VIS-1 looks at it (undefined: not a member). */
  const viewerOf = (g: GroupFacts, userId: string) =>
    g.members.has(userId) ? { userId, groupType: g.type, joinSeq: g.spans.findLast((s) => s.userId === userId)!.joinSeq } : undefined;

  const join = (groupId: string, g: GroupFacts, events: StoredEvent[]) => {
    for (const e of events) {
      const userId = e.membership?.change === "joined" ? e.membership.userId : "";
      g.spans.push({ userId, joinSeq: g.lastSeq, joinEventId: e.position });
      g.members.set(userId, g.lastSeq);
      record(groupId, e, AUDIENCE.GROUP, {}, liveOf(e, g));
    }
  };

  const ops: Record<string, () => Promise<void>> = {
    async create() {
      const groupId = `g${groups.size + 1}`;
      const type = rnd.pick(TYPES);
      const owner = rnd.pick(USERS);
      const others = rnd.some(USERS.filter((u) => u !== owner), 0.6);
      const g: GroupFacts = { type, lastSeq: 0, spans: [], members: new Map(), messages: [] };
      groups.set(groupId, g);
      const { events } = await store.createGroup(
        { appId, groupId, type, name: groupId, ownerId: owner, createdAt: now() },
        [owner, ...others].map((userId, i) => ({ userId, role: i === 0 ? MemberRole.OWNER : MemberRole.MEMBER })),
        LIMITS,
      );
      trail.push(`create ${groupId} ${GroupType[type]} [${[owner, ...others]}]`);
      join(groupId, g, events);
    },
    async add() {
      const [groupId, g] = rnd.pick([...groups]);
      const outsiders = USERS.filter((u) => !g.members.has(u));
      if (!outsiders.length) return;
      const adding = [rnd.pick(outsiders)];
      trail.push(`add ${groupId} ${adding}`);
      join(groupId, g, await store.addMembers(appId, groupId, adding.map((userId) => ({ userId, role: MemberRole.MEMBER })), "", now(), LIMITS));
    },
    async remove() {
      const [groupId, g] = rnd.pick([...groups]);
      if (g.members.size < 2) return;
      const userId = rnd.pick([...g.members.keys()]);
      trail.push(`remove ${groupId} ${userId}`);
      for (const e of await store.removeMembers(appId, groupId, [userId], "", now(), LIMITS)) {
        const live = liveOf(e, g);
        g.members.delete(userId);
        g.spans.find((s) => s.userId === userId && s.leftEventId === undefined)!.leftEventId = e.position;
        record(groupId, e, AUDIENCE.GROUP, {}, live);
      }
    },
    async send() {
      const [groupId, g] = rnd.pick([...groups]);
      const members = [...g.members.keys()];
      const senderId = rnd.chance(0.1) ? "" : rnd.pick(members);
      const targeted = rnd.chance(0.45);
      const receivers = targeted ? rnd.some(members.filter((u) => u !== senderId), 0.4) : [];
      if (targeted && receivers.length === 0) {
        const other = members.find((u) => u !== senderId);
        if (!other) return;
        receivers.push(other);
      }
      const m = create(MessageSchema, {
        elements: [{ element: { case: "text", value: { text: `m${g.lastSeq + 1}` } } }],
        receiverIds: receivers,
        mentionedUserIds: targeted ? [] : rnd.some(members, 0.2),
        mentionAll: !targeted && rnd.chance(0.15),
        excludeFromUnread: rnd.chance(0.2),
        excludeFromLastMessage: rnd.chance(0.2),
        countAsUnreadForReceivers: targeted && rnd.chance(0.5),
        // RCP-1: never for the system sender (the service refuses it).
        readReceiptsRequested: senderId !== "" && rnd.chance(0.4),
      });
      const { message, event } = await store.appendMessage({
        appId, groupId, senderId, message: m, persist: true, countsAsUnread: countsForAudience(g.type, m), now: now(),
      });
      trail.push(`send ${groupId} seq ${message.seq} from ${senderId || "system"} to [${receivers}] flags ${JSON.stringify({ mentions: m.mentionedUserIds, all: m.mentionAll, exU: m.excludeFromUnread, exL: m.excludeFromLastMessage, cnt: m.countAsUnreadForReceivers, rcp: m.readReceiptsRequested })}`);
      g.lastSeq = Number(message.seq);
      // RCP-2: the readers are fixed now: the receivers, or the members but the sender.
      const readers = !m.readReceiptsRequested ? [] : targeted ? receivers : members.filter((u) => u !== senderId);
      const facts: StoredFacts = {
        ...m, seq: g.lastSeq, senderId, receiverIds: receivers, messageId: message.messageId, reactions: new Map(),
        readers: new Map(readers.map((u) => [u, undefined])),
      };
      g.messages.push(facts);
      if (senderId && g.members.has(senderId)) g.members.set(senderId, g.lastSeq); // UNR-5
      record(groupId, event, messageAudience(targeted), { target: facts }, liveOf(event, g));
    },
    async recall() {
      const [groupId, g] = rnd.pick([...groups]);
      const open = g.messages.filter((m) => !m.recalled);
      if (!open.length) return;
      const m = rnd.pick(open);
      m.recalled = true;
      m.reactions.clear(); // RCT-8
      trail.push(`recall ${groupId} seq ${m.seq}`);
      const { event } = await store.recallMessage(appId, groupId, m.messageId, "", now());
      record(groupId, event, derivedAudience(m.receiverIds.length > 0, g.type), { target: m }, liveOf(event, g));
    },
    async react() {
      const [groupId, g] = rnd.pick([...groups]);
      const open = g.messages.filter((x) => !x.recalled);
      if (!open.length) return;
      const m = rnd.pick(open);
      // RCT-1: only a user who may see the message reacts (the service checks; the store trusts it).
      const reactors = [...g.members.keys()].filter((u) => maySee(viewerOf(g, u), m));
      if (!reactors.length) return;
      const userId = rnd.pick(reactors);
      const reaction = rnd.pick(REACTIONS);
      const users = m.reactions.get(reaction) ?? new Map<string, number>();
      // Mostly changes, sometimes a repeat (RCT-3: nothing changes, no event).
      const has = users.has(userId);
      const added = rnd.chance(0.75) ? !has : has;
      const at = now();
      trail.push(`react ${groupId} seq ${m.seq} ${userId} ${added ? "+" : "-"}${reaction}`);
      const { event } = await store.changeReaction(appId, groupId, m.messageId, { userId, reaction, added }, at);
      if (added === has) {
        expect(event, `seed ${seed}: a repeated ${added ? "add" : "remove"} appends nothing`).toBeUndefined();
        return;
      }
      if (added) m.reactions.set(reaction, users.set(userId, at));
      else if (users.delete(userId) && users.size === 0) m.reactions.delete(reaction);
      const p = event!.event.payload;
      expect(p.case === "reactionChanged" && { count: p.value.count, seq: p.value.seq }, `seed ${seed}: ReactionChanged`).toEqual({ count: users.size, seq: BigInt(m.seq) });
      record(groupId, event!, derivedAudience(m.receiverIds.length > 0, g.type), { target: m }, liveOf(event!, g));
    },
    async ack() {
      const [groupId, g] = rnd.pick([...groups]);
      const userId = rnd.pick([...g.members.keys()]);
      // RCP-3: only messages the user may see (the service checks; the store trusts it), several at once.
      const visible = g.messages.filter((x) => maySee(viewerOf(g, userId), x));
      if (!visible.length) return;
      // Mostly one the user has yet to acknowledge, so that most steps record something.
      const pending = visible.filter((x) => x.readers.has(userId) && x.readers.get(userId) === undefined);
      const first = rnd.pick(pending.length && rnd.chance(0.8) ? pending : visible);
      const seqs = [...new Set([first, ...rnd.some(visible, 0.3)].map((x) => x.seq))].sort((a, b) => a - b);
      const at = now();
      trail.push(`ack ${groupId} ${userId} [${seqs}]`);
      touched = groupId; // checked even when no event is recorded
      const events = await store.acknowledge(appId, groupId, userId, seqs, at);
      const want: string[] = [];
      const senders: string[] = [];
      for (const seq of seqs) {
        const m = g.messages.find((x) => x.seq === seq)!;
        if (!m.readers.has(userId) || m.readers.get(userId) !== undefined) continue;
        m.readers.set(userId, at);
        // RCP-5: the sender is told while they may see the message.
        if (!maySee(viewerOf(g, m.senderId), m)) continue;
        const c = receiptCountsOf(m)!;
        want.push(`${seq}:${userId}=${c.read}/${c.unread}`);
        senders.push(m.senderId);
      }
      const got = events.map((e) => {
        const p = e.event.payload;
        return p.case === "messageRead" ? `${p.value.seq}:${p.value.readerId}=${p.value.counts?.readCount}/${p.value.counts?.unreadCount}` : p.case;
      });
      expect(got, `seed ${seed}: MessageRead events of ${trail.at(-1)}`).toEqual(want);
      events.forEach((e, i) => record(groupId, e, AUDIENCE.USER, { userId: senders[i] }, liveOf(e, g)));
    },
    async read() {
      const [groupId, g] = rnd.pick([...groups]);
      const userId = rnd.pick([...g.members.keys()]);
      const readSeq = rnd.int(g.lastSeq + 2);
      trail.push(`read ${groupId} ${userId} ${readSeq}`);
      const { event } = await store.markRead(appId, groupId, userId, readSeq, now(), () => create(EventSchema, {}));
      const target = readSeq === 0 ? g.lastSeq : Math.min(readSeq, g.lastSeq);
      if (target > g.members.get(userId)!) g.members.set(userId, target);
      if (event) record(groupId, event, AUDIENCE.USER, { userId }, new Set([userId]));
    },
  };
  const weights: [string, number][] = [["create", 1], ["add", 3], ["remove", 3], ["send", 8], ["recall", 2], ["react", 4], ["ack", 3], ["read", 3]];
  const bag = weights.flatMap(([op, w]) => Array<string>(w).fill(op));

  /** The group the last operation touched: its messages are fetched by ID every step, all groups' every SWEEP steps. */
  let touched = "";
  const check = async (step: number) => {
    const at = () => `seed ${seed}, step ${step}; last operations:\n  ${trail.slice(-12).join("\n  ")}`;
    const sweep = step % SWEEP === 0;
    for (const [groupId, g] of groups) {
      for (const userId of USERS) {
        const readSeq = g.members.get(userId);
        const span = g.spans.findLast((s) => s.userId === userId);
        const viewer = readSeq === undefined ? undefined : { userId, groupType: g.type, joinSeq: span!.joinSeq };
        const c = await store.conversation(appId, groupId, userId);
        if (!viewer) {
          expect(c, at()).toBeUndefined();
        } else {
          const want = conversationOf(viewer, readSeq!, g.messages);
          const got = {
            // UNR-2 is applied by the service (conversationProto), not by the store's counters.
            unreadCount: groupCountsUnread(g.type) ? c!.unreadCount : 0,
            lastMessageSeq: Number(c!.lastMessage?.seq ?? 0),
            mentionedMe: c!.mentionedMe,
            mentionedAll: c!.mentionedAll,
          };
          expect({ groupId, userId, readSeq: c!.readSeq, ...got }, at()).toEqual({ groupId, userId, readSeq, ...want });
          const page = await store.listMessages(appId, groupId, {
            viewerId: userId, floorSeq: historyFloor(g.type, viewer.joinSeq), direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 1000,
          });
          expect({ groupId, userId, seqs: page.messages.map((m) => Number(m.seq)) }, at()).toEqual({
            groupId, userId, seqs: g.messages.filter((m) => maySee(viewer, m)).map((m) => m.seq),
          });
        }
        const fetched = sweep || groupId === touched ? g.messages : [];
        for (const m of fetched) {
          const got = await store.getMessage(appId, groupId, m.messageId, userId);
          expect({ groupId, userId, seq: m.seq, found: !!got }, at()).toEqual({ groupId, userId, seq: m.seq, found: inAudience(userId, m) });
        }
        // RCT-5: the counts are everyone's, callerReacted the viewer's; recalled and unreacted messages have none.
        const tallies = await store.reactionCounts(appId, groupId, fetched.map((m) => m.seq), userId);
        const got = fetched.map((m) => ({ seq: m.seq, tallies: (tallies.get(m.seq) ?? []).map((t) => `${t.reaction}×${t.count}${t.callerReacted ? "*" : ""}`) }));
        expect({ groupId, userId, got }, at()).toEqual({ groupId, userId, got: fetched.map((m) => ({ seq: m.seq, tallies: talliesOf(m, userId) })) });
      }
      // RCP-2, RCP-4: each message's readers (not per viewer), read and unread.
      const fetched = sweep || groupId === touched ? g.messages : [];
      const receipts = await store.receiptCounts(appId, groupId, fetched.map((m) => m.seq));
      expect({ groupId, receipts: fetched.map((m) => receipts.get(m.seq)) }, at()).toEqual({ groupId, receipts: fetched.map(receiptCountsOf) });
      for (const m of fetched.filter((x) => x.readers.size > 0)) {
        const [read, unread] = await Promise.all([true, false].map((r) => store.listReceipts(appId, groupId, m.seq, r, { limit: 100 })));
        const want = [...m.readers].sort(([a], [b]) => (a < b ? -1 : 1));
        expect({ groupId, seq: m.seq, read, unread }, at()).toEqual({
          groupId,
          seq: m.seq,
          read: want.filter(([, t]) => t !== undefined).map(([userId, readAt]) => ({ userId, readAt })),
          unread: want.filter(([, t]) => t === undefined).map(([userId]) => ({ userId })),
        });
      }
    }
    // Replay is ordered by partition, then position; positions follow commit order (checked in
    // `record`), so that is the log's order within each partition (a stable sort keeps it).
    const inReplayOrder = [...log].sort((x, y) => x.partition - y.partition);
    const place = (e: { partition: number; eventId: number }) => `${e.partition}:${e.eventId}`;
    for (const userId of USERS) {
      const replayed = (await readEvents(store, appId, userId, origin(), 100_000)).map((e) => `${e.partition}:${e.position}`);
      const want = inReplayOrder.filter((e) => receives(userId, groups.get(e.groupId)!.spans, e)).map(place);
      expect({ userId, replayed }, at()).toEqual({ userId, replayed: want });
      // Live equals replay: the store's live audience of each event names the same users.
      const live = inReplayOrder.filter((e) => e.live.has(userId)).map(place);
      expect({ userId, live }, at()).toEqual({ userId, live: want });
    }

  };

  await ops.create();
  await check(0);
  for (let step = 1; step <= steps; step++) {
    await ops[rnd.pick(bag)]!();
    await check(step);
  }
  await check(0);
}

/** The randomized cases of the store contract (called by storeContract). */
export function storeAgreesWithRules(getStore: () => Store): void {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`random operations agree with the rules module after every step (seed ${seed})`, async () => {
      await runStoreAgainstRules(getStore(), seed, 200);
    }, 180_000);
  }
}
