// The shared store: PostgreSQL through a `pg` pool, for several server nodes on one database.
// Every write method is one transaction on one pooled connection (BEGIN … COMMIT, ROLLBACK on
// any error). Concurrency rests on a fixed lock order, so transactions queue instead of
// deadlocking: a group's row first (FOR UPDATE to write its history or membership, FOR SHARE to
// read it consistently), then the rows of users joining it (see lockUsers), then that group's
// membership rows and join requests, and last the app's row, whose `event_seq` hands out event
// IDs. That row stays locked until COMMIT, so an app's events commit in ID order: a reader that
// sees event N has every event before it.
import pg from "pg";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  EventSchema,
  MemberRole,
  MessageSchema,
  RecallInfoSchema,
  GroupType,
  type Event,
  type Message,
} from "@narrowcast/gen";
import type { Plan } from "@narrowcast/gen/admin";
import { PARTITIONS, origin, partitionOf, type Positions } from "../positions.js";
import { joinedUserOf, membershipOf, tickOf } from "./routing.js";
import { newId } from "../ids.js";
import { revise, rewrittenEvent, type Revision } from "./revisions.js";
import { reactionChangedEvent, talliesBySeq, type TallyRow } from "./reactions.js";
import { messageReadEvent, senderMaySee } from "./receipts.js";
import { postgresMigrations } from "./postgres-schema.js";
import {
  StoreConflict,
  type AppRecord,
  type AppendMessageInput,
  type MessageEdit,
  type Audience,
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
import { PostgresWebhooks, WEBHOOK_COLUMNS } from "./webhooks-postgres.js";
import { PUSH_BIT, deliveryIdSql, hookTypeOf, toWebhook } from "./webhook-rows.js";
import type { ClaimedDelivery, DeadLetterKey, DeadLetterRecord, NewPushDelivery, WebhookRecord } from "./webhooks.js";

type Db = pg.Pool | pg.PoolClient;

/** Tells this store's migrations apart from other users of advisory locks (ASCII "NCst"). */
const MIGRATION_LOCK_CLASS = 0x4e437374;
/** Attempts of a transaction that PostgreSQL aborted as a deadlock or serialization failure. */
const TX_ATTEMPTS = 5;
const RETRYABLE = new Set(["40P01", "40001"]);

const INT8_OID = 20;
const BYTEA_OID = 17;
/**
 * Row parsers for this store's queries: BIGINT as a JS number (seqs, event IDs and ms times stay
 * far below 2^53; a larger value is an error, not a silent rounding), BYTEA as a plain
 * Uint8Array (messages decoded from it then equal those built in memory). Passed per query, so
 * a Pool handed in by the caller keeps its own global settings.
 */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === INT8_OID) return parseInt8;
    const parse = pg.types.getTypeParser(oid, format as "text");
    if (oid === BYTEA_OID) {
      return (text: string) => {
        const buf = parse(text) as Buffer;
        return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      };
    }
    return parse;
  }) as pg.CustomTypesConfig["getTypeParser"],
};

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`BIGINT ${text} is beyond JavaScript's safe integers`);
  return n;
}

/**
 * Statement names by text: a named statement is parsed and planned once per pooled connection,
 * then only bound and executed (the PostgreSQL server shares this machine's cores with the node).
 * Texts built per call (a VALUES list per cursor length) are few, but the map is bounded anyway:
 * beyond it a statement runs unnamed, as before.
 */
const statementNames = new Map<string, string>();
const MAX_NAMED_STATEMENTS = 500;

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) statementNames.set(text, (name = `nc${statementNames.size}`));
  return name;
}

async function rows(db: Db, text: string, values: unknown[] = []): Promise<Row[]> {
  return (await db.query({ name: statementName(text), text, values, types: TYPES })).rows as Row[];
}

async function row(db: Db, text: string, values: unknown[] = []): Promise<Row | undefined> {
  return (await rows(db, text, values))[0];
}


export interface PostgresStoreOptions {
  /** e.g. postgres://user@host:5432/db */
  connectionString: string;
  /**
   * The PostgreSQL schema to keep the tables in (created by migrate() if missing); set as the
   * search_path of every pooled connection. Default: the server's search_path.
   */
  schema?: string;
  /** Pool size; default 10. */
  max?: number;
}

interface EventSpec {
  audience: { kind: AudienceCode; targetSeq?: number; userId?: string };
  build: () => Event;
}

