import { Code } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import {
  ConversationService,
  EventService,
  GroupService,
  MessageService,
} from "@narrowcast/gen";
import type { Conversation, Group, GroupMember, Message } from "@narrowcast/gen";
import { bearerAuth, tokenSource } from "./auth.js";
import type { TokenSource } from "./auth.js";
import type { BackoffOptions } from "./backoff.js";
import * as builders from "./builders.js";
import { NarrowcastError, required } from "./errors.js";
import { EventStream } from "./event-stream.js";
import { refuseWhenClosed } from "./lifecycle.js";
import type { ClientEvent, ClientEventMap, ClientEventType } from "./events.js";
import { parseGroupType } from "./names.js";
import type { GroupTypeInit } from "./names.js";
import { withRetries } from "./retry.js";
import type { RetryOptions } from "./retry.js";
import { toSendMessageRequest } from "./send-request.js";
import type { SendOptions } from "./send-request.js";
import { createServiceClient } from "./service-client.js";
import type { ConnectionOptions, TransportFactory } from "./transport.js";
import { checkSendMessageRequest } from "./validate.js";
import type { MessageDraft } from "./builders.js";

/** Options of `createClient`. */
export interface ClientOptions extends ConnectionOptions {
  /** The user token (rule AUTH-2). Give this or `getToken`. */
  token?: string;
  /** Returns the user token; called for every request, so it can refresh an expiring one. */
  getToken?: TokenSource;
  /** Resume the event stream after this cursor (e.g. `client.cursor` saved by a previous run). */
  cursor?: string;
  /** Heartbeat interval for the event stream, 1 to 300 seconds; default: the server's (15). */
  heartbeatSeconds?: number;
  /** Backoff between event-stream reconnects. */
  reconnect?: BackoffOptions;
  /** Retries of `sendMessage` after transient failures; `false` disables them. */
  retry?: RetryOptions | false;
}

/** Per-call options of `sendMessage`. */
export interface SendMessageOptions extends SendOptions {
  /** Cancels the send, retries included. */
  signal?: AbortSignal;
  /** Overrides the client's retry options for this send. */
  retry?: RetryOptions | false;
}

/** A page of history (rule MSG-12). */
export interface HistoryPage {
  /** Ascending by seq; may have gaps where targeted messages to others sit (rule TGT-8). */
  messages: Message[];
  hasMore: boolean;
}

/** The raw generated clients, for RPCs the high-level API does not wrap. */
export interface NarrowcastServices {
  groups: Client<typeof GroupService>;
  messages: Client<typeof MessageService>;
  conversations: Client<typeof ConversationService>;
  events: Client<typeof EventService>;
}

/** The high-level Narrowcast client of one user. */
export interface NarrowcastClient {
  // Builders, as methods too so that the vendor SDKs' `tim.createTextMessage(...)` reads the same.
  createMessage: typeof builders.createMessage;
  createTextMessage: typeof builders.createTextMessage;
  createTextAtMessage: typeof builders.createTextAtMessage;
  createCustomMessage: typeof builders.createCustomMessage;
  createImageMessage: typeof builders.createImageMessage;
  createFileMessage: typeof builders.createFileMessage;
  createLocationMessage: typeof builders.createLocationMessage;
  createFaceMessage: typeof builders.createFaceMessage;
  createTargetedGroupMessage: typeof builders.createTargetedGroupMessage;

  /**
   * Sends a draft. Rules the SDK can check fail before any network call, with the reason the
   * server would give. The request carries a client message ID (a random UUID unless given),
   * so transient failures are retried without ever storing the message twice (rule MSG-10).
   * Resolves to the message as stored.
   */
  sendMessage(message: MessageDraft, options?: SendMessageOptions): Promise<Message>;
  getMessage(groupId: string, messageId: string): Promise<Message>;
  /** A page of history; with neither bound, the latest messages (rule MSG-12). */
  getHistory(
    groupId: string,
    options?: { beforeSeq?: number | bigint; afterSeq?: number | bigint; limit?: number },
  ): Promise<HistoryPage>;
  recallMessage(groupId: string, messageId: string): Promise<Message>;

  listConversations(): Promise<Conversation[]>;
  getConversation(groupId: string): Promise<Conversation>;
  /** Marks read up to `readSeq` (default: the latest, rule UNR-3). */
  markConversationRead(groupId: string, readSeq?: number | bigint): Promise<Conversation>;

  createGroup(init: { type: GroupTypeInit; name?: string; groupId?: string; memberIds?: string[] }): Promise<Group>;
  joinGroup(groupId: string, message?: string): Promise<{ joined: boolean }>;
  inviteMembers(groupId: string, userIds: string[]): Promise<GroupMember[]>;
  leaveGroup(groupId: string): Promise<void>;
  listMembers(groupId: string): Promise<GroupMember[]>;
  listGroups(): Promise<Group[]>;

