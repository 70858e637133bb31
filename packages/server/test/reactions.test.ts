// Reactions over the wire (rules RCT-1 to RCT-8, DRV-1, section 9.5): add and remove with their
// responses, counts in GetMessage and ListMessages, ReactionChanged to the message's audience
// only, RCT-2's validation, the order of checks, the 20-reaction limit, ListReactions pages and
// their tokens, and the group's send bucket (a change that changes nothing returns its token).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJson } from "@bufbuild/protobuf";
import { durationMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason, GroupType, type Event, type Message } from "@narrowcast/gen";
import { compareCodePoints } from "../src/rules/index.js";
import {
  AppFixture,
  PROTOCOLS,
  TestServer,
  WAIT_MS,
  checkError,
  detailsOf,
  expectError,
  isEvent,
  isMessage,
  receivedOf,
  textOf,
  type Protocol,
  type UserClient,
} from "./support.js";

/** A clock the tests set: reactions added without a move share their time (ListReactions ties). */
const clock = { t: Date.UTC(2030, 0, 1) };
let server: TestServer;
beforeAll(async () => {
  server = await TestServer.start({ now: () => clock.t });
});
afterAll(async () => {
  await server?.close();
});

/** A message's reactions as the caller sees them: "reaction×count", "*" when the caller is one of them. */
function counts(m: Message | undefined): string[] {
  return (m?.reactions ?? []).map((r) => `${r.reaction}×${r.count}${r.callerReacted ? "*" : ""}`);
}

/** The ReactionChanged events among `events`: "+reaction:user=count" (or "-…" for a remove). */
function reactionsOf(events: readonly Event[]): string[] {
  return events.flatMap((e) => {
    const p = e.payload;
    if (p.case !== "reactionChanged") return [];
    return [`${p.value.added ? "+" : "-"}${p.value.reaction}:${p.value.userId}=${p.value.count}`];
  });
}

/** Predicate: a ReactionChanged about this message. */
const isReactionTo = (messageId: string) => isEvent("reactionChanged", (e) => e.payload.case === "reactionChanged" && e.payload.value.messageId === messageId);

/** One user's three reaction RPCs on one message, as the tests call them. */
function on(user: UserClient, groupId: string, messageId: string) {
  return {
    add: async (reaction: string) => (await user.messages.addReaction({ groupId, messageId, reaction })).message,
    remove: async (reaction: string) => (await user.messages.removeReaction({ groupId, messageId, reaction })).message,
    list: (reaction = "") => user.messages.listReactions({ groupId, messageId, reaction }),
  };
}

/** Asserts that two errors are indistinguishable: code, message and ErrorInfo (DRV-1, MSG-14). */
function expectSameError(a: ConnectError, b: ConnectError): void {
  expect({ code: a.code, message: a.rawMessage, info: toJson(ErrorInfoSchema, a.findDetails(ErrorInfoSchema)[0]) }).toEqual({
    code: b.code,
    message: b.rawMessage,
    info: toJson(ErrorInfoSchema, b.findDetails(ErrorInfoSchema)[0]),
  });
}

