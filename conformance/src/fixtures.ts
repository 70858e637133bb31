// The fixture layer: every case builds its own app, users and groups through AdminService, so
// cases are isolated from each other and can run in any order and in parallel on one server.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import {
  ConversationService,
  EventService,
  GroupService,
  GroupType,
  MessageService,
  ServerService,
  type Conversation,
  type GroupMember,
  type Message,
  type SendMessageRequestSchema,
  type ServerInfo,
} from "@narrowcast/gen";
import { AdminService, Plan, type App } from "@narrowcast/gen/admin";
import { CheckFailure, SkipCase, check, durationMs } from "./check.js";
import { describeObserved, observe, reasonOf } from "./errors.js";
import { isMessage } from "./events.js";
import { Subscription, sleep, type SubscribeOptions, type WaitOptions } from "./subscription.js";
import { resolveSettings, resolveWebhookSettings, type ServerSettings, type WebhookSettings } from "./settings.js";
import type { Endpoint, WebhookReceiver } from "./webhook-receiver.js";
import { createProtocolTransport, withBearer, type HttpVersion, type Protocol, type TokenSource, type TransportVariant } from "./transport.js";

/** The user-facing services, as one user (or no user) calls them. */
export interface UserClients {
  groups: Client<typeof GroupService>;
  messages: Client<typeof MessageService>;
  conversations: Client<typeof ConversationService>;
  events: Client<typeof EventService>;
  server: Client<typeof ServerService>;
}

/** A SendMessageRequest without its group; `text` is a shorthand for one text element. */
export type SendInit = Omit<MessageInitShape<typeof SendMessageRequestSchema>, "groupId" | "$typeName"> & { text?: string };

/** Builds the elements of a text message. */
export function textElements(text: string): NonNullable<SendInit["elements"]> {
  return [{ element: { case: "text", value: { text } } }];
}

/** Turns a SendInit (or a plain text) into a full SendMessageRequest init for a group. */
export function sendRequest(groupId: string, init: SendInit | string = {}): MessageInitShape<typeof SendMessageRequestSchema> {
  const spec: SendInit = typeof init === "string" ? { text: init } : init;
  const { text, ...rest } = spec;
  return { ...rest, groupId, elements: rest.elements ?? textElements(text ?? "hello") };
}

/** A fence for Subscription.expectNone: the given message, delivered after the forbidden one. */
export function fence(message: Message): { description: string; predicate: ReturnType<typeof isMessage> } {
  return { description: `the later message seq=${message.seq} (fence)`, predicate: isMessage(message.messageId) };
}

/** Creates the user-facing clients over a transport. */
export function userClients(transport: Transport): UserClients {
  return {
    groups: createClient(GroupService, transport),
    messages: createClient(MessageService, transport),
    conversations: createClient(ConversationService, transport),
    events: createClient(EventService, transport),
    server: createClient(ServerService, transport),
  };
}

/** What the runner gives each case. */
export interface CaseContext {
  /** The wire protocol this run uses. */
  readonly protocol: Protocol;
  /** AdminService with the right admin key. */
  readonly admin: Client<typeof AdminService>;
  /** The admin key itself (for checks that it is ignored or refused where it must be). */
  readonly adminKey: string;
  /** The base transport (no Authorization header unless a token is given). */
  readonly transport: Transport;
  /** Base URL of the server under test. */
  readonly baseUrl: string;
  /** The HTTP version the suite runs over. */
  readonly httpVersion: HttpVersion;
  /** A transport of another protocol / HTTP version / codec, closed when the case ends. */
  openTransport(protocol: Protocol, httpVersion: HttpVersion, options?: TransportVariant): Transport;
  /** Upper bound for positive waits and the negative wait, in milliseconds. */
  readonly wait: WaitOptions;
  /** The server's configuration as the operator stated it (flags; spec defaults otherwise). */
  readonly settings: ServerSettings;
  /** The webhook settings as the operator stated them (--webhooks and the retry flags). */
  readonly webhooks: WebhookSettings;
  /** How many nodes of the deployment the suite talks to (--other-node adds to 1). */
  readonly nodeCount: number;
  /**
   * A fresh endpoint of the suite's webhook receiver, released when the case ends; `timeoutMs`
   * bounds its waits (default the suite's timeout). Skips the case without --webhooks.
   */
  webhookEndpoint(label: string, timeoutMs?: number): Endpoint;
  /** User-facing clients that send the given token (or none). */
  clientsWithToken(token: TokenSource): UserClients;
  /** User-facing clients over another transport (see openTransport) with the given token. */
  clientsWithTransport(transport: Transport, token: TokenSource): UserClients;
  /** Creates a fresh app (ULTIMATE unless said otherwise). */
  createApp(options?: { plan?: Plan; name?: string }): Promise<AppFixture>;
  /** A fresh app with users and one group owned by the first member. */
  world(options?: WorldOptions): Promise<World>;
  /** Waits the negative wait, for checks that something did not happen. */
  settle(): Promise<void>;
  /** Registers cleanup to run when the case ends (passed or failed). */
  defer(cleanup: () => void): void;
  /** ServerService.GetServerInfo, called without a token (rule AUTH-7); fetched once per case. */
  serverInfo(): Promise<ServerInfo>;
  /** Ends the case as skipped: it cannot check its requirement against this server. */
  skip(reason: string): never;
}

