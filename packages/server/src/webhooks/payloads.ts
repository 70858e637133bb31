// The JSON bodies of requests to an app's endpoints: a WebhookEvent in the proto3 JSON mapping
// (rule HOOK-5: lowerCamelCase names, enums by name, 64-bit integers as strings).
import { clone, create, toJsonString, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import { EventSchema, type Event, type Message } from "@narrowcast/gen";
import { WebhookEventSchema } from "@narrowcast/gen/admin";

type DataInit = MessageInitShape<typeof WebhookEventSchema>["data"];

function body(type: string, timestamp: Timestamp | undefined, data: DataInit): string {
  return toJsonString(WebhookEventSchema, create(WebhookEventSchema, { type, timestamp, data }));
}

/** The WebhookEvent type of a logged event, or undefined for events no webhook carries (HOOK-6). */
export function eventType(event: Event): string | undefined {
  switch (event.payload.case) {
    case "messageReceived":
      return "message.sent";
    case "messageRecalled":
      return "message.recalled";
    case "memberJoined":
      return "member.joined";
    case "memberLeft":
      return "member.left";
    case "groupDismissed":
      return "group.dismissed";
    default:
      return undefined;
  }
}

/**
 * An event delivery: the event as a stream carries it but with an empty cursor (a cursor is a
 * subscriber's own position, meaningless to the backend), and a targeted message's receivers.
 */
export function eventBody(appId: string, event: Event, receiverIds: readonly string[]): string {
  const type = eventType(event);
  if (type === undefined) throw new Error(`event ${event.payload.case ?? "(none)"} has no webhook type`);
  const carried = clone(EventSchema, event);
  carried.cursor = "";
  return body(type, event.time, { appId, event: carried, receiverIds: [...receiverIds] });
}

/** A push request for one offline user (HOOK-13); its time is the message's, as it happened then. */
export function pushBody(appId: string, message: Message, userId: string, nowMs: number): string {
  const push = {
    userId,
    groupId: message.groupId,
    messageId: message.messageId,
    seq: message.seq,
    senderId: message.senderId,
    offlinePushInfo: message.offlinePushInfo,
    targeted: message.receiverIds.length > 0,
  };
  return body("push.requested", message.serverTime ?? timestampFromMs(nowMs), { appId, push });
}

/** A before-send call (HOOK-10): the message as it would be stored, and a targeted message's audience. */
export function beforeSendBody(appId: string, message: Message, audienceUserIds: readonly string[], nowMs: number): string {
  return body("message.before_send", timestampFromMs(nowMs), {
    appId,
    beforeSend: { message, audienceUserIds: [...audienceUserIds] },
  });
}

/** TestWebhook's request (HOOK-14): nothing but the app's ID. */
export function testBody(appId: string, nowMs: number): string {
  return body("webhook.test", timestampFromMs(nowMs), { appId });
}