describe.each(PROTOCOLS)("%s", (protocol) => {
  it("RCT-1, RCT-3, RCT-5, RCT-7: add and remove; responses, GetMessage and ListMessages show the counts; ReactionChanged reaches every member", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol", "dave"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave"]);
    const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((u) => app.user(u));
    const streams = [await alice.subscribe(), await dave.subscribe()];
    const m = await alice.send(g, "react to me");
    const [b, c, a] = [on(bob, g, m.messageId), on(carol, g, m.messageId), on(alice, g, m.messageId)];

    const added = await b.add("👍");
    expect(added).toMatchObject({ messageId: m.messageId, seq: 1n, senderId: "alice", groupId: g });
    expect(textOf(added)).toBe("react to me");
    expect(counts(added)).toEqual(["👍×1*"]);
    expect(counts(await c.add("👍"))).toEqual(["👍×2*"]);
    clock.t += 1000;
    expect(counts(await c.add("🎉"))).toEqual(["👍×2*", "🎉×1*"]);
    // Adding one the caller has: success, nothing changes.
    expect(counts(await b.add("👍"))).toEqual(["👍×2*", "🎉×1"]);
    expect(counts((await alice.messages.getMessage({ groupId: g, messageId: m.messageId })).message)).toEqual(["👍×2", "🎉×1"]);
    expect((await dave.history(g)).map(counts)).toEqual([["👍×2", "🎉×1"]]);

    expect(counts(await b.remove("👍"))).toEqual(["👍×1", "🎉×1"]);
    // Removing one the caller does not have — again, or another user's — changes nothing.
    expect(counts(await b.remove("👍"))).toEqual(["👍×1", "🎉×1"]);
    expect(counts(await a.remove("🎉"))).toEqual(["👍×1", "🎉×1"]);
    expect(counts(await c.remove("🎉"))).toEqual(["👍×1*"]);

    await alice.send(g, "barrier");
    for (const s of streams) {
      await s.waitFor(isMessage("barrier"));
      expect(reactionsOf(s.events)).toEqual(["+👍:bob=1", "+👍:carol=2", "+🎉:carol=1", "-👍:bob=1", "-🎉:carol=0"]);
      const first = s.events.find((e) => e.payload.case === "reactionChanged")!;
      expect(first.payload.value).toMatchObject({ groupId: g, messageId: m.messageId, seq: 1n, reaction: "👍", userId: "bob", added: true, count: 1 });
      expect(first.cursor).not.toBe("");
      s.close();
    }
  });

  it("RCT-1, RCT-7, DRV-1: a targeted message's audience reacts and hears of it; anyone else gets MESSAGE_NOT_FOUND, exactly as for no message", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const streams = { alice: await alice.subscribe(), bob: await bob.subscribe(), carol: await carol.subscribe() };
    const t = await alice.send(g, "for bob", { receiverIds: ["bob"] });
    expect(counts(await on(bob, g, t.messageId).add("👍"))).toEqual(["👍×1*"]);
    clock.t += 1000;
    expect(counts(await on(alice, g, t.messageId).add("❤️"))).toEqual(["👍×1", "❤️×1*"]);
    expect((await on(bob, g, t.messageId).list()).reactions.map((r) => `${r.reaction}:${r.userId}`)).toEqual(["👍:bob", "❤️:alice"]);

    const hidden = on(carol, g, t.messageId);
    const missing = on(carol, g, "msg_nope");
    for (const call of ["add", "remove", "list"] as const) {
      const other = await expectError(missing[call]("👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      const ce = await expectError(hidden[call]("👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      expectSameError(ce, other);
    }

    await alice.send(g, "barrier");
    for (const s of [streams.alice, streams.bob]) {
      await s.waitFor(isMessage("barrier"));
      expect(reactionsOf(s.events)).toEqual(["+👍:bob=1", "+❤️:alice=1"]);
    }
    await streams.carol.expectNone(isReactionTo(t.messageId), isMessage("barrier"));
    for (const s of Object.values(streams)) s.close();
  });

  it("RCT-2: 1 to 32 code points, no control character, not only white space; reactions are exact strings", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice"] });
    const g = await app.group(GroupType.WORK, "alice");
    const alice = app.user("alice");
    const m = await alice.send(g, "m");
    const r = on(alice, g, m.messageId);
    const invalid = ["", "👍".repeat(33), "a".repeat(33), "ok\u0007", "\u0000", "a\nb", "\u007F", "\u0085x", "\t", " ", "   ", "\u3000", " \u00A0\u2003 "];
    for (const reaction of invalid) {
      const label = JSON.stringify(reaction);
      for (const call of reaction === "" ? (["add", "remove"] as const) : (["add", "remove", "list"] as const)) {
        await expectError(r[call](reaction), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "reaction" }).catch((err: unknown) => {
          throw new Error(`${call} ${label}: ${String(err)}`);
        });
      }
    }
    expect((await r.list()).reactions).toEqual([]);

    // 32 code points of any kind: emoji are 2 UTF-16 units and 4 UTF-8 bytes each.
    const valid = ["👍".repeat(32), "a".repeat(31) + "👍", "a".repeat(32), " 👍 ", ":+1:", "👍", "\u00E9", "e\u0301", "👨‍👩‍👧‍👦", "🇫🇷", "z"];
    let shown: Message | undefined;
    for (const reaction of valid) shown = await r.add(reaction);
    // Added at one moment (the clock stands still): RCT-5 orders them by code point.
    expect(counts(shown)).toEqual([...valid].sort(compareCodePoints).map((x) => `${x}×1*`));
    expect((await r.list()).reactions.map((x) => x.reaction).sort()).toEqual([...valid].sort());
    expect((await r.list("👍".repeat(32))).reactions.map((x) => x.reaction)).toEqual(["👍".repeat(32)]);
    expect((await r.list("e\u0301")).reactions.map((x) => x.reaction)).toEqual(["e\u0301"]);
    const left = counts(await r.remove("\u00E9"));
    expect(left).not.toContain("\u00E9×1*");
    expect(left).toContain("e\u0301×1*");
  });
});

