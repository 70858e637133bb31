// For app backends: check that a request to their endpoint came from the server (rule HOOK-4),
// read it as a WebhookEvent (rule HOOK-5), and answer a before-send call (rule HOOK-11).
// Runs in Node.js, browsers and edge runtimes alike: no Node.js modules here.
import { create, fromJsonString, isMessage, toJsonString } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { MessageElementSchema } from "@narrowcast/gen";
import type * as pb from "@narrowcast/gen";
import { BeforeSendAction, BeforeSendResponseSchema, WebhookEventSchema } from "@narrowcast/gen/admin";
import type { WebhookEvent } from "@narrowcast/gen/admin";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { createElement } from "./builders.js";
import type { ElementInit, MessageDraft } from "./builders.js";
import { toProto } from "./convert.js";
import type { MessageElement } from "./model.js";
import type { WebhookEventTypeName } from "./names.js";

/** Thrown by `verifyWebhook` for a request that is not a genuine, fresh WebhookEvent: answer it 400 or 401. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WebhookVerificationError";
  }
}

/** Every `WebhookEvent.type` of rule HOOK-5; later servers may add more. */
export type WebhookDeliveryType = WebhookEventTypeName | "message.before_send" | "webhook.test";

/** A verified request to an app's endpoint. */
export interface WebhookDelivery {
  /** The `webhook-id` header: the same on every attempt of one delivery, so de-duplicate by it (rule HOOK-7). */
  id: string;
  /** What happened, e.g. "message.sent"; a type this SDK does not know yet comes as it is. */
  type: WebhookDeliveryType | (string & {});
  /** When it happened (the event's time; for a before-send call or a test, the time of the call). */
  timestamp: Date;
  /** The app the event belongs to. */
  appId: string;
  /** The whole body as the generated message (int64 as bigint, timestamps as google.protobuf.Timestamp). */
  event: WebhookEvent;
}

/** A header bag as fetch (`Headers`) or Node.js (`IncomingHttpHeaders`) gives it. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export interface VerifyWebhookOptions {
  /** How far the `webhook-timestamp` may be from `now`, in seconds. Default 300 (rule HOOK-4). */
  toleranceSeconds?: number;
  /** The clock to check the timestamp against. Default: the current time. */
  now?: Date;
}

const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const bag = headers as Record<string, string | string[] | undefined>;
  const key = Object.keys(bag).find((k) => k.toLowerCase() === name);
  const value = key === undefined ? undefined : bag[key];
  // A repeated signature header is read as one list of signatures, as HTTP joins repeated headers.
  return Array.isArray(value) ? value.join(name === "webhook-signature" ? " " : ",") : value;
}

/** Equal strings, compared in time independent of where they differ. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) {
    return false;
  }
  let difference = 0;
  for (let i = 0; i < a.length; i++) {
    difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return difference === 0;
}

/**
 * Verifies a request to an app's endpoint as Standard Webhooks specifies (rule HOOK-4) and
 * returns it parsed. Pass the body exactly as received (the raw text or bytes, not re-serialised
 * JSON). Accepts the request when any of its signatures was made with `secret` — during a
 * rotation's grace period the server sends two — and when `webhook-timestamp` is within
 * `toleranceSeconds` of `now`. Throws WebhookVerificationError otherwise, or when the body is
 * not a WebhookEvent. Unknown fields and types are ignored, as the spec asks of receivers.
 */
export function verifyWebhook(
  secret: string,
  headers: WebhookHeaders,
  body: string | Uint8Array,
  options: VerifyWebhookOptions = {},
): WebhookDelivery {
  const id = header(headers, "webhook-id");
  const timestampHeader = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestampHeader || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d+$/.test(timestampHeader)) {
    throw new WebhookVerificationError("webhook-timestamp is not a Unix time in seconds");
  }
  const sentAt = new Date(Number(timestampHeader) * 1000);
  const nowMs = (options.now ?? new Date()).getTime();
  const toleranceMs = (options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS) * 1000;
  if (Math.abs(nowMs - sentAt.getTime()) > toleranceMs) {
    throw new WebhookVerificationError("webhook-timestamp is too far from the current time");
  }

  // The library's own verify() reads the clock and has a fixed tolerance; its signer is used
  // here so that `now` and `toleranceSeconds` apply, and the timestamp is checked above.
  const expected = signer(secret).sign(id, sentAt, body);
  if (!signatures.split(" ").some((signature) => constantTimeEqual(signature, expected))) {
    throw new WebhookVerificationError("no signature matches the secret");
  }

  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  let event: WebhookEvent;
  try {
    event = fromJsonString(WebhookEventSchema, text, { ignoreUnknownFields: true });
  } catch (e) {
    throw new WebhookVerificationError(`the body is not a WebhookEvent: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    id,
    type: event.type,
    timestamp: event.timestamp ? timestampDate(event.timestamp) : sentAt,
    appId: event.data?.appId ?? "",
    event,
  };
}

function signer(secret: string): StandardWebhook {
  try {
    return new StandardWebhook(secret);
  } catch {
    // The secret is the caller's configuration, not the request's: a programming error.
    throw new TypeError("the webhook secret is not a `whsec_…` secret as setWebhook or rotateWebhookSecret returned it");
  }
}

/**
 * A before-send decision (rule HOOK-11): send the message as it is, refuse it (the sender gets
 * MESSAGE_REJECTED with `reason`), or send it with new content. `elements` takes the forms of
 * `editMessage`: `createMessage`'s element form (`{ text: "…" }`), elements as the SDK returns
 * them (`message.elements`), or a draft from the builders (`createTextMessage("…")`), whose
 * elements are used. Only the content can change: receivers, mentions and flags stay as sent.
 */
export type BeforeSendAnswer =
  | { action: "allow" }
  | { action: "reject"; reason: string }
  | { action: "modify"; elements: readonly (ElementInit | MessageElement | pb.MessageElement)[] | MessageDraft };

function wireElement(element: ElementInit | MessageElement | pb.MessageElement): pb.MessageElement {
  if (isMessage(element, MessageElementSchema)) {
    return element;
  }
  return "element" in element ? toProto(MessageElementSchema, element) : createElement(element);
}

/** The body to answer a before-send call with (a BeforeSendResponse in proto3 JSON), with `content-type: application/json`. */
export function beforeSendAnswer(answer: BeforeSendAnswer): string {
  switch (answer.action) {
    case "allow":
      return toJsonString(BeforeSendResponseSchema, create(BeforeSendResponseSchema, { action: BeforeSendAction.ALLOW }));
    case "reject":
      return toJsonString(
        BeforeSendResponseSchema,
        create(BeforeSendResponseSchema, { action: BeforeSendAction.REJECT, reason: answer.reason }),
      );
    case "modify": {
      const elements: readonly (ElementInit | MessageElement | pb.MessageElement)[] =
        "receiverList" in answer.elements ? answer.elements.elements : answer.elements;
      return toJsonString(
        BeforeSendResponseSchema,
        create(BeforeSendResponseSchema, { action: BeforeSendAction.MODIFY, elements: elements.map(wireElement) }),
      );
    }
    default:
      throw new TypeError(`unknown before-send action "${(answer as { action: unknown }).action}": use allow, reject or modify`);
  }
}
