// Reactions through the SDK against a real server (rules RCT-1 to RCT-8, DRV-1): adding and
// removing, counts and callerReacted per viewer, who hears of a change, listing with paging, and
// the errors only the server can know. Local rejections are in early-errors.test.ts, the CLI's
// commands in cli.test.ts.
import type { Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatEvent, formatMessage, formatReaction } from "../src/cli/format.js";
import { Code, NarrowcastError, Reason, createTargetedGroupMessage, createTextMessage } from "../src/index.js";
import type { Message, NarrowcastClient, ReactionChangedEvent } from "../src/index.js";
import { Recorder, errorSummary, rejection, startFixture, textOf } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

/** A message's reactions as [reaction, count, callerReacted] rows. */
const counts = (m: Message) => m.reactions.map((r) => [r.reaction, r.count, r.callerReacted]);

/** The reactionChanged events a recorder holds, as [userId, reaction, added, count] rows. */
function changes(recorder: Recorder): [string, string, boolean, number][] {
  return recorder.events
    .filter((e): e is ReactionChangedEvent => e.type === "reactionChanged")
    .map((e) => [e.userId, e.reaction, e.added, e.count]);
}

/** Sends a marker and waits until every recorder has it: events of one group arrive in order (EVT-8). */
async function settle(sender: NarrowcastClient, groupId: string, recorders: Recorder[], text = "marker"): Promise<void> {
  await sender.sendMessage(createTextMessage(text), { groupId });
  await Promise.all(recorders.map((r) => r.untilText(text)));
}

describe("adding and removing reactions", () => {
  it("add, repeated add, remove, repeated remove: counts the same for every viewer, callerReacted per viewer (RCT-1, RCT-3, RCT-5)", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));
    const recorder = new Recorder(alice);
    await alice.connect();
    const sent = await alice.sendMessage(createTextMessage("lunch?"), { groupId: app.groupId });
    expect(sent.reactions).toEqual([]);
    const bobUnread = (await bob.getConversation(app.groupId)).unreadCount;

    expect(counts(await bob.addReaction(app.groupId, sent.messageId, "👍"))).toEqual([["👍", 1, true]]);
    // Adding it again changes nothing and succeeds (RCT-3).
    expect(counts(await bob.addReaction(app.groupId, sent.messageId, "👍"))).toEqual([["👍", 1, true]]);
    // Compared as exact strings: ":+1:" is another reaction (RCT-2); the oldest comes first (RCT-5).
    expect(counts(await carol.addReaction(app.groupId, sent.messageId, ":+1:"))).toEqual([
      ["👍", 1, false],
      [":+1:", 1, true],
    ]);
    const reacted = await carol.addReaction(app.groupId, sent.messageId, "👍");
    expect(counts(reacted)).toEqual([
      ["👍", 2, true],
      [":+1:", 1, true],
    ]);
    // A reaction changes nothing else about the message.
    expect({ ...reacted, reactions: [] }).toEqual(sent);

    // Every read path that counts reactions gives each viewer the same counts, and their own flag.
    expect(counts(await alice.getMessage(app.groupId, sent.messageId))).toEqual([
      ["👍", 2, false],
      [":+1:", 1, false],
    ]);
    expect((await bob.listMessages(app.groupId)).items.map(counts)).toEqual([
      [
        ["👍", 2, true],
        [":+1:", 1, false],
      ],
    ]);

    // 👍's oldest current use is now carol's, made after her ":+1:" (or tied with it, and ":" comes
    // first in code point order), so it moves behind it (RCT-5).
    const left = [
      [":+1:", 1, false],
      ["👍", 1, false],
    ];
    expect(counts(await bob.removeReaction(app.groupId, sent.messageId, "👍"))).toEqual(left);
    // Removing one this user does not have changes nothing and succeeds (RCT-3).
    expect(counts(await bob.removeReaction(app.groupId, sent.messageId, "👍"))).toEqual(left);
    expect(counts(await bob.removeReaction(app.groupId, sent.messageId, "🎉"))).toEqual(left);

    // One event per change, none for the requests that changed nothing (RCT-3, RCT-7).
    await settle(alice, app.groupId, [recorder]);
    expect(changes(recorder)).toEqual([
      ["bob", "👍", true, 1],
      ["carol", ":+1:", true, 1],
      ["carol", "👍", true, 2],
      ["bob", "👍", false, 1],
    ]);
    // No unread count and no last message from reactions (RCT-8): only the marker counts.
    const conversation = await bob.getConversation(app.groupId);
    expect(conversation.unreadCount).toBe(bobUnread + 1);
    expect(textOf(conversation.lastMessage!)).toBe("marker");
  });

  it("the order of counts follows each reaction's oldest current use; ties in code point order (RCT-5)", async () => {
    let clock = Date.now();
    const clocked = await startFixture({ now: () => clock });
    try {
      const app = await clocked.app({ users: ["alice", "bob", "carol"] });
      const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));
      const sent = await alice.sendMessage(createTextMessage("party"), { groupId: app.groupId });
      clock += 1_000;
      await bob.addReaction(app.groupId, sent.messageId, "👍");
      clock += 1_000;
      await carol.addReaction(app.groupId, sent.messageId, "👍");
      await alice.addReaction(app.groupId, sent.messageId, "🎉");
      expect(counts(await alice.getMessage(app.groupId, sent.messageId))).toEqual([
        ["👍", 2, false],
        ["🎉", 1, true],
      ]);
      // 👍's oldest use is now as old as 🎉's: code point order decides (U+1F389 before U+1F44D).
      await bob.removeReaction(app.groupId, sent.messageId, "👍");
      expect(counts(await alice.getMessage(app.groupId, sent.messageId))).toEqual([
        ["🎉", 1, true],
        ["👍", 1, false],
      ]);
    } finally {
      await clocked.close();
    }
  });

  it("20 distinct reactions at most: the 21st is REACTION_LIMIT_REACHED, one of the 20 is still allowed (RCT-4)", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));
    const sent = await alice.sendMessage(createTextMessage("vote"), { groupId: app.groupId });
    for (let i = 0; i < 20; i++) {
      await bob.addReaction(app.groupId, sent.messageId, `:r${i}:`);
    }
    const err = await rejection(() => carol.addReaction(app.groupId, sent.messageId, ":r20:"));
    expect(errorSummary(err)).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.REACTION_LIMIT_REACHED, field: "reaction" });
    expect((err as NarrowcastError).local).toBe(false);
    const joined = await carol.addReaction(app.groupId, sent.messageId, ":r7:");
    expect(joined.reactions).toHaveLength(20);
    expect(joined.reactions.find((r) => r.reaction === ":r7:")).toEqual({ reaction: ":r7:", count: 2, callerReacted: true });
  });
});

