// Assembles the reference server: store, bus, hub, services and interceptors behind one port
// that speaks Connect, gRPC and gRPC-Web over HTTP/2 cleartext, and Connect and gRPC-Web over
// HTTP/1.1 (the first bytes of a connection tell which).
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { pino, type Logger } from "pino";
import {
  ConversationService,
  ErrorReason,
  EventService,
  GroupService,
  MessageService,
  ServerService,
} from "@narrowcast/gen";
import { AdminService } from "@narrowcast/gen/admin";
import { Authenticator } from "./auth.js";
import { InProcessBus } from "./bus/memory.js";
import type { Bus } from "./bus/types.js";
import type { Deps, Limits } from "./context.js";
import { narrowcastError } from "./errors.js";
import { resolveGroupLimits, type GroupLimitsOption } from "./group-limits.js";
import { Hub } from "./hub.js";
import { loggingInterceptor } from "./interceptors/logging.js";
import { createSubscribeFastPath } from "./http/subscribe-fast-path.js";
import { createNodeHandler } from "./http/adapter.js";
import { CorsPolicy, parseCorsOrigins } from "./http/cors.js";
import { createOpsEndpoints } from "./ops/endpoints.js";
import { registerHealthService } from "./ops/health-service.js";
import { ServerMetrics } from "./ops/metrics.js";
import { Readiness } from "./ops/readiness.js";
import { assignRequestId, REQUEST_ID_HEADER, requestLogger } from "./ops/request-id.js";
import { Connections, endUnreadRequest, resolveConnectionLimits, serverSettings, type ConnectionLimitOptions } from "./http/limits.js";
import { DEFAULT_DRAIN_TIMEOUT_MS, drain } from "./http/shutdown.js";
import { RateLimiter } from "./rate-limit.js";
import { DEFAULT_SUBSCRIBER_BUFFER_BYTES } from "./subscription.js";
import { adminService } from "./services/admin-service.js";
import { conversationService } from "./services/conversation-service.js";
import { eventService } from "./services/event-service.js";
import { groupService } from "./services/group-service.js";
import { messageService } from "./services/message-service.js";
import { serverService } from "./services/server-service.js";
import type { Store, StoredEvent } from "./store/types.js";
import { startAppBackends } from "./webhooks/runtime.js";

