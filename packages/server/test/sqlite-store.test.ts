// The embedded SQLite store: the Store contract (in memory and on disk), then what only SQLite
// can show: versioned migrations, O(1) rows per broadcast message, and counter queries that are
// index lookups, whatever the length of the history. Row counts and query plans are read through
// a second, independent better-sqlite3 connection; nothing here depends on timing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventSchema, GroupType, MemberRole, MessageSchema } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { SqliteStore } from "../src/store/sqlite.js";
import { sqliteMigrations } from "../src/store/sqlite-schema.js";
import { PARTITIONS, origin } from "../src/positions.js";


import type { AppendMessageInput, Store } from "../src/store/types.js";
import { storeContract } from "./store-contract.js";
import { webhookStoreContract } from "./webhook-store-contract.js";

const tempDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "narrowcast-sqlite-"));
  tempDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

async function openStore(dataDir: string): Promise<SqliteStore> {
  const store = new SqliteStore({ dataDir });
  await store.migrate();
  return store;
}

storeContract("SqliteStore (:memory:)", () => openStore(":memory:"));
storeContract("SqliteStore (file, WAL)", () => openStore(tempDir()));
webhookStoreContract("SqliteStore (:memory:)", () => openStore(":memory:"));
webhookStoreContract("SqliteStore (file, WAL)", () => openStore(tempDir()));

/** A read-only second connection to a store's database file. */
function inspect(dir: string): Database.Database {
  return new Database(join(dir, "narrowcast.db"), { readonly: true, fileMustExist: true });
}

function count(db: Database.Database, table: string): number {
  return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
}

const APP = "app_sqlite";
const NOW = 1_700_000_000_000;

async function seedApp(store: Store, users: readonly string[]): Promise<void> {
  await store.createApp({ appId: APP, name: "sqlite", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: NOW });
  await store.upsertUsers(APP, users.map((userId) => ({ userId, nickname: "" })));
}

async function seedGroup(store: Store, groupId: string, members: readonly string[]): Promise<void> {
  await store.createGroup(
    { appId: APP, groupId, type: GroupType.WORK, name: groupId, ownerId: members[0], createdAt: NOW },
    members.map((userId, i) => ({ userId, role: i === 0 ? MemberRole.OWNER : MemberRole.MEMBER })),
    { maxMembers: 100_000, memberEventsMaxMembers: 0 },
  );
}

function send(store: Store, groupId: string, senderId: string, receivers: string[] = [], extra: Partial<AppendMessageInput> = {}) {
  return store.appendMessage({
    appId: APP,
    groupId,
    senderId,
    message: create(MessageSchema, {
      elements: [{ element: { case: "text", value: { text: "x".repeat(100) } } }],
      receiverIds: receivers,
      countAsUnreadForReceivers: receivers.length > 0,
    }),
    persist: true,
    countsAsUnread: true,
    now: NOW + 1000,
    ...extra,
  });
}

const userIds = (n: number) => Array.from({ length: n }, (_, i) => `u${String(i).padStart(5, "0")}`);

describe("SqliteStore: migrations", () => {
  it("are versioned in schema_migrations, and re-running migrate() is a no-op", async () => {
    const versions = sqliteMigrations.map((m) => m.version);
    expect(versions.length).toBeGreaterThan(0);
    expect(new Set(versions).size, "migration versions are unique").toBe(versions.length);
    expect(versions, "migration versions increase").toEqual([...versions].sort((a, b) => a - b));

    const dir = tempDir();
    const store = await openStore(dir);
    const db = inspect(dir);
    const applied = () => db.prepare("SELECT version, applied_at FROM schema_migrations ORDER BY version").all();
    const schema = () => db.prepare("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").all();
    expect((applied() as { version: number }[]).map((r) => r.version)).toEqual(versions);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    const first = { applied: applied(), schema: schema() };

    await seedApp(store, ["alice"]);
    await store.migrate();
    expect({ applied: applied(), schema: schema() }).toEqual(first);
    await store.close();

    // A restart on the same file applies nothing and keeps the data.
    const reopened = await openStore(dir);
    expect({ applied: applied(), schema: schema() }).toEqual(first);
    expect((await reopened.getApp(APP))?.name).toBe("sqlite");
    expect(await reopened.existingUsers(APP, ["alice"])).toEqual(new Set(["alice"]));
    await reopened.close();
    db.close();
  });
});

