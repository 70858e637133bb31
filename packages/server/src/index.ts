// Public entry of the reference server package. It loads no storage or bus driver: the embedded
// SQLite store is imported when startServer() first needs it, and the backends are subpath exports
// (@narrowcast/server/sqlite, /postgres, /nats) so PostgreSQL and NATS stay optional peers.
export { startServer, type ServerOptions, type RunningServer } from "./server.js";
export type { Store, StoredEvent, Audience, AppendMessageInput, ConversationCounters, GroupLimits } from "./store/types.js";
export type { GroupLimitsOption } from "./group-limits.js";
export { SERVER_VERSION } from "./version.js";
export { StoreConflict } from "./store/types.js";
export type { Bus } from "./bus/types.js";
export { InProcessBus } from "./bus/memory.js";
export { mintUserToken } from "./auth.js";
export { narrowcastError } from "./errors.js";
