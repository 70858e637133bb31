// Shorthands shared by the HOOK case modules: configuring an app's webhook at the suite's
// receiver, checking signatures, picking requests by what they carry, and bounding waits by the
// server's retry settings.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { WebhookEventType, type Webhook, type WebhookEvent, type WebhookSchema } from "@narrowcast/gen/admin";
import type { Message } from "@narrowcast/gen";
import { check, fail } from "../check.js";
import type { CaseContext } from "../fixtures.js";
import { retriesBoundMs } from "../settings.js";
import { sleep } from "../subscription.js";
import { describeRequest, eventType, signatureProblem, webhookId, type Endpoint, type ReceivedRequest } from "../webhook-receiver.js";

export type WebhookInit = MessageInitShape<typeof WebhookSchema>;

/** Every event type that delivers committed events (HOOK-6), without push requests. */
export const eventTypes = [
  WebhookEventType.MESSAGE_SENT,
  WebhookEventType.MESSAGE_RECALLED,
  WebhookEventType.MEMBER_JOINED,
  WebhookEventType.MEMBER_LEFT,
  WebhookEventType.GROUP_DISMISSED,
];

/**
 * How long a wait for a delivery may take: the suite's timeout, plus every retry a delivery of
 * `attempts` attempts may wait (HOOK-8), so a slow retry schedule fails no case.
 */
export function deliveryWaitMs(ctx: CaseContext, attempts = 1): number {
  return 2 * ctx.wait.timeoutMs + retriesBoundMs(ctx.webhooks, attempts);
}

/**
 * How long "nothing else arrives" checks listen after their fence: deliveries are not ordered
 * (HOOK-7), so a fence delivery proves less than a fence event on a stream; 1 s (or the negative
 * wait, when longer) gives a forbidden delivery made with the fence's the time to arrive.
 */
export function deliverySettle(ctx: CaseContext): Promise<void> {
  return sleep(Math.max(1000, ctx.wait.negativeWaitMs));
}

/** Sets the app's webhook (SetWebhook) and returns the configuration as applied. */
export async function setWebhook(ctx: CaseContext, appId: string, webhook: WebhookInit): Promise<Webhook> {
  const res = await ctx.admin.setWebhook({ appId, webhook });
  check(res.webhook, "SetWebhook returned no webhook");
  return res.webhook;
}

/**
 * Sets a webhook on a fresh configuration and returns it with its signing secret, which the
 * app's first SetWebhook returns (HOOK-1).
 */
export async function firstWebhook(ctx: CaseContext, appId: string, webhook: WebhookInit): Promise<{ webhook: Webhook; secret: string }> {
  const applied = await setWebhook(ctx, appId, webhook);
  check(/^whsec_[A-Za-z0-9+/]{43}=$/.test(applied.secret), "the app's first SetWebhook returned no valid secret", "whsec_ and the base64 of 32 bytes", JSON.stringify(applied.secret));
  return { webhook: applied, secret: applied.secret };
}

/**
 * Checks what HOOK-4 asks of every request to an app's endpoints: a POST with content-type
 * application/json, a webhook-id, and a Standard Webhooks signature made with the secret.
 */
export function expectSigned(requests: readonly ReceivedRequest[], secret: string): void {
  for (const r of requests) {
    check(r.method === "POST", `a request to the ${r.endpoint} endpoint is not a POST`, "POST", `${r.method}: ${describeRequest(r)}`);
    const type = (r.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    check(type === "application/json", `a request to the ${r.endpoint} endpoint is not application/json`, "content-type: application/json", `${JSON.stringify(r.headers["content-type"])}: ${describeRequest(r)}`);
    check(webhookId(r) !== "", `a request to the ${r.endpoint} endpoint has no webhook-id`, "a webhook-id header", describeRequest(r));
    const problem = signatureProblem(r, secret);
    if (problem !== undefined) fail(`a request to the ${r.endpoint} endpoint does not verify with the app's secret (standardwebhooks): ${problem}`, "a valid v1 signature and a timestamp within 5 minutes", `${JSON.stringify(r.headers["webhook-signature"])} at ${JSON.stringify(r.headers["webhook-timestamp"])}: ${describeRequest(r)}`);
    check(r.event, `a request to the ${r.endpoint} endpoint is not a WebhookEvent in the proto3 JSON mapping: ${r.parseError}`, "a WebhookEvent", describeRequest(r));
  }
}

/** The event a request carries (data.event), or fails. */
export function dataOf(r: ReceivedRequest): NonNullable<WebhookEvent["data"]> {
  const data = r.event?.data;
  check(data, `a ${eventType(r) || "request"} without data`, "data", describeRequest(r));
  return data;
}

/** The message of a message.sent delivery, or undefined. */
export function sentMessage(r: ReceivedRequest): Message | undefined {
  const payload = r.event?.data?.event?.payload;
  return eventType(r) === "message.sent" && payload?.case === "messageReceived" ? payload.value.message : undefined;
}

/** Matches the message.sent deliveries of a message. */
export function isSentOf(messageId: string): (r: ReceivedRequest) => boolean {
  return (r) => sentMessage(r)?.messageId === messageId;
}

/** Matches push.requested for a message (and, when given, one user). */
export function isPushOf(messageId: string, userId?: string): (r: ReceivedRequest) => boolean {
  return (r) => eventType(r) === "push.requested" && r.event?.data?.push?.messageId === messageId && (userId === undefined || r.event.data.push.userId === userId);
}

/** The users of the push requests an endpoint got for a message (each webhook-id once), sorted. */
export function pushedUsers(endpoint: Endpoint, messageId: string): string[] {
  const seen = new Set<string>();
  return endpoint.requests
    .filter((r) => isPushOf(messageId)(r) && !seen.has(webhookId(r)) && (seen.add(webhookId(r)), true))
    .map((r) => r.event!.data!.push!.userId)
    .sort();
}

/** Waits until the endpoint got push requests for a message for exactly these users (or more). */
export async function waitForPushes(endpoint: Endpoint, messageId: string, users: readonly string[], what: string): Promise<void> {
  const want = [...users].sort();
  await endpoint.until(`push.requested of ${what} for ${want.join(", ")}`, () => (want.every((u) => pushedUsers(endpoint, messageId).includes(u)) ? true : undefined));
}

/** Fails when any request of the endpoint contains the text (a marker of something that must not be delivered). */
export function expectNoRequestMentioning(endpoint: Endpoint, text: string, why: string): void {
  const leaked = endpoint.requests.find((r) => r.body.includes(text));
  check(!leaked, `the ${endpoint.label} endpoint got a request for ${why}`, "no such request", describeRequest(leaked));
}

/** Fails unless the endpoint got exactly these event types (each webhook-id counted once), in any order. */
export function expectTypes(endpoint: Endpoint, expected: readonly string[], what: string): void {
  const seen = new Set<string>();
  const got = endpoint.requests
    .filter((r) => !seen.has(webhookId(r)) && (seen.add(webhookId(r)), true))
    .map(eventType)
    .sort();
  const want = [...expected].sort();
  check(JSON.stringify(got) === JSON.stringify(want), `${what}: the ${endpoint.label} endpoint got other requests than expected`, want.join(", ") || "none", endpoint.describeRequests());
}
