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

/** A user's client: builders, sendMessage, history, conversations, groups and live events. */
export function createClient(options: ClientOptions): NarrowcastClient {
  return createClientWith(createWebTransport, options);
}

/** An app backend's client of AdminService (keep the admin key out of browsers in production). */
export function createAdminClient(options: AdminClientOptions): NarrowcastAdminClient {
  return createAdminClientWith(createWebTransport, options);
}
