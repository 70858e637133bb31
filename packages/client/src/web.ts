/**
 * @narrowcast/client for browsers: the same SDK as the Node.js entry point, over
 * connect-web (fetch). Protocols "connect" (default) and "grpc-web".
 */
import { createAdminClientWith } from "./admin.js";
import type { AdminClientOptions, NarrowcastAdminClient } from "./admin.js";
import { createClientWith } from "./client.js";
import type { ClientOptions, NarrowcastClient } from "./client.js";
import { createWebTransport } from "./transport-web.js";

export * from "./shared.js";
// App backends (section 16): webhook configuration types, and verifying and answering requests.
export { WebhookVerificationError, beforeSendAnswer, verifyWebhook } from "./webhooks.js";
export type { BeforeSendAnswer, VerifyWebhookOptions, WebhookDelivery, WebhookDeliveryType, WebhookHeaders } from "./webhooks.js";
export type { DeadLetter, Webhook, WebhookConfig } from "./model.js";
export type { WebhookTestResult } from "./admin.js";
export { WEBHOOK_EVENT_TYPE_NAMES } from "./names.js";
export type { BeforeSendFailureActionName, WebhookEventTypeName } from "./names.js";
export type { WebhookEvent } from "@narrowcast/gen/admin";

/** A user's client: builders, sendMessage, history, conversations, groups and live events. */
export function createClient(options: ClientOptions): NarrowcastClient {
  return createClientWith(createWebTransport, options);
}

/** An app backend's client of AdminService (keep the admin key out of browsers in production). */
export function createAdminClient(options: AdminClientOptions): NarrowcastAdminClient {
  return createAdminClientWith(createWebTransport, options);
}
