// Child process of the mutant runner: starts the reference server from a scratch copy of its
// source (`--src`), on SQLite (one node) or on PostgreSQL + NATS (two nodes), with the settings the
// conformance self tests use, prints one JSON line {urls, adminKey}, and runs until SIGTERM.
//   node --import tsx test/mutants/serve.ts --src .mutants/x/src --backend sqlite|postgres
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { selfTestOptions } from "../../conformance/test/self-options.js";

const { values } = parseArgs({ options: { src: { type: "string" }, backend: { type: "string", default: "sqlite" } } });
const src = values.src!;
const load = (file: string) => import(pathToFileURL(`${src}/${file}`).href);
const databaseUrl = process.env.NARROWCAST_TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/test";
const natsUrl = process.env.NARROWCAST_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

async function sql(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

const { startServer } = await load("index.ts");
const adminKey = randomBytes(16).toString("hex");
const nodes: { url: string; close(): Promise<void> }[] = [];
let cleanup = async () => {};

if (values.backend === "postgres") {
  const { PostgresStore } = await load("postgres.ts");
  const { NatsBus } = await load("nats.ts");
  const schema = `nc_mutant_${randomBytes(6).toString("hex")}`;
  await sql(`CREATE SCHEMA ${schema}`);
  cleanup = () => sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  for (let i = 0; i < 2; i++) {
    nodes.push(
      await startServer({
        port: 0,
        ...selfTestOptions,
        adminKey,
        rateLimitNodes: 2,
        store: new PostgresStore({ connectionString: databaseUrl, schema }),
        bus: await NatsBus.connect({ servers: natsUrl, subject: `narrowcast.mutant.${schema}` }),
      }),
    );
  }
} else {
  nodes.push(await startServer({ port: 0, ...selfTestOptions, adminKey }));
}

process.stdout.write(`${JSON.stringify({ urls: nodes.map((n) => n.url), adminKey })}\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  const timer = setTimeout(() => process.exit(0), 5_000);
  for (const node of nodes) await node.close().catch(() => {});
  await cleanup().catch(() => {});
  clearTimeout(timer);
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