describe("who hears of a reaction (RCT-7, DRV-1)", () => {
  it("reactionChanged reaches the sender's devices and a targeted message's receiver, and no other member", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const devices = {
      alice1: await app.client("alice"),
      alice2: await app.client("alice"),
      bob: await app.client("bob"),
      carol: await app.client("carol"),
    };
    const recorders = Object.fromEntries(Object.entries(devices).map(([k, c]) => [k, new Recorder(c)]));
    await Promise.all(Object.values(devices).map((c) => c.connect()));

    const secret = await devices.alice1.sendMessage(createTargetedGroupMessage(createTextMessage("secret"), ["bob"]), {
      groupId: app.groupId,
    });
    const reacted = await devices.bob.addReaction(app.groupId, secret.messageId, "🤫");
    expect(reacted).toMatchObject({ receiverIds: ["bob"], reactions: [{ reaction: "🤫", count: 1, callerReacted: true }] });
    await settle(devices.alice1, app.groupId, Object.values(recorders));

    for (const name of ["alice1", "alice2", "bob"]) {
      const events = recorders[name].events.filter((e): e is ReactionChangedEvent => e.type === "reactionChanged");
      expect(events, name).toHaveLength(1);
      expect(events[0], name).toMatchObject({
        type: "reactionChanged",
        groupId: app.groupId,
        messageId: secret.messageId,
        seq: secret.seq,
        reaction: "🤫",
        userId: "bob",
        added: true,
        count: 1,
      });
      expect(events[0].cursor, name).not.toBe("");
      expect(events[0].time, name).toBeInstanceOf(Date);
      expect(recorders[name].events.map((e) => e.type).filter((t) => t !== "conversationChanged"), name).toEqual([
        "ready",
        "messageReceived",
        "reactionChanged",
        "messageReceived",
      ]);
    }
    expect(changes(recorders.carol)).toEqual([]);
    expect(recorders.carol.texts()).toEqual(["marker"]);

    // The handler form: on("reactionChanged") gets the same typed event.
    const handled: ReactionChangedEvent[] = [];
    devices.alice2.on("reactionChanged", (e) => handled.push(e));
    await devices.bob.removeReaction(app.groupId, secret.messageId, "🤫");
    await recorders.alice2.until((e) => e.type === "reactionChanged" && !e.added);
    expect(handled.map((e) => [e.type, e.userId, e.reaction, e.added, e.count])).toEqual([["reactionChanged", "bob", "🤫", false, 0]]);
  });

  it("a saved cursor replays the reactionChanged it missed", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const first = await app.client("bob");
    const recorder = new Recorder(first);
    await first.connect();
    const sent = await alice.sendMessage(createTextMessage("hi"), { groupId: app.groupId });
    await recorder.untilText("hi");
    const saved = first.cursor;
    await first.close();

    await alice.addReaction(app.groupId, sent.messageId, "👋");
    const second = await app.client("bob", { cursor: saved });
    const resumed = new Recorder(second);
    await second.connect();
    expect(await resumed.until((e) => e.type === "reactionChanged")).toMatchObject({
      messageId: sent.messageId,
      reaction: "👋",
      userId: "alice",
      added: true,
      count: 1,
    });
  });

  it("a recall removes every reaction and sends no reactionChanged; reacting afterwards is ALREADY_RECALLED (RCT-1, RCT-8)", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const bob = await app.client("bob");
    const recorder = new Recorder(bob);
    await bob.connect();
    const sent = await alice.sendMessage(createTextMessage("oops"), { groupId: app.groupId });
    await alice.addReaction(app.groupId, sent.messageId, "😬");
    await alice.recallMessage(app.groupId, sent.messageId);
    await settle(alice, app.groupId, [recorder]);
    expect(recorder.events.map((e) => e.type).filter((t) => t !== "conversationChanged")).toEqual([
      "ready",
      "messageReceived",
      "reactionChanged",
      "messageRecalled",
      "messageReceived",
    ]);

    expect((await bob.getMessage(app.groupId, sent.messageId)).reactions).toEqual([]);
    expect(await bob.listReactions(app.groupId, sent.messageId)).toEqual({ items: [], nextPageToken: "" });
    for (const call of [
      () => bob.addReaction(app.groupId, sent.messageId, "😬"),
      () => alice.removeReaction(app.groupId, sent.messageId, "😬"),
    ]) {
      expect(errorSummary(await rejection(call))).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.ALREADY_RECALLED });
    }
  });
});

