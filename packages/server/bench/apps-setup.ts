// The apps-ceiling bench's world: a reference server in this process on PostgreSQL, in a fresh
// schema of its own (dropped on close), with N apps of G WORK groups each. Group g of every app
// has the same three users: owner s<g> and members r<g>a, r<g>b. Tokens are minted offline with
// each app's secret (AUTH-2), so they cost no RPCs.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { createClient, type CallOptions, type Client } from "@connectrpc/connect";
import { Http2SessionManager, createConnectTransport } from "@connectrpc/connect-node";
import { ConversationService, GroupType, MessageService } from "@narrowcast/gen";
import { AdminService, Plan } from "@narrowcast/gen/admin";
import { mintUserToken, startServer, type RunningServer } from "../src/index.js";
import { PostgresStore } from "../src/store/postgres.js";
import { attributeStore } from "./pg-round-trips.js";

export interface WorldOptions {
  databaseUrl: string;
  apps: number;
  groupsPerApp: number;
  /** The store's connection pool size. */
  pool: number;
}

export interface App {
  appId: string;
  secret: string;
  /** Group IDs, index = group number. */
  groups: string[];
}

/** One HTTP/2 connection with the clients the bench uses. */
export class Connection {
  readonly messages: Client<typeof MessageService>;
  readonly conversations: Client<typeof ConversationService>;
  readonly admin: Client<typeof AdminService>;

  constructor(url: string, private readonly session = new Http2SessionManager(url)) {
    const transport = createConnectTransport({ baseUrl: url, httpVersion: "2", sessionManager: session, useBinaryFormat: true });
    this.messages = createClient(MessageService, transport);
    this.conversations = createClient(ConversationService, transport);
    this.admin = createClient(AdminService, transport);
  }

  close(): void {
    this.session.abort();
  }
}

export const ownerOf = (group: number) => `s${group}`;
export const receiversOf = (group: number) => [`r${group}a`, `r${group}b`];

export class World {
  readonly apps: App[] = [];
  private readonly tokens = new Map<string, CallOptions>();
  private readonly connections: Connection[] = [];
  readonly adminConnection: Connection;

  private constructor(
    readonly server: RunningServer,
    private readonly schemaAdmin: pg.Client,
    readonly schema: string,
  ) {
    this.adminConnection = this.connection();
  }

  static async start(o: WorldOptions): Promise<World> {
    const schemaAdmin = new pg.Client({ connectionString: o.databaseUrl });
    await schemaAdmin.connect();
    const schema = `nc_bench_${randomBytes(6).toString("hex")}`;
    await schemaAdmin.query(`CREATE SCHEMA ${schema}`);
    let server: RunningServer;
    try {
      server = await startServer({
        port: 0,
        logLevel: "silent",
        store: new PostgresStore({ connectionString: o.databaseUrl, schema, max: o.pool }),
        wrapStore: attributeStore,
        // The bench measures the store, not the per-group send limit (MSG-5).
        rateLimitPerSecond: 1e9,
      });
    } catch (err) {
      await dropSchema(schemaAdmin, schema);
      throw err;
    }
    const world = new World(server, schemaAdmin, schema);
    for (let a = 0; a < o.apps; a++) world.apps.push(await world.createApp(a, o.groupsPerApp));
    return world;
  }

  get adminCall(): CallOptions {
    return { headers: { authorization: `Bearer ${this.server.adminKey}` } };
  }

  private async createApp(index: number, groups: number): Promise<App> {
    const admin = this.adminConnection.admin;
    const { app } = await admin.createApp({ name: `bench-${index}`, plan: Plan.ULTIMATE }, this.adminCall);
    const { appId, secret } = app!;
    const users = Array.from({ length: groups }, (_, g) => [ownerOf(g), ...receiversOf(g)]).flat();
    await admin.importUsers({ appId, users: users.map((userId) => ({ userId, nickname: userId })) }, this.adminCall);
    const groupIds: string[] = [];
    for (let g = 0; g < groups; g++) groupIds.push(await this.createGroup(appId, `g${g}`, ownerOf(g), receiversOf(g)));
    return { appId, secret, groups: groupIds };
  }

  async createGroup(appId: string, groupId: string, ownerId: string, memberIds: readonly string[]): Promise<string> {
    const { group } = await this.adminConnection.admin.createGroup(
      { appId, groupId, type: GroupType.WORK, name: groupId, ownerId, memberIds: [...memberIds] },
      this.adminCall,
    );
    return group!.groupId;
  }

  /** Call options that authenticate as `userId` of `app`. */
  async as(app: App, userId: string): Promise<CallOptions> {
    const key = `${app.appId}/${userId}`;
    let call = this.tokens.get(key);
    if (!call) {
      const { token } = await mintUserToken(app.appId, app.secret, userId, 6 * 3600, Date.now());
      call = { headers: { authorization: `Bearer ${token}` } };
      this.tokens.set(key, call);
    }
    return call;
  }

  connection(): Connection {
    const c = new Connection(this.server.url);
    this.connections.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.close();
    try {
      await this.server.close();
    } finally {
      await dropSchema(this.schemaAdmin, this.schema);
    }
  }
}

async function dropSchema(client: pg.Client, schema: string): Promise<void> {
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
