// The Standard Webhooks headers of one request to an app's endpoint (rules HOOK-3, HOOK-4).
import { Webhook } from "standardwebhooks";
import type { WebhookRecord } from "../store/webhooks.js";

/**
 * The headers of one attempt: `webhook-id` is the delivery's ID (the same on every attempt),
 * `webhook-timestamp` the attempt's time; during a rotation's grace period the body is signed
 * with both secrets, the current one first, so a backend still holding the old one verifies.
 */
export function signedHeaders(webhook: WebhookRecord, deliveryId: string, body: string, nowMs: number): Record<string, string> {
  const at = new Date(nowMs);
  const signatures = [new Webhook(webhook.secret).sign(deliveryId, at, body)];
  if (webhook.previousSecret && webhook.previousSecretExpiresAt !== undefined && webhook.previousSecretExpiresAt > nowMs) {
    signatures.push(new Webhook(webhook.previousSecret).sign(deliveryId, at, body));
  }
  return {
    "content-type": "application/json",
    "webhook-id": deliveryId,
    "webhook-timestamp": String(Math.floor(nowMs / 1000)),
    "webhook-signature": signatures.join(" "),
  };
}