export interface WorldOptions {
  type?: GroupType;
  plan?: Plan;
  /** Group members; the first one is the owner. Default alice (owner), bob, carol. */
  members?: string[];
  /** Users of the app who are not members. Default erin. */
  others?: string[];
  groupId?: string;
}

export interface World {
  app: AppFixture;
  groupId: string;
  user(id: string): UserHandle;
}

/** One app on the server under test, with the users the case imported. */
export class AppFixture {
  private readonly users = new Map<string, UserHandle>();

  constructor(
    readonly ctx: CaseContext,
    readonly app: App,
  ) {}

  get appId(): string {
    return this.app.appId;
  }

  /** Imports users (AdminService.ImportUsers). */
  async importUsers(ids: readonly string[]): Promise<void> {
    for (let i = 0; i < ids.length; i += 500) {
      await this.ctx.admin.importUsers({ appId: this.appId, users: ids.slice(i, i + 500).map((userId) => ({ userId, nickname: userId })) });
    }
  }

  /** A handle for a user; its token is issued through AdminService on first use. */
  user(id: string): UserHandle {
    let handle = this.users.get(id);
    if (!handle) {
      handle = new UserHandle(this, id);
      this.users.set(id, handle);
    }
    return handle;
  }

  /** Creates a group through AdminService and returns its ID. */
  async createGroup(type: GroupType, options: { owner?: string; members?: string[]; groupId?: string; name?: string } = {}): Promise<string> {
    const res = await this.ctx.admin.createGroup({
      appId: this.appId,
      type,
      name: options.name ?? "conformance group",
      groupId: options.groupId ?? "",
      ownerId: options.owner ?? "",
      memberIds: options.members ?? [],
    });
    check(res.group, "AdminService.CreateGroup returned no group");
    return res.group.groupId;
  }

  /**
   * Sends `count` messages through AdminService as `senderId`, one after another, waiting out
   * RATE_LIMITED rejections (MSG-5) by their RetryInfo delay. Returns them in seq order.
   */
  async sendMany(senderId: string, groupId: string, count: number, text = (i: number) => `message ${i + 1}`): Promise<Message[]> {
    const sent: Message[] = [];
    for (let i = 0; i < count; i++) {
      for (let attempt = 0; ; attempt++) {
        try {
          sent.push(await this.adminSend(senderId, groupId, text(i)));
          break;
        } catch (err) {
          const o = observe(err);
          if (reasonOf(o) !== "RATE_LIMITED" || attempt > 50) throw err;
          const d = o.retryInfos[0]?.retryDelay;
          await sleep(Math.min(1000, Math.max(5, d ? Number(d.seconds) * 1000 + d.nanos / 1e6 : 25)));
        }
      }
    }
    return sent;
  }

