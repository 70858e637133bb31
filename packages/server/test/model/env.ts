// The servers under test: `sqlite` = one in-process node on the embedded store (":memory:");
// `pg2` / `pg3` = two / three in-process nodes sharing one PostgreSQL schema and one NATS subject.
// All run on a
// clock the model drives (recall window, edit window, idempotency window), and with a send rate
// high enough that the rate limit (MSG-5, not modelled; edits and reaction changes draw on it
// too, EDT-5, RCT-3) never refuses a send, an edit or a reaction.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { connect as connectNats } from "nats";
import { startServer, type RunningServer, type Store } from "@narrowcast/server";
import { NatsBus } from "@narrowcast/server/nats";
import { PostgresStore } from "@narrowcast/server/postgres";
import { EDIT_WINDOW_SECONDS } from "./model.js";

export type ConfigName = "sqlite" | "pg2" | "pg3";

export const CONFIGS: readonly ConfigName[] = ["sqlite", "pg2", "pg3"];

export interface Env {
  config: ConfigName;
  nodes: RunningServer[];
  /** Moves the servers' clock (ms since the run's start). */
  setClock(ms: number): void;
  close(): Promise<void>;
}

export function postgresUrl(): string {
  return process.env.NARROWCAST_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
}

export function natsUrl(): string {
  return process.env.NARROWCAST_TEST_NATS_URL || "nats://127.0.0.1:4222";
}

/** Whether PostgreSQL and NATS both answer (pg2 needs both). */
export async function pg2Available(): Promise<boolean> {
  const client = new pg.Client({ connectionString: postgresUrl(), connectionTimeoutMillis: 2000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
  } catch {
    return false;
  } finally {
    void client.end().catch(() => {});
  }
  try {
    const nc = await connectNats({ servers: natsUrl(), timeout: 2000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

async function adminQuery(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: postgresUrl() });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const COMMON = { port: 0, logLevel: "silent", rateLimitPerSecond: 1_000_000, recallWindowSeconds: 120, editWindowSeconds: EDIT_WINDOW_SECONDS } as const;

/** `wrapStore`: the server's test hook, to prove the model catches a deliberately broken store. */
export async function startEnv(config: ConfigName, wrapStore?: (store: Store) => Store): Promise<Env> {
  const base = Date.now();
  let offset = 0;
  const now = () => base + offset;
  const setClock = (ms: number) => {
    offset = ms;
  };
  const adminKey = `model-${randomBytes(12).toString("hex")}`;
  if (config === "sqlite") {
    const node = await startServer({ ...COMMON, adminKey, now, dataDir: ":memory:", wrapStore });
    return { config, nodes: [node], setClock, close: () => node.close() };
  }
  const schema = `nc_model_${randomBytes(6).toString("hex")}`;
  const subject = `narrowcast.model.${schema}`;
  await adminQuery(`CREATE SCHEMA ${schema}`);
  const nodes: RunningServer[] = [];
  try {
    const count = config === "pg3" ? 3 : 2;
    for (let i = 0; i < count; i++) {
      nodes.push(
        await startServer({
          ...COMMON,
          adminKey,
          now,
          rateLimitNodes: count,
          wrapStore,
          store: new PostgresStore({ connectionString: postgresUrl(), schema }),
          bus: await NatsBus.connect({ servers: natsUrl(), subject }),
        }),
      );
    }
  } catch (err) {
    for (const n of nodes) await n.close();
    await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    throw err;
  }
  return {
    config,
    nodes,
    setClock,
    close: async () => {
      for (const n of nodes) await n.close();
      await adminQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}
