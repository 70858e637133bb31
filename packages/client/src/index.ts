/**
 * @narrowcast/client for Node.js: the high-level Narrowcast SDK over connect-node
 * (Connect, gRPC or gRPC-Web, HTTP/2 by default). Browsers import "@narrowcast/client/web".
 */
import { createAdminClientWith } from "./admin.js";
import type { AdminClientOptions, NarrowcastAdminClient } from "./admin.js";
import { createClientWith } from "./client.js";
import type { ClientOptions, NarrowcastClient } from "./client.js";
import { createNodeTransport } from "./transport-node.js";

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
  return createClientWith(createNodeTransport, options);
}

/** An app backend's client of AdminService, authenticated with the admin key. */
export function createAdminClient(options: AdminClientOptions): NarrowcastAdminClient {
  return createAdminClientWith(createNodeTransport, options);
}
