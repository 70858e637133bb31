// EditMessage through the SDK against a real server (rules EDT-1 to EDT-6, DRV-1): what an edit
// changes and keeps, who hears of it, the errors only the server can know, the edit window, and
// local rejections that match the server's. The server-free half is edit-request.test.ts.
import type { Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Code,
  NarrowcastError,
  Reason,
  createMessage,
  createTargetedGroupMessage,
  createTextAtMessage,
  createTextMessage,
  toEditMessageRequest,
} from "../src/index.js";
import type { EditContent, Message, MessageEditedEvent, NarrowcastClient } from "../src/index.js";
import { Recorder, errorSummary, rejection, startFixture, textOf } from "./helpers.js";
import type { Fixture } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

const utf8 = new TextEncoder();


/** Every field EDT-3 says an edit keeps. */
function kept(m: Message) {
  const { elements: _e, customData: _c, edit: _edit, ...rest } = m;
  return rest;
}

describe("editing a message", () => {
  it("the sender edits: new content and edit info, every other field kept, on every read path (EDT-3, EDT-5)", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const alice = await app.client("alice");
    const bob = await app.client("bob");
    const sent = await alice.sendMessage(createTextAtMessage("teh plan @bob", ["bob"]), {
      groupId: app.groupId,
      priority: "high",
    });
    expect(sent.edit).toBeUndefined();
    const unreadBefore = (await bob.getConversation(app.groupId)).unreadCount;

    const first = await alice.editMessage(app.groupId, sent.messageId, "the plan @bob");
    expect(textOf(first)).toBe("the plan @bob");
    expect(first.edit?.editCount).toBe(1);
    expect(first.edit?.editTime).toBeInstanceOf(Date);
    expect(first.edit!.editTime!.getTime()).toBeGreaterThanOrEqual(sent.serverTime!.getTime());
    expect(kept(first)).toEqual(kept(sent));
    expect(first).toMatchObject({ mentionedUserIds: ["bob"], seq: sent.seq, senderId: "alice" });

    // What bob reads everywhere is the edited message.
    expect(await bob.getMessage(app.groupId, sent.messageId)).toEqual(first);
    expect((await bob.listMessages(app.groupId)).items).toEqual([first]);
    const conversation = await bob.getConversation(app.groupId);
    expect(conversation.lastMessage).toEqual(first);
    // No unread count, mention flag or order changes (EDT-5).
    expect(conversation.unreadCount).toBe(unreadBefore);
    expect(conversation.mentionedMe).toBe(true);

    // A builder's draft with several elements and custom data; the count goes on.
    const second = await alice.editMessage(
      app.groupId,
      sent.messageId,
      createMessage([{ text: "the plan" }, { face: { index: 3 } }], { customData: utf8.encode("v2") }),
    );
    expect(second.elements.map((e) => e.element.case)).toEqual(["text", "face"]);
    expect(second.customData).toEqual(utf8.encode("v2"));
    expect(second.edit?.editCount).toBe(2);
    expect(kept(second)).toEqual(kept(sent));

    // The SDK's own elements can be edited in place; leaving customData out clears it.
    const third = await alice.editMessage(app.groupId, sent.messageId, { elements: [...second.elements, { text: "PS" }] });
    expect(third.elements.map((e) => e.element.case)).toEqual(["text", "face", "text"]);
    expect(third.customData).toEqual(new Uint8Array(0));
    expect(third.edit?.editCount).toBe(3);
    expect(await alice.getMessage(app.groupId, sent.messageId)).toEqual(third);
  });

  it("messageEdited reaches the sender's devices and a targeted message's receivers, and nobody else (EDT-4, DRV-1)", async () => {
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
    const edited = await devices.alice1.editMessage(app.groupId, secret.messageId, "edited secret");
    expect(edited).toMatchObject({ receiverIds: ["bob"], edit: { editCount: 1 } });
    // Events of one group arrive in order (EVT-8): once the marker is in, so is everything before it.
    await devices.alice1.sendMessage(createTextMessage("marker"), { groupId: app.groupId });
    await Promise.all(Object.values(recorders).map((r) => r.untilText("marker")));

    const editsOf = (name: string) =>
      recorders[name].events.filter((e): e is MessageEditedEvent => e.type === "messageEdited");
    for (const name of ["alice1", "alice2", "bob"]) {
      const edits = editsOf(name);
      expect(edits, name).toHaveLength(1);
      expect(edits[0].message, name).toEqual(edited);
      expect(edits[0].cursor, name).not.toBe("");
      expect(edits[0].time, name).toBeInstanceOf(Date);
      expect(recorders[name].events.map((e) => e.type).filter((t) => t !== "conversationChanged"), name).toEqual([
        "ready",
        "messageReceived",
        "messageEdited",
        "messageReceived",
      ]);
    }
    expect(editsOf("carol")).toEqual([]);
    expect(recorders.carol.texts()).toEqual(["marker"]);

    // The handler form: on("messageEdited") gets the same typed event.
    const handled: MessageEditedEvent[] = [];
    devices.bob.on("messageEdited", (e) => handled.push(e));
    await devices.alice2.editMessage(app.groupId, secret.messageId, "edited twice");
    await recorders.bob.until((e) => e.type === "messageEdited" && textOf(e.message) === "edited twice");
    expect(handled.map((e) => [e.type, textOf(e.message), e.message.edit?.editCount])).toEqual([["messageEdited", "edited twice", 2]]);
  });

  it("a saved cursor replays the messageEdited it missed", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const first = await app.client("bob");
    const recorder = new Recorder(first);
    await first.connect();
    const sent = await alice.sendMessage(createTextMessage("draft"), { groupId: app.groupId });
    await recorder.untilText("draft");
    const saved = first.cursor;
    await first.close();

    await alice.editMessage(app.groupId, sent.messageId, "final");
    const second = await app.client("bob", { cursor: saved });
    const resumed = new Recorder(second);
    await second.connect();
    const replayed = await resumed.until((e) => e.type === "messageEdited");
    expect(replayed).toMatchObject({ type: "messageEdited", message: { messageId: sent.messageId, edit: { editCount: 1 } } });
    expect(textOf((replayed as MessageEditedEvent).message)).toBe("final");
  });
});

