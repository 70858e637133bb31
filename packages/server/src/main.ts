// `npm start`: runs the reference server on its embedded SQLite store, or, with --database-url
// and --nats-url, as one node of several sharing PostgreSQL and NATS.
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { startServer } from "./server.js";
import { parseMaxGroupMembers } from "./group-limits.js";
import { NatsBus } from "./bus/nats.js";
import { PostgresStore } from "./store/postgres.js";

const program = new Command()
  .name("narrowcast-server")
  .description("Narrowcast reference server: Connect, gRPC and gRPC-Web on one port")
  .addOption(new Option("--host <host>", "interface to listen on").env("NARROWCAST_HOST").default("127.0.0.1"))
  .addOption(new Option("--port <port>", "port to listen on").env("NARROWCAST_PORT").default("8080").argParser((v) => Number(v)))
  .addOption(
    new Option("--data-dir <dir>", 'SQLite data directory, or ":memory:"').env("NARROWCAST_DATA_DIR").default("./data"),
  )
  .addOption(new Option("--admin-key <key>", "AdminService key (default: generated into the data directory)").env("NARROWCAST_ADMIN_KEY"))
  .addOption(
    new Option("--recall-window <seconds>", "sender's recall window").env("NARROWCAST_RECALL_WINDOW").default("120").argParser(Number),
  )
  .addOption(
    new Option("--event-retention <seconds>", "how long stored events stay replayable from a cursor (rule EVT-10)")
      .env("NARROWCAST_EVENT_RETENTION")
      .default("604800")
      .argParser(Number),
  )
  .addOption(
    new Option("--max-group-members <TYPE=N,...>", "member limits per group type, e.g. WORK=2000,PUBLIC=5000 (rule GRP-13)")
      .env("NARROWCAST_MAX_GROUP_MEMBERS")
      .argParser((text) => {
        try {
          return parseMaxGroupMembers(text);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      }),
  )
  .addOption(
    new Option("--rate-limit-nodes <n>", "nodes of the deployment, each enforcing the per-group send rate (rule MSG-5)")
      .env("NARROWCAST_RATE_LIMIT_NODES")
      .default("1")
      .argParser(Number),
  )
  .addOption(new Option("--log-level <level>", "pino log level").env("NARROWCAST_LOG_LEVEL").default("info"))
  .addOption(
    new Option("--database-url <url>", "PostgreSQL for several nodes (default: the embedded SQLite store in --data-dir)").env(
      "NARROWCAST_DATABASE_URL",
    ),
  )
  .addOption(new Option("--database-schema <name>", "PostgreSQL schema for the tables").env("NARROWCAST_DATABASE_SCHEMA"))
  .addOption(
    new Option("--nats-url <url>", "NATS server for fan-out across nodes (default: in-process, one node)").env("NARROWCAST_NATS_URL"),
  )
  .addOption(new Option("--nats-subject <subject>", "NATS subject the nodes share").env("NARROWCAST_NATS_SUBJECT").default("narrowcast.events"))
  .parse();

const opts = program.opts();
const logger = pino({ level: opts.logLevel, base: { service: "narrowcast" } });
const bus = opts.natsUrl ? await NatsBus.connect({ servers: opts.natsUrl, subject: opts.natsSubject }) : undefined;
if (opts.databaseUrl && !opts.adminKey) {
  // Nodes sharing a database must share the admin key; a generated one would differ per node.
  program.error("--database-url needs --admin-key (or NARROWCAST_ADMIN_KEY): every node must use the same key");
}
const store = opts.databaseUrl
  ? new PostgresStore({ connectionString: opts.databaseUrl, schema: opts.databaseSchema })
  : undefined;
const server = await startServer({
  bus,
  store,
  host: opts.host,
  port: opts.port,
  dataDir: opts.dataDir,
  adminKey: opts.adminKey,
  recallWindowSeconds: opts.recallWindow,
  eventRetentionSeconds: Number(opts.eventRetention),
  groupLimits: opts.maxGroupMembers,
  rateLimitNodes: Number(opts.rateLimitNodes),
  logger,
});

const keyHelp = opts.adminKey
  ? "admin key: from NARROWCAST_ADMIN_KEY / --admin-key"
  : server.adminKeyFile
    ? `admin key: cat ${server.adminKeyFile}`
    : `admin key: ${server.adminKey}`;
process.stdout.write(`Narrowcast listening on ${server.url}\n${keyHelp}\n`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    server.close().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
