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
  type GroupType,
  type Message,
} from "@narrowcast/gen";
import type { Plan } from "@narrowcast/gen/admin";
import { newId } from "../ids.js";
import { sqliteMigrations } from "./sqlite-schema.js";
import {
  StoreConflict,
  type AppRecord,
  type Audience,
  type AppendMessageInput,
  type MessageEdit,
  type ConversationCounters,
  type GroupLimits,
  type GroupRecord,
  type JoinRequestRecord,
  type ListMessagesQuery,
  type MemberRecord,
  type NewMember,
  type PageQuery,
  type ReactionChange,
  type ReactionRecord,
  type ReactionTally,
  type ReceiptCounts,
  type ReceiptRecord,
  type Store,
  type ReplayedEvent,
  type StoredEvent,
  type EventTick,
  type Interest,
  type SendContext,
  type UserRecord,
} from "./types.js";
import { GroupCommit } from "./group-commit.js";
import { revise, rewrittenEvent, type Revision } from "./revisions.js";
import { reactionChangedEvent, talliesBySeq, type TallyRow } from "./reactions.js";
import { messageReadEvent, senderMaySee } from "./receipts.js";
import { audienceSpec, previousSecretColumns, toApp, toGroup, toJoinRequest, toMember, toUser, type Row } from "./records.js";
import {
  AUDIENCE,
  exceedsMaxMembers,
  historyFloorApplies,
  memberEventOnlyToSubject,
  messageAudience,
  derivedAudience,
  exceedsReactionLimit,
  type AudienceCode,
} from "../rules/index.js";
import { spanContainsEventSql, spanSeesEventSql } from "./visibility.js";
import { PARTITIONS, origin, partitionOf, type Positions } from "../positions.js";
import { joinedUserOf, membershipOf, tickOf } from "./routing.js";
import { SqliteWebhooks } from "./webhooks-sqlite.js";
import type { ClaimedDelivery, DeadLetterKey, DeadLetterRecord, NewPushDelivery, WebhookRecord } from "./webhooks.js";


