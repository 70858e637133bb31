import { Code } from "@connectrpc/connect";
import type { Client } from "@connectrpc/connect";
import {
  ConversationService,
  EventService,
  GroupService,
  MessageService,
  ServerService,
} from "@narrowcast/gen";
import { bearerAuth, tokenSource } from "./auth.js";
import type { TokenSource } from "./auth.js";
import type { BackoffOptions } from "./backoff.js";
import * as builders from "./builders.js";
import type { MessageDraft } from "./builders.js";
import { NarrowcastError, localError, required } from "./errors.js";
import { EventStream } from "./event-stream.js";
import type { ClientEvent, ClientEventMap, ClientEventType } from "./events.js";
import { toEditMessageRequest } from "./edit-request.js";
import type { EditContent } from "./edit-request.js";
import { refuseWhenClosed } from "./lifecycle.js";
import {
  toConversation,
  toGroup,
  toGroupMember,
  toJoinRequest,
  toMessage,
  toReaction,
  toReadReceipt,
  toReadReceiptCounts,
  toServerInfo,
} from "./model.js";
import type {
  Conversation,
  Group,
  GroupMember,
  JoinRequest,
  Message,
  Reaction,
  ReadReceipt,
  ReadReceiptCounts,
  ReplyTo,
  ServerInfo,
} from "./model.js";
import { parseGroupType, parseReadState, parseRole } from "./names.js";
import type { GroupTypeInit, ReadStateInit, RoleInit } from "./names.js";
import { walkPages } from "./paging.js";
import type { Page, PageOptions } from "./paging.js";
import { resolveQuote } from "./quotes.js";
import { Reason } from "./reasons.js";
import { withRetries } from "./retry.js";
import type { RetryOptions } from "./retry.js";
import { toSendMessageRequest } from "./send-request.js";
import type { SendOptions } from "./send-request.js";
import { createServiceClient } from "./service-client.js";
import type { ConnectionOptions, TransportFactory } from "./transport.js";
import {
  checkEditMessageRequest,
  checkListReactionsRequest,
  checkListReadReceiptsRequest,
  checkReactionRequest,
  checkSendMessageRequest,
  checkSendReadReceiptsRequest,
} from "./validate.js";

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

/**
 * Per-call options of `reply`: those of `sendMessage` but the group and the quoted message,
 * which are its arguments. `receiver` (or a draft's receiver list) makes a targeted reply.
 */
export type ReplyOptions = Omit<SendMessageOptions, "groupId" | "replyTo">;

/**
 * Which history to list (rule MSG-12). Without an anchor the first page holds the latest
 * messages and later pages walk back in time; `beforeSeq` starts below that seq and walks back;
 * `afterSeq` starts above it and walks forward (`afterSeq: 0` walks from the group's first
 * message). At most one anchor (both is FIELD_INVALID `after_seq`, raised before any network
 * call).
 * Pages after the first repeat the first request's anchor with the page token (the iterator
 * does this for you).
 */
export interface ListMessagesOptions extends PageOptions {
  beforeSeq?: number;
  afterSeq?: number;
}

/** Which reactions of a message to list (rule RCT-6): every reaction, or only `reaction`'s users. */
export interface ListReactionsOptions extends PageOptions {
  /** Only this reaction (checked as RCT-2 before any network call); absent or "" for every reaction. */
  reaction?: string;
}

/** Which readers of a message to list (rule RCP-4). */
export interface ListReadReceiptsOptions extends PageOptions {
  /**
   * Required: "read" (the readers who acknowledged it, with their `readTime`) or "unread" (those
   * who have not), or the ReadState enum. Absent is FIELD_INVALID `state`, before any network call.
   */
  state: ReadStateInit;
}

/** One page of a message's readers in one state, with the message's counts now. */
export interface ReadReceiptPage extends Page<ReadReceipt> {
  counts: ReadReceiptCounts;
}

/** What JoinGroup did: joined at once (MEETING, COMMUNITY, AVCHATROOM) or applied (PUBLIC). */
export type JoinResult =
  | { member: GroupMember; joinRequest?: undefined }
  | { member?: undefined; joinRequest: JoinRequest };

/** The raw generated clients, for RPCs the high-level API does not wrap (wire types: int64 as bigint). */
export interface NarrowcastServices {
  groups: Client<typeof GroupService>;
  messages: Client<typeof MessageService>;
  conversations: Client<typeof ConversationService>;
  events: Client<typeof EventService>;
  server: Client<typeof ServerService>;
}