function ignoreClientError(): void {}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool;
  private readonly ownsPool: boolean;
  private readonly schema: string | undefined;
  private closing: Promise<void> | undefined;
  private readonly webhooks: PostgresWebhooks;

  /** Takes a connection string (the store owns and ends its pool) or a ready Pool (left open). */
  constructor(options: PostgresStoreOptions | pg.Pool) {
    if (options instanceof pg.Pool) {
      this.pool = options;
      this.ownsPool = false;
      this.webhooks = new PostgresWebhooks(this.pool, rows, (fn) => this.tx(fn));
      return;
    }
    const { connectionString, schema, max } = options;
    if (schema !== undefined && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
      throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}`);
    }
    this.schema = schema;
    this.pool = new pg.Pool({
      connectionString,
      max: max ?? 10,
      options: schema ? `-c search_path=${schema}` : undefined,
      // An unreachable database fails a request after this long instead of hanging it (ERR-6).
      connectionTimeoutMillis: 5_000,
    });
    // An idle connection that dies (server restart, network) is replaced on the next checkout;
    // without a listener the pool's "error" event would end the process.
    this.pool.on("error", () => {});
    this.ownsPool = true;
    this.webhooks = new PostgresWebhooks(this.pool, rows, (fn) => this.tx(fn));
  }

  /** Runs `fn` in one transaction on one pooled connection; retries deadlocks and serialization failures. */
  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect();
      // A connection that dies while checked out (server restart, network) emits "error" on the
      // client, and the pool listens only on idle ones: without this listener the process would
      // end. The transaction's pending or next query fails anyway, and the pool drops the client.
      client.on("error", ignoreClientError);
      let broken: Error | undefined;
      try {
        await client.query("BEGIN");
        const result = await fn(client);
        await client.query("COMMIT");
        return result;
      } catch (err) {
        try {
          await client.query("ROLLBACK");
        } catch (rollbackErr) {
          broken = rollbackErr as Error; // the connection is unusable: the pool drops it
        }
        const code = (err as { code?: unknown }).code;
        if (typeof code === "string" && RETRYABLE.has(code) && attempt < TX_ATTEMPTS) continue;
        throw err;
      } finally {
        client.off("error", ignoreClientError);
        client.release(broken);
      }
    }
  }

  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      // Nodes starting together queue here; each then sees what the previous one applied.
      await rows(c, "SELECT pg_advisory_xact_lock($1::int, hashtext(coalesce($2::text, current_schema(), '')))", [
        MIGRATION_LOCK_CLASS,
        this.schema ?? null,
      ]);
      if (this.schema && !(await row(c, "SELECT 1 FROM pg_namespace WHERE nspname = $1", [this.schema]))) {
        await c.query(`CREATE SCHEMA ${this.schema}`);
      }
      await c.query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)",
      );
      const applied = new Set((await rows(c, "SELECT version FROM schema_migrations")).map((r) => r.version as number));
      for (const m of postgresMigrations) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await rows(c, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [m.version, Date.now()]);
      }
    });
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  close(): Promise<void> {
    this.closing ??= this.ownsPool ? this.pool.end() : Promise.resolve();
    return this.closing;
  }

  // ---- apps and users ----


  async createApp(app: AppRecord): Promise<void> {
    // The app and its partitions' counter rows, in one statement.
    await rows(
      this.pool,
      `WITH app AS (
         INSERT INTO apps (app_id, name, plan, secret, previous_secret, previous_secret_expires_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING app_id)
       INSERT INTO partitions (app_id, part) SELECT app.app_id, n FROM app, generate_series(0, ${PARTITIONS - 1}) AS n`,
      [
        app.appId,
        app.name,
        app.plan,
        app.secret,
        ...previousSecretColumns(app),
        app.createdAt,
      ],
    );
  }

  async getApp(appId: string): Promise<AppRecord | undefined> {
    const r = await row(this.pool, "SELECT * FROM apps WHERE app_id = $1", [appId]);
    return r && toApp(r);
  }

  async getAppAndUser(appId: string, userId: string): Promise<{ app?: AppRecord; userExists: boolean }> {
    const r = await row(
      this.pool,
      `SELECT a.*, EXISTS (SELECT 1 FROM users u WHERE u.app_id = a.app_id AND u.user_id = $2) AS user_exists
         FROM apps a WHERE a.app_id = $1`,
      [appId, userId],
    );
    return r ? { app: toApp(r), userExists: r.user_exists } : { userExists: false };
  }

  async setAppPlan(appId: string, plan: Plan): Promise<AppRecord | undefined> {
    const r = await row(this.pool, "UPDATE apps SET plan = $2 WHERE app_id = $1 RETURNING *", [appId, plan]);
    return r && toApp(r);
  }

  async rotateAppSecret(appId: string, secret: string, previousSecretExpiresAt?: number): Promise<AppRecord | undefined> {
    // The right-hand sides read the row as it was: the current secret becomes the previous one.
    const r = await row(
      this.pool,
      `UPDATE apps SET previous_secret = CASE WHEN $3::bigint IS NULL THEN NULL ELSE secret END,
         previous_secret_expires_at = $3::bigint, secret = $2
       WHERE app_id = $1 RETURNING *`,
      [appId, secret, previousSecretExpiresAt ?? null],
    );
    return r && toApp(r);
  }

  async upsertUsers(appId: string, users: readonly UserRecord[]): Promise<void> {
    // One statement; the last entry of a repeated ID wins, as with one upsert per entry. Sorted,
    // so concurrent imports lock rows in the same order.
    const byId = new Map(users.map((u) => [u.userId, u.nickname]));
    const ids = [...byId.keys()].sort();
    if (ids.length === 0) return;
    await rows(
      this.pool,
      `INSERT INTO users (app_id, user_id, nickname)
       SELECT $1, u.user_id, u.nickname FROM unnest($2::text[], $3::text[]) AS u(user_id, nickname)
       ON CONFLICT (app_id, user_id) DO UPDATE SET nickname = excluded.nickname`,
      [appId, ids, ids.map((id) => byId.get(id))],
    );
  }

  async existingUsers(appId: string, userIds: readonly string[]): Promise<Set<string>> {
    const found = await rows(this.pool, "SELECT user_id FROM users WHERE app_id = $1 AND user_id = ANY($2::text[])", [
      appId,
      [...new Set(userIds)],
    ]);
    return new Set(found.map((r) => r.user_id as string));
  }

  async getUser(appId: string, userId: string): Promise<UserRecord | undefined> {
    const r = await row(this.pool, "SELECT user_id, nickname FROM users WHERE app_id = $1 AND user_id = $2", [appId, userId]);
    return r && toUser(r);
  }

  async listUsers(appId: string, page: PageQuery<string>): Promise<UserRecord[]> {
    const found = await rows(
      this.pool,
      "SELECT user_id, nickname FROM users WHERE app_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3",
      [appId, page.after ?? "", page.limit],
    );
    return found.map((r) => (toUser(r)));
  }

  deleteUser(
    appId: string,
    userId: string,
    now: number,
    limits: (type: GroupType) => GroupLimits,
  ): Promise<StoredEvent[] | undefined> {
    return this.tx(async (c) => {
      // The user's row first: a concurrent deletion of the same user waits here, then finds none.
      if (!(await row(c, "SELECT 1 FROM users WHERE app_id = $1 AND user_id = $2 FOR UPDATE", [appId, userId]))) {
        return undefined;
      }
      // Then every group the user is in, locked in group ID order (the lock order: groups before
      // memberships before the app's row, which the first MemberLeft takes).
      const groups = await rows(
        c,
        `SELECT g.group_id, g.type, g.member_count FROM groups g
          WHERE g.app_id = $1 AND NOT g.dismissed AND g.group_id IN (
                SELECT m.group_id FROM memberships m WHERE m.app_id = $1 AND m.user_id = $2 AND m.left_event_id IS NULL)
          ORDER BY g.group_id FOR UPDATE`,
        [appId, userId],
      );
      const events: StoredEvent[] = [];
      for (const g of groups) events.push(...(await this.leave(c, appId, g, [userId], "", now, limits(g.type))));
      // Every membership span (all ended now) and every private event: a user re-imported under
      // the same ID has no memberships and no past to replay. (The events above were returned for
      // publication; only a node that misses that publication would find them gone.)
      await rows(c, "DELETE FROM memberships WHERE app_id = $1 AND user_id = $2", [appId, userId]);
      await rows(c, `DELETE FROM events WHERE app_id = $1 AND user_id = $2 AND audience = ${AUDIENCE.USER}`, [appId, userId]);
      await rows(c, "DELETE FROM join_requests WHERE app_id = $1 AND user_id = $2", [appId, userId]);
      await rows(c, "DELETE FROM sent_messages WHERE app_id = $1 AND sender_id = $2", [appId, userId]);
      // Their places in targeted audiences go too: a user re-imported under the same ID is a new
      // person and must never see the targeted messages the deleted one sent or received (ADM-11).
      await rows(c, "DELETE FROM message_audience WHERE app_id = $1 AND user_id = $2", [appId, userId]);
      // ADM-11's "no past", RCT-5, RCP-2: the user's reactions and receipts go with them.
      await rows(c, "DELETE FROM reactions WHERE app_id = $1 AND user_id = $2", [appId, userId]);
      await rows(c, "DELETE FROM receipts WHERE app_id = $1 AND user_id = $2", [appId, userId]);
      await rows(c, "DELETE FROM users WHERE app_id = $1 AND user_id = $2", [appId, userId]);
      return events;
    });
  }

  // ---- groups and members ----



  /** The live group's row, locked for the rest of the transaction (see the lock order above). */
  private lockGroup(c: pg.PoolClient, appId: string, groupId: string, mode: "UPDATE" | "SHARE", columns = "*") {
    return row(c, `SELECT ${columns} FROM groups WHERE app_id = $1 AND group_id = $2 AND NOT dismissed FOR ${mode}`, [
      appId,
      groupId,
    ]);
  }

  /**
   * Appends events to the group's partition of the app's log (positions.ts) with consecutive
   * positions taken from the partition's counter row (locked to COMMIT: the last lock a
   * transaction takes), in one statement.
   */
  private async appendEvents(
    c: pg.PoolClient,
    appId: string,
    groupId: string,
    now: number,
    specs: readonly EventSpec[],
  ): Promise<{ eventId: number; partition: number; event: Event }[]> {
    if (specs.length === 0) return [];
    // Positions are allocated inside the statement; an event embeds none (Subscribe sets cursors).
    const built = specs.map((spec) => {
      const event = spec.build();
      event.time ??= timestampFromMs(now);
      return event;
    });
    const hooks = built.map(hookTypeOf);
    const r = await rows(
      c,
      `WITH head AS (
         UPDATE partitions SET head = head + $3
          WHERE app_id = $1 AND part = (SELECT part FROM groups WHERE app_id = $1 AND group_id = $2)
          RETURNING part, head - $3 AS first),
       -- Rule HOOK-7: the events' webhook deliveries, in the same statement; none without a webhook.
       outbox AS (
         INSERT INTO webhook_deliveries (app_id, delivery_id, kind, type, part, event_id, state, attempts, next_attempt_at, created_at)
         SELECT $1, ${deliveryIdSql("$1::text", "head.part", "(head.first + h.i)", "k.kind")}, k.kind, h.type, head.part, head.first + h.i,
                'pending', 0, $4, $4
           FROM head, webhooks w,
                unnest($10::text[], $11::int[], $12::int[]) WITH ORDINALITY AS h(type, bit, fanout_bit, i),
                LATERAL (VALUES ('event', h.bit), ('fanout', h.fanout_bit)) AS k(kind, bit)
          WHERE w.app_id = $1 AND h.type IS NOT NULL AND (w.event_mask & k.bit) <> 0)
       INSERT INTO events (app_id, part, event_id, group_id, audience, target_seq, user_id, joined_user_id, created_at, payload)
       SELECT $1, head.part, head.first + e.i, $2, e.audience, e.target_seq, e.user_id, e.joined, $4, e.payload
         FROM head, unnest($5::smallint[], $6::bigint[], $7::text[], $8::bytea[], $9::text[]) WITH ORDINALITY
           AS e(audience, target_seq, user_id, payload, joined, i)
       RETURNING part, event_id`,
      [
        appId,
        groupId,
        specs.length,
        now,
        specs.map((s) => s.audience.kind),
        specs.map((s) => s.audience.targetSeq ?? null),
        specs.map((s) => s.audience.userId ?? null),
        built.map((e) => toBinary(EventSchema, e)),
        built.map((e) => joinedUserOf(e) ?? null),
        hooks.map((h) => h?.type ?? null),
        hooks.map((h) => h?.bit ?? 0),
        hooks.map((h) => (h?.type === "message.sent" ? PUSH_BIT : 0)),
      ],
    );
    if (r.length !== specs.length) throw new Error(`group ${groupId} of app ${appId} vanished`);
    const partition = r[0].part as number;
    const first = Math.min(...r.map((x) => x.event_id as number));
    return built.map((event, i) => ({ eventId: first + i, partition, event }));
  }

  private async appendEvent(c: pg.PoolClient, appId: string, groupId: string, now: number, spec: EventSpec) {
    return (await this.appendEvents(c, appId, groupId, now, [spec]))[0];
  }

  /**
   * The members a stored event with a "users" audience (TARGETED, HISTORY, TARGETED_ALL) reaches:
   * those whose span contains it and who may see it then. The same predicate as replay's, so
   * live fan-out, recovery and replay agree (rule EVT-2).
   */
  private async eventAudience(db: Db, appId: string, partition: number, eventId: number): Promise<string[]> {
    const found = await rows(
      db,
      `SELECT m.user_id FROM events e
         JOIN memberships m ON m.app_id = e.app_id AND m.group_id = e.group_id AND ${spanContainsEventSql("e", "m")}
        WHERE e.app_id = $1 AND e.part = $3 AND e.event_id = $2 AND ${spanSeesEventSql("e", "m")}
        ORDER BY m.user_id`,
      [appId, eventId, partition],
    );
    return found.map((r) => r.user_id as string);
  }

  private async insertMembers(
    c: pg.PoolClient,
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]> {
    const g = await this.lockGroup(c, appId, groupId, "UPDATE", "type, member_count, last_seq, bcast_cum");
    if (!g) throw new StoreConflict("group_not_found");
    const ids = members.map((m) => m.userId);
    const current = await this.currentMembers(c, appId, groupId, ids);
    const existing = ids.filter((id) => current.has(id));
    if (existing.length) throw new StoreConflict("already_member", existing);
    const unknown = await this.lockUsers(c, appId, ids);
    if (unknown.length) throw new StoreConflict("user_not_found", unknown);
    if (members.length === 0) return [];
    if (exceedsMaxMembers(g.member_count, members.length, limits)) throw new StoreConflict("group_full", [groupId]);
    const audiences: Audience[] = members.map((m, i) =>
      memberEventOnlyToSubject(g.type, g.member_count + i + 1, limits) ? { kind: "user", userId: m.userId } : { kind: "group" },
    );
    const logged = await this.appendEvents(
      c,
      appId,
      groupId,
      now,
      members.map((m, i) => ({
        audience: audienceSpec(audiences[i]),
        build: () =>
          create(EventSchema, {
            payload: {
              case: "memberJoined",
              value: { groupId, addedBy, member: { userId: m.userId, role: m.role, joinTime: timestampFromMs(now) } },
            },
          }),
      })),
    );
    // Rule UNR-6: a new member has read everything before joining; rule GRP-6: history floor. A
    // MEETING member sees the history they are in the audience of, from an earlier membership too
    // (rule EVT-2 / VIS): their last targeted message is found again.
    const meeting = !historyFloorApplies(g.type);
    await rows(
      c,
      `INSERT INTO memberships (app_id, group_id, user_id, role, joined_at, join_seq, join_event_id, read_seq, bcast_cum_at_read, last_tgt_seq)
       SELECT $1, $2, u.user_id, u.role, $3, $4, u.event_id, $4, $5,
              CASE WHEN $9::boolean THEN COALESCE((SELECT a.seq FROM message_audience a
                WHERE a.app_id = $1 AND a.group_id = $2 AND a.user_id = u.user_id AND a.last_eligible
                ORDER BY a.seq DESC LIMIT 1), 0) ELSE 0 END
         FROM unnest($6::text[], $7::int[], $8::bigint[]) AS u(user_id, role, event_id)`,
      [appId, groupId, now, g.last_seq, g.bcast_cum, ids, members.map((m) => m.role), logged.map((e) => e.eventId), meeting],
    );
    await rows(c, "DELETE FROM join_requests WHERE app_id = $1 AND group_id = $2 AND user_id = ANY($3::text[])", [
      appId,
      groupId,
      ids,
    ]);
    await rows(c, "UPDATE groups SET member_count = member_count + $3 WHERE app_id = $1 AND group_id = $2", [
      appId,
      groupId,
      members.length,
    ]);
    return members.map((m, i) => ({
      appId,
      partition: logged[i].partition,
      position: logged[i].eventId,
      groupId,
      audience: audiences[i],
      event: logged[i].event,
      membership: { change: "joined", userId: m.userId },
    }));
  }

  /**
   * Locks the rows of the users who are about to join (FOR KEY SHARE, in user ID order) and returns
   * the IDs that are not users. deleteUser takes its user's row FOR UPDATE first, so the two
   * cannot interleave: a joining user is either deleted before (and reported here) or after this
   * transaction (and their new membership ends with the others, rule ADM-11). KEY SHARE, the
   * weakest lock a DELETE waits for, lets concurrent nickname updates and joins proceed. Taken
   * after the group's row and only for non-members, so it never waits for a deleteUser that
   * waits for this group.
   */
  private async lockUsers(c: pg.PoolClient, appId: string, userIds: readonly string[]): Promise<string[]> {
    const ids = [...new Set(userIds)].sort();
    if (ids.length === 0) return [];
    const found = await rows(
      c,
      "SELECT user_id FROM users WHERE app_id = $1 AND user_id = ANY($2::text[]) ORDER BY user_id FOR KEY SHARE",
      [appId, ids],
    );
    const present = new Set(found.map((r) => r.user_id as string));
    return ids.filter((id) => !present.has(id));
  }

  createGroup(
    group: Omit<GroupRecord, "memberCount" | "lastSeq" | "lastActivityAt">,
    members: readonly NewMember[],
    limits: GroupLimits,
  ): Promise<{ group: GroupRecord; events: StoredEvent[] }> {
    return this.tx(async (c) => {
      // A concurrent create of the same ID waits here for the other to commit, then conflicts.
      const inserted = await rows(
        c,
        `INSERT INTO groups (app_id, group_id, type, name, owner_id, created_at, last_activity_at, part)
         VALUES ($1, $2, $3, $4, $5, $6, $6, $7) ON CONFLICT (app_id, group_id) DO NOTHING RETURNING group_id`,
        [group.appId, group.groupId, group.type, group.name, group.ownerId, group.createdAt, partitionOf(group.groupId)],
      );
      if (inserted.length === 0) throw new StoreConflict("group_exists", [group.groupId]);
      const events = await this.insertMembers(c, group.appId, group.groupId, members, "", group.createdAt, limits);
      const r = await row(c, "SELECT * FROM groups WHERE app_id = $1 AND group_id = $2", [group.appId, group.groupId]);
      return { group: toGroup(r!), events };
    });
  }

  async getGroup(appId: string, groupId: string): Promise<GroupRecord | undefined> {
    const r = await row(this.pool, "SELECT * FROM groups WHERE app_id = $1 AND group_id = $2 AND NOT dismissed", [
      appId,
      groupId,
    ]);
    return r && toGroup(r);
  }

  async getMember(appId: string, groupId: string, userId: string): Promise<MemberRecord | undefined> {
    const r = await row(
      this.pool,
      "SELECT * FROM memberships WHERE app_id = $1 AND group_id = $2 AND user_id = $3 AND left_event_id IS NULL",
      [appId, groupId, userId],
    );
    return r && toMember(r);
  }

  async listMembers(
    appId: string,
    groupId: string,
    userIds?: readonly string[],
    page?: PageQuery<string>,
  ): Promise<MemberRecord[]> {
    const found = userIds
      ? await rows(
          this.pool,
          `SELECT * FROM memberships WHERE app_id = $1 AND group_id = $2 AND user_id = ANY($3::text[]) AND left_event_id IS NULL
           ORDER BY user_id`,
          [appId, groupId, [...new Set(userIds)]],
        )
      : await rows(
          this.pool,
          `SELECT * FROM memberships WHERE app_id = $1 AND group_id = $2 AND left_event_id IS NULL AND user_id > $3
           ORDER BY user_id LIMIT $4`,
          [appId, groupId, page?.after ?? "", page?.limit ?? null],
        );
    return found.map(toMember);
  }

  async listUserGroups(appId: string, userId: string, page?: PageQuery<string>): Promise<GroupRecord[]> {
    const found = await rows(
      this.pool,
      `SELECT g.* FROM memberships m JOIN groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
       WHERE m.app_id = $1 AND m.user_id = $2 AND m.left_event_id IS NULL AND NOT g.dismissed AND m.group_id > $3
       ORDER BY m.group_id LIMIT $4`,
      [appId, userId, page?.after ?? "", page?.limit ?? null],
    );
    return found.map(toGroup);
  }

  async listGroups(appId: string, page: PageQuery<string>): Promise<GroupRecord[]> {
    const found = await rows(
      this.pool,
      "SELECT * FROM groups WHERE app_id = $1 AND group_id > $2 AND NOT dismissed ORDER BY group_id LIMIT $3",
      [appId, page.after ?? "", page.limit],
    );
    return found.map(toGroup);
  }

  addMembers(
    appId: string,
    groupId: string,
    members: readonly NewMember[],
    addedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]> {
    return this.tx((c) => this.insertMembers(c, appId, groupId, members, addedBy, now, limits));
  }

  /**
   * Ends current memberships of the group `g` (its row, locked FOR UPDATE, with group_id, type and
   * member_count), with MemberLeft per GRP-10 / GRP-14.
   */
  private async leave(
    c: pg.PoolClient,
    appId: string,
    g: Row,
    userIds: readonly string[],
    removedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]> {
    const groupId = g.group_id as string;
    const leaving = [...new Set(userIds)];
    if (leaving.length === 0) return [];
    // Counted before each leave (rule GRP-14).
    const audiences: Audience[] = leaving.map((userId, i) =>
      memberEventOnlyToSubject(g.type, g.member_count - i, limits) ? { kind: "user", userId } : { kind: "group" },
    );
    const logged = await this.appendEvents(
      c,
      appId,
      groupId,
      now,
      leaving.map((userId, i) => ({
        audience: audienceSpec(audiences[i]),
        build: () => create(EventSchema, { payload: { case: "memberLeft", value: { groupId, userId, removedBy } } }),
      })),
    );
    await rows(
      c,
      `UPDATE memberships m SET left_event_id = u.event_id
         FROM unnest($3::text[], $4::bigint[]) AS u(user_id, event_id)
        WHERE m.app_id = $1 AND m.group_id = $2 AND m.user_id = u.user_id AND m.left_event_id IS NULL`,
      [appId, groupId, leaving, logged.map((e) => e.eventId)],
    );
    await rows(
      c,
      `UPDATE groups SET member_count = member_count - $3,
         owner_id = CASE WHEN owner_id = ANY($4::text[]) THEN '' ELSE owner_id END
       WHERE app_id = $1 AND group_id = $2`,
      [appId, groupId, leaving.length, leaving],
    );
    return leaving.map((userId, i) => ({
      appId,
      partition: logged[i].partition,
      position: logged[i].eventId,
      groupId,
      audience: audiences[i],
      event: logged[i].event,
      membership: { change: "left", userId },
    }));
  }

  removeMembers(
    appId: string,
    groupId: string,
    userIds: readonly string[],
    removedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<StoredEvent[]> {
    return this.tx(async (c) => {
      const g = await this.lockGroup(c, appId, groupId, "UPDATE", "group_id, type, member_count");
      if (!g) throw new StoreConflict("group_not_found");
      const current = await this.currentMembers(c, appId, groupId, userIds);
      const missing = userIds.filter((id) => !current.has(id));
      if (missing.length) throw new StoreConflict("not_member", missing);
      return this.leave(c, appId, g, userIds, removedBy, now, limits);
    });
  }

  private async currentMembers(c: pg.PoolClient, appId: string, groupId: string, userIds: readonly string[]) {
    const found = await rows(
      c,
      "SELECT user_id FROM memberships WHERE app_id = $1 AND group_id = $2 AND user_id = ANY($3::text[]) AND left_event_id IS NULL",
      [appId, groupId, [...new Set(userIds)]],
    );
    return new Set(found.map((r) => r.user_id as string));
  }

  setRoles(appId: string, groupId: string, roles: readonly NewMember[]): Promise<void> {
    return this.tx(async (c) => {
      const g = await this.lockGroup(c, appId, groupId, "UPDATE", "owner_id");
      if (!g) throw new StoreConflict("group_not_found");
      const current = await this.currentMembers(c, appId, groupId, roles.map((r) => r.userId));
      const missing = roles.filter((r) => !current.has(r.userId)).map((r) => r.userId);
      if (missing.length) throw new StoreConflict("not_member", missing);
      const setRole = (userId: string, role: MemberRole) =>
        rows(
          c,
          "UPDATE memberships SET role = $4 WHERE app_id = $1 AND group_id = $2 AND user_id = $3 AND left_event_id IS NULL",
          [appId, groupId, userId, role],
        );
      for (const r of roles) {
        if (r.role === MemberRole.OWNER && g.owner_id && g.owner_id !== r.userId) {
          // Ownership moves: the previous owner becomes an admin.
          await setRole(g.owner_id, MemberRole.ADMIN);
        }
        await setRole(r.userId, r.role);
        if (r.role === MemberRole.OWNER) {
          await rows(c, "UPDATE groups SET owner_id = $3 WHERE app_id = $1 AND group_id = $2", [appId, groupId, r.userId]);
        } else if (g.owner_id === r.userId) {
          await rows(c, "UPDATE groups SET owner_id = '' WHERE app_id = $1 AND group_id = $2", [appId, groupId]);
        }
      }
    });
  }

  dismissGroup(appId: string, groupId: string, now: number): Promise<StoredEvent> {
    return this.tx(async (c) => {
      if (!(await this.lockGroup(c, appId, groupId, "UPDATE", "1"))) throw new StoreConflict("group_not_found");
      const { eventId, partition, event } = await this.appendEvent(c, appId, groupId, now, {
        audience: { kind: AUDIENCE.GROUP },
        build: () => create(EventSchema, { payload: { case: "groupDismissed", value: { groupId } } }),
      });
      await rows(
        c,
        "UPDATE memberships SET left_event_id = $3 WHERE app_id = $1 AND group_id = $2 AND left_event_id IS NULL",
        [appId, groupId, eventId],
      );
      await rows(c, "UPDATE groups SET dismissed = true, member_count = 0 WHERE app_id = $1 AND group_id = $2", [
        appId,
        groupId,
      ]);
      await rows(c, "DELETE FROM join_requests WHERE app_id = $1 AND group_id = $2", [appId, groupId]);
      return { appId, partition, position: eventId, groupId, audience: { kind: "group" }, event, membership: { change: "dismissed" } };
    });
  }


  async addJoinRequest(appId: string, groupId: string, userId: string, message: string, now: number): Promise<JoinRequestRecord> {
    // A repeated request keeps its place in the queue (created_at) and takes the new message.
    return this.tx(async (c) => {
      // The applicant's row stays locked until COMMIT, so a concurrent deleteUser either runs
      // first (and this finds no user) or waits and deletes the request too (ADM-11).
      if ((await this.lockUsers(c, appId, [userId])).length) throw new StoreConflict("user_not_found", [userId]);
      const r = await row(
        c,
        `INSERT INTO join_requests (app_id, group_id, user_id, message, created_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (app_id, group_id, user_id) DO UPDATE SET message = excluded.message RETURNING *`,
        [appId, groupId, userId, message, now],
      );
      return toJoinRequest(r!);
    });
  }

  async listJoinRequests(
    appId: string,
    groupId: string,
    page?: PageQuery<{ createdAt: number; userId: string }>,
  ): Promise<JoinRequestRecord[]> {
    const after = page?.after ?? { createdAt: -1, userId: "" };
    const found = await rows(
      this.pool,
      `SELECT * FROM join_requests WHERE app_id = $1 AND group_id = $2 AND (created_at, user_id) > ($3::bigint, $4::text)
       ORDER BY created_at, user_id LIMIT $5`,
      [appId, groupId, after.createdAt, after.userId, page?.limit ?? null],
    );
    return found.map(toJoinRequest);
  }

  approveJoinRequest(
    appId: string,
    groupId: string,
    userId: string,
    approvedBy: string,
    now: number,
    limits: GroupLimits,
  ): Promise<{ member: MemberRecord; events: StoredEvent[] }> {
    return this.tx(async (c) => {
      // The lock order: the group, the applicant's user row, then the request, whose deletion
      // makes a concurrent approve, reject or deleteUser of the same request wait and find it gone.
      if (!(await this.lockGroup(c, appId, groupId, "UPDATE", "1"))) throw new StoreConflict("group_not_found");
      const memberSql = "SELECT * FROM memberships WHERE app_id = $1 AND group_id = $2 AND user_id = $3 AND left_event_id IS NULL";
      const current = await row(c, memberSql, [appId, groupId, userId]);
      // A deleted user's requests went with them (rule ADM-11).
      if (!current && (await this.lockUsers(c, appId, [userId])).length) {
        throw new StoreConflict("join_request_not_found", [userId]);
      }
      const request = await row(c, "DELETE FROM join_requests WHERE app_id = $1 AND group_id = $2 AND user_id = $3 RETURNING 1", [
        appId,
        groupId,
        userId,
      ]);
      if (!request) throw new StoreConflict("join_request_not_found", [userId]);
      if (current) return { member: toMember(current), events: [] };
      // A conflict here (group_full) rolls the deletion back: the request stays pending as it was.
      const events = await this.insertMembers(c, appId, groupId, [{ userId, role: MemberRole.MEMBER }], approvedBy, now, limits);
      return { member: toMember((await row(c, memberSql, [appId, groupId, userId]))!), events };
    });
  }

  async deleteJoinRequest(appId: string, groupId: string, userId: string): Promise<JoinRequestRecord | undefined> {
    const r = await row(
      this.pool,
      "DELETE FROM join_requests WHERE app_id = $1 AND group_id = $2 AND user_id = $3 RETURNING *",
      [appId, groupId, userId],
    );
    return r && toJoinRequest(r);
  }

  // ---- messages ----

  async sendContext(
    appId: string,
    groupId: string,
    senderId: string,
    query: { clientMessageId: string; since: number; userIds: readonly string[] },
  ): Promise<SendContext> {
    // One row: the group (if live), the sender's membership, the plan, the recorded message, the
    // members among userIds, the app's webhook if it has a before-send URL (HOOK-10); each
    // through its own index.
    const r = await row(
      this.pool,
      `SELECT g.*,
              (SELECT plan FROM apps WHERE app_id = $1) AS app_plan,
              m.user_id AS m_user_id, m.role AS m_role, m.joined_at AS m_joined_at, m.join_seq AS m_join_seq,
              (SELECT s.payload FROM sent_messages s
                WHERE $4 <> '' AND s.app_id = $1 AND s.sender_id = $3 AND s.group_id = $2
                  AND s.client_message_id = $4 AND s.created_at >= $5) AS earlier,
              ARRAY(SELECT x.user_id FROM memberships x
                     WHERE x.app_id = $1 AND x.group_id = $2 AND x.user_id = ANY($6::text[]) AND x.left_event_id IS NULL) AS member_ids,
              ${WEBHOOK_COLUMNS}
         FROM (SELECT 1) one
         LEFT JOIN webhooks w ON w.app_id = $1 AND w.before_send
         LEFT JOIN groups g ON g.app_id = $1 AND g.group_id = $2 AND NOT g.dismissed
         LEFT JOIN memberships m ON g.group_id IS NOT NULL AND $3 <> ''
              AND m.app_id = $1 AND m.group_id = $2 AND m.user_id = $3 AND m.left_event_id IS NULL`,
      [appId, groupId, senderId, query.clientMessageId, query.since, [...new Set(query.userIds)]],
    );
    const group = r?.group_id ? toGroup(r) : undefined;
    return {
      plan: r?.app_plan ?? undefined,
      group,
      sender: group && r?.m_user_id ? toMember({ user_id: r.m_user_id, role: r.m_role, joined_at: r.m_joined_at, join_seq: r.m_join_seq }) : undefined,
      earlier: r?.earlier ? fromBinary(MessageSchema, r.earlier) : undefined,
      members: new Set(group ? (r!.member_ids as string[]) : []),
      beforeSend: r?.w_app_id ? toWebhook(r, "w_") : undefined,
    };
  }

  async findSent(
    appId: string,
    senderId: string,
    groupId: string,
    clientMessageId: string,
    since: number,
  ): Promise<Message | undefined> {
    const r = await row(
      this.pool,
      "SELECT payload, created_at FROM sent_messages WHERE app_id = $1 AND sender_id = $2 AND group_id = $3 AND client_message_id = $4",
      [appId, senderId, groupId, clientMessageId],
    );
    if (!r || r.created_at < since) return undefined;
    return fromBinary(MessageSchema, r.payload);
  }

  /**
   * One round trip: narrowcast_append_message (migration 6) runs the whole send — the group's
   * lock, the idempotency check and record, the counters, the event and the message — as one
   * statement, so as one transaction.
   */
  async appendMessage(input: AppendMessageInput): Promise<{ message: Message; event: StoredEvent; duplicate: boolean }> {
    const { appId, groupId, senderId, now } = input;
    const message = input.message;
    message.groupId = groupId;
    message.senderId = senderId;
    message.messageId = newId("msg");
    message.serverTime = timestampFromMs(now);
    message.seq = 0n; // the function appends the seq it allocates (see migration 6)
    const targeted = message.receiverIds.length > 0;
    const audienceIds = senderId ? [...message.receiverIds, senderId] : [...message.receiverIds];
    const audience: Audience = targeted ? { kind: "users", userIds: audienceIds } : { kind: "group" };
    const event = create(EventSchema, { time: timestampFromMs(now), payload: { case: "messageReceived", value: { message } } });
    const args = [
      appId,
      groupId,
      senderId,
      message.clientMessageId,
      input.dedupeSince ?? null,
      input.persist,
      input.persist && input.countsAsUnread,
      targeted,
      [...new Set(audienceIds)],
      [...new Set(message.mentionedUserIds)],
      message.mentionAll,
      !message.excludeFromLastMessage,
      now,
      message.messageId,
      toBinary(MessageSchema, message),
      toBinary(EventSchema, event),
      messageAudience(targeted),
    ];
    const append = (db: Db) =>
      row(
        db,
        `SELECT * FROM narrowcast_append_message($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10::text[], $11, $12, $13, $14, $15, $16, $17::smallint)`,
        args,
      );
    // Rule RCP-2: a message that asks for receipts gets its readers in the send's transaction.
    const withReaders = input.persist && message.readReceiptsRequested;
    for (let attempt = 1; ; attempt++) {
      let r: Row | undefined;
      try {
        r = withReaders ? await this.tx((c) => this.appendWithReaders(c, append, input, targeted)) : await append(this.pool);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === "NC001") throw new StoreConflict("not_member", String((err as { detail?: string }).detail ?? "").split(","));
        if (typeof code === "string" && RETRYABLE.has(code) && attempt < TX_ATTEMPTS) continue;
        throw err;
      }
      switch (r?.status) {
        case "ok": {
          message.seq = BigInt(r.seq);
          const stored: StoredEvent = input.persist
            ? { appId, partition: r.part, position: r.pos, groupId, audience, event }
            : { appId, partition: 0, position: 0, groupId, audience, event };
          return { message, event: stored, duplicate: false };
        }
        case "duplicate":
          return PostgresStore.duplicate(input, fromBinary(MessageSchema, r.earlier));
        case "group_not_found":
          throw new StoreConflict("group_not_found");
        case "concurrent": {
          // Another send with the same key committed while this one ran (e.g. an online-only one,
          // which takes no group row lock): nothing was written; answer with the original.
          const earlier = await this.findSent(appId, senderId, groupId, message.clientMessageId, input.dedupeSince ?? 0);
          if (earlier) return PostgresStore.duplicate(input, earlier);
          if (attempt >= TX_ATTEMPTS) throw new Error("appendMessage: the concurrent send's record vanished");
          continue;
        }
        default:
          throw new Error(`appendMessage: unexpected status ${String(r?.status)}`);
      }
    }
  }

  private static duplicate(input: AppendMessageInput, earlier: Message) {
    const event = create(EventSchema, { payload: { case: "messageReceived", value: { message: earlier } } });
    const stored: StoredEvent = { appId: input.appId, partition: 0, position: 0, groupId: input.groupId, audience: { kind: "group" }, event };
    return { message: earlier, event: stored, duplicate: true };
  }

  async getMessage(appId: string, groupId: string, messageId: string, viewerId: string | null): Promise<Message | undefined> {
    const r = await row(
      this.pool,
      `SELECT m.payload FROM messages m
        WHERE m.app_id = $1 AND m.message_id = $2 AND m.group_id = $3
          AND (NOT m.targeted OR $4::text IS NULL OR EXISTS (SELECT 1 FROM message_audience a
               WHERE a.app_id = m.app_id AND a.group_id = m.group_id AND a.user_id = $4 AND a.seq = m.seq))`,
      [appId, messageId, groupId, viewerId],
    );
    return r && fromBinary(MessageSchema, r.payload);
  }

  async listMessages(
    appId: string,
    groupId: string,
    query: ListMessagesQuery,
  ): Promise<{ messages: Message[]; hasMore: boolean }> {
    const { viewerId, floorSeq, beforeSeq, afterSeq, limit } = query;
    const dir = query.direction === "forward" ? "ASC" : "DESC";
    const lower = Math.max(floorSeq, afterSeq);
    const upper = beforeSeq > 0 ? beforeSeq : Number.MAX_SAFE_INTEGER;
    // Two ordered index scans, each cut at the page size, merged: ordinary messages, and the
    // targeted ones addressed to (or sent by) the viewer, found from the viewer's audience rows.
    // Hidden targeted messages are never read.
    const found = await rows(
      this.pool,
      `SELECT seq, payload FROM (
         (SELECT seq, payload FROM messages
           WHERE app_id = $1 AND group_id = $2 AND targeted = false AND seq > $3 AND seq < $4
           ORDER BY seq ${dir} LIMIT $6)
         UNION ALL
         (SELECT m.seq, m.payload FROM message_audience a
            JOIN messages m ON m.app_id = a.app_id AND m.group_id = a.group_id AND m.seq = a.seq
           WHERE a.app_id = $1 AND a.group_id = $2 AND a.user_id = $5 AND a.seq > $3 AND a.seq < $4
           ORDER BY a.seq ${dir} LIMIT $6)
       ) page ORDER BY seq ${dir} LIMIT $6`,
      [appId, groupId, lower, upper, viewerId, limit + 1],
    );
    const hasMore = found.length > limit;
    const page = found.slice(0, limit);
    if (dir === "DESC") page.reverse();
    return { messages: page.map((r) => fromBinary(MessageSchema, r.payload)), hasMore };
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
    return this.tx(async (c) => {
      const { g, r } = await this.lockLiveMessage(c, appId, groupId, messageId);
      const message = fromBinary(MessageSchema, r.payload);
      const announce = revise(message, revision, now);
      await rows(c, "UPDATE messages SET recalled = $3, payload = $4 WHERE app_id = $1 AND message_id = $2", [
        appId,
        messageId,
        !!message.recall,
        toBinary(MessageSchema, message),
      ]);
      // The logged events with the message in them replay it as it is now (rules MSG-11, EDT-4):
      // its MessageReceived, then those naming it by target_seq (events_by_target, migration 7).
      const logged = await rows(c, "SELECT event_id, payload FROM events WHERE app_id = $1 AND part = $2 AND event_id = $3", [appId, g.part, r.event_id]);
      logged.push(
        ...(await rows(c, "SELECT event_id, payload FROM events WHERE app_id = $1 AND group_id = $2 AND target_seq = $3 AND event_id > $4", [
          appId,
          groupId,
          r.seq,
          r.event_id,
        ])),
      );
      for (const e of logged) {
        const payload = rewrittenEvent(e.payload, message);
        if (payload === e.payload) continue;
        await rows(c, "UPDATE events SET payload = $4 WHERE app_id = $1 AND part = $2 AND event_id = $3", [appId, g.part, e.event_id, payload]);
      }
      // RCT-8: a recalled message has no reactions (and no event says so but MessageRecalled).
      if (message.recall) await rows(c, "DELETE FROM reactions WHERE app_id = $1 AND group_id = $2 AND seq = $3", [appId, groupId, r.seq]);
      return { message, event: await this.appendDerivedEvent(c, appId, groupId, g, r, now, announce) };
    });
  }

  /**
   * The group's row FOR SHARE (its membership, so a derived event's audience, holds still), then
   * the message's row FOR UPDATE, whose lock orders recalls, edits and reaction changes of one
   * message. StoreConflict "group_not_found" without either, "already_recalled" for a recalled one.
   */
  private async lockLiveMessage(c: pg.PoolClient, appId: string, groupId: string, messageId: string): Promise<{ g: Row; r: Row }> {
    const g = await this.lockGroup(c, appId, groupId, "SHARE", "type, part");
    const r = await row(
      c,
      "SELECT seq, event_id, created_at, targeted, recalled, payload FROM messages WHERE app_id = $1 AND message_id = $2 AND group_id = $3 FOR UPDATE",
      [appId, messageId, groupId],
    );
    if (!r || !g) throw new StoreConflict("group_not_found");
    if (r.recalled) throw new StoreConflict("already_recalled");
    return { g, r };
  }

  /**
   * Appends an event derived from the message of row `r` (DRV-1): for the users who may see the
   * message now (rule EVT-2), by replay's own predicate.
   */
  private async appendDerivedEvent(c: pg.PoolClient, appId: string, groupId: string, g: Row, r: Row, now: number, announce: Event): Promise<StoredEvent> {
    const kind = derivedAudience(r.targeted as boolean, g.type);
    const { eventId, partition, event } = await this.appendEvent(c, appId, groupId, now, {
      audience: { kind, targetSeq: r.seq },
      build: () => announce,
    });
    const audience: Audience =
      kind === AUDIENCE.GROUP ? { kind: "group" } : { kind: "users", userIds: await this.eventAudience(c, appId, partition, eventId) };
    return { appId, partition, position: eventId, groupId, audience, event };
  }

  /**
   * The send, then its readers (RCP-2), in one transaction: the send's lock on the group row
   * holds the membership still until COMMIT, so the readers are the members at the send.
   */
  private async appendWithReaders(c: pg.PoolClient, append: (db: Db) => Promise<Row | undefined>, input: AppendMessageInput, targeted: boolean): Promise<Row | undefined> {
    const r = await append(c);
    if (r?.status !== "ok") return r;
    await rows(
      c,
      `INSERT INTO receipts (app_id, group_id, seq, user_id)
       SELECT app_id, group_id, $3, user_id FROM memberships
        WHERE app_id = $1 AND group_id = $2 AND left_event_id IS NULL AND user_id <> $4 AND (NOT $5 OR user_id = ANY($6::text[]))`,
      [input.appId, input.groupId, r.seq, input.senderId, targeted, input.message.receiverIds],
    );
    return r;
  }

  // ---- read receipts ----

  acknowledge(appId: string, groupId: string, userId: string, seqs: readonly number[], now: number): Promise<StoredEvent[]> {
    return this.tx(async (c) => {
      // FOR SHARE: the sender's membership, which decides whether they are told, holds still.
      const g = await this.lockGroup(c, appId, groupId, "SHARE", "type, part");
      if (!g) return [];
      const events: StoredEvent[] = [];
      // In ascending seq order, each message's row locked first: concurrent acknowledgements of
      // one message take turns, so each MessageRead carries the counts just after its own.
      for (const seq of [...new Set(seqs)].sort((a, b) => a - b)) {
        const m = await row(
          c,
          `SELECT m.message_id, m.sender_id, s.join_seq,
                  NOT m.targeted OR EXISTS (SELECT 1 FROM message_audience a
                    WHERE a.app_id = m.app_id AND a.group_id = m.group_id AND a.user_id = m.sender_id AND a.seq = m.seq) AS in_audience
             FROM messages m
             LEFT JOIN memberships s ON s.app_id = m.app_id AND s.group_id = m.group_id AND s.user_id = m.sender_id AND s.left_event_id IS NULL
            WHERE m.app_id = $1 AND m.group_id = $2 AND m.seq = $3 FOR UPDATE OF m`,
          [appId, groupId, seq],
        );
        if (!m) continue;
        const recorded = await rows(
          c,
          "UPDATE receipts SET read_at = $5 WHERE app_id = $1 AND group_id = $2 AND seq = $3 AND user_id = $4 AND read_at IS NULL RETURNING 1",
          [appId, groupId, seq, userId, now],
        );
        if (recorded.length === 0) continue;
        if (!senderMaySee(m.sender_id, g.type, m.join_seq ?? undefined, seq, m.in_audience)) continue;
        const counts = (await this.receiptCountsOf(c, appId, groupId, [seq])).get(seq)!;
        const { eventId, partition, event } = await this.appendEvent(c, appId, groupId, now, {
          audience: { kind: AUDIENCE.USER, userId: m.sender_id },
          build: () => messageReadEvent(groupId, m.message_id, seq, userId, counts),
        });
        events.push({ appId, partition, position: eventId, groupId, audience: { kind: "user", userId: m.sender_id }, event });
      }
      return events;
    });
  }

  private async receiptCountsOf(db: Db, appId: string, groupId: string, seqs: readonly number[]): Promise<Map<number, ReceiptCounts>> {
    const found = await rows(
      db,
      `SELECT seq, COUNT(read_at) AS read, COUNT(*) - COUNT(read_at) AS unread FROM receipts
        WHERE app_id = $1 AND group_id = $2 AND seq = ANY($3::bigint[]) GROUP BY seq`,
      [appId, groupId, seqs],
    );
    return new Map(found.map((r) => [r.seq as number, { read: r.read as number, unread: r.unread as number }]));
  }

  async receiptCounts(appId: string, groupId: string, seqs: readonly number[]): Promise<Map<number, ReceiptCounts>> {
    return seqs.length ? this.receiptCountsOf(this.pool, appId, groupId, seqs) : new Map();
  }

  async listReceipts(appId: string, groupId: string, seq: number, read: boolean, page: PageQuery<string>): Promise<ReceiptRecord[]> {
    const found = await rows(
      this.pool,
      `SELECT user_id, read_at FROM receipts
        WHERE app_id = $1 AND group_id = $2 AND seq = $3 AND (read_at IS NOT NULL) = $4 AND user_id > $5
        ORDER BY user_id LIMIT $6`,
      [appId, groupId, seq, read, page.after ?? "", page.limit],
    );
    return found.map((r) => ({ userId: r.user_id, readAt: r.read_at ?? undefined }));
  }

  // ---- reactions ----

  changeReaction(appId: string, groupId: string, messageId: string, change: ReactionChange, now: number): Promise<{ event?: StoredEvent }> {
    return this.tx(async (c) => {
      const { g, r } = await this.lockLiveMessage(c, appId, groupId, messageId);
      const key = [appId, groupId, r.seq, change.reaction, change.userId];
      if (change.added) {
        const present = (await rows(c, "SELECT DISTINCT reaction FROM reactions WHERE app_id = $1 AND group_id = $2 AND seq = $3", key.slice(0, 3))).map(
          (x) => x.reaction as string,
        );
        if (exceedsReactionLimit(present, change.reaction)) throw new StoreConflict("reaction_limit");
        const added = await rows(
          c,
          "INSERT INTO reactions (app_id, group_id, seq, reaction, user_id, created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING 1",
          [...key, now],
        );
        if (added.length === 0) return {};
      } else {
        const removed = await rows(
          c,
          "DELETE FROM reactions WHERE app_id = $1 AND group_id = $2 AND seq = $3 AND reaction = $4 AND user_id = $5 RETURNING 1",
          key,
        );
        if (removed.length === 0) return {};
      }
      const counted = await row(c, "SELECT COUNT(*) AS n FROM reactions WHERE app_id = $1 AND group_id = $2 AND seq = $3 AND reaction = $4", key.slice(0, 4));
      const announce = reactionChangedEvent(groupId, messageId, r.seq, change, counted!.n);
      return { event: await this.appendDerivedEvent(c, appId, groupId, g, r, now, announce) };
    });
  }

  async reactionCounts(appId: string, groupId: string, seqs: readonly number[], viewerId: string): Promise<Map<number, ReactionTally[]>> {
    if (seqs.length === 0) return new Map();
    const found = await rows(
      this.pool,
      `SELECT seq, reaction, COUNT(*) AS count, bool_or(user_id = $4) AS mine, MIN(created_at) AS first FROM reactions
        WHERE app_id = $1 AND group_id = $2 AND seq = ANY($3::bigint[])
        GROUP BY seq, reaction ORDER BY seq, first, reaction`,
      [appId, groupId, seqs, viewerId],
    );
    return talliesBySeq(found.map((x): TallyRow => ({ seq: x.seq, reaction: x.reaction, count: x.count, mine: x.mine })));
  }

  async listReactions(appId: string, groupId: string, seq: number, reaction: string | undefined, page: PageQuery<ReactionRecord>): Promise<ReactionRecord[]> {
    const after = page.after;
    const found = await rows(
      this.pool,
      `SELECT reaction, user_id, created_at FROM reactions
        WHERE app_id = $1 AND group_id = $2 AND seq = $3 AND ($4::text IS NULL OR reaction = $4)
          AND (NOT $5::boolean OR (created_at, reaction, user_id) > ($6::bigint, $7::text, $8::text))
        ORDER BY created_at, reaction, user_id LIMIT $9`,
      [appId, groupId, seq, reaction ?? null, !!after, after?.createdAt ?? 0, after?.reaction ?? "", after?.userId ?? "", page.limit],
    );
    return found.map((x) => ({ reaction: x.reaction, userId: x.user_id, createdAt: x.created_at }));
  }

  // ---- conversations ----

  /**
   * Members' counters in one statement (one snapshot): the group's and the member's counters,
   * and the last message, the newer of the group's last ordinary message (if within this
   * member's history, rule GRP-6; MEETING history has no floor) and the member's last targeted
   * one. For one group (`groupId`), or for every live group of the user (null).
   */
  private async counterRows(db: Db, appId: string, groupId: string | null, userId: string): Promise<Row[]> {
    return rows(
      db,
      `SELECT g.*, m.read_seq, m.bcast_cum_at_read, m.tgt_cum, m.tgt_cum_at_read,
              m.last_mention_seq, m.join_seq, last.payload AS last_payload
         FROM memberships m
         JOIN groups g ON g.app_id = m.app_id AND g.group_id = m.group_id AND NOT g.dismissed
         LEFT JOIN messages last ON last.app_id = g.app_id AND last.group_id = g.group_id
              AND last.seq = CASE WHEN g.last_bcast_seq > m.last_tgt_seq AND (g.type = ${GroupType.MEETING} OR g.last_bcast_seq > m.join_seq)
                                  THEN g.last_bcast_seq ELSE m.last_tgt_seq END
        WHERE m.app_id = $1 AND m.user_id = $3 AND m.left_event_id IS NULL AND ($2::text IS NULL OR m.group_id = $2)
        ORDER BY m.group_id`,
      [appId, groupId, userId],
    );
  }

  private static countersOf(r: Row): ConversationCounters {
    const unread = r.bcast_cum - r.bcast_cum_at_read + (r.tgt_cum - r.tgt_cum_at_read);
    return {
      readSeq: r.read_seq,
      unreadCount: Math.max(0, unread),
      lastMessage: r.last_payload ? fromBinary(MessageSchema, r.last_payload) : undefined,
      mentionedMe: r.last_mention_seq > r.read_seq,
      mentionedAll: r.last_at_all_seq > r.read_seq && r.last_at_all_seq > r.join_seq,
    };
  }

  private async counters(db: Db, appId: string, groupId: string, userId: string): Promise<ConversationCounters | undefined> {
    const [r] = await this.counterRows(db, appId, groupId, userId);
    return r && PostgresStore.countersOf(r);
  }

  conversation(appId: string, groupId: string, userId: string): Promise<ConversationCounters | undefined> {
    return this.counters(this.pool, appId, groupId, userId);
  }

  async conversations(appId: string, userId: string): Promise<{ group: GroupRecord; counters: ConversationCounters }[]> {
    return (await this.counterRows(this.pool, appId, null, userId)).map((r) => ({ group: toGroup(r), counters: PostgresStore.countersOf(r) }));
  }

  markRead(
    appId: string,
    groupId: string,
    userId: string,
    readSeq: number,
    now: number,
    buildEvent: (counters: ConversationCounters) => Event,
  ): Promise<{ counters: ConversationCounters; event?: StoredEvent }> {
    return this.tx(async (c) => {
      // FOR SHARE: no message lands in the group meanwhile, yet members may read concurrently.
      const g = await this.lockGroup(c, appId, groupId, "SHARE", "last_seq");
      if (!g) throw new StoreConflict("group_not_found");
      const m = await row(
        c,
        `SELECT id, read_seq, join_seq FROM memberships
         WHERE app_id = $1 AND group_id = $2 AND user_id = $3 AND left_event_id IS NULL FOR UPDATE`,
        [appId, groupId, userId],
      );
      if (!m) throw new StoreConflict("not_member", [userId]);
      const target = readSeq === 0 ? g.last_seq : Math.min(readSeq, g.last_seq);
      // Rule UNR-3: a read that does not move the position records nothing.
      if (target <= m.read_seq) return { counters: (await this.counters(c, appId, groupId, userId))! };
      // The counters as of the target: the group's ordinary count at the last message up to
      // it, and this member's targeted count at their last targeted message up to it.
      await rows(
        c,
        `UPDATE memberships SET read_seq = GREATEST(read_seq, $2),
           bcast_cum_at_read = GREATEST(bcast_cum_at_read, COALESCE((SELECT bcast_cum FROM messages
             WHERE app_id = $3 AND group_id = $4 AND seq <= $2 ORDER BY seq DESC LIMIT 1), 0)),
           tgt_cum_at_read = GREATEST(tgt_cum_at_read, COALESCE((SELECT tgt_cum FROM message_audience
             WHERE app_id = $3 AND group_id = $4 AND user_id = $5 AND seq <= $2 AND seq > $6 ORDER BY seq DESC LIMIT 1), 0))
         WHERE id = $1`,
        [m.id, target, appId, groupId, userId, m.join_seq],
      );
      const counters = (await this.counters(c, appId, groupId, userId))!;
      const { eventId, partition, event } = await this.appendEvent(c, appId, groupId, now, {
        // target_seq: the last message it shows, so that a recall or edit rewrites it (revisions.ts).
        audience: { kind: AUDIENCE.USER, userId, targetSeq: counters.lastMessage ? Number(counters.lastMessage.seq) : undefined },
        build: () => buildEvent(counters),
      });
      return { counters, event: { appId, partition, position: eventId, groupId, audience: { kind: "user", userId }, event } };
    });
  }

  // ---- event log ----

  async readEvents(appId: string, userId: string, after: readonly number[], limit: number): Promise<ReplayedEvent[]> {
    // The events of the user's membership spans (each span's group, within the span, as the span
    // saw them: rule EVT-2; through events_by_group, at most `limit` per span) plus the user's own
    // events (through events_by_user, per partition): cost follows what the user may see, not the
    // app's whole log. $2 is the cursor, one position per partition (PostgreSQL arrays count from 1).
    const found = await rows(
      this.pool,
      `SELECT part, event_id, group_id, audience, user_id, payload FROM (
         SELECT e.* FROM memberships m
         JOIN groups g ON g.app_id = m.app_id AND g.group_id = m.group_id
         CROSS JOIN LATERAL (
           SELECT e.part, e.event_id, e.group_id, e.audience, e.user_id, e.payload FROM events e
            WHERE e.app_id = m.app_id AND e.group_id = m.group_id
              AND e.event_id > ($2::bigint[])[g.part + 1] AND e.event_id >= m.join_event_id
              AND (m.left_event_id IS NULL OR e.event_id <= m.left_event_id)
              AND ${spanSeesEventSql("e", "m")}
            ORDER BY e.event_id LIMIT $4
         ) e
         WHERE m.app_id = $1 AND m.user_id = $3 AND (m.left_event_id IS NULL OR m.left_event_id > ($2::bigint[])[g.part + 1])
         UNION ALL
         SELECT e.* FROM unnest($2::bigint[]) WITH ORDINALITY AS a(pos, n)
         CROSS JOIN LATERAL (
           SELECT e.part, e.event_id, e.group_id, e.audience, e.user_id, e.payload FROM events e
            WHERE e.app_id = $1 AND e.user_id = $3 AND e.part = a.n - 1 AND e.event_id > a.pos AND e.audience = ${AUDIENCE.USER}
            ORDER BY e.event_id LIMIT $4
         ) e
       ) visible ORDER BY part, event_id LIMIT $4`,
      [appId, after, userId, limit],
    );
    return found.map((r) => ({ partition: r.part, position: r.event_id, groupId: r.group_id, payload: r.payload }));
  }

  async readEventRange(appId: string, partition: number, from: number, to: number): Promise<StoredEvent[]> {
    const found = await rows(
      this.pool,
      "SELECT * FROM events WHERE app_id = $1 AND part = $2 AND event_id >= $3 AND event_id <= $4 ORDER BY event_id",
      [appId, partition, from, to],
    );
    const out: StoredEvent[] = [];
    for (const r of found) out.push(await this.storedEvent(appId, r));
    return out;
  }

  async readEventRangeFor(appId: string, partition: number, from: number, to: number, interest: Interest): Promise<(StoredEvent | EventTick)[]> {
    const found = await rows(
      this.pool,
      `SELECT part, event_id, group_id, audience, user_id, joined_user_id,
              CASE WHEN group_id = ANY($5::text[]) OR joined_user_id = ANY($6::text[]) THEN payload END AS payload
         FROM events WHERE app_id = $1 AND part = $2 AND event_id >= $3 AND event_id <= $4 ORDER BY event_id`,
      [appId, partition, from, to, interest.groupIds, interest.userIds],
    );
    const out: (StoredEvent | EventTick)[] = [];
    for (const r of found) out.push(r.payload ? await this.storedEvent(appId, r) : tickOf(appId, r));
    return out;
  }

  private async storedEvent(appId: string, r: Row): Promise<StoredEvent> {
    const event = fromBinary(EventSchema, r.payload);
    const audience: Audience =
      r.audience === AUDIENCE.USER
        ? { kind: "user", userId: r.user_id }
        : r.audience === AUDIENCE.GROUP
          ? { kind: "group" }
          : { kind: "users", userIds: await this.eventAudience(this.pool, appId, r.part, r.event_id) };
    return { appId, partition: r.part, position: r.event_id, groupId: r.group_id, audience, event, membership: membershipOf(event) };
  }

  async pruneSent(before: number): Promise<number> {
    const result = await this.pool.query("DELETE FROM sent_messages WHERE created_at < $1", [before]);
    return result.rowCount ?? 0;
  }

  pruneEvents(before: number): Promise<number> {
    return this.tx(async (c) => {
      const floors = await rows(
        c,
        `WITH deleted AS (DELETE FROM events WHERE created_at < $1 RETURNING app_id, part, event_id)
         SELECT app_id, part, max(event_id) AS floor, count(*) AS n FROM deleted GROUP BY app_id, part`,
        [before],
      );
      if (floors.length === 0) return 0;
      floors.sort((a, b) => (a.app_id < b.app_id ? -1 : a.app_id > b.app_id ? 1 : a.part - b.part));
      const apps = floors.map((f) => f.app_id as string);
      const parts = floors.map((f) => f.part as number);
      const ids = floors.map((f) => f.floor as number);
      // Ended membership spans that hold no replayable event any more: no cursor reaches them.
      await rows(
        c,
        `DELETE FROM memberships m USING unnest($1::text[], $2::smallint[], $3::bigint[]) AS f(app_id, part, floor), groups g
          WHERE m.app_id = f.app_id AND g.app_id = m.app_id AND g.group_id = m.group_id AND g.part = f.part
            AND m.left_event_id IS NOT NULL AND m.left_event_id <= f.floor`,
        [apps, parts, ids],
      );
      // The partitions' rows last, in key order (each may wait for an append holding it to COMMIT).
      await rows(
        c,
        `UPDATE partitions p SET floor = GREATEST(p.floor, f.floor)
           FROM unnest($1::text[], $2::smallint[], $3::bigint[]) AS f(app_id, part, floor)
          WHERE p.app_id = f.app_id AND p.part = f.part`,
        [apps, parts, ids],
      );
      return floors.reduce((n, f) => n + Number(f.n), 0);
    });
  }

  eventFloors(appId: string): Promise<Positions> {
    return this.partitionColumn(appId, "floor");
  }

  latestPositions(appId: string): Promise<Positions> {
    return this.partitionColumn(appId, "head");
  }

  async latestPositionsOf(appIds: readonly string[]): Promise<Map<string, Positions>> {
    const out = new Map<string, Positions>();
    for (const r of await rows(this.pool, "SELECT app_id, part, head FROM partitions WHERE app_id = ANY($1::text[])", [appIds])) {
      let positions = out.get(r.app_id);
      if (!positions) out.set(r.app_id, (positions = origin()));
      positions[r.part] = r.head;
    }
    return out;
  }

  private async partitionColumn(appId: string, column: "head" | "floor"): Promise<Positions> {
    const out = origin();
    for (const r of await rows(this.pool, `SELECT part, ${column} AS v FROM partitions WHERE app_id = $1`, [appId])) out[r.part] = r.v;
    return out;
  }

  // ---- app backends (webhooks-postgres.ts) ----

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
