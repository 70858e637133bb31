// Shared helpers of the server's wire tests: a server on an ephemeral port, a transport per wire
// protocol, an isolated app fixture (users, tokens, groups) and a background reader of Subscribe
// streams. Everything goes through the public wire API with the generated clients.
import { expect } from "vitest";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  Http2SessionManager,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import {
  BadRequestSchema,
  ConversationService,
  ErrorInfoSchema,
  ErrorReason,
  EventService,
  GroupService,
  GroupType,
  MessageService,
  RetryInfoSchema,
  ServerService,
  type Event,
  type Message,
  type MessageElementSchema,
  type SendMessageRequestSchema,
  type SubscribeResponse,
} from "@narrowcast/gen";
import { AdminService, Plan } from "@narrowcast/gen/admin";
import { startServer, type RunningServer, type ServerOptions } from "@narrowcast/server";

export type Protocol = "connect" | "grpc" | "grpc-web";

/** The three wire protocols every main suite runs over (rule WIRE-1). */
export const PROTOCOLS: readonly Protocol[] = ["connect", "grpc", "grpc-web"];

/** Upper bound of every positive wait; a silent server fails the test instead of hanging it. */
export const WAIT_MS = 5_000;

/** How long "must not arrive" checks listen when no barrier event can be used. */
export const NEGATIVE_WAIT_MS = 150;

export interface TransportOptions {
  /** Sent as `Authorization: Bearer <token>`; omitted when undefined. */
  token?: string;
  /** HTTP/2 (the default) or HTTP/1.1 (Connect and gRPC-Web only, rule WIRE-2). */
  httpVersion?: "2" | "1.1";
  /** Connect only: send NO_SIDE_EFFECTS RPCs as GET (rule WIRE-4). */
  useHttpGet?: boolean;
  /** Connect only: the JSON codec instead of binary (rule WIRE-3). */
  useJson?: boolean;
  /** HTTP/2: a connection of its own instead of the server's shared one. */
  sessionManager?: Http2SessionManager;
}

/** Sets the bearer token on every request. */
export function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("Authorization", `Bearer ${token}`);
    return next(req);
  };
}

/** A reference server on port 0 plus one shared HTTP/2 connection to it. */
export class TestServer {
  private readonly sessions: Http2SessionManager[] = [];
  private readonly shared: Http2SessionManager;

  private constructor(readonly running: RunningServer) {
    this.shared = this.newSession();
  }

  static async start(options: ServerOptions = {}): Promise<TestServer> {
    return new TestServer(await startServer({ port: 0, logLevel: "silent", ...options }));
  }

  get url(): string {
    return this.running.url;
  }

  get adminKey(): string {
    return this.running.adminKey;
  }

  /** A dedicated HTTP/2 connection, e.g. for a stream that stops reading (it would stall the shared one). */
  newSession(): Http2SessionManager {
    const session = new Http2SessionManager(this.url);
    this.sessions.push(session);
    return session;
  }

  transport(protocol: Protocol, options: TransportOptions = {}): Transport {
    const interceptors = options.token === undefined ? [] : [bearer(options.token)];
    const httpVersion = options.httpVersion ?? "2";
    if (httpVersion === "1.1") {
      if (protocol === "grpc") throw new Error("gRPC needs HTTP/2");
      const common = { baseUrl: this.url, httpVersion, interceptors } as const;
      return protocol === "connect"
        ? createConnectTransport({ ...common, useHttpGet: options.useHttpGet, useBinaryFormat: !options.useJson })
        : createGrpcWebTransport(common);
    }
    const common = {
      baseUrl: this.url,
      httpVersion,
      interceptors,
      sessionManager: options.sessionManager ?? this.shared,
    } as const;
    switch (protocol) {
      case "connect":
        return createConnectTransport({ ...common, useHttpGet: options.useHttpGet, useBinaryFormat: !options.useJson });
      case "grpc":
        return createGrpcTransport(common);
      case "grpc-web":
        return createGrpcWebTransport(common);
    }
  }

  admin(protocol: Protocol, key = this.adminKey): Client<typeof AdminService> {
    return createClient(AdminService, this.transport(protocol, { token: key }));
  }

  /** ServerService needs no token (rule AUTH-7). */
  serverInfo(protocol: Protocol = "connect", options: TransportOptions = {}): Client<typeof ServerService> {
    return createClient(ServerService, this.transport(protocol, options));
  }

  async close(): Promise<void> {
    await this.running.close();
    for (const s of this.sessions) s.abort();
  }
}