describe("errors only the server can know", () => {
  it("another member who sees the message: PermissionDenied EDIT_NOT_ALLOWED, field message_id (EDT-1)", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const bob = await app.client("bob");
    const sent = await alice.sendMessage(createTextMessage("mine"), { groupId: app.groupId });
    const err = await rejection(() => bob.editMessage(app.groupId, sent.messageId, "yours now"));
    expect(err).toMatchObject({ code: Code.PermissionDenied, reason: Reason.EDIT_NOT_ALLOWED, field: "message_id", local: false });
    expect((err as NarrowcastError).is(Reason.EDIT_NOT_ALLOWED)).toBe(true);
    // Not even the owner may edit someone else's message, and nothing changed.
    const stored = await alice.getMessage(app.groupId, sent.messageId);
    expect(textOf(stored)).toBe("mine");
    expect(stored.edit).toBeUndefined();
  });

  it("a system message cannot be edited by users, not even the group owner (EDT-1)", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const system = await fx.admin.sendMessage(app.appId, createTextMessage("maintenance tonight"), { groupId: app.groupId });
    const err = await rejection(() => alice.editMessage(app.groupId, system.messageId, "no maintenance"));
    expect(err).toMatchObject({ code: Code.PermissionDenied, reason: Reason.EDIT_NOT_ALLOWED });
  });

  it("a member outside a targeted message's audience gets exactly the not-found of a message that does not exist (DRV-1)", async () => {
    const app = await fx.app({ users: ["alice", "bob", "carol"] });
    const alice = await app.client("alice");
    const carol = await app.client("carol");
    const secret = await alice.sendMessage(createTextMessage("for bob"), { groupId: app.groupId, receiver: "bob" });
    const hidden = await rejection(() => carol.editMessage(app.groupId, secret.messageId, "x"));
    const missing = await rejection(() => carol.editMessage(app.groupId, "no-such-message", "x"));
    expect(errorSummary(hidden)).toMatchObject({ code: Code.NotFound, reason: Reason.MESSAGE_NOT_FOUND, field: "message_id" });
    expect(errorSummary(hidden)).toEqual(errorSummary(missing));
    expect((hidden as NarrowcastError).rawMessage).toBe((missing as NarrowcastError).rawMessage);
  });

  it("a recalled message: FailedPrecondition ALREADY_RECALLED (EDT-2)", async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const sent = await alice.sendMessage(createTextMessage("oops"), { groupId: app.groupId });
    await alice.recallMessage(app.groupId, sent.messageId);
    const err = await rejection(() => alice.editMessage(app.groupId, sent.messageId, "fixed"));
    expect(err).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.ALREADY_RECALLED });
  });

  it("a non-member: NOT_A_MEMBER; an unknown group: GROUP_NOT_FOUND", async () => {
    const app = await fx.app({ users: ["alice", "bob", "dave"] });
    const alice = await app.client("alice");
    const dave = await app.client("dave");
    const sent = await alice.sendMessage(createTextMessage("hi"), { groupId: app.groupId });
    await fx.admin.removeMembers(app.appId, app.groupId, ["dave"]);
    expect(await rejection(() => dave.editMessage(app.groupId, sent.messageId, "x"))).toMatchObject({
      code: Code.PermissionDenied,
      reason: Reason.NOT_A_MEMBER,
    });
    expect(await rejection(() => alice.editMessage("no-such-group", sent.messageId, "x"))).toMatchObject({
      code: Code.NotFound,
      reason: Reason.GROUP_NOT_FOUND,
    });
  });
});

