// `npm start`: runs the reference server on its embedded SQLite store, or, with --database-url
// and --nats-url, as one node of several sharing PostgreSQL and NATS.
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { startServer } from "./server.js";
import { DEFAULT_SUBSCRIBER_BUFFER_BYTES } from "./subscription.js";
import { parseMaxGroupMembers } from "./group-limits.js";
import { parseCorsOrigins } from "./http/cors.js";

function positiveIntegerArg(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("expected a positive integer");
  return n;
}

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
    new Option("--edit-window <seconds>", "sender's edit window (rule EDT-2)").env("NARROWCAST_EDIT_WINDOW").default("86400").argParser(Number),
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
    new Option("--rate-limit <n>", "sends accepted per second per group on each node, with a burst of as many (rule MSG-5)")
      .env("NARROWCAST_RATE_LIMIT")
      .default(40)
      .argParser(positiveIntegerArg),
  )
  .addOption(
    new Option("--subscriber-buffer-bytes <bytes>", "bytes of events (binary encoding) a Subscribe stream may have queued before it is ended with SLOW_CONSUMER (rule EVT-6)")
      .env("NARROWCAST_SUBSCRIBER_BUFFER_BYTES")
      .default(DEFAULT_SUBSCRIBER_BUFFER_BYTES)
      .argParser(positiveIntegerArg),
  )
  .addOption(
    new Option("--rate-limit-nodes <n>", "nodes of the deployment, each enforcing the per-group send rate (rule MSG-5)")
      .env("NARROWCAST_RATE_LIMIT_NODES")
      .default("1")
      .argParser(Number),
  )
  // Connection limits and timeouts (issue 12); the defaults are the server's own (src/http/limits.ts).
  .addOption(new Option("--first-byte-timeout <seconds>", "close a new connection that sends nothing for this long").env("NARROWCAST_FIRST_BYTE_TIMEOUT").default("10"))
  .addOption(
    new Option("--headers-timeout <seconds>", "close a connection whose request headers (HTTP/2: first stream) are not complete this long after its first byte")
      .env("NARROWCAST_HEADERS_TIMEOUT")
      .default("10"),
  )
  .addOption(new Option("--idle-timeout <seconds>", "close a connection with no request or stream open for this long").env("NARROWCAST_IDLE_TIMEOUT").default("65"))
  .addOption(new Option("--max-connections <n>", "connections open at once; more are closed on accept").env("NARROWCAST_MAX_CONNECTIONS").default("10000"))
  .addOption(new Option("--max-concurrent-streams <n>", "HTTP/2 streams open at once per connection").env("NARROWCAST_MAX_CONCURRENT_STREAMS").default("100"))
  .addOption(new Option("--max-header-bytes <n>", "request header size limit").env("NARROWCAST_MAX_HEADER_BYTES").default("16384"))
  .addOption(
    new Option("--max-resets-per-second <n>", "HTTP/2 stream resets a client may send per second on one connection before GOAWAY")
      .env("NARROWCAST_MAX_RESETS_PER_SECOND")
      .default("200"),
  )
  .addOption(
    new Option("--drain-timeout <seconds>", "on SIGTERM/SIGINT, how long in-flight requests may take to finish").env("NARROWCAST_DRAIN_TIMEOUT").default("10"),
  )
  .addOption(
    new Option("--cors-origins <origins>", 'origins whose web pages may call the server, comma-separated, or "*" for any (default: none)')
      .env("NARROWCAST_CORS_ORIGINS")
      .argParser((text) => {
        try {
          return parseCorsOrigins(text);
        } catch (err) {
          throw new InvalidArgumentError((err as Error).message);
        }
      }),
  )
  .addOption(
    new Option("--webhook-retry-base-ms <ms>", "first delay before retrying a failed webhook delivery; each retry doubles it (rule HOOK-8)")
      .env("NARROWCAST_WEBHOOK_RETRY_BASE_MS")
      .default("1000"),
  )
  .addOption(
    new Option("--webhook-retry-cap-ms <ms>", "longest delay between webhook delivery attempts (rule HOOK-8)").env("NARROWCAST_WEBHOOK_RETRY_CAP_MS").default("600000"),
  )
  .addOption(
    new Option("--webhook-max-attempts <n>", "attempts of a webhook delivery before it becomes a dead letter (rule HOOK-8)")
      .env("NARROWCAST_WEBHOOK_MAX_ATTEMPTS")
      .default("10"),
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
  .addOption(new Option("--nats-subject <prefix>", "NATS subject prefix the nodes of one deployment share").env("NARROWCAST_NATS_SUBJECT").default("narrowcast"))
  .parse();

const opts = program.opts();
const logger = pino({ level: opts.logLevel, base: { service: "narrowcast" } });

/**
 * Imports a backend only when its flag is given: `pg` and `nats` are optional peer dependencies,
 * so a missing driver gets a command to run instead of a stack trace.
 */
async function loadBackend<T>(flag: string, driver: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ERR_MODULE_NOT_FOUND" && e.message.includes(`'${driver}'`)) {
      program.error(`${flag} needs the optional dependency "${driver}": npm install ${driver}`);
    }
    throw err;
  }
}

const bus = opts.natsUrl
  ? await (await loadBackend("--nats-url", "nats", () => import("./bus/nats.js"))).NatsBus.connect({ servers: opts.natsUrl, subject: opts.natsSubject })
  : undefined;
if (opts.databaseUrl && !opts.adminKey) {
  // Nodes sharing a database must share the admin key; a generated one would differ per node.
  program.error("--database-url needs --admin-key (or NARROWCAST_ADMIN_KEY): every node must use the same key");
}
const store = opts.databaseUrl
  ? new (await loadBackend("--database-url", "pg", () => import("./store/postgres.js"))).PostgresStore({
      connectionString: opts.databaseUrl,
      schema: opts.databaseSchema,
    })
  : undefined;
const server = await startServer({
  bus,
  store,
  host: opts.host,
  port: opts.port,
  dataDir: opts.dataDir,
  adminKey: opts.adminKey,
  recallWindowSeconds: opts.recallWindow,
  editWindowSeconds: opts.editWindow,
  eventRetentionSeconds: Number(opts.eventRetention),
  groupLimits: opts.maxGroupMembers,
  rateLimitPerSecond: opts.rateLimit,
  rateLimitNodes: Number(opts.rateLimitNodes),
  subscriberBufferBytes: opts.subscriberBufferBytes,
  firstByteTimeoutMs: Number(opts.firstByteTimeout) * 1000,
  headersTimeoutMs: Number(opts.headersTimeout) * 1000,
  idleTimeoutMs: Number(opts.idleTimeout) * 1000,
  maxConnections: Number(opts.maxConnections),
  maxConcurrentStreams: Number(opts.maxConcurrentStreams),
  maxHeaderBytes: Number(opts.maxHeaderBytes),
  maxResetsPerSecond: Number(opts.maxResetsPerSecond),
  drainTimeoutMs: Number(opts.drainTimeout) * 1000,
  corsOrigins: opts.corsOrigins,
  webhookRetry: {
    baseMs: Number(opts.webhookRetryBaseMs),
    capMs: Number(opts.webhookRetryCapMs),
    maxAttempts: Number(opts.webhookMaxAttempts),
  },
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
    // A second signal means "now": skip the rest of the drain.
    if (stopping) {
      logger.warn({ signal }, "stopping without draining");
      process.exit(1);
    }
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
