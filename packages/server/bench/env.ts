// The benchmark's environment: a reference server started in-process on a file-backed SQLite
// store (so every send is persisted), one app, users and groups made through AdminService, and
// HTTP/2 connections with the generated connect-node clients. Tokens are minted offline with
// the app's secret, as an app backend would (AUTH-2), so that thousands of users cost no RPCs.
import { mkdtempSync, rmSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type CallOptions, type Client, type Transport } from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { EventService, GroupType, MessageService } from "@narrowcast/gen";
import { AdminService, Plan } from "@narrowcast/gen/admin";
import { mintUserToken, startServer, type ServerOptions } from "../src/index.js";
import { createPostgresBackend, dropBackend, withBackend, type Backend, type StoreKind } from "./backend.js";
import { startEchoServer } from "./echo.js";
import type { ServerThreadReply, ServerThreadRequest, ServerThreadSpec } from "./server-thread.js";

export const protocols = ["connect", "grpc", "grpc-web"] as const;
export type Protocol = (typeof protocols)[number];

export interface EnvOptions {
  protocol: Protocol;
  /** Where the SQLite file goes; a fresh temp directory (removed on close) when absent. */
  dataDir?: string;
  keepData: boolean;
  rateLimitPerSecond: number;
  /** Bytes of events a subscription may have queued before SLOW_CONSUMER; default: the server's. */
  subscriberBufferBytes?: number;
  /** Run the server (and the echo anchor) in a worker thread instead of on the clients' event loop. */
  serverThread: boolean;
  /** The store: SQLite file (default) or PostgreSQL + NATS (a fresh schema, dropped on close). */
  store?: StoreKind;
  /** PostgreSQL pool size (store "postgres"); default 10, the store's own default. */
  pgPool?: number;
  /** A server already running elsewhere (e.g. the soak's child process): none is started. */
  server?: ServerHandle;
}

/** The running server, wherever it runs. */
export interface ServerHandle {
  url: string;
  adminKey: string;
  subscriptions(): Promise<number>;
  /**
   * Milliseconds the server's event loop has been busy since it started (server-thread.ts), or
   * absent when the server shares the clients' loop (its busy time cannot be told apart).
   */
  busyMs?(): Promise<number>;
  close(): Promise<void>;
}

async function startInProcess(spec: ServerThreadSpec): Promise<ServerHandle> {
  if (spec.kind === "echo") {
    const echo = await startEchoServer();
    return { url: echo.url, adminKey: "", subscriptions: async () => 0, close: () => echo.close() };
  }
  const server = await startServer(await withBackend(spec.options, spec.backend));
  return {
    url: server.url,
    adminKey: server.adminKey,
    subscriptions: async () => server.subscriptions(),
    close: () => server.close(),
  };
}

async function startInWorker(spec: ServerThreadSpec): Promise<ServerHandle> {
  // tsx's loader is registered per thread: the worker registers it before loading its entry.
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  const entry = JSON.stringify(new URL("./server-thread.ts", import.meta.url).href);
  const bootstrap = `import(${tsx}).then((tsx) => { tsx.register(); return import(${entry}); })`;
  const worker = new Worker(bootstrap, { eval: true, workerData: spec });
  const pending = new Map<number, (value: number) => void>();
  let nextId = 0;
  const started = new Promise<{ url: string; adminKey: string }>((resolve, reject) => {
    worker.once("error", reject);
    worker.on("message", (m: ServerThreadReply) => {
      if (m.type === "started") resolve(m);
      else {
        pending.get(m.id)?.(m.value);
        pending.delete(m.id);
      }
    });
  });
  const ask = (type: ServerThreadRequest["type"]) =>
    new Promise<number>((resolve) => {
      const id = nextId++;
      pending.set(id, resolve);
      worker.postMessage({ type, id } satisfies ServerThreadRequest);
    });
  const { url, adminKey } = await started;
  return {
    url,
    adminKey,
    subscriptions: () => ask("subscriptions"),
    busyMs: () => ask("busy"),
    async close() {
      await ask("close");
      await worker.terminate();
    },
  };
}

/** Busy milliseconds of a server between two readings, or undefined when they cannot be measured. */
export class BusyMeter {
  private constructor(
    private readonly server: ServerHandle,
    private readonly start: number | undefined,
  ) {}

  static async start(server: ServerHandle): Promise<BusyMeter> {
    return new BusyMeter(server, await server.busyMs?.());
  }

  async stop(): Promise<number | undefined> {
    if (this.start === undefined || !this.server.busyMs) return undefined;
    return (await this.server.busyMs()) - this.start;
  }
}

/** One HTTP/2 connection with the clients the benchmark uses. */
export class Connection {
  readonly messages: Client<typeof MessageService>;
  readonly events: Client<typeof EventService>;

  constructor(
    readonly transport: Transport,
    private readonly session: Http2SessionManager,
  ) {
    this.messages = createClient(MessageService, transport);
    this.events = createClient(EventService, transport);
  }

  close(): void {
    this.session.abort();
  }
}

export class BenchEnv {
  private readonly tokens = new Map<string, string>();
  private readonly connections = new Set<Connection>();
  private readonly adminConnection: Connection;
  readonly admin: Client<typeof AdminService>;
  appId = "";
  private secret = "";