describe("errors only the server can know", () => {
  it("a member outside a targeted message's audience gets exactly the not-found of a message that does not exist (DRV-1)", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const [alice, bob, carol] = await Promise.all(["alice", "bob", "carol"].map((u) => app.client(u)));
    const secret = await alice.sendMessage(createTextMessage("for bob"), { groupId: app.groupId, receiver: "bob" });
    await bob.addReaction(app.groupId, secret.messageId, "👀");

    const calls: [string, (messageId: string) => Promise<unknown>][] = [
      ["addReaction", (id) => carol.addReaction(app.groupId, id, "👀")],
      ["removeReaction", (id) => carol.removeReaction(app.groupId, id, "👀")],
      ["listReactions", (id) => carol.listReactions(app.groupId, id)],
    ];
    for (const [name, call] of calls) {
      const hidden = await rejection(() => call(secret.messageId));
      const missing = await rejection(() => call("no-such-message"));
      expect(errorSummary(hidden), name).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "message_id" });
      expect(errorSummary(hidden), name).toEqual(errorSummary(missing));
      expect((hidden as NarrowcastError).rawMessage, name).toBe((missing as NarrowcastError).rawMessage);
    }
    // Nothing changed: bob's reaction is the only one.
    expect(counts(await bob.getMessage(app.groupId, secret.messageId))).toEqual([["👀", 1, true]]);
  });

  it("a non-member: NOT_A_MEMBER; an unknown group: GROUP_NOT_FOUND", async () => {
    const app = await fx.app({ users: ["alice", "bob", "dave"] });
    const alice = await app.client("alice");
    const dave = await app.client("dave");
    const sent = await alice.sendMessage(createTextMessage("hi"), { groupId: app.groupId });
    await fx.admin.removeMembers(app.appId, app.groupId, ["dave"]);
    expect(await rejection(() => dave.addReaction(app.groupId, sent.messageId, "👋"))).toMatchObject({
      code: Code.PermissionDenied,
      reason: Reason.NOT_A_MEMBER,
    });
    expect(await rejection(() => alice.listReactions("no-such-group", sent.messageId))).toMatchObject({
      code: Code.NotFound,
      reason: Reason.GROUP_NOT_FOUND,
    });
  });
});

