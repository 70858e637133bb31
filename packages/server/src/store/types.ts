// The storage contract. Every Store (embedded SQLite, PostgreSQL) passes the same contract test
// suite (test/store-contract.ts). Methods are transactional: each either applies all of its
// changes or none (rule MSG-15). Costs are part of the contract: unread counts, last messages
// and mention flags come from counters, never from scanning history (rules UNR-1, CNV-2).
import type { Event, Message, MessageElement } from "@narrowcast/gen";
import type { Positions } from "../positions.js";
import type { GroupType, MemberRole } from "@narrowcast/gen";
import type { Plan } from "@narrowcast/gen/admin";
import type { WebhookRecord, WebhookStore } from "./webhooks.js";

export interface AppRecord {
  appId: string;
  name: string;
  plan: Plan;
  /** base64url of the 32-byte HS256 secret. */
  secret: string;
  /** The secret before the last rotation, accepted until `previousSecretExpiresAt` (rule ADM-9). */
  previousSecret?: string;
  /** ms; absent when no previous secret is accepted. */
  previousSecretExpiresAt?: number;
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
 * sender; a MessageRecalled's users who may see the message at recall time, rule EVT-2); "user":
 * one user's private event, or a MemberJoined / MemberLeft above the GRP-14 threshold.
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

/**
 * A stored event's place and routing facts, without its content: what a node learns of an event
 * none of its streams needs (interest routing, hub.ts).
 */
export interface EventTick {
  appId: string;
  partition: number;
  position: number;
  groupId: string;
  /** The user a MemberJoined adds: that user's node needs the event, and the group from then on. */
  joinedUserId?: string;
}

/** Which events a node needs with their content: those of these groups, and these users' joins. */
export interface Interest {
  groupIds: readonly string[];
  userIds: readonly string[];
}

export interface StoredEvent {
  appId: string;
  /** The partition of the app's log the event is in: its group's (positions.ts). */
  partition: number;
  /** Position in that partition, from 1; 0 for events that are not stored (rule EVT-7). */
  position: number;
  groupId: string;
  audience: Audience;
  /**
   * The event. Its `cursor` is empty here: a cursor is a reader's place in the whole log, so the
   * Subscribe paths set it per delivery (cursor.ts).
   */
  event: Event;
  membership?: MembershipChange;
}

/**
 * A stored event as a replay reads it: where it sits and the Event's encoding as stored, with an
 * empty cursor. The replay sends those bytes as they are (frames.ts), so they are never decoded.
 */
export interface ReplayedEvent {
  partition: number;
  position: number;
  groupId: string;
  payload: Uint8Array;
}

export interface JoinRequestRecord {
  userId: string;
  message: string;
  createdAt: number;
}

/** Keyset pagination: items strictly after `after` in the listing's order, at most `limit`. */
export interface PageQuery<K> {
  after?: K;
  limit: number;
}

/** Per-type limits a store applies inside its transactions (rules GRP-13, GRP-14). */
export type { GroupLimits } from "../rules/groups.js";
import type { GroupLimits } from "../rules/groups.js";

export interface NewMember {
  userId: string;
  role: MemberRole;
}

/** The new content of an edited message (rule EDT-3). */
export interface MessageEdit {
  elements: MessageElement[];
  customData: Uint8Array;
}

/** One user's reaction on a message (rule RCT-6); also the key ListReactions pages by. */
export interface ReactionRecord {
  reaction: string;
  userId: string;
  createdAt: number;
}

/** One distinct reaction on a message as one viewer sees it (rule RCT-5). */
export interface ReactionTally {
  reaction: string;
  count: number;
  callerReacted: boolean;
}

/** One reader of a message that asked for read receipts (rule RCP-2); `readAt` once acknowledged. */
export interface ReceiptRecord {
  userId: string;
  readAt?: number;
}

/** A message's readers who acknowledged it, and who did not (rule RCP-4). */
export interface ReceiptCounts {
  read: number;
  unread: number;
}

/** An add or remove of one user's reaction (rules RCT-1, RCT-3). */
export interface ReactionChange {
  userId: string;
  reaction: string;
  added: boolean;
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
   * this sender in this group at or after this time, nothing is written and the recorded message is
   * returned with `duplicate: true`. Checked inside the transaction, so concurrent retries store once.
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
  /**
   * "backward": the `limit` highest-seq visible messages below `beforeSeq` (0 = no bound);
   * "forward": the `limit` lowest-seq visible messages above `afterSeq`.
   */
  direction: "backward" | "forward";
  beforeSeq: number;
  afterSeq: number;
  limit: number;
}

/**
 * What a send checks before it writes (rules MSG-1, MSG-10, TGT-3, TGT-9, UNR-8), read at once;
 * the service applies the checks in the spec's order (services/messaging.ts).
 */
export interface SendContext {
  /** The app's plan; undefined for an unknown app. */
  plan?: Plan;
  /** The group, unless it does not exist or was dismissed. */
  group?: GroupRecord;
  /** The sender's current membership (undefined for a system send, or a sender who is not a member). */
  sender?: MemberRecord;
  /** The message recorded under the client message ID at or after `since` (MSG-10). */
  earlier?: Message;
  /** Which of the asked user IDs (receivers, mentions) are current members. */
  members: Set<string>;
  /** The app's webhook configuration when it has a `before_send_url` (rule HOOK-10), read with the rest. */
  beforeSend?: WebhookRecord;
}

/** A domain conflict found inside a transaction (the service maps it to a typed error). */
export class StoreConflict extends Error {
  constructor(
    readonly kind:
      | "group_exists"
      | "already_member"
      | "not_member"
      | "already_recalled"
      | "group_not_found"
      | "group_full"
      | "user_not_found"
      | "join_request_not_found"
      | "reaction_limit",
    readonly ids: readonly string[] = [],
  ) {
    super(kind);
  }
}

export interface Store extends WebhookStore {
  /** Applies pending schema migrations (versioned). */
  migrate(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when the store answers a trivial query (readiness, GET /readyz); absent: always reachable. */
  ping?(): Promise<void>;

  createApp(app: AppRecord): Promise<void>;
  getApp(appId: string): Promise<AppRecord | undefined>;
  /** The app, and whether it has the user, in one read (token checks: AUTH-2, ADM-9, ADM-11). */
  getAppAndUser(appId: string, userId: string): Promise<{ app?: AppRecord; userExists: boolean }>;
  /** Sets the app's plan (rule ADM-8); undefined if there is no such app. */
  setAppPlan(appId: string, plan: Plan): Promise<AppRecord | undefined>;
  /**
   * Replaces the secret; the old one becomes `previousSecret` until `previousSecretExpiresAt`, or is
   * dropped when that is undefined (rule ADM-9). Undefined if there is no such app.
   */
  rotateAppSecret(appId: string, secret: string, previousSecretExpiresAt?: number): Promise<AppRecord | undefined>;
  upsertUsers(appId: string, users: readonly UserRecord[]): Promise<void>;
  /** Returns the subset of `userIds` that exist in the app. */
  existingUsers(appId: string, userIds: readonly string[]): Promise<Set<string>>;
  getUser(appId: string, userId: string): Promise<UserRecord | undefined>;
  /** The app's users ordered by user ID, after `after` (a user ID). */
  listUsers(appId: string, page: PageQuery<string>): Promise<UserRecord[]>;
  /**
   * Deletes a user (rule ADM-11): every membership ends as by AdminService.RemoveMembers (MemberLeft
   * to the remaining members and to the user, `removed_by` empty; an owned group is left without
   * owner), pending join requests and idempotency records go, then the user row. Messages stay.
   * The user's membership spans and private events go too: a user re-imported under the same ID
   * has no memberships and no past to replay from any cursor.
   * Returns the MemberLeft events in commit order; undefined if there is no such user.
   */
  deleteUser(appId: string, userId: string, now: number, limits: (type: GroupType) => GroupLimits): Promise<StoredEvent[] | undefined>;

  /** Creates a group and its first members; emits MemberJoined for each (GRP-10, GRP-14). */
  createGroup(
    group: Omit<GroupRecord, "memberCount" | "lastSeq" | "lastActivityAt">,
    members: readonly NewMember[],
    limits: GroupLimits,
  ): Promise<{ group: GroupRecord; events: StoredEvent[] }>;
  getGroup(appId: string, groupId: string): Promise<GroupRecord | undefined>;
  /** The current membership of a user, if any. */
  getMember(appId: string, groupId: string, userId: string): Promise<MemberRecord | undefined>;
  /**
   * Current members ordered by user ID: those among `userIds` when given (unpaged), else one page
   * after `page.after` (a user ID), else all of them.
   */
  listMembers(appId: string, groupId: string, userIds?: readonly string[], page?: PageQuery<string>): Promise<MemberRecord[]>;
  /** Groups the user is currently a member of, ordered by group ID; all, or one page after a group ID. */
  listUserGroups(appId: string, userId: string, page?: PageQuery<string>): Promise<GroupRecord[]>;
  /** The app's groups (not dismissed) ordered by group ID, after `after` (a group ID). */
  listGroups(appId: string, page: PageQuery<string>): Promise<GroupRecord[]>;
  /**
   * Adds members in order; StoreConflict "already_member" / "group_not_found" / "user_not_found"
   * (naming the users that do not exist: one deleted concurrently is never left a member, rule
   * ADM-11) / "group_full" (rule GRP-13, checked against `limits.maxMembers` inside the
   * transaction). createGroup checks its members the same way. Each MemberJoined
   * goes to the members at that moment, or only to the new member above
   * `limits.memberEventsMaxMembers` (rule GRP-14).
   */
  addMembers(
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]>;
  /** Removes members in order; MemberLeft as GRP-10, or only to the one who left above the GRP-14 threshold. */
  removeMembers(
    appId: string,
    groupId: string,
    userIds: readonly string[],
    removedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]>;
  /** Sets roles; an OWNER role also updates the group's owner (the previous owner becomes ADMIN). */
  setRoles(appId: string, groupId: string, roles: readonly NewMember[]): Promise<void>;
  dismissGroup(appId: string, groupId: string, now: number): Promise<StoredEvent>;

  /**
   * Creates a pending request, or replaces the message of one (keeping its createdAt); returns it.
   * StoreConflict "user_not_found" when the user no longer exists (checked in the transaction, so a
   * concurrent deleteUser leaves no orphaned request, rule ADM-11).
   */
  addJoinRequest(appId: string, groupId: string, userId: string, message: string, now: number): Promise<JoinRequestRecord>;
  /** Pending requests oldest first (createdAt, then user ID); one page after `after`, or all. */
  listJoinRequests(
    appId: string,
    groupId: string,
    page?: PageQuery<{ createdAt: number; userId: string }>,
  ): Promise<JoinRequestRecord[]>;
  /**
   * Approves a pending request in one transaction (rule GRP-3): the request goes and the user joins
   * as by addMembers with `addedBy = approvedBy`; on any conflict nothing changes and the request
   * stays pending. StoreConflict "group_not_found"; "join_request_not_found" when none is pending
   * (also when the user no longer exists: their requests went with them, rule ADM-11), so of a
   * concurrent approve and reject of one request exactly one succeeds; "group_full" (rule GRP-13).
   * A user who became a member meanwhile by another path keeps that membership: the stale request
   * goes and no event is recorded.
   */
  approveJoinRequest(
    appId: string,
    groupId: string,
    userId: string,
    approvedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<{ member: MemberRecord; events: StoredEvent[] }>;
  /** Removes a pending request and returns it; undefined if there was none. */
  deleteJoinRequest(appId: string, groupId: string, userId: string): Promise<JoinRequestRecord | undefined>;

  /** The message an earlier send to this group with this key returned, if within `since` (rule MSG-10). */
  /** sendContext's reads in one: the app's plan, the group, the sender, the idempotency record, members among `userIds`. */
  sendContext(
    appId: string,
    groupId: string,
    senderId: string,
    query: { clientMessageId: string; since: number; userIds: readonly string[] },
  ): Promise<SendContext>;
  findSent(
    appId: string,
    senderId: string,
    groupId: string,
    clientMessageId: string,
    since: number,
  ): Promise<Message | undefined>;
  /**
   * Stores (or, for persist=false, only records) a message: assigns seq and ID, writes O(1) rows
   * for an ordinary message and O(receivers) for a targeted one, updates the counters, moves the
   * sender's read position (rule UNR-5) and appends the MessageReceived event. A stored message
   * with `readReceiptsRequested` gets its readers (rule RCP-2) in the same transaction: its
   * receivers, or the group's current members, never the sender.
   */
  appendMessage(input: AppendMessageInput): Promise<{ message: Message; event: StoredEvent; duplicate: boolean }>;
  /** A stored message by ID if `viewerId` is in its audience (rule TGT-4), else undefined. */
  getMessage(appId: string, groupId: string, messageId: string, viewerId: string | null): Promise<Message | undefined>;
  listMessages(appId: string, groupId: string, query: ListMessagesQuery): Promise<{ messages: Message[]; hasMore: boolean }>;
  /**
   * Recalls a stored message and appends MessageRecalled for the users who may see the message at
   * recall time: current members in its audience, within their GRP-6 history (rule EVT-2). Every
   * reaction on it goes, with no event of its own (rule RCT-8).
   */
  recallMessage(
    appId: string,
    groupId: string,
    messageId: string,
    recalledBy: string,
    now: number,
  ): Promise<{ message: Message; event: StoredEvent }>;

  /**
   * Replaces a stored message's content (rule EDT-3), rewrites its logged MessageReceived to the
   * edited version, and appends MessageEdited for the users who may see the message now (EDT-4).
   * The caller checked who may edit (EDT-1, EDT-2); a recalled message is a StoreConflict.
   */
  editMessage(appId: string, groupId: string, messageId: string, edit: MessageEdit, now: number): Promise<{ message: Message; event: StoredEvent }>;

  /**
   * Adds or removes one user's reaction on a stored message (rules RCT-1, RCT-3, RCT-4, RCT-7):
   * when that changes something, appends ReactionChanged (with the reaction's new count) for the
   * users who may see the message now, as editMessage does. Changing nothing returns no event.
   * The caller checked who may react; StoreConflict "already_recalled", or "reaction_limit" when
   * an add would give the message more distinct reactions than RCT-4 allows (rules/reactions.ts).
   */
  changeReaction(appId: string, groupId: string, messageId: string, change: ReactionChange, now: number): Promise<{ event?: StoredEvent }>;
  /**
   * The reactions on each of these messages (by seq) as `viewerId` sees them (RCT-5), each
   * message's ordered by its oldest reaction's time, then code point order. Messages without any
   * are left out. One read for a page of history.
   */
  reactionCounts(appId: string, groupId: string, seqs: readonly number[], viewerId: string): Promise<Map<number, ReactionTally[]>>;
  /**
   * One page of the reactions on the message with this seq (RCT-6), by (createdAt, reaction,
   * userId) ascending, after `page.after`; only `reaction`'s when given.
   */
  listReactions(appId: string, groupId: string, seq: number, reaction: string | undefined, page: PageQuery<ReactionRecord>): Promise<ReactionRecord[]>;

  /**
   * Records `userId`'s acknowledgement of each message (by seq) whose readers include them and
   * who had not acknowledged it (rule RCP-3); others change nothing. For each one recorded,
   * appends MessageRead with the counts after it for the message's sender alone, when the sender
   * may see the message (RCP-5, VIS-1). Returns those events.
   */
  acknowledge(appId: string, groupId: string, userId: string, seqs: readonly number[], now: number): Promise<StoredEvent[]>;
  /** The receipt counts of each of these messages that has readers (RCP-4), in one read. */
  receiptCounts(appId: string, groupId: string, seqs: readonly number[]): Promise<Map<number, ReceiptCounts>>;
  /** One page of the message's readers who have (`read`) or have not acknowledged it, by user ID after `page.after`. */
  listReceipts(appId: string, groupId: string, seq: number, read: boolean, page: PageQuery<string>): Promise<ReceiptRecord[]>;

  /** The viewer's counters for one group, in O(1) of history length and group size. */
  conversation(appId: string, groupId: string, userId: string): Promise<ConversationCounters | undefined>;
  /** Every live group of the user with the user's counters, by group ID, in one read (ListConversations). */
  conversations(appId: string, userId: string): Promise<{ group: GroupRecord; counters: ConversationCounters }[]>;
  /**
   * Moves the read position forward (never back) and records ConversationUpdated; when the position
   * does not move, records nothing and returns no event (rule UNR-3).
   */
  markRead(
    appId: string,
    groupId: string,
    userId: string,
    readSeq: number,
    now: number,
    buildEvent: (counters: ConversationCounters) => Event,
  ): Promise<{ counters: ConversationCounters; event?: StoredEvent }>;

  /**
   * Events after `after` (one position per partition) that `userId` may see, ordered by
   * partition, then position, at most `limit` (rule EVT-3).
   */
  readEvents(appId: string, userId: string, after: readonly number[], limit: number): Promise<ReplayedEvent[]>;
  /** The app's latest position in each partition (all zero for an unknown app). */
  latestPositions(appId: string): Promise<Positions>;
  /** latestPositions of several apps in one read (unknown apps are left out). */
  latestPositionsOf(appIds: readonly string[]): Promise<Map<string, Positions>>;
  /**
   * The events of one partition of the app with positions from `from` to `to`, with the audience
   * and membership change they were published with: live delivery reads committed ranges from
   * here when the bus is late, lossy or down.
   */
  readEventRange(appId: string, partition: number, from: number, to: number): Promise<StoredEvent[]>;
  /**
   * readEventRange for a node that routes by interest: events the interest covers come whole,
   * the others as ticks (no payload read or decoded).
   */
  readEventRangeFor(appId: string, partition: number, from: number, to: number, interest: Interest): Promise<(StoredEvent | EventTick)[]>;
  /** Deletes idempotency records made before `before` (ms); returns how many (rule MSG-10). */
  pruneSent(before: number): Promise<number>;
  /**
   * Deletes stored events that happened before `before` (ms), in every app, and raises each
   * partition's retention floor to the highest position it deleted; returns how many (rule EVT-10).
   */
  pruneEvents(before: number): Promise<number>;
  /**
   * Per partition, the highest position of the app deleted by pruneEvents (0 if none): a cursor
   * below it there has expired (events after it are gone). A reader racing a prune should check
   * it after reading too.
   */
  eventFloors(appId: string): Promise<Positions>;
}
