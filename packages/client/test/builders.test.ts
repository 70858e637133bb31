// Every builder and every send option, through a real server: what the builder makes is
// what the server stores and what the receivers see.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AT_ALL,
  MessagePriority,
  NarrowcastError,
  Reason,
  TYPES,
  createCustomMessage,
  createFaceMessage,
  createFileMessage,
  createImageMessage,
  createLocationMessage,
  createMessage,
  createTargetedGroupMessage,
  createTextAtMessage,
  createTextMessage,
  isTargeted,
  toSendMessageRequest,
} from "../src/index.js";
import type { MessageDraft, MessageElement, NarrowcastClient } from "../src/index.js";
import { rejection, startFixture } from "./helpers.js";
import type { Fixture, TestApp } from "./helpers.js";

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.close();
});

const utf8 = new TextEncoder();

/** A fresh app with alice (sender), bob and carol in group `groupId`. */
async function trio(): Promise<{ app: TestApp; alice: NarrowcastClient; bob: NarrowcastClient; carol: NarrowcastClient }> {
  const app = await fx.app({ users: ["alice", "bob", "carol"] });
  return { app, alice: await app.client("alice"), bob: await app.client("bob"), carol: await app.client("carol") };
}

/** Sends and reads the message back through GetMessage as the sender. */
async function roundTrip(client: NarrowcastClient, groupId: string, draft: MessageDraft) {
  const sent = await client.sendMessage(draft, { groupId });
  const stored = await client.getMessage(groupId, sent.messageId);
  expect(stored.elements).toEqual(sent.elements);
  return stored;
}

function only(elements: readonly MessageElement[]) {
  expect(elements).toHaveLength(1);
  return elements[0].element;
}