  /** Sends through AdminService as a member (or the system, with senderId ""). */
  async adminSend(senderId: string, groupId: string, init: SendInit | string = {}): Promise<Message> {
    const res = await this.ctx.admin.sendMessage({ appId: this.appId, senderId, message: sendRequest(groupId, init) });
    check(res.message, "AdminService.SendMessage returned no message");
    return res.message;
  }
}

/** One user of a fixture app: clients that carry their token, and shorthands. */
export class UserHandle {
  readonly clients: UserClients;
  private tokenPromise: Promise<string> | undefined;

  constructor(
    readonly app: AppFixture,
    readonly id: string,
  ) {
    this.clients = app.ctx.clientsWithToken(() => this.token());
  }

  get groups(): Client<typeof GroupService> {
    return this.clients.groups;
  }
  get messages(): Client<typeof MessageService> {
    return this.clients.messages;
  }
  get conversations(): Client<typeof ConversationService> {
    return this.clients.conversations;
  }
  get events(): Client<typeof EventService> {
    return this.clients.events;
  }

  /** The user's token, issued once by AdminService.IssueUserToken. */
  token(): Promise<string> {
    this.tokenPromise ??= this.app.ctx.admin
      .issueUserToken({ appId: this.app.appId, userId: this.id })
      .then((res) => res.token);
    return this.tokenPromise;
  }

  /** Sends a message and returns it as accepted. */
  async send(groupId: string, init: SendInit | string = {}): Promise<Message> {
    const res = await this.messages.sendMessage(sendRequest(groupId, init));
    check(res.message, "SendMessage returned no message");
    return res.message;
  }

  /** Opens a subscription and waits for `ready`. */
  async subscribe(options: SubscribeOptions = {}, label = `${this.id}'s subscription`): Promise<Subscription> {
    const sub = this.openSubscription(options, label);
    await sub.ready();
    return sub;
  }

  /**
   * Resumes from a cursor for a replay check and waits for `ready`. `takenAt` is when the cursor's
   * event happened (ms). Returns undefined when the server answers CURSOR_EXPIRED and the cursor
   * is older than the declared event_retention (which EVT-10 allows, e.g. on a server configured
   * with a retention of seconds), so the caller skips its replay check; any other error fails.
   */
  async replay(cursor: string, takenAt: number, label = `${this.id}'s replay`): Promise<Subscription | undefined> {
    const sub = this.openSubscription({ cursor }, label);
    const outcome = await sub.until("ready or an error", () => (sub.readyIndex >= 0 ? ("ready" as const) : sub.ended?.kind === "error" ? sub.ended.error : undefined));
    if (outcome === "ready") return sub;
    const retention = durationMs((await this.app.ctx.serverInfo()).eventRetention);
    // The cursor's age is measured on this machine; 1 s of slack covers clock and transit.
    if (reasonOf(outcome) === "CURSOR_EXPIRED" && retention !== undefined && Date.now() - takenAt + 1000 >= retention) return undefined;
    throw new CheckFailure(`${label}: Subscribe with a cursor failed`, "ready (the cursor is younger than event_retention)", describeObserved(outcome));
  }

  /** Opens a subscription without waiting for anything. It is closed when the case ends. */
  openSubscription(options: SubscribeOptions = {}, label = `${this.id}'s subscription`): Subscription {
    const sub = Subscription.open(this.events, options, label, this.app.ctx.wait);
    this.app.ctx.defer(() => sub.close());
    return sub;
  }

  /** The user's conversation of a group (GetConversation). */
  async conversation(groupId: string): Promise<Conversation> {
    const res = await this.conversations.getConversation({ groupId });
    check(res.conversation, "GetConversation returned no conversation");
    return res.conversation;
  }

  /** Every stored message of the group that the user may see, ascending (pages of 100, walking back from the latest). */
  async history(groupId: string): Promise<Message[]> {
    const all: Message[] = [];
    let pageToken = "";
    for (let page = 0; page < 100; page++) {
      const res = await this.messages.listMessages({ groupId, pageSize: 100, pageToken });
      all.unshift(...res.messages);
      if (res.nextPageToken === "") break;
      pageToken = res.nextPageToken;
    }
    return all;
  }

