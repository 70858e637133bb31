// verifyWebhook and beforeSendAnswer without a server: requests signed with the standardwebhooks
// library itself (rule HOOK-4), bodies in the proto3 JSON of WebhookEvent (rule HOOK-5).
import { create, fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { BeforeSendAction, BeforeSendResponseSchema, WebhookEventSchema } from "@narrowcast/gen/admin";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import {
  Code,
  NarrowcastError,
  WebhookVerificationError,
  beforeSendAnswer,
  createTextMessage,
  verifyWebhook,
} from "../src/index.js";
import * as web from "../src/web.js";
import { isTransient, withRetries } from "../src/retry.js";

const newSecret = () => "whsec_" + Buffer.from(globalThis.crypto.getRandomValues(new Uint8Array(32))).toString("base64");

const eventTime = new Date("2026-12-04T10:00:00.000Z");
const body = toJsonString(
  WebhookEventSchema,
  create(WebhookEventSchema, {
    type: "message.sent",
    timestamp: timestampFromDate(eventTime),
    data: { appId: "app_1", receiverIds: ["bob"] },
  }),
);

/** The three headers of a request signed with each of `secrets` at `at`, as the server sends them. */
function signed(secrets: string[], payload: string = body, at = new Date(), id = "msg_1"): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": secrets.map((s) => new StandardWebhook(s).sign(id, at, payload)).join(" "),
  };
}

function verificationError(fn: () => unknown): WebhookVerificationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(WebhookVerificationError);
    return e as WebhookVerificationError;
  }
  throw new Error("expected a WebhookVerificationError");
}

describe("verifyWebhook", () => {
  it("verifies a signed body and parses it as a WebhookEvent", () => {
    const secret = newSecret();
    const delivery = verifyWebhook(secret, signed([secret]), body);
    expect(delivery).toMatchObject({ id: "msg_1", type: "message.sent", timestamp: eventTime, appId: "app_1" });
    expect(delivery.event.data?.receiverIds).toEqual(["bob"]);
  });

  it("takes fetch Headers, Node.js header records in any case, and the body as bytes", () => {
    const secret = newSecret();
    const headers = signed([secret]);
    expect(verifyWebhook(secret, new Headers(headers), body).id).toBe("msg_1");
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(verifyWebhook(secret, upper, new TextEncoder().encode(body)).type).toBe("message.sent");
    // Node.js gives a repeated header as an array.
    const [first, second] = [newSecret(), secret];
    const both = signed([first, second]);
    const split = { ...both, "webhook-signature": both["webhook-signature"]!.split(" ") };
    expect(verifyWebhook(secret, split, body).id).toBe("msg_1");
  });

  it("ignores fields it does not know, as later servers add them", () => {
    const secret = newSecret();
    const newer = JSON.stringify({ ...JSON.parse(body), futureField: { x: 1 }, data: { appId: "app_1", later: true } });
    const delivery = verifyWebhook(secret, signed([secret], newer), newer);
    expect(delivery).toMatchObject({ type: "message.sent", appId: "app_1" });
  });

  it("refuses a tampered body, another secret's signature and a signature for another id", () => {
    const secret = newSecret();
    verificationError(() => verifyWebhook(secret, signed([secret]), body.replace("bob", "eve")));
    verificationError(() => verifyWebhook(secret, signed([newSecret()]), body));
    const headers = { ...signed([secret]), "webhook-id": "msg_2" };
    verificationError(() => verifyWebhook(secret, headers, body));
    verificationError(() => verifyWebhook(secret, { ...signed([secret]), "webhook-signature": "v1,AAAA" }, body));
  });

  it("refuses a request without any one of the three headers", () => {
    const secret = newSecret();
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const headers: Record<string, string | undefined> = { ...signed([secret]) };
      delete headers[name];
      verificationError(() => verifyWebhook(secret, headers, body));
      verificationError(() => verifyWebhook(secret, { ...signed([secret]), [name]: "" }, body));
    }
    verificationError(() => verifyWebhook(secret, {}, body));
  });

  it("refuses timestamps more than 5 minutes off, and takes the clock and the tolerance as options", () => {
    const secret = newSecret();
    const now = new Date();
    const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
    verificationError(() => verifyWebhook(secret, signed([secret], body, at(-301)), body));
    verificationError(() => verifyWebhook(secret, signed([secret], body, at(301)), body));
    expect(verifyWebhook(secret, signed([secret], body, at(-299)), body).id).toBe("msg_1");
    expect(verifyWebhook(secret, signed([secret], body, at(299)), body).id).toBe("msg_1");

    const old = signed([secret], body, new Date("2026-01-01T00:00:00Z"));
    verificationError(() => verifyWebhook(secret, old, body));
    expect(verifyWebhook(secret, old, body, { now: new Date("2026-01-01T00:04:00Z") }).id).toBe("msg_1");
    verificationError(() => verifyWebhook(secret, old, body, { now: new Date("2026-01-01T00:04:00Z"), toleranceSeconds: 60 }));
    verificationError(() => verifyWebhook(secret, { ...signed([secret]), "webhook-timestamp": "soon" }, body));
  });

  it("accepts two signatures (a rotation's grace period) when either is the secret's", () => {
    const [newer, older] = [newSecret(), newSecret()];
    const headers = signed([newer, older]);
    expect(verifyWebhook(newer, headers, body).id).toBe("msg_1");
    expect(verifyWebhook(older, headers, body).id).toBe("msg_1");
    verificationError(() => verifyWebhook(newSecret(), headers, body));
  });

  it("refuses a signed body that is not a WebhookEvent; a malformed secret is a TypeError", () => {
    const secret = newSecret();
    verificationError(() => verifyWebhook(secret, signed([secret], "not json"), "not json"));
    const wrongShape = JSON.stringify({ type: 7 });
    verificationError(() => verifyWebhook(secret, signed([secret], wrongShape), wrongShape));
    expect(() => verifyWebhook("", signed([secret]), body)).toThrow(TypeError);
  });

  it("is exported by the browser entry point too", () => {
    const secret = newSecret();
    expect(web.verifyWebhook(secret, signed([secret]), body).id).toBe("msg_1");
    expect(web.WebhookVerificationError).toBe(WebhookVerificationError);
    expect(web.beforeSendAnswer).toBe(beforeSendAnswer);
  });
});