/**
 * The high-level Narrowcast client of one user.
 *
 * Lists come two ways (rule PAG-1): `listX(...)` returns one page `{ items, nextPageToken }`
 * (pass the token back as `pageToken` for the next), and `x(...)` — `groups()`, `members(groupId)`,
 * `joinRequests(groupId)`, `conversations()`, `messages(groupId)`, `reactions(groupId, messageId)`,
 * `readReceipts(groupId, messageId, { state })` — is an async iterator over every item of every
 * page, fetching pages as the loop goes.
 */
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
  /**
   * Sends a quote reply to a message of the group this user may see (rule RPL-1): `content` is
   * a string (one text element) or a builder's draft, sent like `sendMessage` with `replyTo`.
   * A reply to a targeted message must be targeted within its audience — its receivers and
   * sender, e.g. `{ receiver: quoted.senderId }` — or the server refuses it with
   * REPLY_WIDENS_AUDIENCE (rule RPL-2). Resolves to the reply as stored; its `replyTo` holds the
   * quoted message's ID alone (see `resolveQuote`).
   */
  reply(groupId: string, quotedMessageId: string, content: string | MessageDraft, options?: ReplyOptions): Promise<Message>;
  /**
   * The quote of a reply as this user may see it now (rule RPL-3). Events, last messages and
   * send responses carry a reply's `replyTo` with the quoted message's ID alone (status
   * UNSPECIFIED): this reads the quoted message with getMessage — AVAILABLE with it, or
   * UNAVAILABLE when this user may not see it or it is gone (MESSAGE_NOT_FOUND). A `replyTo`
   * already resolved (getMessage, listMessages) is returned as it is; undefined for a message
   * that is not a reply.
   */
  resolveQuote(message: Pick<Message, "groupId" | "replyTo">): Promise<ReplyTo | undefined>;
  getMessage(groupId: string, messageId: string): Promise<Message>;
  /** One page of the history this user may see; messages ascending by seq within the page (rule MSG-12). */
  listMessages(groupId: string, options?: ListMessagesOptions): Promise<Page<Message>>;
  /**
   * Every message of the walk, in walk order: newest first without an anchor or with
   * `beforeSeq`, oldest first with `afterSeq`. Break out of the loop to stop fetching.
   */
  messages(groupId: string, options?: ListMessagesOptions): AsyncIterableIterator<Message>;
  recallMessage(groupId: string, messageId: string): Promise<Message>;
  /**
   * Replaces the elements and custom data of a message this user sent, within the server's edit
   * window (`getServerInfo().editWindow`; rules EDT-1 to EDT-6). `content` is a string (one text
   * element), a builder's draft, or `{ elements, customData }` (see EditContent). Receivers,
   * mentions and every other field stay as sent (rule DRV-1). Content the server would certainly
   * reject (empty, invalid element, too large, missing IDs) fails before any network call, as
   * for sends. Not retried: an edit has no idempotency key, and a repeated one would count twice.
   * Resolves to the message as edited, with `edit` set (`editCount`, `editTime`); the users who
   * may see it get a "messageEdited" event.
   */
  editMessage(groupId: string, messageId: string, content: EditContent): Promise<Message>;
  /**
   * Adds this user's reaction — an emoji such as "👍" or a code such as ":+1:", 1 to 32 code
   * points, compared exactly — to a message this user may see (rules RCT-1 to RCT-4). Adding one
   * this user already has changes nothing and succeeds (RCT-3). A reaction the server would
   * certainly reject, and missing IDs, fail before any network call (RCT-2). Resolves to the
   * message with its `reactions` as this user now sees them; the users who may see it get a
   * "reactionChanged" event. Not retried automatically; repeating it is harmless (RCT-3).
   */
  addReaction(groupId: string, messageId: string, reaction: string): Promise<Message>;
  /** Removes this user's reaction, like addReaction; removing one this user does not have changes nothing. */
  removeReaction(groupId: string, messageId: string, reaction: string): Promise<Message>;
  /** One page of who reacted to a message with what, oldest first (rule RCT-6). */
  listReactions(groupId: string, messageId: string, options?: ListReactionsOptions): Promise<Page<Reaction>>;
  /** Every reaction on a message, oldest first, fetching pages as the loop goes. */
  reactions(groupId: string, messageId: string, options?: ListReactionsOptions): AsyncIterableIterator<Reaction>;
  /**
   * Acknowledges messages of one group as read by this user (rule RCP-3): 1 to 100 message IDs
   * (duplicates collapse; none or more fail before any network call, FIELD_INVALID `message_ids`).
   * Every ID must name a message this user may see; otherwise nothing is recorded and the server
   * says MESSAGE_NOT_FOUND (field `message_ids`, `ids` = those IDs, the same whether they do not
   * exist or are hidden). A message that asked for receipts and has this user among its readers
   * is recorded as read once, and its sender gets a "messageRead" event; any other ID (no receipts
   * asked, this user's own message, already acknowledged) changes nothing and is no error, so a
   * repeat is harmless. Changes no unread count or read position (see markConversationRead; rule RCP-6).
   */
  sendReadReceipts(groupId: string, messageIds: readonly string[]): Promise<void>;
  /**
   * One page of the readers of a message this user sent, who have read it (`state: "read"`) or
   * not (`"unread"`), by user ID, with the message's counts now (rule RCP-4). Another member who
   * may see the message gets READ_RECEIPTS_SENDER_ONLY; one who may not, MESSAGE_NOT_FOUND. A
   * message that asked for no receipts has no readers.
   */
  listReadReceipts(groupId: string, messageId: string, options: ListReadReceiptsOptions): Promise<ReadReceiptPage>;
  /** Every reader of a message in one state, by user ID, fetching pages as the loop goes. */
  readReceipts(groupId: string, messageId: string, options: ListReadReceiptsOptions): AsyncIterableIterator<ReadReceipt>;

  /** One page of this user's conversations, most recently active first (rule CNV-1). */
  listConversations(options?: PageOptions): Promise<Page<Conversation>>;
  /**
   * Every conversation. A conversation whose activity changes during the walk moves to the
   * front and may be skipped (PAG-1); its new state arrives as a "conversationChanged" or
   * "messageReceived" event.
   */
  conversations(options?: PageOptions): AsyncIterableIterator<Conversation>;
  getConversation(groupId: string): Promise<Conversation>;
  /** Marks read up to `readSeq` (default: the latest, rule UNR-3). */
  markConversationRead(groupId: string, readSeq?: number): Promise<Conversation>;

  createGroup(init: { type: GroupTypeInit; name?: string; groupId?: string; memberIds?: readonly string[] }): Promise<Group>;
  getGroup(groupId: string): Promise<Group>;
  /** One page of the groups this user is in, by group ID. */
  listGroups(options?: PageOptions): Promise<Page<Group>>;
  groups(options?: PageOptions): AsyncIterableIterator<Group>;
  /** One page of a group's members, by user ID. */
  listMembers(groupId: string, options?: PageOptions): Promise<Page<GroupMember>>;
  members(groupId: string, options?: PageOptions): AsyncIterableIterator<GroupMember>;
  inviteMembers(groupId: string, userIds: readonly string[]): Promise<GroupMember[]>;
  /** Joins at once (`member`) or, for a PUBLIC group, applies (`joinRequest`) (rules GRP-3, GRP-4). */
  joinGroup(groupId: string, message?: string): Promise<JoinResult>;
  /** One page of a PUBLIC group's pending join requests, oldest first (owner or admin). */
  listJoinRequests(groupId: string, options?: PageOptions): Promise<Page<JoinRequest>>;
  joinRequests(groupId: string, options?: PageOptions): AsyncIterableIterator<JoinRequest>;
  /** Approves a join request; resolves to the new member. */
  approveJoinRequest(groupId: string, userId: string): Promise<GroupMember>;
  /** Rejects a join request; resolves to the request as it was. */
  rejectJoinRequest(groupId: string, userId: string): Promise<JoinRequest>;
  leaveGroup(groupId: string): Promise<void>;
  removeMembers(groupId: string, userIds: readonly string[]): Promise<void>;
  /** Makes a member ADMIN or MEMBER (owner only); resolves to the changed member. */
  setMemberRole(groupId: string, userId: string, role: RoleInit): Promise<GroupMember>;
  dismissGroup(groupId: string): Promise<void>;

  /** The server's limits, windows and retention (rule SRV-1; needs no valid token). */
  getServerInfo(): Promise<ServerInfo>;

  /**
   * Listens to an event; starts the event stream if it is not running. Returns a function
   * that removes the handler. "error" reports a fatal stream error (after which the stream
   * stops until on()/events()/connect() is called again); "resync" says the saved cursor had
   * expired and the app must reload its state (see ResyncEvent).
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

/** The page fields of a request: absent options mean the server's defaults. */
function pageRequest(options: PageOptions = {}): { pageSize: number; pageToken: string } {
  return { pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "" };
}

