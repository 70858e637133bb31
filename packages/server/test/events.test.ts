// The live event stream (rules EVT-1 to EVT-11, section 13.2): multi-device delivery, resume
// after a disconnect with no loss and no repeat, invalid and expired cursors, heartbeats, ordering.
// Streams opened with EventStream go through the fast path; `drain(..., { timeoutMs })` sends a
// timeout header, which hands the request to the connect-es handler: both must agree.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { ErrorReason, EventService, GroupType, type Event } from "@narrowcast/gen";
import {
  AppFixture,
  EventStream,
  FakeClock,
  PROTOCOLS,
  TestServer,
  WAIT_MS,
  drain,
  expectError,
  isAboutMessage,
  isEvent,
  isMessage,
  receivedOf,
  seconds,
  type UserClient,
} from "./support.js";

let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start();
});
afterAll(async () => {
  await server?.close();
});

/** A short, comparable description of an event. */
function describeEvent(e: Event): string {
  const p = e.payload;
  switch (p.case) {
    case "messageReceived":
      return `msg:${p.value.message?.messageId}`;
    case "messageRecalled":
      return `recall:${p.value.messageId}`;
    case "memberJoined":
      return `joined:${p.value.member?.userId}`;
    case "memberLeft":
      return `left:${p.value.userId}`;
    case "conversationUpdated":
      return `conv:${p.value.conversation?.readSeq}`;
    case "groupDismissed":
      return `dismissed:${p.value.groupId}`;
    default:
      return "?";
  }
}

/** The group an event belongs to. */
function groupOfEvent(e: Event): string {
  const p = e.payload;
  switch (p.case) {
    case "messageReceived":
    case "messageEdited":
      return p.value.message?.groupId ?? "";
    case "conversationUpdated":
      return p.value.conversation?.groupId ?? "";
    case undefined:
      return "";
    default:
      return p.value.groupId;
  }
}

/**
 * Events by group, each group's in the order received: what EVT-8 promises (no order across
 * groups, EVT-11: a server may partition its log).
 */