describe("beforeSendAnswer", () => {
  const parse = (json: string) => fromJsonString(BeforeSendResponseSchema, json);

  it("answers allow and reject in the proto3 JSON of BeforeSendResponse", () => {
    expect(JSON.parse(beforeSendAnswer({ action: "allow" }))).toEqual({ action: "BEFORE_SEND_ACTION_ALLOW" });
    expect(JSON.parse(beforeSendAnswer({ action: "reject", reason: "no spam" }))).toEqual({
      action: "BEFORE_SEND_ACTION_REJECT",
      reason: "no spam",
    });
  });

  it("answers modify with elements in any of the SDK's forms", () => {
    const fromInit = parse(beforeSendAnswer({ action: "modify", elements: [{ text: "clean" }, { custom: { data: "d" } }] }));
    expect(fromInit.action).toBe(BeforeSendAction.MODIFY);
    expect(fromInit.elements.map((e) => e.element.case)).toEqual(["text", "custom"]);
    expect(fromInit.elements[0]?.element.value).toMatchObject({ text: "clean" });

    const fromDraft = parse(beforeSendAnswer({ action: "modify", elements: createTextMessage("drafted") }));
    expect(fromDraft.elements[0]?.element).toMatchObject({ case: "text", value: { text: "drafted" } });

    const sdkElement = { element: { case: "text" as const, value: { text: "as received" } } };
    const fromSdk = parse(beforeSendAnswer({ action: "modify", elements: [sdkElement] }));
    expect(fromSdk.elements[0]?.element).toMatchObject({ case: "text", value: { text: "as received" } });
  });

  it("refuses an unknown action", () => {
    expect(() => beforeSendAnswer({ action: "maybe" } as never)).toThrow(TypeError);
  });
});

describe("retries of sends and app backends", () => {
  const error = (reason: string, code: Code, retryDelayMs?: number) =>
    new NarrowcastError({ code, reason, domain: "narrowcast", retryDelayMs });

  it("retries APP_BACKEND_UNAVAILABLE like BACKEND_UNAVAILABLE, never MESSAGE_REJECTED", async () => {
    expect(isTransient(error("APP_BACKEND_UNAVAILABLE", Code.Unavailable, 1000))).toBe(true);
    expect(isTransient(error("APP_BACKEND_UNAVAILABLE", Code.Unavailable))).toBe(true);
    expect(isTransient(error("MESSAGE_REJECTED", Code.PermissionDenied))).toBe(false);
    // Not even if a server attached a RetryInfo to it.
    expect(isTransient(error("MESSAGE_REJECTED", Code.PermissionDenied, 10))).toBe(false);

    let rejected = 0;
    const rejection = await withRetries(async () => {
      rejected++;
      throw error("MESSAGE_REJECTED", Code.PermissionDenied);
    }, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 }).catch((e: unknown) => e);
    expect(rejection).toMatchObject({ reason: "MESSAGE_REJECTED" });
    expect(rejected).toBe(1);

    let unavailable = 0;
    await withRetries(async () => {
      if (++unavailable < 3) {
        throw error("APP_BACKEND_UNAVAILABLE", Code.Unavailable);
      }
    }, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 });
    expect(unavailable).toBe(3);
  });

  it("lists the webhook reasons", () => {
    for (const reason of ["WEBHOOK_NOT_FOUND", "MESSAGE_REJECTED", "APP_BACKEND_UNAVAILABLE", "DEAD_LETTER_NOT_FOUND"]) {
      expect(web.isKnownReason(reason)).toBe(true);
      expect((web.Reason as Record<string, string>)[reason]).toBe(reason);
    }
  });
});