describe("the edit window (EDT-2)", () => {
  let clocked: Fixture;
  let offsetMs = 0;
  beforeAll(async () => {
    clocked = await startFixture({ now: () => Date.now() + offsetMs });
  });
  afterAll(async () => {
    await clocked?.close();
  });

  it("ServerInfo declares it (24 h on the reference server); past it the sender gets EDIT_WINDOW_EXPIRED", async () => {
    const app = await clocked.app({ users: ["alice", "bob"] });
    const alice = await app.client("alice");
    const info = await alice.getServerInfo();
    expect(info.editWindow).toEqual({ seconds: 86_400, nanos: 0 });
    const windowMs = info.editWindow!.seconds * 1000;

    const sent = await alice.sendMessage(createTextMessage("v1"), { groupId: app.groupId });
    offsetMs = windowMs - 60_000;
    const late = await app.client("alice"); // a token minted at the server's (moved) clock
    expect((await late.editMessage(app.groupId, sent.messageId, "v2")).edit?.editCount).toBe(1);

    offsetMs = windowMs + 60_000;
    const expiredClient = await app.client("alice");
    const err = await rejection(() => expiredClient.editMessage(app.groupId, sent.messageId, "v3"));
    expect(err).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.EDIT_WINDOW_EXPIRED });
    expect(textOf(await expiredClient.getMessage(app.groupId, sent.messageId))).toBe("v2");
  });
});

describe("local rejections are the server's", () => {
  let calls = 0;
  // Counts EditMessage calls that reach the transport.
  const countEdits: Interceptor = (next) => async (req) => {
    if (req.method.name === "EditMessage") {
      calls++;
    }
    return next(req);
  };

  const cases: { name: string; groupId?: string; messageId?: string; content: EditContent; reason: Reason; field: string }[] = [
    { name: "malformed group ID", groupId: "bad group!", content: "x", reason: Reason.FIELD_INVALID, field: "group_id" },
    { name: "missing message ID", messageId: "", content: "x", reason: Reason.FIELD_INVALID, field: "message_id" },
    { name: "no elements", content: { elements: [] }, reason: Reason.EMPTY_MESSAGE, field: "elements" },
    { name: "empty text", content: { elements: [{ text: "ok" }, { text: "" }] }, reason: Reason.INVALID_ELEMENT, field: "elements[1]" },
    { name: "larger than 12 KB", content: "x".repeat(12_300), reason: Reason.MESSAGE_TOO_LARGE, field: "elements" },
    { name: "custom data over the limit", content: { elements: [{ text: "x" }], customData: new Uint8Array(12_300) }, reason: Reason.MESSAGE_TOO_LARGE, field: "elements" },
    { name: "first check wins: missing message ID before no elements", messageId: "", content: { elements: [] }, reason: Reason.FIELD_INVALID, field: "message_id" },
  ];

  let alice: NarrowcastClient;
  let groupId: string;
  let messageId: string;
  beforeAll(async () => {
    const app = await fx.app({ users: ["alice", "bob"] });
    alice = await app.client("alice", { interceptors: [countEdits] });
    groupId = app.groupId;
    messageId = (await alice.sendMessage(createTextMessage("original"), { groupId })).messageId;
  });

  for (const c of cases) {
    it(`${c.name}: rejected locally, nothing sent, same error as the server`, async () => {
      const args = [c.groupId ?? groupId, c.messageId ?? messageId, c.content] as const;
      const before = calls;
      const local = await rejection(() => alice.editMessage(...args));
      expect(calls).toBe(before);
      expect((local as NarrowcastError).local).toBe(true);
      const expected = {
        code: Code.InvalidArgument,
        reason: c.reason,
        domain: "narrowcast",
        field: c.field,
        ids: [],
        violations: [{ field: c.field, reason: c.reason }],
      };
      expect(errorSummary(local)).toEqual(expected);
      const server = await rejection(() => alice.services.messages.editMessage(toEditMessageRequest(...args)));
      expect((server as NarrowcastError).local).toBe(false);
      expect(errorSummary(server)).toEqual(expected);
    });
  }

  it("a rejected edit changes nothing (EDT-6)", async () => {
    const stored = await alice.getMessage(groupId, messageId);
    expect(textOf(stored)).toBe("original");
    expect(stored.edit).toBeUndefined();
  });
});
