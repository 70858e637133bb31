// The storage contract. Every Store (embedded SQLite, PostgreSQL) passes the same contract test
// suite (test/store-contract.ts). Methods are transactional: each either applies all of its
// changes or none (rule MSG-15). Costs are part of the contract: unread counts, last messages
// and mention flags come from counters, never from scanning history (rules UNR-1, CNV-2).
import type { Event, Message } from "@narrowcast/gen";
import type { Edition, GroupType, MemberRole } from "@narrowcast/gen";

export interface AppRecord {
  appId: string;
  name: string;
  edition: Edition;
  /** base64url of the 32-byte HS256 secret. */
  secret: string;
  createdAt: number;
}

export interface UserRecord {
  userId: string;
  nickname: string;
}

export interface GroupRecord {
  appId: string;
  groupId: string;
  type: GroupType;
  name: string;
  ownerId: string;
  memberCount: number;
  createdAt: number;
  /** Highest seq assigned so far (0 when no message was stored). */
  lastSeq: number;
  /** Time of the last stored message, or creation time; orders conversations (rule CNV-1). */
  lastActivityAt: number;
}

export interface MemberRecord {
  userId: string;
  role: MemberRole;
  joinedAt: number;
  /** The group's lastSeq when this membership began: the history floor of rule GRP-6. */
  joinSeq: number;
}

/**
 * Who may see an event. "group": the group's members at the time of the event (for MemberLeft
 * also the one who left); "users": exactly these users (a targeted message's receivers and
 * sender); "user": one user's private event.
 */
export type Audience =
  | { kind: "group" }
  | { kind: "users"; userIds: readonly string[] }
  | { kind: "user"; userId: string };

/** A membership change carried by an event, so subscription indexes can follow it. */
export type MembershipChange =
  | { change: "joined"; userId: string }
  | { change: "left"; userId: string }
  | { change: "dismissed" };

export interface StoredEvent {
  appId: string;
  /** Position in the app's event log; 0 for events that are not stored (rule EVT-7). */
  eventId: number;
  groupId: string;
  audience: Audience;
  /** The event, with `cursor` already set (empty when eventId is 0). */
  event: Event;
  membership?: MembershipChange;
}

export interface NewMember {
  userId: string;
  role: MemberRole;
}

export interface AppendMessageInput {
  appId: string;
  groupId: string;
  /** Empty for a system message. */
  senderId: string;
  /** The message as accepted: seq, messageId and serverTime are assigned by the store. */
  message: Message;
  /** False for online-only and AVCHATROOM messages: nothing but the idempotency record is kept. */
  persist: boolean;
  /** True when the message counts as unread for its audience (rules UNR-1, UNR-4, TGT-6). */
  countsAsUnread: boolean;
  now: number;
  /**
   * Idempotency (rule MSG-10): when given, and the message has a client message ID already recorded for
   * this sender at or after this time, nothing is written and the recorded message is returned
   * with `duplicate: true`. Checked inside the transaction, so concurrent retries store once.
   */
  dedupeSince?: number;
}

export interface ConversationCounters {
  readSeq: number;
  unreadCount: number;
  lastMessage?: Message;
  mentionedMe: boolean;
  mentionedAll: boolean;
}

export interface ListMessagesQuery {
  viewerId: string;
  /** Only messages with seq above this are visible (rule GRP-6). */
  floorSeq: number;
  beforeSeq: number;
  afterSeq: number;
  limit: number;
}

/** A domain conflict found inside a transaction (the service maps it to a typed error). */
export class StoreConflict extends Error {
  constructor(
    readonly kind:
      | "group_exists"
      | "already_member"
      | "not_member"
      | "already_recalled"
      | "group_not_found",
    readonly ids: readonly string[] = [],
  ) {
    super(kind);
  }
}

export interface Store {
  /** Applies pending schema migrations (versioned). */
  migrate(): Promise<void>;
  close(): Promise<void>;

  createApp(app: AppRecord): Promise<void>;
  getApp(appId: string): Promise<AppRecord | undefined>;
  upsertUsers(appId: string, users: readonly UserRecord[]): Promise<void>;
  /** Returns the subset of `userIds` that exist in the app. */
  existingUsers(appId: string, userIds: readonly string[]): Promise<Set<string>>;