function perGroup(events: readonly Event[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const e of events) (out[groupOfEvent(e)] ??= []).push(describeEvent(e));
  return out;
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  const setup = (users: string[]) => AppFixture.create(server, protocol, { users });

  it("EVT-1, MSG-8: two subscriptions of one user both get every event, the sender's own messages included", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const bob1 = await app.user("bob").subscribe();
    const bob2 = await app.device("bob").subscribe();
    const alice1 = await app.user("alice").subscribe();
    const alice2 = await app.device("alice").subscribe();
    const m = await app.user("alice").send(g, "hello");
    await app.user("alice").messages.recallMessage({ groupId: g, messageId: m.messageId });
    await app.user("alice").groups.inviteMembers({ groupId: g, userIds: ["carol"] });
    await app.user("bob").conversations.markConversationRead({ groupId: g });
    await app.user("carol").groups.leaveGroup({ groupId: g });
    const expected = [`msg:${m.messageId}`, `recall:${m.messageId}`, "joined:carol", "conv:1", "left:carol"];
    for (const s of [bob1, bob2]) {
      await s.waitFor(isEvent("memberLeft"));
      expect(s.events.map(describeEvent)).toEqual(expected);
    }
    for (const s of [alice1, alice2]) {
      await s.waitFor(isEvent("memberLeft"));
      expect(s.events.map(describeEvent)).toEqual(expected.filter((d) => !d.startsWith("conv:")));
    }
    for (const s of [bob1, bob2, alice1, alice2]) s.close();
  });

  it("GRP-10, EVT-2: an open stream follows membership: events of a group joined after subscribing arrive live", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice");
    const bob = await app.user("bob").subscribe();
    await app.user("alice").send(g, "before bob");
    await app.user("alice").groups.inviteMembers({ groupId: g, userIds: ["bob"] });
    await app.user("alice").send(g, "after bob");
    await bob.waitFor(isMessage("after bob"));
    expect(bob.events.map((e) => (e.payload.case === "memberJoined" ? "joined" : receivedOf(e)?.elements[0]?.element.value))).toEqual([
      "joined",
      expect.objectContaining({ text: "after bob" }),
    ]);
    bob.close();
  });

  it("EVT-3: resuming replays exactly the missed events the user may see, in order, then ready, then live events", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const h = await app.group(GroupType.MEETING, "carol", ["bob"]);
    const alice = app.user("alice");
    const bob = app.user("bob");
    const first = await bob.subscribe();
    // Without a cursor, `ready` comes first.
    expect(first.items.map((i) => i.item.case)).toEqual(["ready"]);
    await alice.send(g, "seen live");
    await first.waitFor(isMessage("seen live"));
    const cursor = first.lastCursor;
    first.close();

    const visible: string[] = [];
    visible.push(`msg:${(await alice.send(g, "ordinary")).messageId}`);
    visible.push(`msg:${(await alice.send(g, "to bob", { receiverIds: ["bob"] })).messageId}`);
    await alice.send(g, "to carol", { receiverIds: ["carol"] });
    await alice.send(g, "online only", { onlineOnly: true });
    const inH = `msg:${(await app.user("carol").send(h, "in h")).messageId}`;
    const excluded = await alice.send(g, "excluded", { excludeFromUnread: true, excludeFromLastMessage: true });
    visible.push(`msg:${excluded.messageId}`);
    const toCarol = await alice.send(g, "to carol again", { receiverIds: ["carol"] });
    await alice.messages.recallMessage({ groupId: g, messageId: toCarol.messageId });
    await alice.messages.recallMessage({ groupId: g, messageId: excluded.messageId });
    visible.push(`recall:${excluded.messageId}`);
    await app.user("carol").conversations.markConversationRead({ groupId: g });
    await bob.conversations.markConversationRead({ groupId: g });
    visible.push("conv:6");

    const resumed = await bob.subscribe({ cursor });
    expect(perGroup(resumed.replayed)).toEqual({ [g]: visible, [h]: [inH] });
    expect(resumed.items.at(-1)?.item.case).toBe("ready");
    // Each replayed event carries the cursor just after itself.
    const cursors = resumed.replayed.map((e) => e.cursor);
    expect(new Set(cursors).size).toBe(cursors.length);
    expect(cursors.every((c) => c !== "")).toBe(true);
    const live = await alice.send(g, "live");
    await resumed.waitFor(isMessage("live"));
    expect(perGroup(resumed.events)).toEqual({ [g]: [...visible, `msg:${live.messageId}`], [h]: [inH] });

    // Resuming from the middle replays only what follows that event.
    const middle = await bob.subscribe({ cursor: cursors[1] });
    expect(perGroup(middle.replayed)).toEqual(perGroup([...resumed.replayed.slice(2), ...resumed.events.slice(-1)]));
    // Resuming from the latest position replays nothing.
    const none = await bob.subscribe({ cursor: resumed.lastCursor });
    expect(none.replayed).toEqual([]);
    for (const s of [resumed, middle, none]) s.close();
  });

  it("EVT-3: a resume that races with sends delivers each message exactly once, in seq order", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const first = await app.user("bob").subscribe();
    const cursor = first.lastCursor;
    first.close();
    const total = 30;
    const sending = (async () => {
      for (let i = 1; i <= total; i++) await alice.send(g, `m${i}`);
    })();
    await new Promise((r) => setTimeout(r, 5));
    const resumed = await app.user("bob").subscribe({ cursor });
    await sending;
    await resumed.waitFor(isMessage(`m${total}`));
    expect(resumed.messages.map((m) => Number(m.seq))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    resumed.close();
  });

  it("13.2: the replay includes events of a group the user left, up to its own MemberLeft, and nothing after", async () => {
    const app = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const other = await app.group(GroupType.WORK, "alice", ["bob"]);
    const alice = app.user("alice");
    const first = await app.user("bob").subscribe();
    const cursor = first.lastCursor;
    first.close();
    const before = await alice.send(g, "before");
    await alice.groups.removeMembers({ groupId: g, userIds: ["bob"] });
    await alice.send(g, "after");
    const barrier = await alice.send(other, "barrier");
    const resumed = await app.user("bob").subscribe({ cursor });
    expect(perGroup(resumed.replayed)).toEqual({ [g]: [`msg:${before.messageId}`, "left:bob"], [other]: [`msg:${barrier.messageId}`] });
    const left = resumed.replayed.find((e) => e.payload.case === "memberLeft")!.payload;
    expect(left.case === "memberLeft" && left.value).toMatchObject({ groupId: g, userId: "bob", removedBy: "alice" });
    resumed.close();
  });

  it("EVT-4, EVT-11: a malformed cursor, one of another app, one longer than 256 bytes or ahead of the app's log is CURSOR_INVALID", async () => {
    const app = await setup(["alice", "bob"]);
    const busy = await setup(["alice", "bob"]);
    const g = await busy.group(GroupType.WORK, "alice", ["bob"]);
    for (let i = 0; i < 5; i++) await busy.user("alice").send(g, `m${i}`);
    const busyStream = await busy.user("bob").subscribe();
    const otherApp = busyStream.lastCursor;
    busyStream.close();
    const bob = app.user("bob");
    const own = await bob.subscribe();
    const mine = own.lastCursor;
    own.close();
    expect(Buffer.byteLength(mine)).toBeLessThanOrEqual(256);
    const [id, tag] = mine.split(".");
    const ahead = `${Number(id) + 1000}.${tag}`;
    const long = `${"0".repeat(260)}${id}.${tag}`;
    for (const cursor of ["garbage", "e-1", "ee", " ", "e1.5", `-1.${tag}`, `${id}.`, otherApp, ahead, long, `${mine}0000000000000000`]) {
      await expectError(
        drain(bob.events.subscribe({ cursor }, { timeoutMs: WAIT_MS })),
        Code.InvalidArgument,
        ErrorReason.CURSOR_INVALID,
        { field: "cursor" },
      ).catch((e: Error) => {
        throw new Error(`cursor ${JSON.stringify(cursor)}: ${e.message}`);
      });
    }
  });

  it("EVT-5: an idle stream gets heartbeats at the requested interval; out-of-range intervals are FIELD_INVALID", async () => {
    const app = await setup(["bob"]);
    const bob = app.user("bob");
    const stream = await bob.subscribe({ heartbeatIntervalSeconds: 1 });
    await stream.waitFor((i) => i.item.case === "heartbeat");
    stream.close();
    const bad = [seconds(301), seconds(-1), { seconds: 1n, nanos: 500_000_000 }, { seconds: 0n, nanos: 1_000 }];
    for (const heartbeatInterval of bad) {
      // Through the connect-es handler (timeout header) and through the fast path alike.
      await expectError(
        drain(bob.events.subscribe({ heartbeatInterval }, { timeoutMs: WAIT_MS })),
        Code.InvalidArgument,
        ErrorReason.FIELD_INVALID,
        { field: "heartbeat_interval" },
      );
      await expectError(drain(bob.events.subscribe({ heartbeatInterval })), Code.InvalidArgument, ErrorReason.FIELD_INVALID, {
        field: "heartbeat_interval",
      });
    }
    const fine = await bob.subscribe({ heartbeatIntervalSeconds: 300 });
    fine.close();
  });

  it("EVT-8: events of one group arrive in seq order, also for messages sent concurrently", async () => {
    const app = await setup(["alice", "bob", "carol"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const stream = await app.user("bob").subscribe();
    const senders = [app.user("alice"), app.user("carol"), app.device("alice")];
    await Promise.all(Array.from({ length: 24 }, (_, i) => senders[i % 3].send(g, `c${i}`)));
    await app.user("alice").send(g, "done");
    await stream.waitFor(isMessage("done"));
    const seqs = stream.messages.map((m) => Number(m.seq));
    expect(seqs).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    stream.close();
  });

  it("AUTH-1: Subscribe without a token is TOKEN_MISSING", async () => {
    const anonymous = server.transport(protocol);
    await expectError(
      drain(createClient(EventService, anonymous).subscribe({}, { timeoutMs: WAIT_MS })),
      Code.Unauthenticated,
      ErrorReason.TOKEN_MISSING,
    );
  });

  it("EVT-2: a user's events never reach another user of the same group (ConversationUpdated) or another app", async () => {
    const app = await setup(["alice", "bob"]);
    const twin = await setup(["alice", "bob"]);
    const g = await app.group(GroupType.WORK, "alice", ["bob"], "same-id");
    const tg = await twin.group(GroupType.WORK, "alice", ["bob"], "same-id");
    const twinBob = await twin.user("bob").subscribe();
    const m = await app.user("alice").send(g, "app one");
    await app.user("bob").conversations.markConversationRead({ groupId: g });
    await twin.user("alice").send(tg, "app two");
    await twinBob.expectNone((i) => isAboutMessage(m.messageId)(i) || isEvent("conversationUpdated")(i), isMessage("app two"));
    expect(twinBob.events.map((e) => receivedOf(e)?.elements.length)).toEqual([1]);
    twinBob.close();
  });
});

