// The embedded store: SQLite through better-sqlite3, WAL mode. Every method runs in one
// synchronous transaction, so it is atomic and isolated within the process.
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EventSchema,
  MemberRole,
  MessageSchema,
  RecallInfoSchema,
  type Event,
  type Message,
} from "@narrowcast/gen";
import { newId } from "../ids.js";
import { sqliteMigrations } from "./sqlite-schema.js";
import {
  StoreConflict,
  type AppRecord,
  type Audience,
  type AppendMessageInput,
  type ConversationCounters,
  type GroupRecord,
  type ListMessagesQuery,
  type MemberRecord,
  type NewMember,
  type Store,
  type StoredEvent,
  type UserRecord,
} from "./types.js";
import { cursorOf } from "../cursor.js";
import { membershipOf } from "./routing.js";

type Row = Record<string, any>;

const AUDIENCE_GROUP = 0;
const AUDIENCE_TARGETED = 1;
const AUDIENCE_USER = 2;
/** Members whose history reaches target_seq (rule GRP-6): recall of an ordinary message. */
const AUDIENCE_HISTORY = 3;
const MEETING = 3; // GroupType.MEETING

export interface SqliteStoreOptions {
  /** A directory for narrowcast.db, or ":memory:". */
  dataDir: string;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(options: SqliteStoreOptions) {
    if (options.dataDir === ":memory:") {
      this.db = new Database(":memory:");
    } else {
      mkdirSync(options.dataDir, { recursive: true });
      this.db = new Database(join(options.dataDir, "narrowcast.db"));
      this.db.pragma("journal_mode = WAL");
      // WAL + NORMAL: durable across process crashes; an OS crash may lose the last commits.
      this.db.pragma("synchronous = NORMAL");
    }
    this.db.pragma("foreign_keys = OFF");
  }