/** Checks the one ListMessages rule the client can see alone (MSG-12: at most one anchor). */
function messageAnchors(options: ListMessagesOptions): { beforeSeq?: bigint; afterSeq?: bigint } {
  const { beforeSeq, afterSeq } = options;
  if (beforeSeq !== undefined && afterSeq !== undefined) {
    throw localError(Reason.FIELD_INVALID, "after_seq", "give before_seq or after_seq, not both");
  }
  // The anchors have presence on the wire: unset is "no anchor", 0 is a real position.
  return {
    beforeSeq: beforeSeq === undefined ? undefined : BigInt(beforeSeq),
    afterSeq: afterSeq === undefined ? undefined : BigInt(afterSeq),
  };
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
    server: createServiceClient(ServerService, transport),
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

  const sendMessage = async (message: MessageDraft, sendOptions: SendMessageOptions = {}): Promise<Message> => {
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
      return toMessage(required(response.message, "message"));
    } catch (e) {
      throw NarrowcastError.from(e);
    }
  };
  const getMessage = async (groupId: string, messageId: string): Promise<Message> => {
    const response = await services.messages.getMessage({ groupId, messageId });
    return toMessage(required(response.message, "message"));
  };
  const listMessages = async (groupId: string, page: ListMessagesOptions = {}): Promise<Page<Message>> => {
    const response = await services.messages.listMessages({ groupId, ...pageRequest(page), ...messageAnchors(page) });
    return { items: response.messages.map(toMessage), nextPageToken: response.nextPageToken };
  };
  const listReactions = async (groupId: string, messageId: string, page: ListReactionsOptions = {}): Promise<Page<Reaction>> => {
    const request = { groupId, messageId, reaction: page.reaction ?? "", ...pageRequest(page) };
    checkListReactionsRequest(request);
    const response = await services.messages.listReactions(request);
    return { items: response.reactions.map(toReaction), nextPageToken: response.nextPageToken };
  };
  const changeReaction = async (groupId: string, messageId: string, reaction: string, added: boolean): Promise<Message> => {
    const request = { groupId, messageId, reaction };
    checkReactionRequest(request);
    const response = await (added ? services.messages.addReaction(request) : services.messages.removeReaction(request));
    return toMessage(required(response.message, "message"));
  };
  const listReadReceipts = async (groupId: string, messageId: string, options: ListReadReceiptsOptions): Promise<ReadReceiptPage> => {
    const request = { groupId, messageId, state: parseReadState(options?.state), ...pageRequest(options) };
    checkListReadReceiptsRequest(request);
    const response = await services.messages.listReadReceipts(request);
    return {
      items: response.receipts.map(toReadReceipt),
      nextPageToken: response.nextPageToken,
      counts: toReadReceiptCounts(required(response.counts, "counts")),
    };
  };
  const listConversations = async (page?: PageOptions): Promise<Page<Conversation>> => {
    const response = await services.conversations.listConversations(pageRequest(page));
    return { items: response.conversations.map(toConversation), nextPageToken: response.nextPageToken };
  };
  const listGroups = async (page?: PageOptions): Promise<Page<Group>> => {
    const response = await services.groups.listGroups(pageRequest(page));
    return { items: response.groups.map(toGroup), nextPageToken: response.nextPageToken };
  };
  const listMembers = async (groupId: string, page?: PageOptions): Promise<Page<GroupMember>> => {
    const response = await services.groups.listMembers({ groupId, ...pageRequest(page) });
    return { items: response.members.map(toGroupMember), nextPageToken: response.nextPageToken };
  };
  const listJoinRequests = async (groupId: string, page?: PageOptions): Promise<Page<JoinRequest>> => {
    const response = await services.groups.listJoinRequests({ groupId, ...pageRequest(page) });
    return { items: response.joinRequests.map(toJoinRequest), nextPageToken: response.nextPageToken };
  };

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

    sendMessage,
    reply(groupId, quotedMessageId, content, replyOptions = {}) {
      const draft = typeof content === "string" ? builders.createTextMessage(content) : content;
      return sendMessage(draft, { ...replyOptions, groupId, replyTo: quotedMessageId });
    },
    resolveQuote: (message) => resolveQuote(message, getMessage),
    getMessage,
    listMessages,
    messages(groupId, page = {}) {
      messageAnchors(page); // fail at the call, not at the first next()
      // Pages are ascending by seq; a backward walk yields each page newest first so that the
      // whole walk is in one order.
      const forward = page.afterSeq !== undefined;
      return walkPages(async (pageToken) => {
        const result = await listMessages(groupId, { ...page, pageToken });
        return forward ? result : { ...result, items: result.items.reverse() };
      }, page.pageToken);
    },
    async recallMessage(groupId, messageId) {
      const response = await services.messages.recallMessage({ groupId, messageId });
      return toMessage(required(response.message, "message"));
    },
    async editMessage(groupId, messageId, content) {
      const request = toEditMessageRequest(groupId, messageId, content);
      checkEditMessageRequest(request);
      const response = await services.messages.editMessage(request);
      return toMessage(required(response.message, "message"));
    },
    addReaction: (groupId, messageId, reaction) => changeReaction(groupId, messageId, reaction, true),
    removeReaction: (groupId, messageId, reaction) => changeReaction(groupId, messageId, reaction, false),
    listReactions,
    reactions(groupId, messageId, page = {}) {
      // Fail at the call, not at the first next(), like messages().
      checkListReactionsRequest({ groupId, messageId, reaction: page.reaction ?? "" });
      return walkPages((pageToken) => listReactions(groupId, messageId, { ...page, pageToken }), page.pageToken);
    },
    async sendReadReceipts(groupId, messageIds) {
      // Sent once each: the server collapses duplicates anyway (RCP-3).
      const request = { groupId, messageIds: [...new Set(messageIds)] };
      checkSendReadReceiptsRequest(request);
      await services.messages.sendReadReceipts(request);
    },
    listReadReceipts,
    readReceipts(groupId, messageId, options) {
      // Fail at the call, not at the first next(), like messages().
      checkListReadReceiptsRequest({ groupId, messageId, state: parseReadState(options?.state) });
      return walkPages((pageToken) => listReadReceipts(groupId, messageId, { ...options, pageToken }), options?.pageToken);
    },

    listConversations,
    conversations: (page = {}) => walkPages((pageToken) => listConversations({ ...page, pageToken }), page.pageToken),
    async getConversation(groupId) {
      return toConversation(required((await services.conversations.getConversation({ groupId })).conversation, "conversation"));
    },
    async markConversationRead(groupId, readSeq = 0) {
      const response = await services.conversations.markConversationRead({ groupId, readSeq: BigInt(readSeq) });
      return toConversation(required(response.conversation, "conversation"));
    },

    async createGroup(init) {
      const response = await services.groups.createGroup({
        type: parseGroupType(init.type),
        name: init.name ?? "",
        groupId: init.groupId ?? "",
        memberIds: [...(init.memberIds ?? [])],
      });
      return toGroup(required(response.group, "group"));
    },
    async getGroup(groupId) {
      return toGroup(required((await services.groups.getGroup({ groupId })).group, "group"));
    },
    listGroups,
    groups: (page = {}) => walkPages((pageToken) => listGroups({ ...page, pageToken }), page.pageToken),
    listMembers,
    members: (groupId, page = {}) => walkPages((pageToken) => listMembers(groupId, { ...page, pageToken }), page.pageToken),
    async inviteMembers(groupId, userIds) {
      return (await services.groups.inviteMembers({ groupId, userIds: [...userIds] })).members.map(toGroupMember);
    },
    async joinGroup(groupId, note = "") {
      const { result } = await services.groups.joinGroup({ groupId, message: note });
      switch (result.case) {
        case "member":
          return { member: toGroupMember(result.value) };
        case "joinRequest":
          return { joinRequest: toJoinRequest(result.value) };
        default:
          throw new NarrowcastError({ code: Code.Internal, message: "the server's response has no member or join_request" });
      }
    },
    listJoinRequests,
    joinRequests: (groupId, page = {}) =>
      walkPages((pageToken) => listJoinRequests(groupId, { ...page, pageToken }), page.pageToken),
    async approveJoinRequest(groupId, userId) {
      return toGroupMember(required((await services.groups.approveJoinRequest({ groupId, userId })).member, "member"));
    },
    async rejectJoinRequest(groupId, userId) {
      const response = await services.groups.rejectJoinRequest({ groupId, userId });
      return toJoinRequest(required(response.joinRequest, "join_request"));
    },
    async leaveGroup(groupId) {
      await services.groups.leaveGroup({ groupId });
    },
    async removeMembers(groupId, userIds) {
      await services.groups.removeMembers({ groupId, userIds: [...userIds] });
    },
    async setMemberRole(groupId, userId, role) {
      const response = await services.groups.setMemberRole({ groupId, userId, role: parseRole(role) });
      return toGroupMember(required(response.member, "member"));
    },
    async dismissGroup(groupId) {
      await services.groups.dismissGroup({ groupId });
    },

    async getServerInfo() {
      return toServerInfo(required((await services.server.getServerInfo({})).serverInfo, "server_info"));
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