describe("SqliteStore: upgrading a 0.1 database", () => {
  it("migrates schema version 3 to the latest: edition becomes plan; apps, users, groups and idempotency rows are kept", async () => {
    const dir = tempDir();
    const old = new Database(join(dir, "narrowcast.db"));
    old.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    for (const m of sqliteMigrations.filter((m) => m.version <= 3)) {
      old.exec(m.sql);
      old.prepare("INSERT INTO schema_migrations VALUES (?, ?)").run(m.version, NOW);
    }
    old.prepare("INSERT INTO apps (app_id, name, edition, secret, created_at, event_seq) VALUES (?, 'old', 2, 'c2VjcmV0', ?, 0)").run(APP, NOW);
    old.prepare("INSERT INTO users (app_id, user_id, nickname) VALUES (?, 'alice', 'A')").run(APP);
    old.prepare("INSERT INTO sent_messages (app_id, sender_id, client_message_id, created_at, payload) VALUES (?, 'alice', 'k', ?, x'')").run(APP, NOW);
    old.close();

    const store = await openStore(dir);
    expect(await store.getApp(APP)).toEqual({ appId: APP, name: "old", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: NOW });
    expect(await store.getUser(APP, "alice")).toEqual({ userId: "alice", nickname: "A" });
    const db = inspect(dir);
    expect((db.prepare("SELECT version FROM schema_migrations ORDER BY version").all() as { version: number }[]).map((r) => r.version)).toEqual(
      sqliteMigrations.map((m) => m.version),
    );
    // A 0.1 idempotency record had no group: it is kept (and lapses with the window), under group "".
    expect(db.prepare("SELECT sender_id, group_id, client_message_id FROM sent_messages").all()).toEqual([
      { sender_id: "alice", group_id: "", client_message_id: "k" },
    ]);
    db.close();
    // The upgraded store works as a new one.
    await store.upsertUsers(APP, [{ userId: "bob", nickname: "" }]);
    await seedGroup(store, "g", ["alice", "bob"]);
    const { message } = await send(store, "g", "bob", ["alice"]);
    expect((await store.conversation(APP, "g", "alice"))?.lastMessage?.messageId).toBe(message.messageId);
    await store.close();
  });
});

describe("SqliteStore: rows written per message", () => {
  const dir = tempDir();
  let store: SqliteStore;
  let db: Database.Database;
  const members = userIds(1000);
  const tables = ["messages", "events", "message_audience", "memberships", "sent_messages"] as const;
  const counts = () => Object.fromEntries(tables.map((t) => [t, count(db, t)]));
  /** Membership rows, keyed by user, so a test can tell exactly which ones a send modified. */
  const memberships = () =>
    new Map(
      (db.prepare("SELECT * FROM memberships WHERE app_id = ? AND group_id = 'big'").all(APP) as { user_id: string }[]).map(
        (r) => [r.user_id, JSON.stringify(r)],
      ),
    );
  const changedMembers = (before: Map<string, string>, after: Map<string, string>) =>
    [...after].filter(([user, row]) => before.get(user) !== row).map(([user]) => user).sort();

  beforeAll(async () => {
    store = await openStore(dir);
    await seedApp(store, members);
    await seedGroup(store, "big", members);
    db = inspect(dir);
  });
  afterAll(async () => {
    db?.close();
    await store?.close();
  });

  it("an ordinary message in a 1000-member group writes one message and one event, no per-member row", async () => {
    const before = counts();
    const rowsBefore = memberships();
    const { message } = await send(store, "big", members[1]);
    expect(counts()).toEqual({ ...before, messages: before.messages + 1, events: before.events + 1 });
    // Only the sender's own read position moves (rule UNR-5); nobody else's row is touched.
    expect(changedMembers(rowsBefore, memberships())).toEqual([members[1]]);
    // …and yet every member's counters see it.
    expect((await store.conversation(APP, "big", members[999]))?.unreadCount).toBe(1);
    expect((await store.conversation(APP, "big", members[500]))?.lastMessage?.messageId).toBe(message.messageId);
    expect((await store.conversation(APP, "big", members[1]))?.unreadCount).toBe(0);
  });

  it("a 2-receiver targeted message writes 3 audience rows (receivers + sender) and touches only their memberships", async () => {
    const before = counts();
    const rowsBefore = memberships();
    await send(store, "big", members[2], [members[3], members[4]]);
    expect(counts()).toEqual({
      ...before,
      messages: before.messages + 1,
      events: before.events + 1,
      message_audience: before.message_audience + 3,
    });
    expect(changedMembers(rowsBefore, memberships())).toEqual([members[2], members[3], members[4]]);
  });

  it("an @-mention touches the mentioned member's row only; an idempotency key adds one sent_messages row", async () => {
    const before = counts();
    const rowsBefore = memberships();
    const message = create(MessageSchema, {
      elements: [{ element: { case: "text", value: { text: "hey" } } }],
      mentionedUserIds: [members[7]],
      clientMessageId: "c-1",
    });
    await store.appendMessage({ appId: APP, groupId: "big", senderId: members[5], message, persist: true, countsAsUnread: true, now: NOW });
    expect(counts()).toEqual({
      ...before,
      messages: before.messages + 1,
      events: before.events + 1,
      sent_messages: before.sent_messages + 1,
    });
    expect(changedMembers(rowsBefore, memberships())).toEqual([members[5], members[7]]);
  });
});