type SubscribeOptions = { cursor?: string; heartbeatIntervalSeconds?: number };

/** A whole-seconds google.protobuf.Duration, as request fields take it. */
export function seconds(n: number) {
  return { seconds: BigInt(n), nanos: 0 };
}

/** One user's clients, authenticated with a token issued by AdminService. */
export class UserClient {
  readonly groups: Client<typeof GroupService>;
  readonly messages: Client<typeof MessageService>;
  readonly conversations: Client<typeof ConversationService>;
  readonly events: Client<typeof EventService>;

  constructor(
    readonly id: string,
    readonly token: string,
    readonly transport: Transport,
  ) {
    this.groups = createClient(GroupService, transport);
    this.messages = createClient(MessageService, transport);
    this.conversations = createClient(ConversationService, transport);
    this.events = createClient(EventService, transport);
  }

  /** Sends a text message (plus any other request fields) and returns the stored message. */
  async send(
    groupId: string,
    body: string,
    extra: Omit<MessageInitShape<typeof SendMessageRequestSchema>, "groupId"> = {},
  ): Promise<Message> {
    const req = { ...extra, groupId, elements: [text(body)] } as MessageInitShape<typeof SendMessageRequestSchema>;
    const res = await this.messages.sendMessage(req);
    return res.message!;
  }

  /** Opens a stream and resolves once `ready` arrived (after any replay). */
  async subscribe(options: SubscribeOptions = {}): Promise<EventStream> {
    const stream = EventStream.open(this.events, options, this.id);
    await stream.ready();
    return stream;
  }

  /** Every message of the group's history this user may see, oldest first (every page, walking back). */
  async history(groupId: string): Promise<Message[]> {
    const pages: Message[][] = [];
    let pageToken = "";
    do {
      const res = await this.messages.listMessages({ groupId, pageSize: 100, pageToken });
      pages.unshift(res.messages);
      pageToken = res.nextPageToken;
    } while (pageToken);
    return pages.flat();
  }

  async conversation(groupId: string) {
    return (await this.conversations.getConversation({ groupId })).conversation!;
  }
}

/** A fresh app on the test server with users and their tokens: each test gets its own. */
export class AppFixture {
  private readonly users = new Map<string, UserClient>();

  private constructor(
    readonly server: TestServer,
    readonly protocol: Protocol,
    readonly appId: string,
    readonly secret: string,
    readonly admin: Client<typeof AdminService>,
  ) {}

  static async create(
    server: TestServer,
    protocol: Protocol,
    options: { plan?: Plan; users?: readonly string[] } = {},
  ): Promise<AppFixture> {
    const admin = server.admin(protocol);
    const { app } = await admin.createApp({ name: "test", plan: options.plan ?? Plan.ULTIMATE });
    const fixture = new AppFixture(server, protocol, app!.appId, app!.secret, admin);
    await fixture.addUsers(...(options.users ?? []));
    return fixture;
  }

  /** Imports users and issues their tokens. */
  async addUsers(...ids: string[]): Promise<UserClient[]> {
    if (ids.length === 0) return [];
    await this.admin.importUsers({ appId: this.appId, users: ids.map((userId) => ({ userId, nickname: userId })) });
    return Promise.all(
      ids.map(async (id) => {
        const { token } = await this.admin.issueUserToken({ appId: this.appId, userId: id });
        const client = new UserClient(id, token, this.server.transport(this.protocol, { token }));
        this.users.set(id, client);
        return client;
      }),
    );
  }

  user(id: string): UserClient {
    const client = this.users.get(id);
    if (!client) throw new Error(`fixture has no user ${id}`);
    return client;
  }

  /** A second client of a user: another device, with a connection of its own. */
  device(id: string): UserClient {
    const { token } = this.user(id);
    return new UserClient(id, token, this.server.transport(this.protocol, { token, sessionManager: this.server.newSession() }));
  }

  /** Creates a group through AdminService: `owner` is its OWNER, `members` MEMBERs. */
  async group(type: GroupType, owner: string, members: readonly string[] = [], groupId = ""): Promise<string> {
    const { group } = await this.admin.createGroup({ appId: this.appId, type, name: `${GroupType[type]} group`, groupId, ownerId: owner, memberIds: [...members] });
    return group!.groupId;
  }
}

/** A text element. */
export function text(value: string): MessageInitShape<typeof MessageElementSchema> {
  return { element: { case: "text", value: { text: value } } };
}

