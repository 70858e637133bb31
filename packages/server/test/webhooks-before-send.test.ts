// The before-send call (rules HOOK-10 to HOOK-12) against a real endpoint: the backend's ALLOW,
// REJECT and MODIFY, and every way a call can fail, under both failure actions.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason, MessageSchema, type MessageElement } from "@narrowcast/gen";
import { BeforeSendFailureAction } from "@narrowcast/gen/admin";
import { pino } from "pino";
import { Webhook } from "standardwebhooks";
import { narrowcastError } from "../src/errors.js";
import { askBeforeSend } from "../src/webhooks/before-send.js";
import { FakeWebhookStore, type WebhookConfigInit } from "./webhooks-fake-store.js";
import { detailsOf } from "./support.js";
import { AppBackendReceiver, type Answer } from "./app-backend-receiver.js";

const message = create(MessageSchema, {
  groupId: "g1",
  senderId: "alice",
  serverTime: timestampFromMs(Date.now()),
  elements: [{ element: { case: "text", value: { text: "original" } } }],
  receiverIds: ["bob"],
});

/** Stands in for MSG-3/4/6: a text "bad" is invalid content. */
function validateElements(elements: MessageElement[]): void {
  for (const [i, e] of elements.entries()) {
    if (e.element.case === "text" && e.element.value.text === "bad") {
      throw narrowcastError(ErrorReason.INVALID_ELEMENT, "bad text", { field: `elements[${i}]` });
    }
  }
}

let receiver: AppBackendReceiver;
beforeAll(async () => {
  receiver = await AppBackendReceiver.start();
});
afterAll(async () => {
  await receiver.close();
});

function json(value: unknown, status = 200): Answer {
  return { status, body: JSON.stringify(value), headers: { "content-type": "application/json" } };
}

function webhook(config: Omit<WebhookConfigInit, "url"> = {}) {
  return new FakeWebhookStore().setWebhook("app1", { url: receiver.url("/events"), beforeSendUrl: receiver.url("/before-send"), ...config });
}

async function ask(answer: Answer | (() => Answer), config: Omit<WebhookConfigInit, "url"> = {}) {
  receiver.respond(typeof answer === "function" ? answer : () => answer);
  return askBeforeSend(webhook(config), message, ["bob", "alice"], { nowMs: Date.now(), validateElements });
}

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

function expectUnavailable(err: ConnectError): void {
  expect(err.code).toBe(Code.Unavailable);
  const d = detailsOf(err);
  expect(d.reason).toBe("APP_BACKEND_UNAVAILABLE");
  expect(d.retryInfo).toHaveLength(1);
}

const REJECT_ON_FAILURE = { beforeSendFailureAction: BeforeSendFailureAction.REJECT };