describe("SqliteStore: counter queries are index lookups, independent of history length", () => {
  const dir = tempDir();
  let seeded: SqliteStore;
  let store: SqliteStore;
  let db: Database.Database;
  const executed: { sql: string; args: unknown[] }[] = [];
  const members = userIds(50);

  beforeAll(async () => {
    seeded = await openStore(dir);
    await seedApp(seeded, members);
    await seedGroup(seeded, "long", members);
    await seedGroup(seeded, "short", members);
    // A long history of ordinary and targeted messages, and a short one.
    for (let i = 0; i < 3000; i++) {
      const sender = members[i % members.length];
      const receivers = i % 3 === 0 ? [members[(i + 1) % members.length], members[(i + 2) % members.length]] : [];
      await send(seeded, "long", sender, receivers);
    }
    for (let i = 0; i < 5; i++) await send(seeded, "short", members[i]);
    // A second store on the same file, whose statements are all recorded with their arguments.
    store = new SqliteStore({ dataDir: dir });
    recordStatements(store, executed);
    db = inspect(dir);
  });
  afterAll(async () => {
    db?.close();
    await store?.close();
    await seeded?.close();
  });

  async function statementsOf(call: () => Promise<unknown>) {
    executed.length = 0;
    await call();
    return executed.splice(0);
  }

  function plan(sql: string, args: unknown[]): string[] {
    const rows = db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[];
    return rows.map((r) => r.detail);
  }

  /**
   * Every table access is a SEARCH through an index or the primary key, never a SCAN (but for
   * the plan lines `allowedScans` names: scans of a statement's own constant rows).
   */
  function expectIndexLookups(statements: { sql: string; args: unknown[] }[], allowedScans: readonly string[] = []): void {
    expect(statements.length).toBeGreaterThan(0);
    for (const { sql, args } of statements) {
      const details = plan(sql, args);
      const context = `${sql.replace(/\s+/g, " ")}\n  plan: ${details.join(" | ")}`;
      for (const d of details) {
        if (!allowedScans.includes(d)) expect(d, context).not.toMatch(/^SCAN /);
        if (/^SEARCH /.test(d)) expect(d, context).toMatch(/ USING (COVERING INDEX|INDEX|PRIMARY KEY|INTEGER PRIMARY KEY)/);
      }
    }
  }

  it("conversation(): unread, last message and mention flags come from a constant number of indexed lookups", async () => {
    const viewer = members[10];
    const long = await statementsOf(() => store.conversation(APP, "long", viewer));
    const short = await statementsOf(() => store.conversation(APP, "short", viewer));
    expectIndexLookups(long);
    // The same statements, as many of them, for 3000 messages of history as for 5.
    expect(long.map((s) => s.sql)).toEqual(short.map((s) => s.sql));
    expect(long.length).toBeLessThanOrEqual(4);
    const counters = await store.conversation(APP, "long", viewer);
    expect(counters?.unreadCount).toBeGreaterThan(0);
    expect(counters?.lastMessage?.seq).toBe(3000n);
  });

  it("markRead() moves the read position and recomputes the counters with indexed lookups only", async () => {
    const viewer = members[20];
    const build = () => create(EventSchema, {});
    // 0 = the latest seq: the read position moves in both groups.
    const long = await statementsOf(() => store.markRead(APP, "long", viewer, 0, NOW, build));
    const short = await statementsOf(() => store.markRead(APP, "short", viewer, 0, NOW, build));
    expectIndexLookups(long);
    expect(long.map((s) => s.sql)).toEqual(short.map((s) => s.sql));
  });

  it("listUserGroups() + conversation() for ListConversations do not scan messages", async () => {
    const statements = await statementsOf(async () => {
      for (const g of await store.listUserGroups(APP, members[3])) await store.conversation(APP, g.groupId, members[3]);
    });
    expectIndexLookups(statements);
  });

  it("listMessages() reads ordinary messages and the viewer's own targeted ones by index, never others' targeted ones", async () => {
    const statements = await statementsOf(() =>
      store.listMessages(APP, "long", { viewerId: members[5], floorSeq: 0, direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 20 }),
    );
    expectIndexLookups(statements);
    const details = statements.flatMap(({ sql, args }) => plan(sql, args));
    // The targeted arm starts from the viewer's audience rows, not from a seq range of messages.
    expect(details.join("\n")).toMatch(/SEARCH a USING PRIMARY KEY \(app_id=\? AND group_id=\? AND user_id=\?/);
    expect(details.join("\n")).not.toMatch(/messages_by_seq \(app_id=\? AND group_id=\? AND seq>/);
  });

  it("readEvents() follows the user's membership spans, never the app's whole event log", async () => {
    const statements = await statementsOf(() => store.readEvents(APP, members[5], origin(), 100));
    // The cursor is a statement's 16 constant rows (one per partition, the CTE `cur`): scanning
    // those is bounded, as is scanning the page (`page`, at most `limit` rows) whose payloads are
    // then read by rowid; message_audience (`a`) is searched by key below.
    expect(statements.every(({ sql }) => /^\s*WITH cur\(part, pos\) AS \(VALUES/.test(sql))).toBe(true);
    expectIndexLookups(statements, [`SCAN ${PARTITIONS} CONSTANT ROWS`, "SCAN cur", "SCAN page"]);
    const details = statements.flatMap(({ sql, args }) => plan(sql, args)).join("\n");
    expect(details).toMatch(/SEARCH m USING INDEX memberships_by_user/);
    expect(details).toMatch(/events_by_group \(app_id=\? AND group_id=\? AND event_id>\?\)/);
    expect(details).toMatch(/events_by_user \(app_id=\? AND user_id=\? AND part=\? AND event_id>\?\)/);
    expect(details).toMatch(/SEARCH a USING PRIMARY KEY \(app_id=\? AND group_id=\? AND user_id=\? AND seq=\?\)/);
    expect(details).not.toMatch(/\(app_id=\? AND event_id>\?\)/);
  });
});

/** Wraps the store's connection so every statement execution is recorded with its arguments. */
function recordStatements(store: SqliteStore, log: { sql: string; args: unknown[] }[]): void {
  // White-box on purpose: the query plans of the store's own SQL are what this file checks.
  const db = (store as unknown as { db: Database.Database }).db;
  expect(db, "SqliteStore keeps its better-sqlite3 connection in `db`").toBeInstanceOf(Database);
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    const stmt = prepare(sql);
    const proxy: Database.Statement = new Proxy(stmt, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        if (prop === "get" || prop === "all" || prop === "run" || prop === "iterate") {
          return (...args: unknown[]) => {
            log.push({ sql, args });
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        // Chained settings (raw(), pluck(), …) return the statement: keep recording through them.
        return (...args: unknown[]) => {
          const result = (value as (...a: unknown[]) => unknown).apply(target, args);
          return result === target ? proxy : result;
        };
      },
    });
    return proxy;
  }) as typeof db.prepare;
}

describe("SqliteStore: group commit", () => {
  it("sends issued together share a commit, and one that fails rolls back alone (no half-stored message)", async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    await seedApp(store, ["a", "b", "c"]);
    await seedGroup(store, "g", ["a", "b"]);
    // Issued in one turn of the event loop, so they run in one transaction, each in a savepoint.
    // The second fails after its first writes (c is no member: not_member while writing the
    // audience), the third before any (no such group).
    const results = await Promise.allSettled([send(store, "g", "a"), send(store, "g", "a", ["b", "c"]), send(store, "nope", "a"), send(store, "g", "a", ["b"])]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "rejected", "fulfilled"]);
    const seqs = results.flatMap((r) => (r.status === "fulfilled" ? [Number(r.value.message.seq)] : []));
    expect(seqs).toEqual([1, 2]);
    const db = inspect(dir);
    try {
      expect(count(db, "messages")).toBe(2);
      // Only the stored targeted message (b and its sender) has audience rows.
      expect(count(db, "message_audience")).toBe(2);
      expect((db.prepare("SELECT last_seq FROM groups WHERE group_id = 'g'").get() as { last_seq: number }).last_seq).toBe(2);
      expect((await store.conversation(APP, "g", "b"))?.unreadCount).toBe(2);
    } finally {
      db.close();
      await store.close();
    }
  });

  it("close() commits what is queued", async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    await seedApp(store, ["a", "b"]);
    await seedGroup(store, "g", ["a", "b"]);
    const sent = send(store, "g", "a");
    await store.close();
    expect(Number((await sent).message.seq)).toBe(1);
    const reopened = await openStore(dir);
    expect((await reopened.conversation(APP, "g", "b"))?.unreadCount).toBe(1);
    await reopened.close();
  });
});