/** The text of a message's first element ("" if it has none). */
export function textOf(message: Message | undefined): string {
  const el = message?.elements[0]?.element;
  return el?.case === "text" ? el.value.text : "";
}

/** The message of a MessageReceived event, if it is one. */
export function receivedOf(item: SubscribeResponse | Event): Message | undefined {
  const event = "item" in item ? (item.item.case === "event" ? item.item.value : undefined) : item;
  return event?.payload.case === "messageReceived" ? event.payload.value.message : undefined;
}

/** Predicate: a MessageReceived whose text is `body`. */
export function isMessage(body: string): (item: SubscribeResponse) => boolean {
  return (item) => textOf(receivedOf(item)) === body;
}

/** Predicate: an event with this payload case. */
export function isEvent(kind: Event["payload"]["case"], test: (e: Event) => boolean = () => true) {
  return (item: SubscribeResponse) => item.item.case === "event" && item.item.value.payload.case === kind && test(item.item.value);
}

/** Predicate: any event that mentions this message ID (MessageReceived or MessageRecalled). */
export function isAboutMessage(messageId: string): (item: SubscribeResponse) => boolean {
  return (item) => {
    if (item.item.case !== "event") return false;
    const p = item.item.value.payload;
    return (p.case === "messageReceived" && p.value.message?.messageId === messageId) || (p.case === "messageRecalled" && p.value.messageId === messageId);
  };
}

/** A Subscribe stream read in the background; items accumulate in order. */
export class EventStream {
  readonly items: SubscribeResponse[] = [];
  /** The error that ended the stream, once it ended with one. */
  error: ConnectError | undefined;
  ended = false;
  private readonly abort = new AbortController();
  private readonly waiters = new Set<() => void>();

  private constructor(readonly label: string) {}

  static open(client: Client<typeof EventService>, options: SubscribeOptions, label: string): EventStream {
    const s = new EventStream(label);
    void s.read(client, options);
    return s;
  }

  private async read(client: Client<typeof EventService>, options: SubscribeOptions): Promise<void> {
    try {
      const req = {
        cursor: options.cursor ?? "",
        heartbeatInterval: options.heartbeatIntervalSeconds ? seconds(options.heartbeatIntervalSeconds) : undefined,
      };
      for await (const item of client.subscribe(req, { signal: this.abort.signal })) {
        this.items.push(item);
        this.notify();
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.error = ConnectError.from(err);
    }
    this.ended = true;
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Events received so far. */
  get events(): Event[] {
    return this.items.flatMap((i) => (i.item.case === "event" ? [i.item.value] : []));
  }

  /** Events received before `ready` (a resumed stream's replay). */
  get replayed(): Event[] {
    const at = this.items.findIndex((i) => i.item.case === "ready");
    return this.items.slice(0, at < 0 ? this.items.length : at).flatMap((i) => (i.item.case === "event" ? [i.item.value] : []));
  }

  /** Messages received (MessageReceived events), in order. */
  get messages(): Message[] {
    return this.items.flatMap((i) => {
      const m = receivedOf(i);
      return m ? [m] : [];
    });
  }

  /** The last non-empty cursor received (from `ready` or an event). */
  get lastCursor(): string {
    for (let i = this.items.length - 1; i >= 0; i--) {
      const it = this.items[i].item;
      if (it.case === "ready" && it.value.cursor) return it.value.cursor;
      if (it.case === "event" && it.value.cursor) return it.value.cursor;
    }
    return "";
  }

  /** Resolves with the first item (received so far or later) matching `predicate`. */
  waitFor(predicate: (item: SubscribeResponse) => boolean, timeoutMs = WAIT_MS): Promise<SubscribeResponse> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.items.find(predicate);
        if (found) return done(() => resolve(found));
        if (this.ended) {
          return done(() => reject(new Error(`${this.label}'s stream ended (${this.error?.message ?? "no error"}) before the awaited item`)));
        }
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.label}'s stream: awaited item did not arrive within ${timeoutMs} ms`))),
        timeoutMs,
      );
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        settle();
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves once `ready` arrived. */
  async ready(): Promise<string> {
    const item = await this.waitFor((i) => i.item.case === "ready");
    return item.item.case === "ready" ? item.item.value.cursor : "";
  }

