// `@narrowcast/server/postgres`: the PostgreSQL store for several nodes. Needs the optional peer
// dependency `pg` (npm install pg); the package's root entry never loads it.
export { PostgresStore, type PostgresStoreOptions } from "./store/postgres.js";