export interface ServerOptions extends ConnectionLimitOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; 0 picks a free one. Default 0 (the CLI defaults to 8080). */
  port?: number;
  /** Directory of the SQLite database, or ":memory:" (the default). Ignored when `store` is given. */
  dataDir?: string;
  /** A ready store (e.g. PostgreSQL); the server migrates it and closes it on shutdown. */
  store?: Store;
  /** A bus shared with other nodes (e.g. NATS); default in-process. */
  bus?: Bus;
  /** The AdminService key; generated if absent (and, with a data directory, kept there). */
  adminKey?: string;
  /** The sender's recall window in seconds (rule MSG-11); default 120. */
  recallWindowSeconds?: number;
  /** How long after sending a sender may edit its message, in seconds (rule EDT-2); default 86,400. */
  editWindowSeconds?: number;
  /** Sends per second per group (rule MSG-5); default 40. */
  rateLimitPerSecond?: number;
  /**
   * How many nodes share the deployment, each enforcing its own rate bucket (rule MSG-5):
   * GetServerInfo declares `send_rate_per_group_bound` = rate × nodes. Default 1.
   */
  rateLimitNodes?: number;
  /** Stored events stay replayable at least this long (rule EVT-10); default 604800 (7 days). */
  eventRetentionSeconds?: number;
  /** How often events beyond the retention are pruned (also once at start); default hourly, or a quarter of a retention under 4 hours. */
  eventPruneIntervalMs?: number;
  /**
   * How often each node reads the store's heads of the apps it has streams of (ms; default 1000):
   * the bound on how late an event whose publication was lost (or all of them while the bus is
   * down) reaches live streams (sequencer.ts).
   */
  eventPollIntervalMs?: number;
  /** Per-type overrides of the member limit and member-event threshold (rules GRP-13, GRP-14). */
  groupLimits?: GroupLimitsOption;
  /**
   * Bytes of events a subscription may have queued before SLOW_CONSUMER (rule EVT-6), counted as
   * their binary encoding; default DEFAULT_SUBSCRIBER_BUFFER_BYTES (4 MiB).
   */
  subscriberBufferBytes?: number;
  /** Default heartbeat interval in seconds (rule EVT-5); default 15. */
  heartbeatSeconds?: number;
  /** pino level; default "silent". */
  logLevel?: string;
  /** A logger to use instead of creating one. */
  logger?: Logger;
  /** Test hook: decorates the store (e.g. to build deliberately broken servers). */
  wrapStore?: (store: Store) => Store;
  /** Extra interceptors, run after authentication, for every RPC (Subscribe included; see below). */
  interceptors?: Interceptor[];
  /**
   * Serve plain Subscribe streams (no compression or timeout) on the HTTP fast path, which
   * encodes each event once for all its subscribers. It authenticates and logs as the
   * interceptors do, but does not run `interceptors`: by default it is on only when there are
   * none, so every Subscribe passes through the ones given. Set true to keep it on anyway,
   * knowing that those interceptors then do not see such streams.
   */
  subscribeFastPath?: boolean;
  /**
   * Origins whose web pages may call the server (CORS): exact origins such as
   * "https://app.example.com", or "*" for any; a list or a comma-separated string. Default none:
   * browsers on other origins are refused (src/http/cors.ts).
   */
  corsOrigins?: string | readonly string[];
  /** How often a grpc.health.v1 Watch re-checks readiness; default 5,000 ms. */
  healthWatchIntervalMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** On close, how long in-flight requests may take to finish before connections are cut; default 10,000 ms. */
  drainTimeoutMs?: number;
  /**
   * Retries of failed webhook deliveries (rule HOOK-8): the n-th retry waits between d/2 and d,
   * d = min(baseMs × 2^(n−1), capMs); after maxAttempts attempts a delivery is a dead letter.
   * Defaults 1,000 ms, 600,000 ms and 10.
   */
  webhookRetry?: { baseMs?: number; capMs?: number; maxAttempts?: number };
  /**
   * How often this node looks for webhook deliveries it was not told of (those of other nodes, and
   * retries that came due); default 1,000 ms; 0 turns the periodic look off (tests that count
   * database round trips). Commits on this node wake it at once.
   */
  webhookPollMs?: number;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:8080. */
  url: string;
  port: number;
  adminKey: string;
  /** Where the admin key is kept, when it was generated into a data directory. */
  adminKeyFile?: string;
  /** Number of open Subscribe streams on this node. */
  subscriptions(): number;
  /**
   * Stops accepting, ends streams with Unavailable SHUTTING_DOWN, lets in-flight requests finish
   * (at most `drainTimeoutMs`), then closes the bus and the store.
   */
  close(): Promise<void>;
}