describe("askBeforeSend", () => {
  it("sends a signed message.before_send with the message and its audience to before_send_url", async () => {
    const record = webhook();
    receiver.respond(() => json({ action: "BEFORE_SEND_ACTION_ALLOW" }));
    const before = receiver.requests.length;
    expect(await askBeforeSend(record, message, ["bob", "alice"], { nowMs: Date.now(), validateElements })).toBeUndefined();
    const request = receiver.requests[before];
    expect(request.path).toBe("/before-send");
    expect(request.headers["webhook-id"]).toMatch(/^msg_/);
    const sent = new Webhook(record.secret).verify(request.body, request.headers as Record<string, string>);
    expect(sent).toMatchObject({
      type: "message.before_send",
      data: { appId: "app1", beforeSend: { message: { senderId: "alice", receiverIds: ["bob"] }, audienceUserIds: ["bob", "alice"] } },
    });
  });

  it("calls nothing without a before_send_url", async () => {
    const before = receiver.requests.length;
    const record = new FakeWebhookStore().setWebhook("app1", { url: receiver.url() });
    expect(await askBeforeSend(record, message, [], { nowMs: Date.now(), validateElements })).toBeUndefined();
    expect(receiver.requests.length).toBe(before);
  });

  it("ALLOW sends the message as it is; unknown fields are ignored", async () => {
    expect(await ask(json({ action: "BEFORE_SEND_ACTION_ALLOW", later: 1 }))).toBeUndefined();
  });

  it("REJECT fails with MESSAGE_REJECTED and the backend's reason, cut to 256 characters", async () => {
    const err = await rejection(ask(json({ action: "BEFORE_SEND_ACTION_REJECT", reason: "no swearing" }), REJECT_ON_FAILURE));
    expect(err.code).toBe(Code.PermissionDenied);
    expect(detailsOf(err).reason).toBe("MESSAGE_REJECTED");
    expect(err.rawMessage).toBe("no swearing");

    const long = await rejection(ask(json({ action: "BEFORE_SEND_ACTION_REJECT", reason: "é".repeat(300) })));
    expect(long.rawMessage).toBe("é".repeat(256));

    const empty = await rejection(ask(json({ action: "BEFORE_SEND_ACTION_REJECT" })));
    expect(detailsOf(empty).reason).toBe("MESSAGE_REJECTED");
    expect(empty.rawMessage).not.toBe("");
  });

  it("MODIFY returns the replacement elements", async () => {
    const elements = await ask(json({ action: "BEFORE_SEND_ACTION_MODIFY", elements: [{ text: { text: "rewritten" } }, { text: { text: "and more" } }] }));
    expect(elements?.map((e) => (e.element.case === "text" ? e.element.value.text : e.element.case))).toEqual(["rewritten", "and more"]);
  });

  describe.each([
    ["ALLOW", BeforeSendFailureAction.ALLOW],
    ["UNSPECIFIED (as ALLOW)", BeforeSendFailureAction.UNSPECIFIED],
  ])("a failed call with failure action %s sends the message unchanged", (_name, beforeSendFailureAction) => {
    it.each<[string, () => Answer]>([
      ["non-2xx", () => json({ action: "BEFORE_SEND_ACTION_REJECT", reason: "x" }, 503)],
      ["garbage JSON", () => ({ status: 200, body: "<html>not json" })],
      ["not a BeforeSendResponse", () => json({ action: 17.5 })],
      ["UNSPECIFIED action", () => json({ reason: "no action" })],
      ["MODIFY with invalid content", () => json({ action: "BEFORE_SEND_ACTION_MODIFY", elements: [{ text: { text: "bad" } }] })],
      ["MODIFY with no content", () => json({ action: "BEFORE_SEND_ACTION_MODIFY" })],
      ["a redirect", () => ({ status: 302, headers: { location: "/elsewhere" } })],
    ])("%s", async (_case, answer) => {
      expect(await ask(answer, { beforeSendFailureAction })).toBeUndefined();
    });
  });

  describe("a failed call with failure action REJECT fails with APP_BACKEND_UNAVAILABLE", () => {
    it.each<[string, () => Answer]>([
      ["non-2xx", () => json({ action: "BEFORE_SEND_ACTION_ALLOW" }, 500)],
      ["garbage JSON", () => ({ status: 200, body: "{{{" })],
      ["UNSPECIFIED action", () => json({ action: "BEFORE_SEND_ACTION_UNSPECIFIED" })],
      ["MODIFY with invalid content", () => json({ action: "BEFORE_SEND_ACTION_MODIFY", elements: [{ text: { text: "ok" } }, { text: { text: "bad" } }] })],
    ])("%s", async (_case, answer) => {
      expectUnavailable(await rejection(ask(answer, REJECT_ON_FAILURE)));
    });
  });

  it("a backend that does not answer within before_send_timeout fails the call: ALLOW sends, REJECT rejects", async () => {
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    try {
      const silent = (): Answer => ({ status: 200, body: JSON.stringify({ action: "BEFORE_SEND_ACTION_REJECT" }), hold });
      const beforeSendTimeout = durationFromMs(150);
      expect(await ask(silent, { beforeSendTimeout, beforeSendFailureAction: BeforeSendFailureAction.ALLOW })).toBeUndefined();
      const err = await rejection(ask(silent, { beforeSendTimeout, ...REJECT_ON_FAILURE }));
      expectUnavailable(err);
      // What went wrong is logged, not told to the sender.
      expect(err.rawMessage).not.toContain("127.0.0.1");
      expect(err.rawMessage).not.toContain("timeout");
    } finally {
      release();
    }
  });

  it("a failed call is logged at warn, with what went wrong", async () => {
    const lines: Array<{ level: number; why?: string }> = [];
    const log = pino({ level: "trace" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    receiver.respond(() => json({}, 503));
    expect(await askBeforeSend(webhook(), message, [], { nowMs: Date.now(), validateElements, log })).toBeUndefined();
    expect(lines.map((l) => [l.level, l.why])).toEqual([[40, "HTTP 503"]]);
  });

  it("an unreachable backend fails the call", async () => {
    const gone = await AppBackendReceiver.start();
    const url = gone.url();
    await gone.close();
    const record = new FakeWebhookStore().setWebhook("app1", { url, beforeSendUrl: url, ...REJECT_ON_FAILURE });
    expectUnavailable(await rejection(askBeforeSend(record, message, [], { nowMs: Date.now(), validateElements })));
  });
});
