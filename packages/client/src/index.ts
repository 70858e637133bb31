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

/** A user's client: builders, sendMessage, history, conversations, groups and live events. */
export function createClient(options: ClientOptions): NarrowcastClient {
  return createClientWith(createNodeTransport, options);
}

/** An app backend's client of AdminService, authenticated with the admin key. */
export function createAdminClient(options: AdminClientOptions): NarrowcastAdminClient {
  return createAdminClientWith(createNodeTransport, options);
}