  private constructor(
    readonly server: ServerHandle,
    readonly options: EnvOptions,
    readonly dataDir: string,
    readonly backend: Backend,
    private readonly removeDataDir: boolean,
  ) {
    this.adminConnection = this.connection();
    this.admin = createClient(AdminService, this.adminConnection.transport);
  }

  static async start(options: EnvOptions): Promise<BenchEnv> {
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), "narrowcast-bench-"));
    const removeDataDir = !options.server && !options.dataDir && !options.keepData;
    const serverOptions: ServerOptions = {
      port: 0,
      logLevel: "silent",
      rateLimitPerSecond: options.rateLimitPerSecond,
      ...(options.subscriberBufferBytes !== undefined ? { subscriberBufferBytes: options.subscriberBufferBytes } : {}),
      // The scenarios use WORK groups of up to 10,000 members (targeted messages need a type that
      // allows them), above the reference default of 2,000 (rule GRP-13).
      groupLimits: { [GroupType.WORK]: { maxMembers: 100_000 } },
    };
    const backend: Backend =
      options.store === "postgres" && !options.server ? await createPostgresBackend(options.pgPool ?? 10) : { store: "sqlite", dataDir };
    let server: ServerHandle;
    try {
      server = options.server ?? (await (options.serverThread ? startInWorker : startInProcess)({ kind: "narrowcast", options: serverOptions, backend }));
    } catch (err) {
      await dropBackend(backend);
      if (removeDataDir) rmSync(dataDir, { recursive: true, force: true });
      throw err;
    }
    const env = new BenchEnv(server, options, dataDir, backend, removeDataDir);
    const { app } = await env.admin.createApp(
      { name: "bench", plan: Plan.ULTIMATE },
      { headers: { authorization: `Bearer ${server.adminKey}` } },
    );
    env.appId = app!.appId;
    env.secret = app!.secret;
    return env;
  }

  /** Starts the echo anchor (echo.ts) arranged as the server is: in a worker thread of its own, or in-process. */
  startEcho(): Promise<ServerHandle> {
    return (this.options.serverThread ? startInWorker : startInProcess)({ kind: "echo" });
  }

  private get adminCall(): CallOptions {
    return { headers: { authorization: `Bearer ${this.server.adminKey}` } };
  }

  /** A transport on a new HTTP/2 connection (its own session) to `baseUrl`, speaking `protocol`. */
  transport(protocol: Protocol = this.options.protocol, baseUrl = this.server.url): { transport: Transport; session: Http2SessionManager } {
    const sessionManager = new Http2SessionManager(baseUrl);
    const common = { baseUrl, httpVersion: "2" as const, sessionManager };
    const transport =
      protocol === "grpc"
        ? createGrpcTransport(common)
        : protocol === "grpc-web"
          ? createGrpcWebTransport(common)
          : createConnectTransport({ ...common, useBinaryFormat: true });
    return { transport, session: sessionManager };
  }

  /** A new HTTP/2 connection (its own session) speaking the chosen protocol (default: the env's). */
  connection(protocol: Protocol = this.options.protocol): Connection {
    const { transport, session } = this.transport(protocol);
    const connection = new Connection(transport, session);
    this.connections.add(connection);
    return connection;
  }

  release(connection: Connection): void {
    connection.close();
    this.connections.delete(connection);
  }

  /** Imports users in batches (one transaction each). */
  async importUsers(userIds: readonly string[]): Promise<void> {
    for (let i = 0; i < userIds.length; i += 5000) {
      const users = userIds.slice(i, i + 5000).map((userId) => ({ userId, nickname: userId }));
      await this.admin.importUsers({ appId: this.appId, users }, this.adminCall);
    }
  }

  /** Creates a WORK group owned by `ownerId` with `memberIds` as members. */
  async createGroup(groupId: string, ownerId: string, memberIds: readonly string[]): Promise<string> {
    const { group } = await this.admin.createGroup(
      { appId: this.appId, groupId, type: GroupType.WORK, name: groupId, ownerId, memberIds: [...memberIds] },
      this.adminCall,
    );
    if (group?.memberCount !== memberIds.length + 1) throw new Error(`group ${groupId} has ${group?.memberCount} members`);
    return group.groupId;
  }

  /** Call options that authenticate as `userId`. */
  async as(userId: string, signal?: AbortSignal): Promise<CallOptions> {
    let token = this.tokens.get(userId);
    if (!token) {
      token = (await mintUserToken(this.appId, this.secret, userId, 6 * 3600, Date.now())).token;
      this.tokens.set(userId, token);
    }
    return { headers: { authorization: `Bearer ${token}` }, signal };
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.close();
    this.connections.clear();
    try {
      await this.server.close();
    } finally {
      await dropBackend(this.backend);
    }
    if (this.removeDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** `n` user IDs with a prefix, zero-padded so they sort in creation order. */
export function userIds(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);
}

/** A text element of exactly `bytes` ASCII characters. */
export function textElement(bytes: number) {
  return { element: { case: "text" as const, value: { text: "x".repeat(bytes) } } };
}