  /** Creates a group and its first members; emits MemberJoined for each. */
  createGroup(
    group: Omit<GroupRecord, "memberCount" | "lastSeq" | "lastActivityAt">,
    members: readonly NewMember[],
  ): Promise<{ group: GroupRecord; events: StoredEvent[] }>;
  getGroup(appId: string, groupId: string): Promise<GroupRecord | undefined>;
  /** The current membership of a user, if any. */
  getMember(appId: string, groupId: string, userId: string): Promise<MemberRecord | undefined>;
  /** Current members; all of them, or those among `userIds`. Ordered by user ID. */
  listMembers(appId: string, groupId: string, userIds?: readonly string[]): Promise<MemberRecord[]>;
  /** Groups the user is currently a member of, ordered by group ID. */
  listUserGroups(appId: string, userId: string): Promise<GroupRecord[]>;
  addMembers(
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
  ): Promise<StoredEvent[]>;
  removeMembers(
    appId: string,
    groupId: string,
    userIds: readonly string[],
    removedBy: string,
    now: number,
  ): Promise<StoredEvent[]>;
  /** Sets roles; an OWNER role also updates the group's owner. */
  setRoles(appId: string, groupId: string, roles: readonly NewMember[]): Promise<void>;
  dismissGroup(appId: string, groupId: string, now: number): Promise<StoredEvent>;

  addJoinRequest(appId: string, groupId: string, userId: string, message: string, now: number): Promise<void>;
  listJoinRequests(
    appId: string,
    groupId: string,
  ): Promise<{ userId: string; message: string; createdAt: number }[]>;
  /** Removes a pending request; false if there was none. */
  deleteJoinRequest(appId: string, groupId: string, userId: string): Promise<boolean>;

  /** The message an earlier send with this key returned, if within `since` (rule MSG-10). */
  findSent(appId: string, senderId: string, clientMessageId: string, since: number): Promise<Message | undefined>;
  /**
   * Stores (or, for persist=false, only records) a message: assigns seq and ID, writes O(1) rows
   * for an ordinary message and O(receivers) for a targeted one, updates the counters, moves the
   * sender's read position (rule UNR-5) and appends the MessageReceived event.
   */
  appendMessage(input: AppendMessageInput): Promise<{ message: Message; event: StoredEvent; duplicate: boolean }>;
  /** A stored message by ID if `viewerId` is in its audience (rule TGT-4), else undefined. */
  getMessage(appId: string, groupId: string, messageId: string, viewerId: string | null): Promise<Message | undefined>;
  listMessages(appId: string, groupId: string, query: ListMessagesQuery): Promise<{ messages: Message[]; hasMore: boolean }>;
  /** Recalls a stored message and appends MessageRecalled for the same audience. */
  recallMessage(
    appId: string,
    groupId: string,
    messageId: string,
    recalledBy: string,
    now: number,
  ): Promise<{ message: Message; event: StoredEvent }>;

  /** The viewer's counters for one group, in O(1) of history length and group size. */
  conversation(appId: string, groupId: string, userId: string): Promise<ConversationCounters | undefined>;
  /** Moves the read position forward (never back) and records ConversationUpdated. */
  markRead(
    appId: string,
    groupId: string,
    userId: string,
    readSeq: number,
    now: number,
    buildEvent: (counters: ConversationCounters) => Event,
  ): Promise<{ counters: ConversationCounters; event: StoredEvent }>;

  /** Events after `afterEventId` that `userId` may see, oldest first (rule EVT-3). */
  readEvents(appId: string, userId: string, afterEventId: number, limit: number): Promise<StoredEvent[]>;
  latestEventId(appId: string): Promise<number>;
  /**
   * The app's events with IDs from `fromId` to `toId`, with the audience and membership change
   * they were published with: a node that missed a publication (its publisher stopped between
   * commit and publish) routes them from here.
   */
  readEventRange(appId: string, fromId: number, toId: number): Promise<StoredEvent[]>;
  /** Deletes idempotency records made before `before` (ms); returns how many (rule MSG-10). */
  pruneSent(before: number): Promise<number>;
}
