// Public entry of the reference server package.
export { startServer, type ServerOptions, type RunningServer } from "./server.js";
export type { Store, StoredEvent, Audience, AppendMessageInput, ConversationCounters, GroupLimits } from "./store/types.js";
export type { GroupLimitsOption } from "./group-limits.js";
export { SERVER_VERSION } from "./version.js";
export { StoreConflict } from "./store/types.js";
export { SqliteStore } from "./store/sqlite.js";
export { PostgresStore, type PostgresStoreOptions } from "./store/postgres.js";
export type { Bus } from "./bus/types.js";
export { InProcessBus } from "./bus/memory.js";
export { NatsBus, type NatsBusOptions } from "./bus/nats.js";
export { mintUserToken } from "./auth.js";
export { narrowcastError } from "./errors.js";