  /** Every current member of the group (ListMembers, walking every page). */
  async members(groupId: string): Promise<GroupMember[]> {
    const all: GroupMember[] = [];
    let pageToken = "";
    for (let page = 0; page < 1000; page++) {
      const res = await this.groups.listMembers({ groupId, pageSize: 1000, pageToken });
      all.push(...res.members);
      if (res.nextPageToken === "") break;
      pageToken = res.nextPageToken;
    }
    return all;
  }

  /** The user's conversations (ListConversations, walking every page). */
  async allConversations(): Promise<Conversation[]> {
    const all: Conversation[] = [];
    let pageToken = "";
    for (let page = 0; page < 1000; page++) {
      const res = await this.conversations.listConversations({ pageSize: 1000, pageToken });
      all.push(...res.conversations);
      if (res.nextPageToken === "") break;
      pageToken = res.nextPageToken;
    }
    return all;
  }
}

/** Creates the CaseContext for one case run. Returns it with the function that cleans up. */
export function createCaseContext(options: {
  protocol: Protocol;
  transport: Transport;
  baseUrl: string;
  httpVersion: HttpVersion;
  adminKey: string;
  wait: WaitOptions;
  caseId: string;
  settings?: Partial<ServerSettings>;
  webhooks?: Partial<WebhookSettings>;
  receiver?: WebhookReceiver;
  nodeCount?: number;
}): { ctx: CaseContext; cleanup: () => void } {
  const cleanups: (() => void)[] = [];
  let serverInfo: Promise<ServerInfo> | undefined;
  const admin = createClient(AdminService, withBearer(options.transport, options.adminKey));
  const ctx: CaseContext = {
    protocol: options.protocol,
    admin,
    adminKey: options.adminKey,
    transport: options.transport,
    baseUrl: options.baseUrl,
    httpVersion: options.httpVersion,
    openTransport(protocol, httpVersion, variant) {
      const t = createProtocolTransport(protocol, options.baseUrl, httpVersion, variant);
      cleanups.push(() => t.close());
      return t.transport;
    },
    wait: options.wait,
    settings: resolveSettings(options.settings),
    webhooks: resolveWebhookSettings(options.webhooks),
    nodeCount: options.nodeCount ?? 1,
    webhookEndpoint(label, timeoutMs) {
      const receiver = options.receiver;
      if (!receiver) throw new SkipCase("needs --webhooks");
      const endpoint = receiver.endpoint(label, timeoutMs ?? options.wait.timeoutMs);
      cleanups.push(() => receiver.release(endpoint));
      return endpoint;
    },
    clientsWithToken: (token) => userClients(withBearer(options.transport, token)),
    clientsWithTransport: (transport, token) => userClients(withBearer(transport, token)),
    async createApp(appOptions = {}) {
      const res = await admin.createApp({
        name: appOptions.name ?? `conformance ${options.caseId}`,
        plan: appOptions.plan ?? Plan.ULTIMATE,
      });
      check(res.app, "AdminService.CreateApp returned no app");
      return new AppFixture(ctx, res.app);
    },
    async world(worldOptions = {}) {
      const members = worldOptions.members ?? ["alice", "bob", "carol"];
      const others = worldOptions.others ?? ["erin"];
      const app = await ctx.createApp({ plan: worldOptions.plan ?? Plan.ULTIMATE });
      await app.importUsers([...members, ...others]);
      const groupId = await app.createGroup(worldOptions.type ?? GroupType.WORK, {
        owner: members[0],
        members: members.slice(1),
        groupId: worldOptions.groupId ?? "g1",
      });
      return { app, groupId, user: (id: string) => app.user(id) };
    },
    settle: () => sleep(options.wait.negativeWaitMs),
    defer: (cleanup) => {
      cleanups.push(cleanup);
    },
    serverInfo() {
      serverInfo ??= userClients(options.transport)
        .server.getServerInfo({})
        .then((res) => {
          check(res.serverInfo, "ServerService.GetServerInfo returned no server_info");
          return res.serverInfo;
        });
      return serverInfo;
    },
    skip(reason) {
      throw new SkipCase(reason);
    },
  };
  const cleanup = () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        fn();
      } catch {
        // cleanup is best effort
      }
    }
  };
  return { ctx, cleanup };
}