describe("EVT-10: a cursor older than the event retention is CURSOR_EXPIRED", () => {
  const clock = new FakeClock();
  let short: TestServer;
  beforeAll(async () => {
    short = await TestServer.start({ now: clock.now, eventRetentionSeconds: 60, eventPruneIntervalMs: 20 });
  });
  afterAll(async () => {
    await short?.close();
  });

  /** How a resume from `cursor` starts over the fast path: "ready", or the error that ended it. */
  async function resumeOutcome(user: UserClient, cursor: string): Promise<"ready" | ConnectError> {
    const stream = EventStream.open(user.events, { cursor }, user.id);
    await stream.waitFor((i) => i.item.case === "ready").catch(() => undefined);
    stream.close();
    return stream.error ?? "ready";
  }

  it.each(PROTOCOLS)("%s: after pruning, resuming before the pruned events fails; after them it works", async (protocol) => {
    const app = await AppFixture.create(short, protocol, { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const bob = app.user("bob");
    const first = await bob.subscribe();
    const stale = first.lastCursor;
    await app.user("alice").send(g, "old");
    await first.waitFor(isMessage("old"));
    const recent = first.lastCursor;
    first.close();
    clock.advance(61);
    const fresh = await app.user("alice").send(g, "new");

    // The prune runs on its own timer: wait (bounded) until it has run, then check both paths.
    const deadline = Date.now() + WAIT_MS;
    let outcome = await resumeOutcome(bob, stale);
    while (outcome === "ready" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      outcome = await resumeOutcome(bob, stale);
    }
    expect(outcome).toBeInstanceOf(ConnectError);
    await expectError(Promise.reject(outcome), Code.OutOfRange, ErrorReason.CURSOR_EXPIRED, { field: "cursor" });
    await expectError(drain(bob.events.subscribe({ cursor: stale }, { timeoutMs: WAIT_MS })), Code.OutOfRange, ErrorReason.CURSOR_EXPIRED, {
      field: "cursor",
    });

    // From the last pruned event on, nothing is missing: the resume replays what followed.
    const resumed = await bob.subscribe({ cursor: recent });
    expect(resumed.replayed.map((e) => receivedOf(e)?.messageId)).toEqual([fresh.messageId]);
    resumed.close();
    const plain = await bob.subscribe();
    plain.close();
  });
});