  /**
   * Listens to an event; starts the event stream if it is not running. Returns a function
   * that removes the handler. "error" reports a fatal stream error (after which the stream
   * stops until on()/events()/connect() is called again).
   */
  on<K extends ClientEventType>(type: K, handler: (event: ClientEventMap[K]) => void): () => void;
  off<K extends ClientEventType>(type: K, handler: (event: ClientEventMap[K]) => void): void;
  /** Every event from now on, as an async iterator; ends on close(), throws a fatal stream error. */
  events(): AsyncIterableIterator<ClientEvent>;
  /** Starts the event stream if needed; resolves once it is live (replay done, rule EVT-3). */
  connect(): Promise<void>;
  /** The event stream's resume position; save it to resume in a later run (option `cursor`). */
  readonly cursor: string;

  readonly services: NarrowcastServices;
  /** Stops the event stream, ends iterators and closes the connection. */
  close(): Promise<void>;
}

/** Builds a client on the given transport factory (the Node.js and browser entry points differ only in it). */
export function createClientWith(factory: TransportFactory, options: ClientOptions): NarrowcastClient {
  const getToken = tokenSource(options, "createClient");
  // Aborted by close(): cancels calls in flight and refuses new ones.
  const lifetime = new AbortController();
  const { transport, close: closeTransport } = factory({
    ...options,
    interceptors: [refuseWhenClosed(lifetime.signal), ...(options.interceptors ?? []), bearerAuth(getToken)],
  });
  const services: NarrowcastServices = {
    groups: createServiceClient(GroupService, transport),
    messages: createServiceClient(MessageService, transport),
    conversations: createServiceClient(ConversationService, transport),
    events: createServiceClient(EventService, transport),
  };
  const stream = new EventStream(
    (request, signal) => services.events.subscribe(request, { signal }),
    {
      cursor: options.cursor,
      heartbeatSeconds: options.heartbeatSeconds,
      reconnect: options.reconnect,
      tokenRefreshes: options.getToken !== undefined,
    },
  );
  let closed = false;

  return {
    createMessage: builders.createMessage,
    createTextMessage: builders.createTextMessage,
    createTextAtMessage: builders.createTextAtMessage,
    createCustomMessage: builders.createCustomMessage,
    createImageMessage: builders.createImageMessage,
    createFileMessage: builders.createFileMessage,
    createLocationMessage: builders.createLocationMessage,
    createFaceMessage: builders.createFaceMessage,
    createTargetedGroupMessage: builders.createTargetedGroupMessage,

    async sendMessage(message, sendOptions = {}) {
      const request = toSendMessageRequest(message, sendOptions);
      checkSendMessageRequest(request);
      if (request.clientMessageId === "") {
        request.clientMessageId = globalThis.crypto.randomUUID();
      }
      const retry = sendOptions.retry ?? options.retry;
      const signal = sendOptions.signal ? AbortSignal.any([sendOptions.signal, lifetime.signal]) : lifetime.signal;
      try {
        const response = await withRetries(
          () => services.messages.sendMessage(request, { signal }),
          retry === false ? { maxAttempts: 1 } : retry,
          signal,
        );
        return required(response.message, "message");
      } catch (e) {
        throw NarrowcastError.from(e);
      }
    },
    async getMessage(groupId, messageId) {
      const response = await services.messages.getMessage({ groupId, messageId });
      return required(response.message, "message");
    },
    async getHistory(groupId, page = {}) {
      const response = await services.messages.listMessages({
        groupId,
        beforeSeq: BigInt(page.beforeSeq ?? 0),
        afterSeq: BigInt(page.afterSeq ?? 0),
        limit: page.limit ?? 0,
      });
      return { messages: response.messages, hasMore: response.hasMore };
    },
    async recallMessage(groupId, messageId) {
      const response = await services.messages.recallMessage({ groupId, messageId });
      return required(response.message, "message");
    },

    async listConversations() {
      return (await services.conversations.listConversations({})).conversations;
    },
    async getConversation(groupId) {
      return required((await services.conversations.getConversation({ groupId })).conversation, "conversation");
    },
    async markConversationRead(groupId, readSeq = 0) {
      const response = await services.conversations.markConversationRead({ groupId, readSeq: BigInt(readSeq) });
      return required(response.conversation, "conversation");
    },

    async createGroup(init) {
      const response = await services.groups.createGroup({
        type: parseGroupType(init.type),
        name: init.name ?? "",
        groupId: init.groupId ?? "",
        memberIds: init.memberIds ?? [],
      });
      return required(response.group, "group");
    },
    async joinGroup(groupId, note = "") {
      const response = await services.groups.joinGroup({ groupId, message: note });
      return { joined: response.joined };
    },
    async inviteMembers(groupId, userIds) {
      return (await services.groups.inviteMembers({ groupId, userIds })).members;
    },
    async leaveGroup(groupId) {
      await services.groups.leaveGroup({ groupId });
    },
    async listMembers(groupId) {
      return (await services.groups.listMembers({ groupId })).members;
    },
    async listGroups() {
      return (await services.groups.listGroups({})).groups;
    },

    on: (type, handler) => stream.on(type, handler),
    off: (type, handler) => stream.off(type, handler),
    events: () => stream.events(),
    connect: () => stream.connect(),
    get cursor() {
      return stream.cursor;
    },

    services,
    async close() {
      if (closed) {
        return;
      }
      closed = true;
      lifetime.abort(new NarrowcastError({ code: Code.Canceled, message: "the client was closed" }));
      await stream.close();
      closeTransport();
    },
  };
}