describe("builders", () => {
  let app: TestApp;
  let alice: NarrowcastClient;
  beforeAll(async () => {
    ({ app, alice } = await trio());
  });

  it("createTextMessage (native form) sends a text element with a generated client message ID", async () => {
    const sent = await alice.sendMessage(createTextMessage("hello"), { groupId: app.groupId });
    expect(only(sent.elements)).toMatchObject({ case: "text", value: { text: "hello" } });
    expect(sent.senderId).toBe("alice");
    expect(isTargeted(sent)).toBe(false);
    // int64 seq is a plain number on the SDK surface, timestamps are Dates.
    expect(typeof sent.seq).toBe("number");
    expect(sent.seq).toBeGreaterThan(0);
    expect(sent.serverTime).toBeInstanceOf(Date);
    expect(sent.clientMessageId).toMatch(/^[0-9a-f-]{36}$/);
    const history = await alice.listMessages(app.groupId);
    expect(history.items.map((m) => m.messageId)).toContain(sent.messageId);
  });

  it("createTextMessage (web form) uses `to` as the group and `receiverList` as receivers", async () => {
    const draft = createTextMessage({
      to: app.groupId,
      conversationType: TYPES.CONV_GROUP,
      payload: { text: "Hello world!" },
      receiverList: ["bob", "carol"],
    });
    const sent = await alice.sendMessage(draft);
    expect(sent.groupId).toBe(app.groupId);
    expect(isTargeted(sent)).toBe(true);
    expect(sent.receiverIds).toEqual(["bob", "carol"]);
    expect(only(sent.elements)).toMatchObject({ case: "text", value: { text: "Hello world!" } });
  });

  it("the web form rejects a conversation type other than GROUP, locally", () => {
    let thrown: unknown;
    try {
      createTextMessage({ to: "g", conversationType: "C2C", payload: { text: "x" } });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(NarrowcastError);
    expect(thrown).toMatchObject({ reason: Reason.FIELD_INVALID, domain: "narrowcast", field: "conversationType", local: true });
  });

  it("createCustomMessage: native (string data) and web (bytes) forms", async () => {
    const native = await roundTrip(alice, app.groupId, createCustomMessage('{"kind":"order"}', "an order", "ext"));
    expect(only(native.elements)).toMatchObject({
      case: "custom",
      value: { data: utf8.encode('{"kind":"order"}'), description: "an order", extension: "ext" },
    });
    const web = await roundTrip(
      alice,
      app.groupId,
      createCustomMessage({ to: app.groupId, payload: { data: new Uint8Array([1, 2, 3]), description: "bytes" } }),
    );
    expect(only(web.elements)).toMatchObject({ case: "custom", value: { data: new Uint8Array([1, 2, 3]), description: "bytes" } });
  });

  it("createImageMessage: native and web forms", async () => {
    const image = { url: "https://img.example/a.png", width: 640, height: 480, sizeBytes: 12345, thumbnailUrl: "https://img.example/t.png" };
    const native = await roundTrip(alice, app.groupId, createImageMessage(image));
    expect(only(native.elements)).toMatchObject({ case: "image", value: image });
    const web = await roundTrip(alice, app.groupId, createImageMessage({ to: app.groupId, payload: { url: "https://img.example/b.png" } }));
    expect(only(web.elements)).toMatchObject({ case: "image", value: { url: "https://img.example/b.png", width: 0 } });
  });

  it("createFileMessage: native and web forms", async () => {
    const native = await roundTrip(alice, app.groupId, createFileMessage({ url: "https://f.example/r.pdf", fileName: "r.pdf", sizeBytes: 99n }));
    expect(only(native.elements)).toMatchObject({ case: "file", value: { url: "https://f.example/r.pdf", fileName: "r.pdf", sizeBytes: 99 } });
    const web = await roundTrip(alice, app.groupId, createFileMessage({ to: app.groupId, payload: { url: "https://f.example/s.zip" } }));
    expect(only(web.elements)).toMatchObject({ case: "file", value: { url: "https://f.example/s.zip" } });
  });

  it("createLocationMessage: native and web forms", async () => {
    const place = { description: "Shenzhen", latitude: 22.54, longitude: 114.06 };
    const native = await roundTrip(alice, app.groupId, createLocationMessage(place));
    expect(only(native.elements)).toMatchObject({ case: "location", value: place });
    const web = await roundTrip(alice, app.groupId, createLocationMessage({ to: app.groupId, payload: { latitude: -1.5, longitude: 2.25 } }));
    expect(only(web.elements)).toMatchObject({ case: "location", value: { latitude: -1.5, longitude: 2.25 } });
  });

  it("createFaceMessage: (index, data), object and web forms", async () => {
    const positional = await roundTrip(alice, app.groupId, createFaceMessage(7, "set-a"));
    expect(only(positional.elements)).toMatchObject({ case: "face", value: { index: 7, data: utf8.encode("set-a") } });
    const object = await roundTrip(alice, app.groupId, createFaceMessage({ index: 3 }));
    expect(only(object.elements)).toMatchObject({ case: "face", value: { index: 3 } });
    const web = await roundTrip(alice, app.groupId, createFaceMessage({ to: app.groupId, payload: { index: 9 } }));
    expect(only(web.elements)).toMatchObject({ case: "face", value: { index: 9 } });
  });

  it("createMessage: several elements and custom data in one message", async () => {
    const draft = createMessage([{ text: "look" }, { image: { url: "https://img.example/c.png" } }, { face: { index: 1 } }], {
      customData: utf8.encode("app-data"),
    });
    const stored = await roundTrip(alice, app.groupId, draft);
    expect(stored.elements.map((e) => e.element.case)).toEqual(["text", "image", "face"]);
    expect(stored.customData).toEqual(utf8.encode("app-data"));
  });

  it("createTargetedGroupMessage returns a targeted copy and leaves the original alone", async () => {
    const original = createTextMessage("This is a targeted group message");
    const targeted = createTargetedGroupMessage(original, ["bob"]);
    expect(original.receiverList).toEqual([]);
    const sent = await alice.sendMessage(targeted, { groupId: app.groupId });
    expect(sent).toMatchObject({ receiverIds: ["bob"] });
    expect(isTargeted(sent)).toBe(true);
    const ordinary = await alice.sendMessage(original, { groupId: app.groupId });
    expect(ordinary).toMatchObject({ receiverIds: [] });
    expect(isTargeted(ordinary)).toBe(false);
  });

  it("createTextAtMessage: users and AT_ALL become mentioned_user_ids and mention_all", async () => {
    const native = await alice.sendMessage(createTextAtMessage("hi @bob @all", ["bob", AT_ALL]), { groupId: app.groupId });
    expect(native).toMatchObject({ mentionedUserIds: ["bob"], mentionAll: true });
    const web = await alice.sendMessage(
      createTextAtMessage({ to: app.groupId, payload: { text: "hi @carol", atUserList: ["carol"] } }),
    );
    expect(web).toMatchObject({ mentionedUserIds: ["carol"], mentionAll: false });
  });
});

describe("send options", () => {
  it("receiver: the single-receiver form is a targeted message with a receiver list of one", async () => {
    const { app, alice, carol } = await trio();
    const sent = await alice.sendMessage(createTextMessage("just bob"), { groupId: app.groupId, receiver: "bob" });
    expect(sent).toMatchObject({ receiverIds: ["bob"] });
    expect(isTargeted(sent)).toBe(true);
    // carol cannot see it on any read path.
    const err = await rejection(() => carol.getMessage(app.groupId, sent.messageId));
    expect(err).toMatchObject({ reason: Reason.MESSAGE_NOT_FOUND });
    expect((await carol.listMessages(app.groupId)).items).toEqual([]);
  });

  it("receiver: on the wire it is receiver_ids with one entry", () => {
    const request = toSendMessageRequest(createTextMessage("x"), { groupId: "g", receiver: "bob" });
    expect(request.receiverIds).toEqual(["bob"]);
  });

  it("receiver together with a receiver list is rejected locally", () => {
    let thrown: unknown;
    try {
      toSendMessageRequest(createTargetedGroupMessage(createTextMessage("x"), ["carol"]), { groupId: "g", receiver: "bob" });
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(NarrowcastError);
    expect(thrown).toMatchObject({ reason: Reason.FIELD_INVALID, field: "receiver_ids", local: true });
  });

  it("priority by name or enum value is stored unchanged; default stays unspecified", async () => {
    const { app, alice } = await trio();
    const high = await alice.sendMessage(createTextMessage("a"), { groupId: app.groupId, priority: "high" });
    const low = await alice.sendMessage(createTextMessage("b"), { groupId: app.groupId, priority: MessagePriority.LOW });
    const unset = await alice.sendMessage(createTextMessage("c"), { groupId: app.groupId, priority: TYPES.MSG_PRIORITY_DEFAULT });
    const stored = (await alice.listMessages(app.groupId)).items;
    expect([high, low, unset].map((m) => m.priority)).toEqual([MessagePriority.HIGH, MessagePriority.LOW, MessagePriority.UNSPECIFIED]);
    expect(stored.map((m) => m.priority)).toEqual([MessagePriority.HIGH, MessagePriority.LOW, MessagePriority.UNSPECIFIED]);
  });

  it("onlineUserOnly: delivered live, never stored (seq 0, no history)", async () => {
    const { app, alice, bob } = await trio();
    const received = bob.events();
    await bob.connect();
    const sent = await alice.sendMessage(createTextMessage("now or never"), { groupId: app.groupId, onlineUserOnly: true });
    expect(sent).toMatchObject({ onlineOnly: true, seq: 0 });
    for await (const event of received) {
      if (event.type === "messageReceived") {
        expect(event.message).toMatchObject({ messageId: sent.messageId, onlineOnly: true });
        expect(event.cursor).toBe("");
        break;
      }
    }
    expect((await bob.listMessages(app.groupId)).items).toEqual([]);
  });

  it("offlinePushInfo is stored and returned unchanged", async () => {
    const { app, alice } = await trio();
    const push = { title: "New order", description: "Order #1", extension: '{"id":1}' };
    const sent = await alice.sendMessage(createTextMessage("x"), { groupId: app.groupId, offlinePushInfo: push });
    expect(sent.offlinePushInfo).toMatchObject(push);
    expect((await alice.getMessage(app.groupId, sent.messageId)).offlinePushInfo).toMatchObject(push);
  });

  it("excludeFromUnread: not counted for anyone", async () => {
    const { app, alice, bob } = await trio();
    await alice.sendMessage(createTextMessage("counted"), { groupId: app.groupId });
    const sent = await alice.sendMessage(createTextMessage("quiet"), { groupId: app.groupId, excludeFromUnread: true });
    expect(sent.excludeFromUnread).toBe(true);
    expect((await bob.getConversation(app.groupId)).unreadCount).toBe(1);
  });

  it("excludeFromLastMessage: the conversation keeps the previous last message", async () => {
    const { app, alice, bob } = await trio();
    const first = await alice.sendMessage(createTextMessage("visible"), { groupId: app.groupId });
    await alice.sendMessage(createTextMessage("hidden"), { groupId: app.groupId, excludeFromLastMessage: true });
    expect((await bob.getConversation(app.groupId)).lastMessage?.messageId).toBe(first.messageId);
  });

  it("targeted messages are not unread by default; countAsUnreadForReceivers counts them for receivers only", async () => {
    const { app, alice, bob, carol } = await trio();
    await alice.sendMessage(createTargetedGroupMessage(createTextMessage("t1"), ["bob"]), { groupId: app.groupId });
    expect((await bob.getConversation(app.groupId)).unreadCount).toBe(0);
    const counted = await alice.sendMessage(createTargetedGroupMessage(createTextMessage("t2"), ["bob"]), {
      groupId: app.groupId,
      countAsUnreadForReceivers: true,
    });
    expect(counted.countAsUnreadForReceivers).toBe(true);
    expect((await bob.getConversation(app.groupId)).unreadCount).toBe(1);
    expect((await carol.getConversation(app.groupId)).unreadCount).toBe(0);
  });

  it("mentions option: adds @-mentions, and the mentioned member's conversation says so", async () => {
    const { app, alice, bob, carol } = await trio();
    const sent = await alice.sendMessage(createTextMessage("ping"), { groupId: app.groupId, mentions: ["bob"] });
    expect(sent.mentionedUserIds).toEqual(["bob"]);
    expect((await bob.getConversation(app.groupId)).mentionedMe).toBe(true);
    expect((await carol.getConversation(app.groupId)).mentionedMe).toBe(false);
    await alice.sendMessage(createTextMessage("all"), { groupId: app.groupId, mentions: [AT_ALL] });
    expect((await carol.getConversation(app.groupId)).mentionedAll).toBe(true);
  });

  it("clientMessageId: echoed back, and sending it again returns the original (MSG-10)", async () => {
    const { app, alice } = await trio();
    const first = await alice.sendMessage(createTextMessage("once"), { groupId: app.groupId, clientMessageId: "order-42" });
    const again = await alice.sendMessage(createTextMessage("once"), { groupId: app.groupId, clientMessageId: "order-42" });
    expect(first.clientMessageId).toBe("order-42");
    expect(again.messageId).toBe(first.messageId);
    expect(again.seq).toBe(first.seq);
    expect((await alice.listMessages(app.groupId)).items).toHaveLength(1);
  });

  it("the admin client sends system messages and targeted messages as a member", async () => {
    const { app, bob } = await trio();
    const system = await fx.admin.sendMessage(app.appId, createTextMessage("maintenance tonight"), { groupId: app.groupId });
    expect(system.senderId).toBe("");
    const asAlice = await fx.admin.sendMessage(app.appId, createTextMessage("for bob"), {
      groupId: app.groupId,
      senderId: "alice",
      receiver: "bob",
    });
    expect(asAlice).toMatchObject({ senderId: "alice", receiverIds: ["bob"] });
    expect((await bob.listMessages(app.groupId)).items.map((m) => m.messageId)).toEqual([system.messageId, asAlice.messageId]);
  });
});