  /** Resolves with the error that ends the stream. */
  async endError(timeoutMs = WAIT_MS): Promise<ConnectError | undefined> {
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!this.ended) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`${this.label}'s stream did not end within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(check);
      check();
    });
    return this.error;
  }

  /**
   * Fails if an item matching `predicate` arrives. With a barrier (an item known to be delivered
   * after the forbidden one would have been, e.g. a later message of the same group, rule EVT-8)
   * it waits for the barrier instead of sleeping.
   */
  async expectNone(predicate: (item: SubscribeResponse) => boolean, barrier?: (item: SubscribeResponse) => boolean, ms = NEGATIVE_WAIT_MS): Promise<void> {
    if (barrier) await this.waitFor(barrier);
    else await new Promise((r) => setTimeout(r, ms));
    expect(this.items.filter(predicate), `${this.label}'s stream got a forbidden item`).toEqual([]);
  }

  close(): void {
    this.abort.abort();
  }
}

/** Asserts that `promise` rejects with the code, reason and (where given) field and IDs of the spec. */
export async function expectError(
  promise: Promise<unknown>,
  code: Code,
  reason: ErrorReason,
  detail: { field?: string; ids?: readonly string[] } = {},
): Promise<ConnectError> {
  let error: unknown;
  try {
    await promise;
  } catch (err) {
    error = err;
  }
  expect(error, `expected ${ErrorReason[reason]}, but the call succeeded`).toBeDefined();
  expect(error).toBeInstanceOf(ConnectError);
  const ce = error as ConnectError;
  return checkError(ce, code, reason, detail);
}

/** Reasons that carry a google.rpc.RetryInfo (rule ERR-5). */
const RETRYABLE = new Set([ErrorReason.RATE_LIMITED, ErrorReason.SLOW_CONSUMER, ErrorReason.SHUTTING_DOWN]);

/** The narrowcast-domain details of an error, decoded: reason, field, IDs (rules ERR-1, ERR-5). */
export function detailsOf(ce: ConnectError) {
  const infos = ce.findDetails(ErrorInfoSchema);
  const info = infos[0];
  return {
    infos,
    reason: info?.reason,
    domain: info?.domain,
    field: info?.metadata.field ?? "",
    ids: info?.metadata.ids ? info.metadata.ids.split(",") : [],
    badRequest: ce.findDetails(BadRequestSchema),
    retryInfo: ce.findDetails(RetryInfoSchema),
  };
}

/**
 * Checks an error against the spec's code, reason, field and IDs (rule ERR-1), and the shape of
 * its details every time (rule ERR-5): one ErrorInfo in domain "narrowcast"; a BadRequest naming
 * the same field exactly when a field is at fault; a RetryInfo exactly for retryable reasons.
 */
export function checkError(
  ce: ConnectError | undefined,
  code: Code,
  reason: ErrorReason,
  detail: { field?: string; ids?: readonly string[] } = {},
): ConnectError {
  expect(ce, `expected ${ErrorReason[reason]}, got no error`).toBeDefined();
  const d = detailsOf(ce!);
  expect(
    { code: Code[ce!.code], reasons: d.infos.map((i) => `${i.domain}/${i.reason}`) },
    `error was: ${ce!.message}`,
  ).toEqual({ code: Code[code], reasons: [`narrowcast/${ErrorReason[reason]}`] });
  if (detail.field !== undefined) expect(d.field).toBe(detail.field);
  if (detail.ids !== undefined) expect([...d.ids].sort()).toEqual([...detail.ids].sort());
  if (d.field && code === Code.InvalidArgument) {
    expect(d.badRequest.map((b) => b.fieldViolations.map((v) => [v.field, v.reason]))).toEqual([[[d.field, ErrorReason[reason]]]]);
  } else {
    expect(d.badRequest).toEqual([]);
  }
  expect(d.retryInfo.length, "RetryInfo exactly on retryable reasons").toBe(RETRYABLE.has(reason) ? 1 : 0);
  return ce!;
}

/** Drains a server stream, for errors that end it before any item. */
export async function drain(stream: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of stream) n++;
  return n;
}

/** `n` user IDs with a prefix: u1, u2, ... */
export function ids(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
}

/** A clock for `startServer({ now })` that tests move forward (recall window, token expiry). */
export class FakeClock {
  private offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;

  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
}

/** What a viewer sees of one group: history IDs and the conversation's counters. */
export async function viewOf(user: UserClient, groupId: string) {
  const [history, conversation] = await Promise.all([user.history(groupId), user.conversation(groupId)]);
  return {
    history: history.map((m) => m.messageId),
    unread: conversation.unreadCount,
    readSeq: conversation.readSeq,
    last: conversation.lastMessage?.messageId ?? "",
    mentionedMe: conversation.mentionedMe,
    mentionedAll: conversation.mentionedAll,
  };
}