export interface SqliteStoreOptions {
  /** A directory for narrowcast.db, or ":memory:". */
  dataDir: string;
}

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly stmts = new Map<string, Database.Statement>();
  private readonly commits: GroupCommit;
  private readonly webhooks: SqliteWebhooks;

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
    this.commits = new GroupCommit(this.db);
    this.webhooks = new SqliteWebhooks((sql) => this.q(sql), (fn) => this.tx(fn));
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

  async ping(): Promise<void> {
    this.db.prepare("SELECT 1").get();
  }

  async close(): Promise<void> {
    if (!this.db.open) return;
    this.commits.flush();
    this.db.close();
  }

  // ---- apps and users ----


  createApp(app: AppRecord): Promise<void> {
    return this.tx(() => {
      this.q(
        `INSERT INTO apps (app_id, name, plan, secret, previous_secret, previous_secret_expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        app.appId,
        app.name,
        app.plan,
        app.secret,
        ...previousSecretColumns(app),
        app.createdAt,
      );
      const insert = this.q("INSERT INTO partitions (app_id, part) VALUES (?, ?)");
      for (let part = 0; part < PARTITIONS; part++) insert.run(app.appId, part);
    });
  }

  getApp(appId: string): Promise<AppRecord | undefined> {
    const r = this.q("SELECT * FROM apps WHERE app_id = ?").get(appId) as Row | undefined;
    return Promise.resolve(r && toApp(r));
  }

  async getAppAndUser(appId: string, userId: string): Promise<{ app?: AppRecord; userExists: boolean }> {
    const app = await this.getApp(appId);
    return { app, userExists: !!app && (await this.existingUsers(appId, [userId])).has(userId) };
  }

  setAppPlan(appId: string, plan: Plan): Promise<AppRecord | undefined> {
    return this.tx(() => {
      const r = this.q("UPDATE apps SET plan = ? WHERE app_id = ? RETURNING *").get(plan, appId) as Row | undefined;
      return r && toApp(r);
    });
  }

  rotateAppSecret(appId: string, secret: string, previousSecretExpiresAt?: number): Promise<AppRecord | undefined> {
    return this.tx(() => {
      // The right-hand sides read the row as it was: the current secret becomes the previous one.
      const r = this.q(
        `UPDATE apps SET previous_secret = CASE WHEN ? IS NULL THEN NULL ELSE secret END,
           previous_secret_expires_at = ?, secret = ?
         WHERE app_id = ? RETURNING *`,
      ).get(previousSecretExpiresAt ?? null, previousSecretExpiresAt ?? null, secret, appId) as Row | undefined;
      return r && toApp(r);
    });
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
    const missing = new Set(this.missingUsers(appId, userIds));
    return Promise.resolve(new Set(userIds.filter((id) => !missing.has(id))));
  }

  /** The distinct IDs among `userIds` that are not users of the app. */
  private missingUsers(appId: string, userIds: readonly string[]): string[] {
    const stmt = this.q("SELECT 1 FROM users WHERE app_id = ? AND user_id = ?");
    return [...new Set(userIds)].filter((id) => !stmt.get(appId, id));
  }

  getUser(appId: string, userId: string): Promise<UserRecord | undefined> {
    const r = this.q("SELECT user_id, nickname FROM users WHERE app_id = ? AND user_id = ?").get(appId, userId) as
      | Row
      | undefined;
    return Promise.resolve(r && toUser(r));
  }

  listUsers(appId: string, page: PageQuery<string>): Promise<UserRecord[]> {
    const rows = this.q(
      "SELECT user_id, nickname FROM users WHERE app_id = ? AND user_id > ? ORDER BY user_id LIMIT ?",
    ).all(appId, page.after ?? "", page.limit) as Row[];
    return Promise.resolve(rows.map((r) => (toUser(r))));
  }

  deleteUser(
    appId: string,
    userId: string,
    now: number,
    limits: (type: GroupType) => GroupLimits,
  ): Promise<StoredEvent[] | undefined> {
    return this.tx(() => {
      if (!this.q("SELECT 1 FROM users WHERE app_id = ? AND user_id = ?").get(appId, userId)) return undefined;
      const groups = this.q(
        `SELECT g.* FROM memberships m JOIN groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
         WHERE m.app_id = ? AND m.user_id = ? AND m.left_event_id IS NULL AND g.dismissed = 0 ORDER BY g.group_id`,
      ).all(appId, userId) as Row[];
      const events: StoredEvent[] = [];
      for (const g of groups) events.push(...this.leave(appId, g, [userId], "", now, limits(g.type)));
      // Every membership span (all ended now) and every private event: a user re-imported under
      // the same ID has no memberships and no past to replay. (The events above were returned for
      // publication; only a node that misses that publication would find them gone.)
      this.q("DELETE FROM memberships WHERE app_id = ? AND user_id = ?").run(appId, userId);
      this.q(`DELETE FROM events WHERE app_id = ? AND user_id = ? AND audience = ${AUDIENCE.USER}`).run(appId, userId);
      this.q("DELETE FROM join_requests WHERE app_id = ? AND user_id = ?").run(appId, userId);
      this.q("DELETE FROM sent_messages WHERE app_id = ? AND sender_id = ?").run(appId, userId);
      // Their places in targeted audiences go too: a user re-imported under the same ID is a new
      // person and must never see the targeted messages the deleted one sent or received (ADM-11).
      this.q("DELETE FROM message_audience WHERE app_id = ? AND user_id = ?").run(appId, userId);
      // ADM-11's "no past", RCT-5, RCP-2: the user's reactions and receipts go with them.
      this.q("DELETE FROM reactions WHERE app_id = ? AND user_id = ?").run(appId, userId);
      this.q("DELETE FROM receipts WHERE app_id = ? AND user_id = ?").run(appId, userId);
      this.q("DELETE FROM users WHERE app_id = ? AND user_id = ?").run(appId, userId);
      return events;
    });
  }

  // ---- groups and members ----

  private groupRow(appId: string, groupId: string): Row | undefined {
    return this.q("SELECT * FROM groups WHERE app_id = ? AND group_id = ? AND dismissed = 0").get(appId, groupId) as
      | Row
      | undefined;
  }



  /** The next position in the group's partition (positions.ts). */
  private nextPosition(appId: string, groupId: string): { partition: number; position: number } {
    const r = this.q(
      `UPDATE partitions SET head = head + 1
        WHERE app_id = ? AND part = (SELECT part FROM groups WHERE app_id = ? AND group_id = ?) RETURNING part, head`,
    ).get(appId, appId, groupId) as Row | undefined;
    if (!r) throw new Error(`group ${groupId} of app ${appId} vanished`);
    return { partition: r.part as number, position: r.head as number };
  }

  /** Appends an event to the group's partition of the app's log. */
  private appendEvent(
    appId: string,
    groupId: string,
    now: number,
    audience: { kind: AudienceCode; targetSeq?: number; userId?: string },
    build: (eventId: number) => Event,
  ): { eventId: number; partition: number; event: Event } {
    const { partition, position: eventId } = this.nextPosition(appId, groupId);
    const event = build(eventId);
    event.time ??= timestampFromMs(now);
    this.q(
      "INSERT INTO events (app_id, part, event_id, group_id, audience, target_seq, user_id, joined_user_id, created_at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      appId,
      partition,
      eventId,
      groupId,
      audience.kind,
      audience.targetSeq ?? null,
      audience.userId ?? null,
      joinedUserOf(event) ?? null,
      now,
      toBinary(EventSchema, event),
    );
    // Rule HOOK-7: the event's webhook deliveries commit with it.
    this.webhooks.recordDeliveries(appId, partition, eventId, event, now);
    return { eventId, partition, event };
  }

  /**
   * The members a stored event with a "users" audience (TARGETED, HISTORY, TARGETED_ALL) reaches:
   * those whose span contains it and who may see it then. The same predicate as replay's, so
   * live fan-out, recovery and replay agree (rule EVT-2).
   */
  private eventAudience(appId: string, partition: number, eventId: number): string[] {
    const rows = this.q(
      `SELECT m.user_id FROM events e
         JOIN memberships m ON m.app_id = e.app_id AND m.group_id = e.group_id AND ${spanContainsEventSql("e", "m")}
        WHERE e.app_id = ? AND e.part = ? AND e.event_id = ? AND ${spanSeesEventSql("e", "m")}
        ORDER BY m.user_id`,
    ).all(appId, partition, eventId) as Row[];
    return rows.map((r) => r.user_id as string);
  }

  private insertMembers(
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
    limits: GroupLimits,
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
    // Checked here, not only by the service beforehand: a user deleted meanwhile must not become a
    // member (rule ADM-11).
    const unknown = this.missingUsers(appId, members.map((m) => m.userId));
    if (unknown.length) throw new StoreConflict("user_not_found", unknown);
    if (exceedsMaxMembers(g.member_count, members.length, limits)) throw new StoreConflict("group_full", [groupId]);
    const meeting = !historyFloorApplies(g.type);
    const events: StoredEvent[] = [];
    members.forEach((m, i) => {
      const audience: Audience = memberEventOnlyToSubject(g.type, g.member_count + i + 1, limits)
        ? { kind: "user", userId: m.userId }
        : { kind: "group" };
      const { eventId, partition, event } = this.appendEvent(appId, groupId, now, audienceSpec(audience), () =>
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
      // A MEETING member sees the history they are in the audience of, from an earlier membership
      // too (rule EVT-2 / VIS): their last targeted message is found again.
      const lastTgt = meeting
        ? ((
            this.q(
              `SELECT seq FROM message_audience WHERE app_id = ? AND group_id = ? AND user_id = ? AND last_eligible = 1
               ORDER BY seq DESC LIMIT 1`,
            ).get(appId, groupId, m.userId) as Row | undefined
          )?.seq ?? 0)
        : 0;
      this.q(
        `INSERT INTO memberships (app_id, group_id, user_id, role, joined_at, join_seq, join_event_id, read_seq, bcast_cum_at_read, last_tgt_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(appId, groupId, m.userId, m.role, now, g.last_seq, eventId, g.last_seq, g.bcast_cum, lastTgt);
      this.q("DELETE FROM join_requests WHERE app_id = ? AND group_id = ? AND user_id = ?").run(appId, groupId, m.userId);
      events.push({ appId, partition, position: eventId, groupId, audience, event, membership: { change: "joined", userId: m.userId } });
    });
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
    limits: GroupLimits,
  ): Promise<{ group: GroupRecord; events: StoredEvent[] }> {
    return this.tx(() => {
      const exists = this.q("SELECT 1 FROM groups WHERE app_id = ? AND group_id = ?").get(group.appId, group.groupId);
      if (exists) throw new StoreConflict("group_exists", [group.groupId]);
      this.q(
        "INSERT INTO groups (app_id, group_id, type, name, owner_id, created_at, last_activity_at, part) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ).run(group.appId, group.groupId, group.type, group.name, group.ownerId, group.createdAt, group.createdAt, partitionOf(group.groupId));
      const events = this.insertMembers(group.appId, group.groupId, members, "", group.createdAt, limits);
      return { group: toGroup(this.groupRow(group.appId, group.groupId)!), events };
    });
  }

  getGroup(appId: string, groupId: string): Promise<GroupRecord | undefined> {
    const r = this.groupRow(appId, groupId);
    return Promise.resolve(r && toGroup(r));
  }

  private memberRow(appId: string, groupId: string, userId: string): Row | undefined {
    return this.q(
      "SELECT * FROM memberships WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL",
    ).get(appId, groupId, userId) as Row | undefined;
  }

  getMember(appId: string, groupId: string, userId: string): Promise<MemberRecord | undefined> {
    const r = this.memberRow(appId, groupId, userId);
    return Promise.resolve(r && toMember(r));
  }

  listMembers(
    appId: string,
    groupId: string,
    userIds?: readonly string[],
    page?: PageQuery<string>,
  ): Promise<MemberRecord[]> {
    if (userIds) {
      const out: MemberRecord[] = [];
      for (const id of [...new Set(userIds)].sort()) {
        const r = this.memberRow(appId, groupId, id);
        if (r) out.push(toMember(r));
      }
      return Promise.resolve(out);
    }
    const rows = this.q(
      `SELECT * FROM memberships WHERE app_id = ? AND group_id = ? AND left_event_id IS NULL AND user_id > ?
       ORDER BY user_id LIMIT ?`,
    ).all(appId, groupId, page?.after ?? "", page ? page.limit : -1) as Row[];
    return Promise.resolve(rows.map(toMember));
  }

  listUserGroups(appId: string, userId: string, page?: PageQuery<string>): Promise<GroupRecord[]> {
    const rows = this.q(
      `SELECT g.* FROM memberships m JOIN groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
       WHERE m.app_id = ? AND m.user_id = ? AND m.left_event_id IS NULL AND g.dismissed = 0 AND m.group_id > ?
       ORDER BY m.group_id LIMIT ?`,
    ).all(appId, userId, page?.after ?? "", page ? page.limit : -1) as Row[];
    return Promise.resolve(rows.map(toGroup));
  }

  listGroups(appId: string, page: PageQuery<string>): Promise<GroupRecord[]> {
    const rows = this.q(
      "SELECT * FROM groups WHERE app_id = ? AND group_id > ? AND dismissed = 0 ORDER BY group_id LIMIT ?",
    ).all(appId, page.after ?? "", page.limit) as Row[];
    return Promise.resolve(rows.map(toGroup));
  }

  addMembers(
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]> {
    return this.tx(() => this.insertMembers(appId, groupId, members, addedBy, now, limits));
  }

  /** Ends current memberships of the group `g` (a groups row), with MemberLeft per GRP-10 / GRP-14. */
  private leave(
    appId: string,
    g: Row,
    userIds: readonly string[],
    removedBy: string,
    now: number,
    limits: GroupLimits,
  ): StoredEvent[] {
    const groupId = g.group_id as string;
    const events: StoredEvent[] = [];
    let count = g.member_count as number;
    for (const userId of new Set(userIds)) {
      // Counted before the leave (rule GRP-14).
      const audience: Audience = memberEventOnlyToSubject(g.type, count, limits) ? { kind: "user", userId } : { kind: "group" };
      const { eventId, partition, event } = this.appendEvent(appId, groupId, now, audienceSpec(audience), () =>
        create(EventSchema, { payload: { case: "memberLeft", value: { groupId, userId, removedBy } } }),
      );
      this.q(
        "UPDATE memberships SET left_event_id = ? WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL",
      ).run(eventId, appId, groupId, userId);
      this.q(
        "UPDATE groups SET member_count = member_count - 1, owner_id = CASE WHEN owner_id = ? THEN '' ELSE owner_id END WHERE app_id = ? AND group_id = ?",
      ).run(userId, appId, groupId);
      count--;
      events.push({ appId, partition, position: eventId, groupId, audience, event, membership: { change: "left", userId } });
    }
    return events;
  }

  removeMembers(
    appId: string,
    groupId: string,
    userIds: readonly string[],
    removedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]> {
    return this.tx(() => {
      const g = this.groupRow(appId, groupId);
      if (!g) throw new StoreConflict("group_not_found");
      const missing = userIds.filter((id) => !this.memberRow(appId, groupId, id));
      if (missing.length) throw new StoreConflict("not_member", missing);
      return this.leave(appId, g, userIds, removedBy, now, limits);
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
      const { eventId, partition, event } = this.appendEvent(appId, groupId, now, { kind: AUDIENCE.GROUP }, () =>
        create(EventSchema, { payload: { case: "groupDismissed", value: { groupId } } }),
      );
      this.q(
        "UPDATE memberships SET left_event_id = ? WHERE app_id = ? AND group_id = ? AND left_event_id IS NULL",
      ).run(eventId, appId, groupId);
      this.q("UPDATE groups SET dismissed = 1, member_count = 0 WHERE app_id = ? AND group_id = ?").run(appId, groupId);
      this.q("DELETE FROM join_requests WHERE app_id = ? AND group_id = ?").run(appId, groupId);
      return { appId, partition, position: eventId, groupId, audience: { kind: "group" }, event, membership: { change: "dismissed" } };
    });
  }


  addJoinRequest(appId: string, groupId: string, userId: string, message: string, now: number): Promise<JoinRequestRecord> {
    // A repeated request keeps its place in the queue (created_at) and takes the new message.
    return this.tx(() => {
      // Checked in the transaction: a user deleted meanwhile leaves no orphaned request (ADM-11).
      if (this.missingUsers(appId, [userId]).length) throw new StoreConflict("user_not_found", [userId]);
      return toJoinRequest(
        this.q(
          `INSERT INTO join_requests (app_id, group_id, user_id, message, created_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT DO UPDATE SET message = excluded.message RETURNING *`,
        ).get(appId, groupId, userId, message, now) as Row,
      );
    });
  }

  listJoinRequests(
    appId: string,
    groupId: string,
    page?: PageQuery<{ createdAt: number; userId: string }>,
  ): Promise<JoinRequestRecord[]> {
    const after = page?.after ?? { createdAt: -1, userId: "" };
    const rows = this.q(
      `SELECT * FROM join_requests WHERE app_id = ? AND group_id = ? AND (created_at, user_id) > (?, ?)
       ORDER BY created_at, user_id LIMIT ?`,
    ).all(appId, groupId, after.createdAt, after.userId, page ? page.limit : -1) as Row[];
    return Promise.resolve(rows.map(toJoinRequest));
  }

  approveJoinRequest(
    appId: string,
    groupId: string,
    userId: string,
    approvedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<{ member: MemberRecord; events: StoredEvent[] }> {
    return this.tx(() => {
      if (!this.groupRow(appId, groupId)) throw new StoreConflict("group_not_found");
      const current = this.memberRow(appId, groupId, userId);
      // Checked before the request, in the order the PostgreSQL store must lock them.
      if (!current && this.missingUsers(appId, [userId]).length) {
        throw new StoreConflict("join_request_not_found", [userId]);
      }
      const request = this.q("DELETE FROM join_requests WHERE app_id = ? AND group_id = ? AND user_id = ? RETURNING 1").get(
        appId,
        groupId,
        userId,
      );
      if (!request) throw new StoreConflict("join_request_not_found", [userId]);
      if (current) return { member: toMember(current), events: [] };
      // A conflict here (group_full) rolls the deletion back: the request stays pending as it was.
      const events = this.insertMembers(appId, groupId, [{ userId, role: MemberRole.MEMBER }], approvedBy, now, limits);
      return { member: toMember(this.memberRow(appId, groupId, userId)!), events };
    });
  }

  deleteJoinRequest(appId: string, groupId: string, userId: string): Promise<JoinRequestRecord | undefined> {
    return this.tx(() => {
      const r = this.q("DELETE FROM join_requests WHERE app_id = ? AND group_id = ? AND user_id = ? RETURNING *").get(
        appId,
        groupId,
        userId,
      ) as Row | undefined;
      return r && toJoinRequest(r);
    });
  }

  // ---- messages ----

  async sendContext(
    appId: string,
    groupId: string,
    senderId: string,
    query: { clientMessageId: string; since: number; userIds: readonly string[] },
  ): Promise<SendContext> {
    const group = await this.getGroup(appId, groupId);
    return {
      plan: (await this.getApp(appId))?.plan,
      group,
      sender: group && senderId ? await this.getMember(appId, groupId, senderId) : undefined,
      earlier: query.clientMessageId ? await this.findSent(appId, senderId, groupId, query.clientMessageId, query.since) : undefined,
      members: new Set(
        group && query.userIds.length ? (await this.listMembers(appId, groupId, query.userIds)).map((m) => m.userId) : [],
      ),
      beforeSend: this.webhooks.beforeSendOf(appId),
    };
  }

  findSent(
    appId: string,
    senderId: string,
    groupId: string,
    clientMessageId: string,
    since: number,
  ): Promise<Message | undefined> {
    const r = this.sentRow(appId, senderId, groupId, clientMessageId);
    if (!r || r.created_at < since) return Promise.resolve(undefined);
    return Promise.resolve(fromBinary(MessageSchema, r.payload));
  }

  private sentRow(appId: string, senderId: string, groupId: string, clientMessageId: string): Row | undefined {
    return this.q(
      "SELECT payload, created_at FROM sent_messages WHERE app_id = ? AND sender_id = ? AND group_id = ? AND client_message_id = ?",
    ).get(appId, senderId, groupId, clientMessageId) as Row | undefined;
  }

  appendMessage(input: AppendMessageInput): Promise<{ message: Message; event: StoredEvent; duplicate: boolean }> {
    // Sends are the hot write: they share commits (group-commit.ts).
    return this.commits.run(() => {
      const { appId, groupId, senderId, now } = input;
      if (input.message.clientMessageId && input.dedupeSince !== undefined) {
        const r = this.sentRow(appId, senderId, groupId, input.message.clientMessageId);
        if (r && r.created_at >= input.dedupeSince) {
          const earlier = fromBinary(MessageSchema, r.payload);
          const event = create(EventSchema, { payload: { case: "messageReceived", value: { message: earlier } } });
          return { message: earlier, event: { appId, partition: 0, position: 0, groupId, audience: { kind: "group" }, event }, duplicate: true };
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
        return { message, event: { appId, partition: 0, position: 0, groupId, audience, event }, duplicate: false };
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
            "INSERT INTO message_audience (app_id, group_id, user_id, seq, is_sender, tgt_cum, last_eligible) VALUES (?, ?, ?, ?, ?, ?, ?)",
          ).run(appId, groupId, userId, seq, isSender ? 1 : 0, m.tgt_cum, eligibleLast ? 1 : 0);
        }
      }

      const { eventId, partition, event } = this.appendEvent(
        appId,
        groupId,
        now,
        { kind: messageAudience(targeted), targetSeq: targeted ? seq : undefined },
        buildEvent,
      );
      this.q(
        `INSERT INTO messages (app_id, group_id, seq, message_id, sender_id, targeted, bcast_cum, event_id, created_at, payload)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(appId, groupId, seq, message.messageId, senderId, targeted ? 1 : 0, bcastCum, eventId, now, toBinary(MessageSchema, message));
      if (message.readReceiptsRequested) {
        // Rule RCP-2: the readers, fixed now — the receivers, or the current members — never the sender.
        this.q(
          `INSERT INTO receipts (app_id, group_id, seq, user_id)
           SELECT app_id, group_id, ?, user_id FROM memberships
            WHERE app_id = ? AND group_id = ? AND left_event_id IS NULL AND user_id <> ?
              AND (? = 0 OR user_id IN (SELECT value FROM json_each(?)))`,
        ).run(seq, appId, groupId, senderId, targeted ? 1 : 0, JSON.stringify(message.receiverIds));
      }

      if (senderId) {
        // Rule UNR-5: sending moves the sender's read position to the new message.
        this.q(
          `UPDATE memberships SET read_seq = ?, bcast_cum_at_read = ?, tgt_cum_at_read = tgt_cum
           WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL`,
        ).run(seq, bcastCum, appId, groupId, senderId);
      }
      this.recordSent(appId, senderId, message, now);
      return { message, event: { appId, partition, position: eventId, groupId, audience, event }, duplicate: false };
    });
  }

  private recordSent(appId: string, senderId: string, message: Message, now: number): void {
    if (!message.clientMessageId) return;
    this.q(
      `INSERT INTO sent_messages (app_id, sender_id, group_id, client_message_id, created_at, payload) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET created_at = excluded.created_at, payload = excluded.payload`,
    ).run(appId, senderId, message.groupId, message.clientMessageId, now, toBinary(MessageSchema, message));
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
    const ascending = query.direction === "forward";
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
    return this.revise(appId, groupId, messageId, { kind: "recall", recalledBy }, now);
  }

  editMessage(appId: string, groupId: string, messageId: string, edit: MessageEdit, now: number): Promise<{ message: Message; event: StoredEvent }> {
    return this.revise(appId, groupId, messageId, { kind: "edit", ...edit }, now);
  }

  /** Recall or edit (revisions.ts): the message, the events logged about it, and the new event. */
  private revise(appId: string, groupId: string, messageId: string, revision: Revision, now: number): Promise<{ message: Message; event: StoredEvent }> {
    return this.tx(() => {
      const { g, r } = this.liveMessage(appId, groupId, messageId);
      const message = fromBinary(MessageSchema, r.payload);
      const announce = revise(message, revision, now);
      this.q("UPDATE messages SET recalled = ?, payload = ? WHERE app_id = ? AND message_id = ?").run(
        message.recall ? 1 : 0,
        toBinary(MessageSchema, message),
        appId,
        messageId,
      );
      // The logged events with the message in them replay it as it is now (rules MSG-11, EDT-4):
      // its MessageReceived, then those naming it by target_seq (events_by_target, migration 6).
      const logged = this.q("SELECT event_id, payload FROM events WHERE app_id = ? AND part = ? AND event_id = ?").all(appId, g.part, r.event_id) as Row[];
      logged.push(
        ...(this.q("SELECT event_id, payload FROM events WHERE app_id = ? AND group_id = ? AND target_seq = ? AND event_id > ?").all(
          appId,
          groupId,
          r.seq,
          r.event_id,
        ) as Row[]),
      );
      for (const e of logged) {
        const payload = rewrittenEvent(e.payload, message);
        if (payload === e.payload) continue;
        this.q("UPDATE events SET payload = ? WHERE app_id = ? AND part = ? AND event_id = ?").run(payload, appId, g.part, e.event_id);
      }
      // RCT-8: a recalled message has no reactions (and no event says so but MessageRecalled).
      if (message.recall) this.q("DELETE FROM reactions WHERE app_id = ? AND group_id = ? AND seq = ?").run(appId, groupId, r.seq);
      return { message, event: this.appendDerivedEvent(appId, groupId, g, r, now, announce) };
    });
  }

  /**
   * The message's row and its group's, for a recall, an edit or a reaction change (inside their
   * transaction). StoreConflict "group_not_found" without either, "already_recalled" for a
   * recalled message.
   */
  private liveMessage(appId: string, groupId: string, messageId: string): { g: Row; r: Row } {
    const r = this.q("SELECT * FROM messages WHERE app_id = ? AND message_id = ? AND group_id = ?").get(appId, messageId, groupId) as Row | undefined;
    const g = r && this.groupRow(appId, groupId);
    if (!r || !g) throw new StoreConflict("group_not_found");
    if (r.recalled) throw new StoreConflict("already_recalled");
    return { g, r };
  }

  /**
   * Appends an event derived from the message of row `r` (DRV-1): for the users who may see the
   * message now (rule EVT-2), by replay's own predicate.
   */
  private appendDerivedEvent(appId: string, groupId: string, g: Row, r: Row, now: number, announce: Event): StoredEvent {
    const kind = derivedAudience(!!r.targeted, g.type);
    const { eventId, partition, event } = this.appendEvent(appId, groupId, now, { kind, targetSeq: r.seq }, () => announce);
    const audience: Audience =
      kind === AUDIENCE.GROUP ? { kind: "group" } : { kind: "users", userIds: this.eventAudience(appId, partition, eventId) };
    return { appId, partition, position: eventId, groupId, audience, event };
  }

  // ---- read receipts ----

  acknowledge(appId: string, groupId: string, userId: string, seqs: readonly number[], now: number): Promise<StoredEvent[]> {
    return this.tx(() => {
      const g = this.groupRow(appId, groupId);
      if (!g) return [];
      const events: StoredEvent[] = [];
      for (const seq of [...new Set(seqs)].sort((a, b) => a - b)) {
        const recorded = this.q(
          "UPDATE receipts SET read_at = ? WHERE app_id = ? AND group_id = ? AND seq = ? AND user_id = ? AND read_at IS NULL",
        ).run(now, appId, groupId, seq, userId).changes;
        if (!recorded) continue;
        const m = this.q("SELECT message_id, sender_id, targeted, seq FROM messages WHERE app_id = ? AND group_id = ? AND seq = ?").get(appId, groupId, seq) as Row;
        const sender = this.q("SELECT join_seq FROM memberships WHERE app_id = ? AND group_id = ? AND user_id = ? AND left_event_id IS NULL").get(
          appId,
          groupId,
          m.sender_id,
        ) as Row | undefined;
        if (!senderMaySee(m.sender_id, g.type, sender?.join_seq, seq, this.visible(appId, groupId, m, m.sender_id))) continue;
        const counts = this.receiptCountsOf(appId, groupId, [seq]).get(seq)!;
        const { eventId, partition, event } = this.appendEvent(appId, groupId, now, { kind: AUDIENCE.USER, userId: m.sender_id }, () =>
          messageReadEvent(groupId, m.message_id, seq, userId, counts),
        );
        events.push({ appId, partition, position: eventId, groupId, audience: { kind: "user", userId: m.sender_id }, event });
      }
      return events;
    });
  }

  private receiptCountsOf(appId: string, groupId: string, seqs: readonly number[]): Map<number, ReceiptCounts> {
    const rows = this.q(
      `SELECT seq, COUNT(read_at) AS read, COUNT(*) - COUNT(read_at) AS unread FROM receipts
        WHERE app_id = ? AND group_id = ? AND seq IN (SELECT value FROM json_each(?)) GROUP BY seq`,
    ).all(appId, groupId, JSON.stringify(seqs)) as Row[];
    return new Map(rows.map((r) => [r.seq as number, { read: r.read as number, unread: r.unread as number }]));
  }

  receiptCounts(appId: string, groupId: string, seqs: readonly number[]): Promise<Map<number, ReceiptCounts>> {
    return Promise.resolve(seqs.length ? this.receiptCountsOf(appId, groupId, seqs) : new Map());
  }

  listReceipts(appId: string, groupId: string, seq: number, read: boolean, page: PageQuery<string>): Promise<ReceiptRecord[]> {
    const rows = this.q(
      `SELECT user_id, read_at FROM receipts
        WHERE app_id = ? AND group_id = ? AND seq = ? AND (read_at IS NOT NULL) = ? AND user_id > ?
        ORDER BY user_id LIMIT ?`,
    ).all(appId, groupId, seq, read ? 1 : 0, page.after ?? "", page.limit) as Row[];
    return Promise.resolve(rows.map((r) => ({ userId: r.user_id, readAt: r.read_at ?? undefined })));
  }

  // ---- reactions ----

  changeReaction(appId: string, groupId: string, messageId: string, change: ReactionChange, now: number): Promise<{ event?: StoredEvent }> {
    return this.tx(() => {
      const { g, r } = this.liveMessage(appId, groupId, messageId);
      const key = [appId, groupId, r.seq, change.reaction];
      if (change.added) {
        const present = (
          this.q("SELECT DISTINCT reaction FROM reactions WHERE app_id = ? AND group_id = ? AND seq = ?").all(appId, groupId, r.seq) as Row[]
        ).map((x) => x.reaction as string);
        if (exceedsReactionLimit(present, change.reaction)) throw new StoreConflict("reaction_limit");
        const added = this.q(
          "INSERT INTO reactions (app_id, group_id, seq, reaction, user_id, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        ).run(...key, change.userId, now).changes;
        if (!added) return {};
      } else {
        const removed = this.q("DELETE FROM reactions WHERE app_id = ? AND group_id = ? AND seq = ? AND reaction = ? AND user_id = ?").run(
          ...key,
          change.userId,
        ).changes;
        if (!removed) return {};
      }
      const { n } = this.q("SELECT COUNT(*) AS n FROM reactions WHERE app_id = ? AND group_id = ? AND seq = ? AND reaction = ?").get(
        ...key,
      ) as Row;
      const announce = reactionChangedEvent(groupId, messageId, r.seq, change, n);
      return { event: this.appendDerivedEvent(appId, groupId, g, r, now, announce) };
    });
  }

  reactionCounts(appId: string, groupId: string, seqs: readonly number[], viewerId: string): Promise<Map<number, ReactionTally[]>> {
    if (seqs.length === 0) return Promise.resolve(new Map());
    const rows = this.q(
      `SELECT seq, reaction, COUNT(*) AS count, MAX(user_id = ?) AS mine, MIN(created_at) AS first FROM reactions
        WHERE app_id = ? AND group_id = ? AND seq IN (SELECT value FROM json_each(?))
        GROUP BY seq, reaction ORDER BY seq, first, reaction`,
    ).all(viewerId, appId, groupId, JSON.stringify(seqs)) as Row[];
    return Promise.resolve(talliesBySeq(rows.map((x): TallyRow => ({ seq: x.seq, reaction: x.reaction, count: x.count, mine: !!x.mine }))));
  }

  listReactions(appId: string, groupId: string, seq: number, reaction: string | undefined, page: PageQuery<ReactionRecord>): Promise<ReactionRecord[]> {
    const after = page.after;
    const rows = this.q(
      `SELECT reaction, user_id, created_at FROM reactions
        WHERE app_id = ? AND group_id = ? AND seq = ? AND (? IS NULL OR reaction = ?)
          AND (? IS NULL OR (created_at, reaction, user_id) > (?, ?, ?))
        ORDER BY created_at, reaction, user_id LIMIT ?`,
    ).all(
      appId,
      groupId,
      seq,
      reaction ?? null,
      reaction ?? null,
      after ? 1 : null,
      after?.createdAt ?? 0,
      after?.reaction ?? "",
      after?.userId ?? "",
      page.limit,
    ) as Row[];
    return Promise.resolve(rows.map((x) => ({ reaction: x.reaction, userId: x.user_id, createdAt: x.created_at })));
  }

  // ---- conversations ----

  private counters(appId: string, groupId: string, g: Row, m: Row): ConversationCounters {
    const unread = (g.bcast_cum - m.bcast_cum_at_read) + (m.tgt_cum - m.tgt_cum_at_read);
    // The last message: the newer of the group's last ordinary message (if within this member's
    // history, rule GRP-6) and the member's last targeted message.
    let lastSeq = m.last_tgt_seq as number;
    if (g.last_bcast_seq > lastSeq && (!historyFloorApplies(g.type) || g.last_bcast_seq > m.join_seq)) {
      lastSeq = g.last_bcast_seq;
    }
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

  async conversations(appId: string, userId: string): Promise<{ group: GroupRecord; counters: ConversationCounters }[]> {
    const out: { group: GroupRecord; counters: ConversationCounters }[] = [];
    for (const group of await this.listUserGroups(appId, userId)) {
      const counters = await this.conversation(appId, group.groupId, userId);
      if (counters) out.push({ group, counters });
    }
    return out;
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
  ): Promise<{ counters: ConversationCounters; event?: StoredEvent }> {
    return this.tx(() => {
      const g = this.groupRow(appId, groupId);
      if (!g) throw new StoreConflict("group_not_found");
      const m = this.memberRow(appId, groupId, userId);
      if (!m) throw new StoreConflict("not_member", [userId]);
      const target = readSeq === 0 ? g.last_seq : Math.min(readSeq, g.last_seq);
      // Rule UNR-3: a read that does not move the position records nothing.
      if (target <= m.read_seq) return { counters: this.counters(appId, groupId, g, m) };
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
      const counters = this.counters(appId, groupId, g, this.memberRow(appId, groupId, userId)!);
      // target_seq: the last message it shows, so that a recall or edit rewrites it (revisions.ts).
      const targetSeq = counters.lastMessage ? Number(counters.lastMessage.seq) : undefined;
      const { eventId, partition, event } = this.appendEvent(appId, groupId, now, { kind: AUDIENCE.USER, userId, targetSeq }, () =>
        buildEvent(counters),
      );
      return { counters, event: { appId, partition, position: eventId, groupId, audience: { kind: "user", userId }, event } };
    });
  }

  // ---- event log ----

  readEvents(appId: string, userId: string, after: readonly number[], limit: number): Promise<ReplayedEvent[]> {
    // The events of the user's membership spans (each span's group, within the span, as the
    // span saw them: rule EVT-2) plus the user's own events: cost follows what the user may see,
    // not the app's whole log. `cur` is the cursor: one row per partition.
    // The page is chosen and sorted by rowid, and only its rows' payloads are read (the sorter
    // never copies payloads of the rows beyond the limit); rows come as arrays (raw mode), which
    // costs less than an object per row.
    const rows = this.q(
      `WITH cur(part, pos) AS (VALUES ${after.map(() => "(?, ?)").join(", ")})
       SELECT page.part, page.event_id, page.group_id, ev.payload FROM (
         SELECT e.part AS part, e.event_id AS event_id, e.group_id AS group_id, e.rowid AS rid
           FROM memberships m
           JOIN groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
           JOIN cur ON cur.part = g.part
           CROSS JOIN events e INDEXED BY events_by_group ON e.app_id = m.app_id AND e.group_id = m.group_id
                AND e.event_id > cur.pos AND e.event_id >= m.join_event_id
                AND (m.left_event_id IS NULL OR e.event_id <= m.left_event_id)
          WHERE m.app_id = ? AND m.user_id = ? AND (m.left_event_id IS NULL OR m.left_event_id > cur.pos)
            AND ${spanSeesEventSql("e", "m")}
         UNION ALL
         SELECT e.part AS part, e.event_id AS event_id, e.group_id AS group_id, e.rowid AS rid
           FROM cur CROSS JOIN events e INDEXED BY events_by_user
          WHERE e.app_id = ? AND e.user_id = ? AND e.part = cur.part AND e.event_id > cur.pos AND e.audience = ${AUDIENCE.USER}
         ORDER BY part, event_id LIMIT ?
       ) page CROSS JOIN events ev ON ev.rowid = page.rid
       ORDER BY page.part, page.event_id`,
    )
      .raw(true)
      .all(...after.flatMap((pos, part) => [part, pos]), appId, userId, appId, userId, limit) as [number, number, string, Uint8Array][];
    return Promise.resolve(rows.map(([partition, position, groupId, payload]) => ({ partition, position, groupId, payload })));
  }

  readEventRange(appId: string, partition: number, from: number, to: number): Promise<StoredEvent[]> {
    const rows = this.q(
      "SELECT * FROM events WHERE app_id = ? AND part = ? AND event_id >= ? AND event_id <= ? ORDER BY event_id",
    ).all(appId, partition, from, to) as Row[];
    return Promise.resolve(rows.map((r) => this.storedEvent(appId, r)));
  }

  readEventRangeFor(appId: string, partition: number, from: number, to: number, interest: Interest): Promise<(StoredEvent | EventTick)[]> {
    const rows = this.q(
      `SELECT part, event_id, group_id, audience, user_id, joined_user_id,
              CASE WHEN group_id IN (SELECT value FROM json_each(?)) OR joined_user_id IN (SELECT value FROM json_each(?))
                   THEN payload END AS payload
         FROM events WHERE app_id = ? AND part = ? AND event_id >= ? AND event_id <= ? ORDER BY event_id`,
    ).all(JSON.stringify(interest.groupIds), JSON.stringify(interest.userIds), appId, partition, from, to) as Row[];
    return Promise.resolve(rows.map((r) => (r.payload ? this.storedEvent(appId, r) : tickOf(appId, r))));
  }

  private storedEvent(appId: string, r: Row): StoredEvent {
    const event = fromBinary(EventSchema, r.payload);
    const audience: Audience =
      r.audience === AUDIENCE.USER
        ? { kind: "user", userId: r.user_id }
        : r.audience === AUDIENCE.GROUP
          ? { kind: "group" }
          : { kind: "users", userIds: this.eventAudience(appId, r.part, r.event_id) };
    return { appId, partition: r.part, position: r.event_id, groupId: r.group_id, audience, event, membership: membershipOf(event) };
  }

  pruneSent(before: number): Promise<number> {
    return this.tx(() => this.q("DELETE FROM sent_messages WHERE created_at < ?").run(before).changes);
  }

  pruneEvents(before: number): Promise<number> {
    return this.tx(() => {
      const floors = this.q(
        "SELECT app_id, part, MAX(event_id) AS floor FROM events WHERE created_at < ? GROUP BY app_id, part",
      ).all(before) as Row[];
      const deleted = this.q("DELETE FROM events WHERE created_at < ?").run(before).changes;
      for (const { app_id, part, floor } of floors) {
        this.q("UPDATE partitions SET floor = MAX(floor, ?) WHERE app_id = ? AND part = ?").run(floor, app_id, part);
        // Ended membership spans that hold no replayable event any more: no cursor reaches them.
        this.q(
          `DELETE FROM memberships WHERE app_id = ? AND left_event_id IS NOT NULL AND left_event_id <= ?
             AND group_id IN (SELECT group_id FROM groups WHERE app_id = ? AND part = ?)`,
        ).run(app_id, floor, app_id, part);
      }
      return deleted;
    });
  }

  eventFloors(appId: string): Promise<Positions> {
    return Promise.resolve(this.partitionColumn(appId, "floor"));
  }

  latestPositions(appId: string): Promise<Positions> {
    return Promise.resolve(this.partitionColumn(appId, "head"));
  }

  latestPositionsOf(appIds: readonly string[]): Promise<Map<string, Positions>> {
    const out = new Map<string, Positions>();
    const read = this.q("SELECT app_id, part, head FROM partitions, json_each(?) j WHERE app_id = j.value");
    for (const r of read.all(JSON.stringify(appIds)) as Row[]) {
      let positions = out.get(r.app_id);
      if (!positions) out.set(r.app_id, (positions = origin()));
      positions[r.part] = r.head;
    }
    return Promise.resolve(out);
  }

  private partitionColumn(appId: string, column: "head" | "floor"): Positions {
    const out = origin();
    for (const r of this.q(`SELECT part, ${column} AS v FROM partitions WHERE app_id = ?`).all(appId) as Row[]) out[r.part] = r.v;
    return out;
  }

  // ---- app backends (webhooks-sqlite.ts) ----

  getWebhook(appId: string): Promise<WebhookRecord | undefined> {
    return this.webhooks.getWebhook(appId);
  }

  putWebhook(record: WebhookRecord): Promise<void> {
    return this.webhooks.putWebhook(record);
  }

  deleteWebhook(appId: string): Promise<boolean> {
    return this.webhooks.deleteWebhook(appId);
  }

  claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    return this.webhooks.claimDeliveries(now, limit, leaseMs);
  }

  completeDelivery(appId: string, deliveryId: string): Promise<void> {
    return this.webhooks.completeDelivery(appId, deliveryId);
  }

  retryDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; nextAttemptAt: number }): Promise<void> {
    return this.webhooks.retryDelivery(appId, deliveryId, failure);
  }

  killDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; url: string }): Promise<void> {
    return this.webhooks.killDelivery(appId, deliveryId, failure);
  }

  expandPush(appId: string, fanoutId: string, pushes: readonly NewPushDelivery[], now: number): Promise<void> {
    return this.webhooks.expandPush(appId, fanoutId, pushes, now);
  }

  listDeadLetters(appId: string, page: PageQuery<DeadLetterKey>): Promise<DeadLetterRecord[]> {
    return this.webhooks.listDeadLetters(appId, page);
  }

  replayDeadLetters(appId: string, deliveryIds: readonly string[] | undefined, now: number): Promise<{ replayed: number; missing: string[] }> {
    return this.webhooks.replayDeadLetters(appId, deliveryIds, now);
  }

  pruneDeadLetters(before: number): Promise<number> {
    return this.webhooks.pruneDeadLetters(before);
  }

  eventViewers(appId: string, partition: number, position: number): Promise<string[]> {
    return this.webhooks.eventViewers(appId, partition, position);
  }

  setPresence(nodeId: string, appId: string, userId: string, online: boolean): Promise<void> {
    return this.webhooks.setPresence(nodeId, appId, userId, online);
  }

  touchNode(nodeId: string, expiresAt: number): Promise<void> {
    return this.webhooks.touchNode(nodeId, expiresAt);
  }

  dropNodes(nodeId: string | undefined, now: number): Promise<void> {
    return this.webhooks.dropNodes(nodeId, now);
  }

  onlineUsers(appId: string, userIds: readonly string[], now: number): Promise<Set<string>> {
    return this.webhooks.onlineUsers(appId, userIds, now);
  }
}
