// `@narrowcast/server/sqlite`: the embedded SQLite store (better-sqlite3), for building a store
// yourself (e.g. to wrap it); startServer() without a `store` uses it already.
export { SqliteStore, type SqliteStoreOptions } from "./store/sqlite.js";