function resolveAdminKey(options: ServerOptions): { adminKey: string; adminKeyFile?: string } {
  if (options.adminKey) return { adminKey: options.adminKey };
  const dir = options.store ? undefined : options.dataDir;
  if (dir && dir !== ":memory:") {
    const file = join(dir, "admin-key");
    mkdirSync(dir, { recursive: true });
    if (!existsSync(file)) writeFileSync(file, randomBytes(24).toString("base64url") + "\n", { mode: 0o600 });
    return { adminKey: readFileSync(file, "utf8").trim(), adminKeyFile: file };
  }
  return { adminKey: randomBytes(24).toString("base64url") };
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

/** The limits every service enforces and GetServerInfo declares, from the options and defaults. */
function limitsOf(options: ServerOptions): Limits {
  return {
    recallWindowMs: (options.recallWindowSeconds ?? 120) * 1000,
    editWindowMs: (options.editWindowSeconds ?? 86_400) * 1000,
    heartbeatSeconds: options.heartbeatSeconds ?? 15,
    maxMessageBytes: 12 * 1024,
    maxReceivers: 50,
    maxMentions: 50,
    idempotencyWindowMs: 24 * 3600 * 1000,
    sendRatePerGroup: positiveInteger(options.rateLimitPerSecond ?? 40, "rateLimitPerSecond"),
    rateLimitNodes: positiveInteger(options.rateLimitNodes ?? 1, "rateLimitNodes"),
    eventRetentionSeconds: positiveInteger(options.eventRetentionSeconds ?? 7 * 86_400, "eventRetentionSeconds"),
    groupLimits: resolveGroupLimits(options.groupLimits),
  };
}

/**
 * Prunes what the rules let the server forget, once at start and then periodically: idempotency
 * records older than 24 hours (rule MSG-10, hourly) and events older than the retention (rule
 * EVT-10, every `eventPruneIntervalMs`). Failures are logged; the next round retries.
 */
function startPruning(store: Store, limits: Limits, eventPruneIntervalMs: number, now: () => number, log: Logger): NodeJS.Timeout[] {
  const pruneSent = () =>
    store.pruneSent(now() - limits.idempotencyWindowMs).catch((err: unknown) => log.warn({ err }, "pruning idempotency records failed"));
  const pruneEvents = () =>
    store
      .pruneEvents(now() - limits.eventRetentionSeconds * 1000)
      .then((n) => n > 0 && log.info({ pruned: n }, "pruned events beyond retention"))
      .catch((err: unknown) => log.warn({ err }, "pruning events failed"))
      // Dead letters go after the same retention (HOOK-9): a replay long after is of no use to a backend.
      .then(() => store.pruneDeadLetters(now() - limits.eventRetentionSeconds * 1000))
      .then((n) => n > 0 && log.info({ pruned: n }, "pruned dead letters beyond retention"))
      .catch((err: unknown) => log.warn({ err }, "pruning dead letters failed"));
  void pruneSent();
  void pruneEvents();
  return [setInterval(pruneSent, 3600 * 1000).unref(), setInterval(pruneEvents, positiveInteger(eventPruneIntervalMs, "eventPruneIntervalMs")).unref()];
}

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const log =
    options.logger ?? pino({ level: options.logLevel ?? "silent", base: { service: "narrowcast" } });
  const now = options.now ?? Date.now;
  const cors = new CorsPolicy(parseCorsOrigins(options.corsOrigins));
  // Imported only when used, so that a server on another store never loads better-sqlite3.
  let store: Store = options.store ?? new (await import("./store/sqlite.js")).SqliteStore({ dataDir: options.dataDir ?? ":memory:" });
  await store.migrate();
  if (options.wrapStore) store = options.wrapStore(store);
  const metrics = new ServerMetrics({ openStreams: () => hub.subscriptionCount });
  store = metrics.instrumentStore(store);
  const bus = metrics.observeBus(options.bus ?? new InProcessBus());
  const readiness = new Readiness(store, bus);
  const hub = new Hub(
    store,
    bus,
    options.subscriberBufferBytes ?? DEFAULT_SUBSCRIBER_BUFFER_BYTES,
    (appId, partition, from, to) => {
      metrics.gapSkipped(from, to);
      log.warn({ appId, partition, from, to }, "events neither published nor readable from the store: live streams skip them");
    },
    metrics,
    {
      pollIntervalMs: options.eventPollIntervalMs,
      onBusConnectionChange: (connected) =>
        connected
          ? log.info("bus connection back: live events come from the bus again")
          : log.warn("bus connection lost: live events are read from the store until it is back"),
    },
  );
  const limits = limitsOf(options);
  const backends = await startAppBackends(store, { log, now, retry: options.webhookRetry, pollMs: options.webhookPollMs });
  const deps: Deps = {
    store,
    bus,
    hub,
    rateLimiter: new RateLimiter(limits.sendRatePerGroup),
    limits,
    log,
    now,
    publish(events) {
      if (!events) return;
      for (const e of Array.isArray(events) ? events : [events as StoredEvent]) {
        bus.publish(e);
        backends.committed(e.appId);
      }
    },
    backends,
  };
  // Hourly, or a quarter of a shorter retention, so events go soon after it (at least every 500 ms).
  const pruneIntervalMs = options.eventPruneIntervalMs ?? Math.min(3_600_000, Math.max(500, (limits.eventRetentionSeconds * 1000) / 4));
  const pruneTimers = startPruning(store, limits, pruneIntervalMs, now, log);
  const { adminKey, adminKeyFile } = resolveAdminKey(options);
  const auth = new Authenticator(store, adminKey, now);

  const handler = createNodeHandler({
    routes(router: ConnectRouter) {
      router.service(GroupService, groupService(deps));
      router.service(MessageService, messageService(deps));
      router.service(ConversationService, conversationService(deps));
      router.service(EventService, eventService(deps));
      router.service(AdminService, adminService(deps));
      router.service(ServerService, serverService(limits));
      registerHealthService(router, {
        readiness,
        services: [GroupService, MessageService, ConversationService, EventService, AdminService, ServerService].map((s) => s.typeName),
        watchIntervalMs: options.healthWatchIntervalMs,
      });
    },
    interceptors: [metrics.interceptor(), loggingInterceptor(log), auth.interceptor(), ...(options.interceptors ?? [])],
    readMaxBytes: 1024 * 1024,
    log,
  });

  const fastPathOn = options.subscribeFastPath ?? !options.interceptors?.length;
  const fastPath = fastPathOn ? createSubscribeFastPath(deps, auth, log, (procedure, err) => metrics.recordRpc(procedure, err)) : undefined;
  const ops = createOpsEndpoints(readiness, metrics, log);
  const connectionLimits = resolveConnectionLimits(options);
  const drainTimeoutMs = positiveInteger(options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS, "drainTimeoutMs");
  const connections = new Connections(connectionLimits, log);
  const serve = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
    assignRequestId(req, res);
    if (cors.handle(req, res)) return;
    if (connections.refuseDuringDrain(req, res)) return;
    if (req instanceof http2.Http2ServerRequest) endUnreadRequest(req, res as http2.Http2ServerResponse);
    if (ops.handle(req, res)) return;
    if (!fastPath?.handle(req, res)) handler(req, res);
  };
  const settings = serverSettings(connectionLimits);
  const h2 = http2.createServer(settings.h2, serve);
  const h1 = http.createServer(settings.h1, serve);
  h1.keepAliveTimeout = connectionLimits.idleTimeoutMs;
  h1.prependListener("request", (req, res) => connections.onRequest(req, res));
  h2.on("session", (s) => connections.onSession(s));
  const server = net.createServer((socket) => {
    const conn = connections.accept(socket);
    socket.on("error", () => socket.destroy());
    socket.setNoDelay(true);
    socket.once("data", (first) => {
      socket.pause();
      socket.unshift(first);
      connections.firstBytes(conn);
      // An HTTP/2 connection starts with the client preface "PRI * HTTP/2.0". node:http2 reads the
      // socket's native handle and first takes what is already buffered, so the sniffed chunk is
      // not lost; the socket must stay paused until then (resuming would drain it elsewhere).
      if (first.subarray(0, 4).toString("latin1") === "PRI ") {
        connections.handToHttp2(conn, h2);
      } else {
        connections.handToHttp1(conn, h1);
        socket.resume();
      }
    });
  });
  // Node closes connections beyond this on accept.
  server.maxConnections = connectionLimits.maxConnections;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  log.info({ url }, "narrowcast listening");

  let closing: Promise<void> | undefined;
  return {
    url,
    port: address.port,
    adminKey,
    adminKeyFile,
    subscriptions: () => hub.subscriptionCount,
    close() {
      closing ??= (async () => {
        for (const t of pruneTimers) clearInterval(t);
        readiness.markShuttingDown();
        hub.closeAll(narrowcastError(ErrorReason.SHUTTING_DOWN, "server is shutting down; reconnect and resume"));
        await drain(server, connections, drainTimeoutMs, log);
        hub.stop();
        await backends.stop();
        await bus.close();
        await store.close();
        log.info("narrowcast stopped");
      })();
      return closing;
    },
  };
}
