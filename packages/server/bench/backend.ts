// The bench's server backends, as serializable settings (a worker thread receives its workerData
// by structured clone, so it cannot be handed a store or bus instance: it builds them itself).
//   sqlite:   the file-backed SQLite store in a data directory, in-process bus (the default)
//   postgres: PostgresStore in a fresh schema of the test database + NatsBus with a subject prefix
//             of its own, so runs never see each other's data or events
// The parent creates the schema before the server starts and drops it after it stops.
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { ServerOptions } from "../src/index.js";

export const stores = ["sqlite", "postgres"] as const;
export type StoreKind = (typeof stores)[number];

export type Backend =
  | { store: "sqlite"; dataDir: string }
  | { store: "postgres"; connectionString: string; schema: string; pool: number; natsUrl: string; subject: string };

/** The test database (as the server's tests use it) and the local NATS server. */
export function postgresUrl(): string {
  return process.env.NARROWCAST_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
}
export function natsUrl(): string {
  return process.env.NARROWCAST_TEST_NATS_URL || "nats://127.0.0.1:4222";
}

/** A fresh PostgreSQL + NATS backend: creates its schema (drop it with `dropBackend`). */
export async function createPostgresBackend(pool: number): Promise<Backend> {
  const schema = `nc_bench_${randomBytes(6).toString("hex")}`;
  await sql(postgresUrl(), `CREATE SCHEMA ${schema}`);
  return { store: "postgres", connectionString: postgresUrl(), schema, pool, natsUrl: natsUrl(), subject: `narrowcast.bench.${schema}` };
}

/** Drops what `createPostgresBackend` made; nothing for SQLite (its directory is the env's). */
export async function dropBackend(backend: Backend): Promise<void> {
  if (backend.store === "postgres") await sql(backend.connectionString, `DROP SCHEMA IF EXISTS ${backend.schema} CASCADE`);
}

/** `base` plus the store and bus of `backend`, built in the calling thread. */
export async function withBackend(base: ServerOptions, backend: Backend): Promise<ServerOptions> {
  if (backend.store === "sqlite") return { ...base, dataDir: backend.dataDir };
  // Imported here so a SQLite run loads neither pg's store nor the NATS client.
  const [{ PostgresStore }, { NatsBus }] = await Promise.all([import("../src/store/postgres.js"), import("../src/bus/nats.js")]);
  const store = new PostgresStore({ connectionString: backend.connectionString, schema: backend.schema, max: backend.pool });
  const bus = await NatsBus.connect({ servers: backend.natsUrl, subject: backend.subject, name: "narrowcast-bench" });
  return { ...base, store, bus };
}

/** A one-line description for the output's header. */
export function describeBackend(backend: Backend): string {
  return backend.store === "sqlite"
    ? `SQLite file store (WAL) in ${backend.dataDir}, in-process bus`
    : `PostgreSQL store (schema ${backend.schema}, pool ${backend.pool}) at ${redact(backend.connectionString)} + NATS bus at ${backend.natsUrl} (subject ${backend.subject})`;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "<unparsable URL>";
  }
}

async function sql(connectionString: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