describe("listing reactions (RCT-6, PAG-1)", () => {
  let clock = Date.now();
  const start = clock;
  let clocked: Fixture;
  let listCalls = 0;
  // Counts ListReactions calls that reach the transport.
  const countLists: Interceptor = (next) => async (req) => {
    if (req.method.name === "ListReactions") {
      listCalls++;
    }
    return next(req);
  };
  let alice: NarrowcastClient;
  let groupId: string;
  let messageId: string;

  // Who reacted with what at which second. At second 2 three users react in the order below;
  // the listing orders them by (time, reaction in code point order, user ID) instead.
  const expected: [string, string, number][] = [
    ["👍", "bob", 1],
    ["🎉", "carol", 2],
    ["🎉", "dave", 2],
    ["👍", "alice", 2],
    ["👍", "erin", 3],
  ];

  beforeAll(async () => {
    clocked = await startFixture({ now: () => clock });
    const app = await clocked.app({ users: ["alice", "bob", "carol", "dave", "erin"] });
    const clients = Object.fromEntries(
      await Promise.all(["alice", "bob", "carol", "dave", "erin"].map(async (u) => [u, await app.client(u, { interceptors: [countLists] })] as const)),
    );
    alice = clients.alice;
    groupId = app.groupId;
    messageId = (await alice.sendMessage(createTextMessage("who's in?"), { groupId })).messageId;
    const adds: [string, string, number][] = [
      ["bob", "👍", 1],
      ["alice", "👍", 2],
      ["dave", "🎉", 2],
      ["carol", "🎉", 2],
      ["erin", "👍", 3],
    ];
    for (const [user, reaction, second] of adds) {
      clock = start + second * 1_000;
      await clients[user].addReaction(groupId, messageId, reaction);
    }
  });
  afterAll(async () => {
    await clocked?.close();
  });

  const rows = (items: { reaction: string; userId: string; createTime?: Date }[]) =>
    items.map((r) => [r.reaction, r.userId, ((r.createTime?.getTime() ?? 0) - start) / 1_000]);

  it("listReactions pages oldest first, by (create time, reaction, user ID), until the token is empty", async () => {
    const seen: (typeof expected)[number][] = [];
    let pageToken: string | undefined;
    let pages = 0;
    do {
      const page = await alice.listReactions(groupId, messageId, { pageSize: 2, pageToken });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...(rows(page.items) as typeof expected));
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken !== "");
    expect(seen).toEqual(expected);
    expect(pages).toBeGreaterThanOrEqual(3);
    // The server's default page holds them all.
    expect(rows((await alice.listReactions(groupId, messageId)).items)).toEqual(expected);
  });

  it("reactions() walks every page as the loop goes; the reaction filter keeps one reaction's users", async () => {
    const before = listCalls;
    const all = [];
    for await (const reaction of alice.reactions(groupId, messageId, { pageSize: 2 })) {
      all.push(reaction);
    }
    expect(rows(all)).toEqual(expected);
    expect(listCalls - before).toBeGreaterThanOrEqual(3);

    const thumbs = [];
    for await (const reaction of alice.reactions(groupId, messageId, { reaction: "👍", pageSize: 1 })) {
      thumbs.push(reaction);
    }
    expect(rows(thumbs)).toEqual(expected.filter(([r]) => r === "👍"));
    expect((await alice.listReactions(groupId, messageId, { reaction: "🙈" })).items).toEqual([]);
  });

  it("a page token is bound to its filter: reused with another reaction it is PAGE_TOKEN_INVALID (PAG-3)", async () => {
    const { nextPageToken } = await alice.listReactions(groupId, messageId, { reaction: "👍", pageSize: 1 });
    expect(nextPageToken).not.toBe("");
    const err = await rejection(() => alice.listReactions(groupId, messageId, { reaction: "🎉", pageToken: nextPageToken }));
    expect(errorSummary(err)).toMatchObject({ code: Code.InvalidArgument, reason: Reason.PAGE_TOKEN_INVALID, field: "page_token" });
  });
});

describe("the CLI's lines for reactions", () => {
  it("a message shows its reaction counts; a reactionChanged event and a listed reaction are one line each", () => {
    const time = new Date("2025-01-02T03:04:05.000Z");
    const message = {
      ...({} as Message),
      groupId: "g1",
      seq: 6,
      senderId: "alice",
      receiverIds: [],
      mentionedUserIds: [],
      elements: [{ element: { case: "text" as const, value: { text: "lunch?" } } }],
      reactions: [
        { reaction: "👍", count: 2, callerReacted: true },
        { reaction: ":+1:", count: 1, callerReacted: false },
      ],
    };
    expect(formatMessage(message)).toBe("g1 #6 alice: lunch? {👍 ×2 (you), :+1: ×1}");
    expect(formatMessage({ ...message, reactions: [] })).toBe("g1 #6 alice: lunch?");
    expect(formatReaction({ reaction: "👍", userId: "bob", createTime: time })).toBe("👍 bob 2025-01-02T03:04:05.000Z");
    const event = { type: "reactionChanged", groupId: "g1", messageId: "m6", seq: 6, reaction: "👍", userId: "bob", count: 1 } as const;
    expect(formatEvent({ ...event, added: true, cursor: "c", time, event: {} as never })).toBe("reaction     g1 #6 bob added 👍 (now ×1)");
    expect(formatEvent({ ...event, added: false, count: 0, cursor: "c", time, event: {} as never })).toBe(
      "reaction     g1 #6 bob removed 👍 (now ×0)",
    );
  });
});