  private q(sql: string): Database.Statement {
    let stmt = this.stmts.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.stmts.set(sql, stmt);
    }
    return stmt;
  }

  private tx<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(fn)());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async migrate(): Promise<void> {
    this.db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    );
    const applied = new Set(
      (this.db.prepare("SELECT version FROM schema_migrations").all() as Row[]).map((r) => r.version as number),
    );
    for (const m of sqliteMigrations) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)").run(m.version, Date.now());
      })();
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  // ---- apps and users ----

  createApp(app: AppRecord): Promise<void> {
    return this.tx(() => {
      this.q("INSERT INTO apps (app_id, name, edition, secret, created_at) VALUES (?, ?, ?, ?, ?)").run(
        app.appId,
        app.name,
        app.edition,
        app.secret,
        app.createdAt,
      );
    });
  }

  getApp(appId: string): Promise<AppRecord | undefined> {
    const r = this.q("SELECT * FROM apps WHERE app_id = ?").get(appId) as Row | undefined;
    return Promise.resolve(
      r && { appId: r.app_id, name: r.name, edition: r.edition, secret: r.secret, createdAt: r.created_at },
    );
  }

  upsertUsers(appId: string, users: readonly UserRecord[]): Promise<void> {
    return this.tx(() => {
      const stmt = this.q(
        "INSERT INTO users (app_id, user_id, nickname) VALUES (?, ?, ?) ON CONFLICT (app_id, user_id) DO UPDATE SET nickname = excluded.nickname",
      );
      for (const u of users) stmt.run(appId, u.userId, u.nickname);
    });
  }

  existingUsers(appId: string, userIds: readonly string[]): Promise<Set<string>> {
    const found = new Set<string>();
    const stmt = this.q("SELECT 1 FROM users WHERE app_id = ? AND user_id = ?");
    for (const id of new Set(userIds)) if (stmt.get(appId, id)) found.add(id);
    return Promise.resolve(found);
  }

  // ---- groups and members ----

  private groupRow(appId: string, groupId: string): Row | undefined {
    return this.q("SELECT * FROM groups WHERE app_id = ? AND group_id = ? AND dismissed = 0").get(appId, groupId) as
      | Row
      | undefined;
  }

  private static toGroup(r: Row): GroupRecord {
    return {
      appId: r.app_id,
      groupId: r.group_id,
      type: r.type,
      name: r.name,
      ownerId: r.owner_id,
      memberCount: r.member_count,
      createdAt: r.created_at,
      lastSeq: r.last_seq,
      lastActivityAt: r.last_activity_at,
    };
  }

  private static toMember(r: Row): MemberRecord {
    return { userId: r.user_id, role: r.role, joinedAt: r.joined_at, joinSeq: r.join_seq };
  }

  private nextEventId(appId: string): number {
    const r = this.q("UPDATE apps SET event_seq = event_seq + 1 WHERE app_id = ? RETURNING event_seq").get(appId) as
      | Row
      | undefined;
    if (!r) throw new Error(`app ${appId} vanished`);
    return r.event_seq as number;
  }

  /** Appends an event to the app's log and returns it with its cursor set. */
  private appendEvent(
    appId: string,
    groupId: string,
    now: number,
    audience: { kind: number; targetSeq?: number; userId?: string },
    build: (eventId: number) => Event,
  ): { eventId: number; event: Event } {
    const eventId = this.nextEventId(appId);
    const event = build(eventId);
    event.cursor = cursorOf(eventId);
    event.time ??= timestampFromMs(now);
    this.q(
      "INSERT INTO events (app_id, event_id, group_id, audience, target_seq, user_id, created_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      appId,
      eventId,
      groupId,
      audience.kind,
      audience.targetSeq ?? null,
      audience.userId ?? null,
      now,
      toBinary(EventSchema, event),
    );
    return { eventId, event };
  }

  private insertMembers(
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
  ): StoredEvent[] {
    const g = this.groupRow(appId, groupId);
    if (!g) throw new StoreConflict("group_not_found");
    const existing = members.filter((m) =>
      this.q("SELECT 1 FROM memberships WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL").get(
        appId,
        groupId,
        m.userId,
      ),
    );
    if (existing.length) throw new StoreConflict("already_member", existing.map((m) => m.userId));
    const events: StoredEvent[] = [];
    for (const m of members) {
      const { eventId, event } = this.appendEvent(appId, groupId, now, { kind: AUDIENCE_GROUP }, () =>
        create(EventSchema, {
          payload: {
            case: "memberJoined",
            value: {
              groupId,
              addedBy,
              member: { userId: m.userId, role: m.role, joinTime: timestampFromMs(now) },
            },
          },
        }),
      );
      this.q(
        `INSERT INTO memberships (app_id, group_id, user_id, role, joined_at, join_seq, join_event_id, read_seq, bcast_cum_at_read)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(appId, groupId, m.userId, m.role, now, g.last_seq, eventId, g.last_seq, g.bcast_cum);
      this.q("DELETE FROM join_requests WHERE app_id = ? AND group_id = ? AND user_id = ?").run(appId, groupId, m.userId);
      events.push({ appId, eventId, groupId, audience: { kind: "group" }, event, membership: { change: "joined", userId: m.userId } });
    }
    this.q("UPDATE groups SET member_count = member_count + ? WHERE app_id = ? AND group_id = ?").run(
      members.length,
      appId,
      groupId,
    );
    return events;
  }

  createGroup(
    group: Omit<GroupRecord, "memberCount" | "lastSeq" | "lastActivityAt">,
    members: readonly NewMember[],
  ): Promise<{ group: GroupRecord; events: StoredEvent[] }> {
    return this.tx(() => {
      const exists = this.q("SELECT 1 FROM groups WHERE app_id = ? AND group_id = ?").get(group.appId, group.groupId);
      if (exists) throw new StoreConflict("group_exists", [group.groupId]);
      this.q(
        "INSERT INTO groups (app_id, group_id, type, name, owner_id, created_at, last_activity_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ).run(group.appId, group.groupId, group.type, group.name, group.ownerId, group.createdAt, group.createdAt);
      const events = this.insertMembers(group.appId, group.groupId, members, "", group.createdAt);
      return { group: SqliteStore.toGroup(this.groupRow(group.appId, group.groupId)!), events };
    });
  }

  getGroup(appId: string, groupId: string): Promise<GroupRecord | undefined> {
    const r = this.groupRow(appId, groupId);
    return Promise.resolve(r && SqliteStore.toGroup(r));
  }

  private memberRow(appId: string, groupId: string, userId: string): Row | undefined {
    return this.q(
      "SELECT * FROM memberships WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL",
    ).get(appId, groupId, userId) as Row | undefined;
  }

  getMember(appId: string, groupId: string, userId: string): Promise<MemberRecord | undefined> {
    const r = this.memberRow(appId, groupId, userId);
    return Promise.resolve(r && SqliteStore.toMember(r));
  }

  listMembers(appId: string, groupId: string, userIds?: readonly string[]): Promise<MemberRecord[]> {
    if (userIds) {
      const out: MemberRecord[] = [];
      for (const id of [...new Set(userIds)].sort()) {
        const r = this.memberRow(appId, groupId, id);
        if (r) out.push(SqliteStore.toMember(r));
      }
      return Promise.resolve(out);
    }
    const rows = this.q(
      "SELECT * FROM memberships WHERE app_id = ? AND group_id = ? AND left_event_id IS NULL ORDER BY user_id",
    ).all(appId, groupId) as Row[];
    return Promise.resolve(rows.map(SqliteStore.toMember));
  }

  listUserGroups(appId: string, userId: string): Promise<GroupRecord[]> {
    const rows = this.q(
      `SELECT g.* FROM memberships m JOIN groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
       WHERE m.app_id = ? AND m.user_id = ? AND m.left_event_id IS NULL AND g.dismissed = 0 ORDER BY g.group_id`,
    ).all(appId, userId) as Row[];
    return Promise.resolve(rows.map(SqliteStore.toGroup));
  }

  addMembers(
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
  ): Promise<StoredEvent[]> {
    return this.tx(() => this.insertMembers(appId, groupId, members, addedBy, now));
  }

  removeMembers(
    appId: string,
    groupId: string,
    userIds: readonly string[],
    removedBy: string,
    now: number,
  ): Promise<StoredEvent[]> {
    return this.tx(() => {
      if (!this.groupRow(appId, groupId)) throw new StoreConflict("group_not_found");
      const missing = userIds.filter((id) => !this.memberRow(appId, groupId, id));
      if (missing.length) throw new StoreConflict("not_member", missing);
      const events: StoredEvent[] = [];
      for (const userId of new Set(userIds)) {
        const { eventId, event } = this.appendEvent(appId, groupId, now, { kind: AUDIENCE_GROUP }, () =>
          create(EventSchema, { payload: { case: "memberLeft", value: { groupId, userId, removedBy } } }),
        );
        this.q(
          "UPDATE memberships SET left_event_id = ? WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL",
        ).run(eventId, appId, groupId, userId);
        this.q("UPDATE groups SET member_count = member_count - 1, owner_id = CASE WHEN owner_id = ? THEN '' ELSE owner_id END WHERE app_id = ? AND group_id = ?").run(
          userId,
          appId,
          groupId,
        );
        events.push({ appId, eventId, groupId, audience: { kind: "group" }, event, membership: { change: "left", userId } });
      }
      return events;
    });
  }

  setRoles(appId: string, groupId: string, roles: readonly NewMember[]): Promise<void> {
    return this.tx(() => {
      const g = this.groupRow(appId, groupId);
      if (!g) throw new StoreConflict("group_not_found");
      const missing = roles.filter((r) => !this.memberRow(appId, groupId, r.userId)).map((r) => r.userId);
      if (missing.length) throw new StoreConflict("not_member", missing);
      for (const r of roles) {
        if (r.role === MemberRole.OWNER && g.owner_id && g.owner_id !== r.userId) {
          // Ownership moves: the previous owner becomes an admin.
          this.q(
            "UPDATE memberships SET role = ? WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL",
          ).run(MemberRole.ADMIN, appId, groupId, g.owner_id);
        }
        this.q(
          "UPDATE memberships SET role = ? WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL",
        ).run(r.role, appId, groupId, r.userId);
        if (r.role === MemberRole.OWNER) {
          this.q("UPDATE groups SET owner_id = ? WHERE app_id = ? AND group_id = ?").run(r.userId, appId, groupId);
        } else if (g.owner_id === r.userId) {
          this.q("UPDATE groups SET owner_id = '' WHERE app_id = ? AND group_id = ?").run(appId, groupId);
        }
      }
    });
  }

  dismissGroup(appId: string, groupId: string, now: number): Promise<StoredEvent> {
    return this.tx(() => {
      if (!this.groupRow(appId, groupId)) throw new StoreConflict("group_not_found");
      const { eventId, event } = this.appendEvent(appId, groupId, now, { kind: AUDIENCE_GROUP }, () =>
        create(EventSchema, { payload: { case: "groupDismissed", value: { groupId } } }),
      );
      this.q(
        "UPDATE memberships SET left_event_id = ? WHERE app_id = ? AND group_id = ? AND left_event_id IS NULL",
      ).run(eventId, appId, groupId);
      this.q("UPDATE groups SET dismissed = 1, member_count = 0 WHERE app_id = ? AND group_id = ?").run(appId, groupId);
      this.q("DELETE FROM join_requests WHERE app_id = ? AND group_id = ?").run(appId, groupId);
      return { appId, eventId, groupId, audience: { kind: "group" }, event, membership: { change: "dismissed" } };
    });
  }

  addJoinRequest(appId: string, groupId: string, userId: string, message: string, now: number): Promise<void> {
    return this.tx(() => {
      this.q(
        "INSERT INTO join_requests (app_id, group_id, user_id, message, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET message = excluded.message",
      ).run(appId, groupId, userId, message, now);
    });
  }

  listJoinRequests(appId: string, groupId: string): Promise<{ userId: string; message: string; createdAt: number }[]> {
    const rows = this.q(
      "SELECT * FROM join_requests WHERE app_id = ? AND group_id = ? ORDER BY created_at, user_id",
    ).all(appId, groupId) as Row[];
    return Promise.resolve(rows.map((r) => ({ userId: r.user_id, message: r.message, createdAt: r.created_at })));
  }

  deleteJoinRequest(appId: string, groupId: string, userId: string): Promise<boolean> {
    return this.tx(
      () =>
        this.q("DELETE FROM join_requests WHERE app_id = ? AND group_id = ? AND user_id = ?").run(appId, groupId, userId)
          .changes > 0,
    );
  }

  // ---- messages ----

  findSent(appId: string, senderId: string, clientMessageId: string, since: number): Promise<Message | undefined> {
    const r = this.q(
      "SELECT payload, created_at FROM sent_messages WHERE app_id = ? AND sender_id = ? AND client_message_id = ?",
    ).get(appId, senderId, clientMessageId) as Row | undefined;
    if (!r || r.created_at < since) return Promise.resolve(undefined);
    return Promise.resolve(fromBinary(MessageSchema, r.payload));
  }

  appendMessage(input: AppendMessageInput): Promise<{ message: Message; event: StoredEvent; duplicate: boolean }> {
    return this.tx(() => {
      const { appId, groupId, senderId, now } = input;
      if (input.message.clientMessageId) {
        const r = this.q(
          "SELECT payload, created_at FROM sent_messages WHERE app_id = ? AND sender_id = ? AND client_message_id = ?",
        ).get(appId, senderId, input.message.clientMessageId) as Row | undefined;
        if (r && input.dedupeSince !== undefined && r.created_at >= input.dedupeSince) {
          const earlier = fromBinary(MessageSchema, r.payload);
          const event = create(EventSchema, { payload: { case: "messageReceived", value: { message: earlier } } });
          return { message: earlier, event: { appId, eventId: 0, groupId, audience: { kind: "group" }, event }, duplicate: true };
        }
      }
      const message = input.message;
      message.groupId = groupId;
      message.senderId = senderId;
      message.messageId = newId("msg");
      message.serverTime = timestampFromMs(now);
      const targeted = message.receiverIds.length > 0;
      const audienceIds = senderId ? [...message.receiverIds, senderId] : [...message.receiverIds];
      const audience: Audience = targeted ? { kind: "users", userIds: audienceIds } : { kind: "group" };
      const buildEvent = () =>
        create(EventSchema, { payload: { case: "messageReceived", value: { message } } });

      if (!input.persist) {
        message.seq = 0n;
        this.recordSent(appId, senderId, message, now);
        const event = buildEvent();
        event.time = timestampFromMs(now);
        return { message, event: { appId, eventId: 0, groupId, audience, event }, duplicate: false };
      }

      const g = this.groupRow(appId, groupId);
      if (!g) throw new StoreConflict("group_not_found");
      const seq = (g.last_seq as number) + 1;
      message.seq = BigInt(seq);
      const counts = input.countsAsUnread;
      const eligibleLast = !message.excludeFromLastMessage;

      let bcastCum = g.bcast_cum as number;
      if (!targeted) {
        if (counts) bcastCum += 1;
        this.q(
          `UPDATE groups SET last_seq = ?, last_activity_at = ?, bcast_cum = ?,
             last_bcast_seq = CASE WHEN ? THEN ? ELSE last_bcast_seq END,
             last_at_all_seq = CASE WHEN ? THEN ? ELSE last_at_all_seq END
           WHERE app_id = ? AND group_id = ?`,
        ).run(seq, now, bcastCum, eligibleLast ? 1 : 0, seq, message.mentionAll ? 1 : 0, seq, appId, groupId);
        for (const userId of new Set(message.mentionedUserIds)) {
          this.q(
            "UPDATE memberships SET last_mention_seq = ? WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL",
          ).run(seq, appId, groupId, userId);
        }
      } else {
        this.q("UPDATE groups SET last_seq = ?, last_activity_at = ? WHERE app_id = ? AND group_id = ?").run(
          seq,
          now,
          appId,
          groupId,
        );
        for (const userId of audienceIds) {
          const isSender = userId === senderId;
          const counted = counts && !isSender;
          const m = this.q(
            `UPDATE memberships SET tgt_cum = tgt_cum + ?, last_tgt_seq = CASE WHEN ? THEN ? ELSE last_tgt_seq END
             WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL RETURNING tgt_cum`,
          ).get(counted ? 1 : 0, eligibleLast ? 1 : 0, seq, appId, groupId, userId) as Row | undefined;
          if (!m) throw new StoreConflict("not_member", [userId]);
          this.q(
            "INSERT INTO message_audience (app_id, group_id, user_id, seq, is_sender, tgt_cum) VALUES (?, ?, ?, ?, ?, ?)",
          ).run(appId, groupId, userId, seq, isSender ? 1 : 0, m.tgt_cum);
        }
      }

      const { eventId, event } = this.appendEvent(
        appId,
        groupId,
        now,
        targeted ? { kind: AUDIENCE_TARGETED, targetSeq: seq } : { kind: AUDIENCE_GROUP },
        buildEvent,
      );
      this.q(
        `INSERT INTO messages (app_id, group_id, seq, message_id, sender_id, targeted, bcast_cum, event_id, created_at, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(appId, groupId, seq, message.messageId, senderId, targeted ? 1 : 0, bcastCum, eventId, now, toBinary(MessageSchema, message));

      if (senderId) {
        // Rule UNR-5: sending moves the sender's read position to the new message.
        this.q(
          `UPDATE memberships SET read_seq = ?, bcast_cum_at_read = ?, tgt_cum_at_read = tgt_cum
           WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL`,
        ).run(seq, bcastCum, appId, groupId, senderId);
      }
      this.recordSent(appId, senderId, message, now);
      return { message, event: { appId, eventId, groupId, audience, event }, duplicate: false };
    });
  }

  private recordSent(appId: string, senderId: string, message: Message, now: number): void {
    if (!message.clientMessageId) return;
    this.q(
      `INSERT INTO sent_messages (app_id, sender_id, client_message_id, created_at, payload) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET created_at = excluded.created_at, payload = excluded.payload`,
    ).run(appId, senderId, message.clientMessageId, now, toBinary(MessageSchema, message));
  }

  private visible(appId: string, groupId: string, r: Row, viewerId: string | null): boolean {
    if (!r.targeted || viewerId === null) return true;
    return !!this.q(
      "SELECT 1 FROM message_audience WHERE app_id = ? AND group_id = ? AND user_id = ? AND seq = ?",
    ).get(appId, groupId, viewerId, r.seq);
  }

  getMessage(appId: string, groupId: string, messageId: string, viewerId: string | null): Promise<Message | undefined> {
    const r = this.q("SELECT * FROM messages WHERE app_id = ? AND message_id = ?").get(appId, messageId) as Row | undefined;
    if (!r || r.group_id !== groupId || !this.visible(appId, groupId, r, viewerId)) return Promise.resolve(undefined);
    return Promise.resolve(fromBinary(MessageSchema, r.payload));
  }

  listMessages(
    appId: string,
    groupId: string,
    query: ListMessagesQuery,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    const { viewerId, floorSeq, beforeSeq, afterSeq, limit } = query;
    const ascending = afterSeq > 0;
    const lower = Math.max(floorSeq, afterSeq);
    const upper = beforeSeq > 0 ? beforeSeq : Number.MAX_SAFE_INTEGER;
    // Two ordered index scans merged: ordinary messages, and the targeted ones addressed to (or
    // sent by) the viewer. Hidden targeted messages are never read. (CROSS JOIN fixes the join
    // order: SQLite would otherwise drive the second scan from messages.)
    const rows = this.q(
      `SELECT seq, payload FROM messages
         WHERE app_id = ? AND group_id = ? AND targeted = 0 AND seq > ? AND seq < ?
       UNION ALL
       SELECT m.seq, m.payload FROM message_audience a
         CROSS JOIN messages m ON m.app_id = a.app_id AND m.group_id = a.group_id AND m.seq = a.seq
         WHERE a.app_id = ? AND a.group_id = ? AND a.user_id = ? AND a.seq > ? AND a.seq < ?
       ORDER BY seq ${ascending ? "ASC" : "DESC"} LIMIT ?`,
    ).all(appId, groupId, lower, upper, appId, groupId, viewerId, lower, upper, limit + 1) as Row[];
    const hasMore = rows.length > limit;
    const page = rows.slice(0, limit);
    if (!ascending) page.reverse();
    return Promise.resolve({ messages: page.map((r) => fromBinary(MessageSchema, r.payload)), hasMore });
  }

  recallMessage(
    appId: string,
    groupId: string,
    messageId: string,
    recalledBy: string,
    now: number,
  ): Promise<{ message: Message; event: StoredEvent }> {
    return this.tx(() => {
      const r = this.q("SELECT * FROM messages WHERE app_id = ? AND message_id = ? AND group_id = ?").get(
        appId,
        messageId,
        groupId,
      ) as Row | undefined;
      if (!r) throw new StoreConflict("group_not_found");
      if (r.recalled) throw new StoreConflict("already_recalled");
      const message = fromBinary(MessageSchema, r.payload);
      message.elements = [];
      message.customData = new Uint8Array(0);
      message.recall = create(RecallInfoSchema, { recalledBy, recallTime: timestampFromMs(now) });
      const payload = toBinary(MessageSchema, message);
      this.q("UPDATE messages SET recalled = 1, payload = ? WHERE app_id = ? AND message_id = ?").run(payload, appId, messageId);
      // The logged MessageReceived must not replay the recalled content (rule MSG-11).
      const original = create(EventSchema, {
        cursor: cursorOf(r.event_id),
        time: timestampFromMs(r.created_at),
        payload: { case: "messageReceived", value: { message } },
      });
      this.q("UPDATE events SET payload = ? WHERE app_id = ? AND event_id = ?").run(
        toBinary(EventSchema, original),
        appId,
        r.event_id,
      );
      const targeted = !!r.targeted;
      const g = this.groupRow(appId, groupId);
      // Members who joined after the message never saw it, so they are not told of its recall
      // (rule GRP-6), except in MEETING groups, whose history reaches back before joining.
      const historyOnly = !targeted && g?.type !== MEETING;
      const { eventId, event } = this.appendEvent(
        appId,
        groupId,
        now,
        targeted
          ? { kind: AUDIENCE_TARGETED, targetSeq: r.seq }
          : historyOnly
            ? { kind: AUDIENCE_HISTORY, targetSeq: r.seq }
            : { kind: AUDIENCE_GROUP },
        () =>
          create(EventSchema, {
            payload: {
              case: "messageRecalled",
              value: { groupId, messageId, seq: BigInt(r.seq), recall: message.recall },
            },
          }),
      );
      const audience: Audience = targeted
        ? { kind: "users", userIds: message.senderId ? [...message.receiverIds, message.senderId] : [...message.receiverIds] }
        : historyOnly
          ? {
              kind: "users",
              userIds: (
                this.q(
                  "SELECT user_id FROM memberships WHERE app_id = ? AND group_id = ? AND left_event_id IS NULL AND join_seq < ?",
                ).all(appId, groupId, r.seq) as Row[]
              ).map((m) => m.user_id as string),
            }
          : { kind: "group" };
      return { message, event: { appId, eventId, groupId, audience, event } };
    });
  }

  // ---- conversations ----

  private counters(appId: string, groupId: string, g: Row, m: Row): ConversationCounters {
    const unread = (g.bcast_cum - m.bcast_cum_at_read) + (m.tgt_cum - m.tgt_cum_at_read);
    // The last message: the newer of the group's last ordinary message (if within this member's
    // history, rule GRP-6) and the member's last targeted message.
    let lastSeq = m.last_tgt_seq as number;
    const meeting = g.type === 3;
    if (g.last_bcast_seq > lastSeq && (meeting || g.last_bcast_seq > m.join_seq)) lastSeq = g.last_bcast_seq;
    let lastMessage: Message | undefined;
    if (lastSeq > 0) {
      const r = this.q("SELECT payload FROM messages WHERE app_id = ? AND group_id = ? AND seq = ?").get(
        appId,
        groupId,
        lastSeq,
      ) as Row | undefined;
      if (r) lastMessage = fromBinary(MessageSchema, r.payload);
    }
    return {
      readSeq: m.read_seq,
      unreadCount: Math.max(0, unread),
      lastMessage,
      mentionedMe: m.last_mention_seq > m.read_seq,
      mentionedAll: g.last_at_all_seq > m.read_seq && g.last_at_all_seq > m.join_seq,
    };
  }

  conversation(appId: string, groupId: string, userId: string): Promise<ConversationCounters | undefined> {
    const g = this.groupRow(appId, groupId);
    const m = g && this.memberRow(appId, groupId, userId);
    return Promise.resolve(g && m ? this.counters(appId, groupId, g, m) : undefined);
  }

  markRead(
    appId: string,
    groupId: string,
    userId: string,
    readSeq: number,
    now: number,
    buildEvent: (counters: ConversationCounters) => Event,
  ): Promise<{ counters: ConversationCounters; event: StoredEvent }> {
    return this.tx(() => {
      const g = this.groupRow(appId, groupId);
      if (!g) throw new StoreConflict("group_not_found");
      let m = this.memberRow(appId, groupId, userId);
      if (!m) throw new StoreConflict("not_member", [userId]);
      const target = readSeq === 0 ? g.last_seq : Math.min(readSeq, g.last_seq);
      if (target > m.read_seq) {
        const b = this.q(
          "SELECT bcast_cum FROM messages WHERE app_id = ? AND group_id = ? AND seq <= ? ORDER BY seq DESC LIMIT 1",
        ).get(appId, groupId, target) as Row | undefined;
        const t = this.q(
          `SELECT tgt_cum FROM message_audience WHERE app_id = ? AND group_id = ? AND user_id = ? AND seq <= ? AND seq > ?
           ORDER BY seq DESC LIMIT 1`,
        ).get(appId, groupId, userId, target, m.join_seq) as Row | undefined;
        this.q(
          "UPDATE memberships SET read_seq = ?, bcast_cum_at_read = MAX(bcast_cum_at_read, ?), tgt_cum_at_read = MAX(tgt_cum_at_read, ?) WHERE id = ?",
        ).run(target, b?.bcast_cum ?? 0, t?.tgt_cum ?? 0, m.id);
        m = this.memberRow(appId, groupId, userId)!;
      }
      const counters = this.counters(appId, groupId, g, m);
      const { eventId, event } = this.appendEvent(
        appId,
        groupId,
        now,
        { kind: AUDIENCE_USER, userId },
        () => buildEvent(counters),
      );
      return { counters, event: { appId, eventId, groupId, audience: { kind: "user", userId }, event } };
    });
  }

  // ---- event log ----

  readEvents(appId: string, userId: string, afterEventId: number, limit: number): Promise<StoredEvent[]> {
    // The events of the user's membership spans (each span's group, within the span) plus the
    // user's own events: cost follows what the user may see, not the app's whole log.
    const rows = this.q(
      `SELECT * FROM (
         SELECT e.event_id, e.group_id, e.audience, e.user_id, e.payload
           FROM memberships m
           CROSS JOIN events e INDEXED BY events_by_group ON e.app_id = m.app_id AND e.group_id = m.group_id
                AND e.event_id > ? AND e.event_id >= m.join_event_id
                AND (m.left_event_id IS NULL OR e.event_id <= m.left_event_id)
          WHERE m.app_id = ? AND m.user_id = ? AND (m.left_event_id IS NULL OR m.left_event_id > ?)
            AND e.audience <> ${AUDIENCE_USER}
            AND (e.audience <> ${AUDIENCE_HISTORY} OR m.join_seq < e.target_seq)
            AND (e.audience IN (${AUDIENCE_GROUP}, ${AUDIENCE_HISTORY}) OR EXISTS (SELECT 1 FROM message_audience a
                 WHERE a.app_id = e.app_id AND a.group_id = e.group_id AND a.user_id = m.user_id AND a.seq = e.target_seq))
         UNION ALL
         SELECT e.event_id, e.group_id, e.audience, e.user_id, e.payload
           FROM events e
          WHERE e.app_id = ? AND e.user_id = ? AND e.event_id > ? AND e.audience = ${AUDIENCE_USER}
       ) ORDER BY event_id LIMIT ?`,
    ).all(afterEventId, appId, userId, afterEventId, appId, userId, afterEventId, limit) as Row[];
    return Promise.resolve(
      rows.map((r) => ({
        appId,
        eventId: r.event_id,
        groupId: r.group_id,
        // Replay only needs the event; the audience is informational here.
        audience: r.audience === AUDIENCE_USER ? { kind: "user", userId: r.user_id } : { kind: "group" },
        event: fromBinary(EventSchema, r.payload),
      })),
    );
  }

  readEventRange(appId: string, fromId: number, toId: number): Promise<StoredEvent[]> {
    const rows = this.q("SELECT * FROM events WHERE app_id = ? AND event_id >= ? AND event_id <= ? ORDER BY event_id").all(
      appId,
      fromId,
      toId,
    ) as Row[];
    return Promise.resolve(
      rows.map((r) => {
        const event = fromBinary(EventSchema, r.payload);
        let audience: Audience;
        if (r.audience === AUDIENCE_USER) audience = { kind: "user", userId: r.user_id };
        else if (r.audience === AUDIENCE_GROUP) audience = { kind: "group" };
        else {
          const users =
            r.audience === AUDIENCE_TARGETED
              ? this.q("SELECT user_id FROM message_audience WHERE app_id = ? AND group_id = ? AND seq = ?").all(appId, r.group_id, r.target_seq)
              : // Members at the time of the event whose history held the message (rule GRP-6).
                this.q(
                  `SELECT user_id FROM memberships WHERE app_id = ? AND group_id = ? AND join_event_id <= ?
                     AND (left_event_id IS NULL OR left_event_id >= ?) AND join_seq < ?`,
                ).all(appId, r.group_id, r.event_id, r.event_id, r.target_seq);
          audience = { kind: "users", userIds: (users as Row[]).map((u) => u.user_id as string) };
        }
        return { appId, eventId: r.event_id, groupId: r.group_id, audience, event, membership: membershipOf(event) };
      }),
    );
  }

  pruneSent(before: number): Promise<number> {
    return this.tx(() => this.q("DELETE FROM sent_messages WHERE created_at < ?").run(before).changes);
  }

  latestEventId(appId: string): Promise<number> {
    const r = this.q("SELECT event_seq FROM apps WHERE app_id = ?").get(appId) as Row | undefined;
    return Promise.resolve(r ? r.event_seq : 0);
  }
}
