// The JSON bodies of webhook requests (rule HOOK-5): a WebhookEvent in the proto3 JSON mapping,
// with the event's cursor emptied, a targeted message's receivers, and the push and before-send
// payloads.
import { describe, expect, it } from "vitest";
import { create, fromJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema, MessagePriority, MessageSchema } from "@narrowcast/gen";
import { WebhookEventSchema } from "@narrowcast/gen/admin";
import { beforeSendBody, eventBody, eventType, pushBody, testBody } from "../src/webhooks/payloads.js";

const T = 1_700_000_000_123;

function message(init: MessageInitShape<typeof MessageSchema> = {}) {
  return create(MessageSchema, {
    groupId: "g1",
    seq: 42n,
    messageId: "m1",
    senderId: "alice",
    serverTime: timestampFromMs(T),
    elements: [{ element: { case: "text", value: { text: "hi" } } }],
    priority: MessagePriority.HIGH,
    ...init,
  });
}

function event(payload: MessageInitShape<typeof EventSchema>["payload"]) {
  return create(EventSchema, { cursor: "opaque-cursor", time: timestampFromMs(T), payload });
}

describe("eventType", () => {
  it("names the five delivered event kinds and no other", () => {
    expect(eventType(event({ case: "messageReceived", value: { message: message() } }))).toBe("message.sent");
    expect(eventType(event({ case: "messageRecalled", value: { groupId: "g1", messageId: "m1" } }))).toBe("message.recalled");
    expect(eventType(event({ case: "memberJoined", value: { groupId: "g1", member: { userId: "bob" } } }))).toBe("member.joined");
    expect(eventType(event({ case: "memberLeft", value: { groupId: "g1", userId: "bob" } }))).toBe("member.left");
    expect(eventType(event({ case: "groupDismissed", value: { groupId: "g1" } }))).toBe("group.dismissed");
    expect(eventType(event({ case: "messageEdited", value: { message: message() } }))).toBeUndefined();
    expect(eventType(event({ case: "conversationUpdated", value: {} }))).toBeUndefined();
    expect(eventType(event({ case: undefined }))).toBeUndefined();
  });
});

describe("bodies", () => {
  it("an event delivery carries the event without its cursor, and the receivers, in proto3 JSON", () => {
    const e = event({ case: "messageReceived", value: { message: message({ receiverIds: ["bob", "carol"] }) } });
    const text = eventBody("app1", e, ["bob", "carol"]);
    const json = JSON.parse(text);
    expect(json).toEqual({
      type: "message.sent",
      timestamp: "2023-11-14T22:13:20.123Z",
      data: {
        appId: "app1",
        event: {
          time: "2023-11-14T22:13:20.123Z",
          messageReceived: {
            message: {
              groupId: "g1",
              seq: "42",
              messageId: "m1",
              senderId: "alice",
              serverTime: "2023-11-14T22:13:20.123Z",
              elements: [{ text: { text: "hi" } }],
              receiverIds: ["bob", "carol"],
              priority: "MESSAGE_PRIORITY_HIGH",
            },
          },
        },
        receiverIds: ["bob", "carol"],
      },
    });
    expect(e.cursor).toBe("opaque-cursor");
    // It parses back as a WebhookEvent.
    expect(fromJsonString(WebhookEventSchema, text).data?.event?.payload.case).toBe("messageReceived");
  });

  it("an event with no webhook type has no body", () => {
    expect(() => eventBody("app1", event({ case: "conversationUpdated", value: {} }), [])).toThrow();
  });

  it("a push request names the user, the message and whether it is targeted", () => {
    const m = message({ receiverIds: ["bob"], offlinePushInfo: { title: "New", description: "hi" } });
    expect(JSON.parse(pushBody("app1", m, "bob", T + 5000))).toEqual({
      type: "push.requested",
      timestamp: "2023-11-14T22:13:20.123Z",
      data: {
        appId: "app1",
        push: {
          userId: "bob",
          groupId: "g1",
          messageId: "m1",
          seq: "42",
          senderId: "alice",
          offlinePushInfo: { title: "New", description: "hi" },
          targeted: true,
        },
      },
    });
    expect(JSON.parse(pushBody("app1", message(), "carol", T)).data.push).not.toHaveProperty("targeted");
  });

  it("a before-send call carries the message and its audience at the call's time", () => {
    const m = message({ messageId: "", seq: 0n });
    expect(JSON.parse(beforeSendBody("app1", m, ["bob", "alice"], T + 1000))).toEqual({
      type: "message.before_send",
      timestamp: "2023-11-14T22:13:21.123Z",
      data: {
        appId: "app1",
        beforeSend: {
          message: {
            groupId: "g1",
            senderId: "alice",
            serverTime: "2023-11-14T22:13:20.123Z",
            elements: [{ text: { text: "hi" } }],
            priority: "MESSAGE_PRIORITY_HIGH",
          },
          audienceUserIds: ["bob", "alice"],
        },
      },
    });
  });

  it("a test carries nothing but the app", () => {
    expect(JSON.parse(testBody("app1", T))).toEqual({ type: "webhook.test", timestamp: "2023-11-14T22:13:20.123Z", data: { appId: "app1" } });
  });
});