describe("over Connect", () => {
  const protocol: Protocol = "connect";

  it("section 9.5: AddReaction and RemoveReaction apply their checks in order; a rejected change changes nothing and sends nothing", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol", "erin"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const h = await app.group(GroupType.WORK, "alice", ["bob"]);
    const [alice, bob, carol, erin] = ["alice", "bob", "carol", "erin"].map((u) => app.user(u));
    const stream = await bob.subscribe();
    const m = await alice.send(g, "m");
    const t = await alice.send(g, "for bob", { receiverIds: ["bob"] });
    const recalled = await alice.send(g, "oops");
    const recalledForBob = await alice.send(g, "oops, bob", { receiverIds: ["bob"] });
    const elsewhere = await alice.send(h, "in h");
    for (const x of [recalled, recalledForBob]) await alice.messages.recallMessage({ groupId: g, messageId: x.messageId });

    for (const op of ["addReaction", "removeReaction"] as const) {
      const call = (user: UserClient, groupId: string, messageId: string, reaction: string) => user.messages[op]({ groupId, messageId, reaction });
      const invalid = (field: string) => ({ field });
      // 1. FIELD_INVALID: group_id, then message_id, then reaction.
      await expectError(call(bob, "", "", ""), Code.InvalidArgument, ErrorReason.FIELD_INVALID, invalid("group_id"));
      await expectError(call(bob, "bad id!", "", " "), Code.InvalidArgument, ErrorReason.FIELD_INVALID, invalid("group_id"));
      await expectError(call(erin, "nope", "", "\u0007"), Code.InvalidArgument, ErrorReason.FIELD_INVALID, invalid("message_id"));
      await expectError(call(erin, "nope", "msg_nope", " "), Code.InvalidArgument, ErrorReason.FIELD_INVALID, invalid("reaction"));
      await expectError(call(erin, g, recalled.messageId, ""), Code.InvalidArgument, ErrorReason.FIELD_INVALID, invalid("reaction"));
      // 2. GROUP_NOT_FOUND, 3. NOT_A_MEMBER, 4. MESSAGE_NOT_FOUND, 5. ALREADY_RECALLED.
      await expectError(call(erin, "nope", "msg_nope", "👍"), Code.NotFound, ErrorReason.GROUP_NOT_FOUND, { field: "group_id" });
      await expectError(call(erin, g, "msg_nope", "👍"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
      await expectError(call(erin, g, recalled.messageId, "👍"), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
      await expectError(call(carol, g, "msg_nope", "👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      await expectError(call(carol, g, t.messageId, "👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      await expectError(call(carol, g, elsewhere.messageId, "👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      await expectError(call(bob, h, m.messageId, "👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      await expectError(call(carol, g, recalledForBob.messageId, "👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      await expectError(call(bob, g, recalledForBob.messageId, "👍"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, { field: "message_id" });
      await expectError(call(carol, g, recalled.messageId, "👍"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED, { field: "message_id" });
    }
    // Nothing changed, and no ReactionChanged went out.
    expect(counts((await bob.messages.getMessage({ groupId: g, messageId: m.messageId })).message)).toEqual([]);
    expect((await on(bob, g, t.messageId).list()).reactions).toEqual([]);
    await alice.send(g, "barrier");
    await stream.waitFor(isMessage("barrier"));
    expect(reactionsOf(stream.events)).toEqual([]);
    stream.close();
  });

  it("RCT-4: the 21st distinct reaction is REACTION_LIMIT_REACHED and changes nothing; one of the 20 may be added, and removes always work", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const [alice, bob] = [app.user("alice"), app.user("bob")];
    const stream = await bob.subscribe();
    const m = await alice.send(g, "m");
    const [a, b] = [on(alice, g, m.messageId), on(bob, g, m.messageId)];
    const twenty = Array.from({ length: 20 }, (_, i) => `r${i}`);
    for (const r of twenty) await a.add(r);
    await expectError(b.add("r20"), Code.FailedPrecondition, ErrorReason.REACTION_LIMIT_REACHED, { field: "reaction" });
    await expectError(a.add("👍"), Code.FailedPrecondition, ErrorReason.REACTION_LIMIT_REACHED, { field: "reaction" });
    expect((await b.list()).reactions.length).toBe(20);
    expect(counts(await b.add("r5"))).toContain("r5×2*");
    expect(counts(await b.remove("r20"))).toHaveLength(20); // not there: nothing to remove
    await a.remove("r0");
    clock.t += 1000;
    const shown = await b.add("r20");
    expect(counts(shown)).toHaveLength(20);
    expect(counts(shown).at(-1)).toBe("r20×1*");

    await alice.send(g, "barrier");
    await stream.waitFor(isMessage("barrier"));
    expect(reactionsOf(stream.events)).toEqual([...twenty.map((r) => `+${r}:alice=1`), "+r5:bob=2", "-r0:alice=0", "+r20:bob=1"]);
    stream.close();
  });

  it("RCT-1: messages that are not stored (AVCHATROOM, online-only) and messages below the caller's history floor are MESSAGE_NOT_FOUND", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "erin"] });
    const [alice, bob, erin] = [app.user("alice"), app.user("bob"), app.user("erin")];
    const av = await app.group(GroupType.AVCHATROOM, "alice", ["bob"]);
    const live = await alice.send(av, "live");
    expect(live.seq).toBe(0n);
    const w = await app.group(GroupType.WORK, "alice", ["bob"]);
    const online = await alice.send(w, "online", { onlineOnly: true });
    for (const [groupId, messageId] of [[av, live.messageId], [w, online.messageId]]) {
      const r = on(bob, groupId, messageId);
      for (const call of ["add", "remove", "list"] as const) {
        await expectError(r[call]("👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      }
    }

    // A member who joined after the message (outside MEETING) may not see it, so may not react.
    const old = await alice.send(w, "before erin");
    await on(bob, w, old.messageId).add("👍");
    await app.admin.addMembers({ appId: app.appId, groupId: w, userIds: ["erin"] });
    const below = on(erin, w, old.messageId);
    for (const call of ["add", "remove", "list"] as const) {
      const ce = await expectError(below[call]("👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
      expectSameError(ce, await expectError(on(erin, w, "msg_nope")[call]("👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND));
    }
    // Nor does she hear of its reactions (RCT-7): bob's and alice's streams do, hers does not.
    const [erinStream, bobStream] = [await erin.subscribe(), await bob.subscribe()];
    await on(alice, w, old.messageId).add("🎉");
    await alice.send(w, "after erin");
    await bobStream.waitFor(isMessage("after erin"));
    expect(reactionsOf(bobStream.events)).toEqual(["+🎉:alice=1"]);
    await erinStream.expectNone(isReactionTo(old.messageId), isMessage("after erin"));
    erinStream.close();
    bobStream.close();
    // In MEETING there is no floor: a later member sees earlier messages and reacts to them.
    const meeting = await app.group(GroupType.MEETING, "alice", ["bob"]);
    const early = await alice.send(meeting, "early");
    await app.admin.addMembers({ appId: app.appId, groupId: meeting, userIds: ["erin"] });
    expect(counts(await on(erin, meeting, early.messageId).add("👍"))).toEqual(["👍×1*"]);
  });

  it("RCT-8: a recall removes the reactions and sends no ReactionChanged; afterwards changes are ALREADY_RECALLED and ListReactions is empty", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const m = await alice.send(g, "m");
    await on(bob, g, m.messageId).add("👍");
    await on(carol, g, m.messageId).add("🎉");
    const stream = await carol.subscribe();
    const { message } = await alice.messages.recallMessage({ groupId: g, messageId: m.messageId });
    expect(counts(message)).toEqual([]);
    await alice.send(g, "barrier");
    await stream.waitFor(isMessage("barrier"));
    expect(stream.events.map((e) => e.payload.case)).toEqual(["messageRecalled", "messageReceived"]);
    expect(counts((await bob.messages.getMessage({ groupId: g, messageId: m.messageId })).message)).toEqual([]);
    expect(await on(bob, g, m.messageId).list()).toMatchObject({ reactions: [], nextPageToken: "" });
    await expectError(on(bob, g, m.messageId).remove("👍"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED);
    await expectError(on(carol, g, m.messageId).add("👍"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED);
    stream.close();
  });

  it("RCT-5: reactions appear only in GetMessage, ListMessages and the reaction RPCs — not in events, replay, last_message, or the send, edit and recall responses", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const [alice, bob] = [app.user("alice"), app.user("bob")];
    const before = await bob.subscribe();
    const from = before.lastCursor;
    before.close();
    const m = await alice.send(g, "m", { clientMessageId: "k" });
    await on(bob, g, m.messageId).add("👍");
    expect(counts((await alice.messages.getMessage({ groupId: g, messageId: m.messageId })).message)).toEqual(["👍×1"]);
    expect(counts(await alice.send(g, "m", { clientMessageId: "k" }))).toEqual([]); // an idempotent replay
    expect(counts((await bob.conversation(g)).lastMessage)).toEqual([]);
    const edited = await alice.messages.editMessage({ groupId: g, messageId: m.messageId, elements: [{ element: { case: "text", value: { text: "m2" } } }] });
    expect(counts(edited.message)).toEqual([]);
    expect(counts((await alice.messages.getMessage({ groupId: g, messageId: m.messageId })).message)).toEqual(["👍×1"]);

    const replay = await bob.subscribe({ cursor: from });
    expect(replay.replayed.map((e) => e.payload.case)).toEqual(["messageReceived", "reactionChanged", "messageEdited"]);
    expect(counts(receivedOf(replay.replayed[0]))).toEqual([]);
    const p = replay.replayed[2].payload;
    expect(p.case === "messageEdited" && counts(p.value.message)).toEqual([]);
    await on(alice, g, m.messageId).add("🎉");
    const live = await replay.waitFor(isReactionTo(m.messageId));
    expect(live.item.case === "event" && reactionsOf([live.item.value])).toEqual(["+👍:bob=1"]);
    await replay.waitFor(isEvent("reactionChanged", (e) => reactionsOf([e])[0] === "+🎉:alice=1"));
    replay.close();
  });

  it("RCT-6, PAG-1 to PAG-3: ListReactions pages oldest first (then reaction, then user), optionally one reaction's; tokens are bound to the message and filter", async () => {
    const app = await AppFixture.create(server, protocol, { users: ["alice", "bob", "carol", "dave", "erin", "olaf"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol", "dave", "erin"]);
    const g2 = await app.group(GroupType.WORK, "alice", ["bob"]);
    const [alice, bob, carol, dave, erin, olaf] = ["alice", "bob", "carol", "dave", "erin", "olaf"].map((u) => app.user(u));
    const m = await alice.send(g, "m");
    const other = await alice.send(g, "other");
    const t = await alice.send(g, "for bob", { receiverIds: ["bob"] });
    clock.t += 1000;
    const t0 = clock.t;
    // At one moment: listed by reaction in code point order (\uFFFD before 👍, unlike UTF-16), then user.
    await on(dave, g, m.messageId).add("👍");
    await on(bob, g, m.messageId).add("b");
    await on(carol, g, m.messageId).add("\uFFFD");
    await on(erin, g, m.messageId).add("a");
    await on(alice, g, m.messageId).add("a");
    clock.t += 1000;
    await on(bob, g, m.messageId).add("a");
    await on(alice, g, other.messageId).add("a");
    const all = ["0:a:alice", "0:a:erin", "0:b:bob", "0:\uFFFD:carol", "0:👍:dave", "1000:a:bob"];
    const key = (r: { reaction: string; userId: string; createTime?: Parameters<typeof timestampMs>[0] }) =>
      `${timestampMs(r.createTime!) - t0}:${r.reaction}:${r.userId}`;
    const list = (user: UserClient, req: { messageId?: string; reaction?: string; pageSize?: number; pageToken?: string; groupId?: string } = {}) =>
      user.messages.listReactions({ groupId: g, messageId: m.messageId, ...req });

    const whole = await list(carol);
    expect({ items: whole.reactions.map(key), next: whole.nextPageToken }).toEqual({ items: all, next: "" });
    // Pages of 2, walked to the end; a reaction added during the walk comes last, nothing repeats.
    const walked: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const page = await list(carol, { pageSize: 2, pageToken });
      walked.push(...page.reactions.map(key));
      pageToken = page.nextPageToken;
      if (++pages === 1) {
        clock.t += 1000;
        await on(carol, g, m.messageId).add("a");
      }
    } while (pageToken && pages < 10);
    expect(walked).toEqual([...all, "2000:a:carol"]);
    expect(pages).toBe(4);
    // One reaction's only.
    const first = await list(carol, { reaction: "a", pageSize: 2 });
    expect(first.reactions.map(key)).toEqual(["0:a:alice", "0:a:erin"]);
    const second = await list(carol, { reaction: "a", pageSize: 2, pageToken: first.nextPageToken });
    expect({ items: second.reactions.map(key), next: second.nextPageToken }).toEqual({ items: ["1000:a:bob", "2000:a:carol"], next: "" });
    expect((await list(carol, { reaction: "nobody's" })).reactions).toEqual([]);
    // PAG-2: 0 is the default (50), above the maximum is the maximum, negative is FIELD_INVALID.
    expect((await list(carol, { pageSize: 0 })).reactions).toHaveLength(7);
    expect((await list(carol, { pageSize: 100_000 })).reactions).toHaveLength(7);
    await expectError(list(carol, { pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "page_size" });

    // PAG-3: a token is for its RPC, caller, group, message and filter only.
    const token = (await list(carol, { pageSize: 1 })).nextPageToken;
    const filtered = first.nextPageToken;
    expect(token).not.toBe("");
    const invalid = (p: Promise<unknown>) => expectError(p, Code.InvalidArgument, ErrorReason.PAGE_TOKEN_INVALID, { field: "page_token" });
    await invalid(list(carol, { messageId: other.messageId, pageToken: token }));
    await invalid(list(carol, { reaction: "a", pageToken: token }));
    await invalid(list(carol, { pageToken: filtered }));
    await invalid(list(carol, { reaction: "b", pageToken: filtered }));
    await invalid(list(bob, { pageToken: token }));
    await invalid(list(bob, { groupId: g2, pageToken: token }));
    await invalid(list(carol, { pageToken: "!!!" }));
    await invalid(list(carol, { pageToken: Buffer.from('{"v":1,"k":"x","a":1}').toString("base64url") }));
    const history = await carol.messages.listMessages({ groupId: g, pageSize: 1 });
    await invalid(list(carol, { pageToken: history.nextPageToken }));
    expect((await list(carol, { pageToken: token })).reactions.map(key)[0]).toBe(all[1]);

    // Order of checks: the fields of check 1, then page_size and page_token, then the group, membership and message.
    await expectError(list(carol, { groupId: "bad id!", pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "group_id" });
    await expectError(list(carol, { messageId: "", pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "message_id" });
    await expectError(list(carol, { reaction: " ", pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "reaction" });
    await expectError(list(olaf, { groupId: "nope", pageSize: -1 }), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "page_size" });
    await invalid(list(olaf, { groupId: "nope", pageToken: "!!!" }));
    await expectError(list(olaf, { groupId: "nope" }), Code.NotFound, ErrorReason.GROUP_NOT_FOUND);
    await expectError(list(olaf, { messageId: "msg_nope" }), Code.PermissionDenied, ErrorReason.NOT_A_MEMBER);
    await expectError(list(carol, { messageId: t.messageId }), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND, { field: "message_id" });
    expect((await list(bob, { messageId: t.messageId })).reactions).toEqual([]);
  });
});

describe("RCT-3, MSG-5: reactions draw on the group's send bucket (a server allowing 5 per second per group)", () => {
  let limited: TestServer;
  beforeAll(async () => {
    limited = await TestServer.start({ rateLimitPerSecond: 5 });
  });
  afterAll(async () => {
    await limited?.close();
  });

  /** Toggles `reaction` (add, remove, add, …) until RATE_LIMITED: the changes accepted before it. */
  async function drainWithChanges(user: UserClient, groupId: string, messageId: string, reaction = "👍", max = 40): Promise<number> {
    const r = on(user, groupId, messageId);
    let has = counts((await user.messages.getMessage({ groupId, messageId })).message).includes(`${reaction}×1*`);
    for (let accepted = 0; accepted < max; accepted++) {
      try {
        await (has ? r.remove(reaction) : r.add(reaction));
        has = !has;
      } catch (err) {
        const ce = checkError(ConnectError.from(err), Code.ResourceExhausted, ErrorReason.RATE_LIMITED);
        const delay = durationMs(detailsOf(ce).retryInfo[0].retryDelay!);
        expect(delay).toBeGreaterThanOrEqual(1);
        expect(delay).toBeLessThanOrEqual(200);
        return accepted;
      }
    }
    throw new Error(`no RATE_LIMITED within ${max} quick changes`);
  }

  /** Runs `call` once the bucket has a token again (polling, bounded). */
  async function whenAllowed<T>(call: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      try {
        return await call();
      } catch (err) {
        const ce = ConnectError.from(err);
        if (detailsOf(ce).reason !== "RATE_LIMITED" || Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  it("a change takes a token: refused, it is RATE_LIMITED with RetryInfo and changes nothing; the earlier checks still decide", async () => {
    const app = await AppFixture.create(limited, "connect", { users: ["alice", "bob"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const [alice, bob] = [app.user("alice"), app.user("bob")];
    const stream = await alice.subscribe();
    const gone = await alice.send(g, "gone");
    await alice.messages.recallMessage({ groupId: g, messageId: gone.messageId });
    const m = await alice.send(g, "m");
    const accepted = await drainWithChanges(bob, g, m.messageId);
    // Two sends took two of the 5; a slow machine may refill a few more before the first refusal.
    expect(accepted).toBeGreaterThanOrEqual(3);
    // With the bucket empty, checks 1 to 5 still decide.
    await expectError(on(bob, g, m.messageId).add(" "), Code.InvalidArgument, ErrorReason.FIELD_INVALID, { field: "reaction" });
    await expectError(on(bob, g, "msg_nope").add("👍"), Code.NotFound, ErrorReason.MESSAGE_NOT_FOUND);
    await expectError(on(bob, g, gone.messageId).add("👍"), Code.FailedPrecondition, ErrorReason.ALREADY_RECALLED);
    // The refused toggle changed nothing: an even count of accepted toggles leaves no 👍.
    const expected = accepted % 2 === 0 ? [] : ["👍×1*"];
    expect(counts((await bob.messages.getMessage({ groupId: g, messageId: m.messageId })).message)).toEqual(expected);
    await whenAllowed(() => alice.send(g, "barrier"));
    await stream.waitFor(isMessage("barrier"));
    expect(reactionsOf(stream.events)).toHaveLength(accepted);
    stream.close();
  });

  it("a change that changes nothing, or is REACTION_LIMIT_REACHED, gives its token back; RATE_LIMITED comes before REACTION_LIMIT_REACHED", async () => {
    const app = await AppFixture.create(limited, "connect", { users: ["alice", "bob", "carol"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
    const [alice, bob, carol] = ["alice", "bob", "carol"].map((u) => app.user(u));
    const m = await alice.send(g, "m");
    await on(bob, g, m.messageId).add("👍");
    // 80 requests that change nothing: with the 3 tokens left, they pass only if each returns its
    // token (without that, 80 requests would have to be spread over 15 seconds).
    for (let i = 0; i < 40; i++) {
      await on(bob, g, m.messageId).add("👍");
      await on(carol, g, m.messageId).remove("👍");
    }
    expect(counts(await on(carol, g, m.messageId).remove("🎉"))).toEqual(["👍×1"]);
    // The bucket still holds what it held: at least those 3 tokens for real changes.
    expect(await drainWithChanges(carol, g, m.messageId)).toBeGreaterThanOrEqual(3);

    // Fill a message with 20 reactions, as fast as the bucket allows.
    const full = await whenAllowed(() => alice.send(g, "full"));
    for (let i = 0; i < 20; i++) await whenAllowed(() => on(alice, g, full.messageId).add(`r${i}`));
    // Check 6 before check 7: with the bucket empty, the 21st reaction is RATE_LIMITED. The bucket
    // refills while the test runs, so it tries a few rounds until it sees the refusal.
    let sawRateLimited = false;
    for (let round = 0; round < 10 && !sawRateLimited; round++) {
      await drainWithChanges(carol, g, m.messageId);
      const ce = await on(bob, g, full.messageId).add("r20").then(
        () => undefined,
        (err: unknown) => ConnectError.from(err),
      );
      expect(["RATE_LIMITED", "REACTION_LIMIT_REACHED"]).toContain(ce && detailsOf(ce).reason);
      sawRateLimited = detailsOf(ce!).reason === "RATE_LIMITED";
    }
    expect(sawRateLimited, "the 21st reaction on an empty bucket is RATE_LIMITED").toBe(true);
    // Once a token is back, REACTION_LIMIT_REACHED; each such refusal returns its token, so 30
    // more in a row are all REACTION_LIMIT_REACHED, never RATE_LIMITED.
    await expectError(whenAllowed(() => on(bob, g, full.messageId).add("r20")), Code.FailedPrecondition, ErrorReason.REACTION_LIMIT_REACHED);
    for (let i = 0; i < 30; i++) {
      await expectError(on(bob, g, full.messageId).add(`x${i}`), Code.FailedPrecondition, ErrorReason.REACTION_LIMIT_REACHED, { field: "reaction" });
    }
    expect((await on(bob, g, full.messageId).list()).reactions).toHaveLength(20);
  });
});
