// Upgrading a 0.2 database (schema version 4: one event log per app, numbered by apps.event_seq)
// to the partitioned log of 0.3 (version 5), on SQLite and on PostgreSQL. The old log becomes
// partition 0 with its event IDs as positions, the app's retention floor becomes partition 0's,
// groups made before stay in partition 0, and a 0.2 cursor ("<eventId>.<apptag>") still resumes:
// in the store, and over the wire on a server started on the old database.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { EventSchema, GroupType, MemberRole, MessageSchema, type Event } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { appTag, parseCursor } from "../src/cursor.js";
import { origin, partitionOf } from "../src/positions.js";
import { PostgresStore } from "../src/store/postgres.js";
import { postgresMigrations } from "../src/store/postgres-schema.js";
import { SqliteStore } from "../src/store/sqlite.js";
import { sqliteMigrations } from "../src/store/sqlite-schema.js";
import type { Store, StoredEvent } from "../src/store/types.js";
import { only } from "./partitions-contract.js";
import { postgresAvailable, postgresUrl, redact, requireOrSkip } from "./services.js";
import { TestServer, UserClient, textOf } from "./support.js";
import { readEvents } from "./replayed.js";

const APP = "app_from_0_2";
/** A 0.2 cursor: "<eventId>.<apptag>". */
const oldCursor = (eventId: number) => `${eventId}.${appTag(APP)}`;
/** Recent, so the server's event retention (7 days) leaves the old events alone. */
const T0 = Date.now() - 60_000;

/** Runs a statement with `?` placeholders on the old database. */
type Run = (sql: string, params: unknown[]) => Promise<void>;

/**
 * What 0.2 left: app APP (event_seq 4, event 1 pruned: floor 1), group "g" of alice and bob, one
 * message, and events 2 (bob joined), 3 (the message) and 4 (bob's read, to bob only), stored
 * with their 0.2 cursors. Flags are SQL literals, which both databases read.
 */
async function writeOldData(run: Run): Promise<void> {
  await run("INSERT INTO apps (app_id, name, plan, secret, created_at, event_seq, event_floor) VALUES (?, 'old', ?, 'c2VjcmV0', ?, 4, 1)", [
    APP,
    Plan.ULTIMATE,
    T0,
  ]);
  for (const userId of ["alice", "bob", "carol"]) await run("INSERT INTO users (app_id, user_id, nickname) VALUES (?, ?, '')", [APP, userId]);
  await run(
    `INSERT INTO groups (app_id, group_id, type, name, owner_id, created_at, member_count, last_seq, last_activity_at, bcast_cum, last_bcast_seq)
     VALUES (?, 'g', ?, 'g', 'alice', ?, 2, 1, ?, 1, 1)`,
    [APP, GroupType.WORK, T0, T0 + 2000],
  );
  const member = `INSERT INTO memberships (app_id, group_id, user_id, role, joined_at, join_seq, join_event_id, read_seq, bcast_cum_at_read)
     VALUES (?, 'g', ?, ?, ?, 0, ?, 1, 1)`;
  await run(member, [APP, "alice", MemberRole.OWNER, T0, 1]);
  await run(member, [APP, "bob", MemberRole.MEMBER, T0 + 1000, 2]);
  const message = create(MessageSchema, {
    messageId: "msg_old",
    groupId: "g",
    seq: 1n,
    senderId: "alice",
    serverTime: timestampFromMs(T0 + 2000),
    elements: [{ element: { case: "text", value: { text: "before" } } }],
  });
  await run(
    `INSERT INTO messages (app_id, group_id, seq, message_id, sender_id, targeted, bcast_cum, event_id, created_at, payload)
     VALUES (?, 'g', 1, 'msg_old', 'alice', false, 1, 3, ?, ?)`,
    [APP, T0 + 2000, Buffer.from(toBinary(MessageSchema, message))],
  );
  const event = async (eventId: number, audience: number, userId: string | null, init: MessageInitShape<typeof EventSchema>) => {
    const e = create(EventSchema, { ...init, cursor: oldCursor(eventId), time: timestampFromMs(T0 + eventId * 1000) });
    await run("INSERT INTO events (app_id, event_id, group_id, audience, user_id, created_at, payload) VALUES (?, ?, 'g', ?, ?, ?, ?)", [
      APP,
      eventId,
      audience,
      userId,
      T0 + eventId * 1000,
      Buffer.from(toBinary(EventSchema, e)),
    ]);
  };
  const bob = { userId: "bob", role: MemberRole.MEMBER };
  await event(2, 0, null, { payload: { case: "memberJoined", value: { groupId: "g", addedBy: "alice", member: bob } } });
  await event(3, 0, null, { payload: { case: "messageReceived", value: { message } } });
  await event(4, 2, "bob", { payload: { case: "conversationUpdated", value: { conversation: { groupId: "g", readSeq: 1n } } } });
}

const place = (e: { partition: number; position: number }) => `${e.partition}:${e.position}`;
const kind = (e: { event: Event } | Event) => ("event" in e ? e.event : e).payload.case;

/** The store-level checks of an upgraded database; `store` is migrated. */
async function expectUpgraded(store: Store): Promise<void> {
  const latest = await store.latestPositions(APP);
  expect(latest).toEqual(only(0, 4));
  expect(await store.eventFloors(APP)).toEqual(only(0, 1));
  // The old log, as partition 0, positions = the old event IDs, audiences as they were.
  const bob = await readEvents(store, APP, "bob", origin(), 100);
  expect(bob.map(place)).toEqual(["0:2", "0:3", "0:4"]);
  expect(bob.map(kind)).toEqual(["memberJoined", "messageReceived", "conversationUpdated"]);
  expect((await readEvents(store, APP, "alice", origin(), 100)).map(place)).toEqual(["0:2", "0:3"]);
  const range = await store.readEventRange(APP, 0, 1, 10);
  expect(range.map((e) => [e.position, e.audience])).toEqual([
    [2, { kind: "group" }],
    [3, { kind: "group" }],
    [4, { kind: "user", userId: "bob" }],
  ]);
  // A 0.2 cursor is its position in partition 0, and resumes right after it.
  const resumed = parseCursor(APP, oldCursor(2), latest);
  expect(resumed).toEqual(only(0, 2));
  expect((await readEvents(store, APP, "bob", resumed, 100)).map(place)).toEqual(["0:3", "0:4"]);

  // The old group stays in partition 0 and goes on there; a new group goes to its own partition.
  const { event } = await store.appendMessage({
    appId: APP,
    groupId: "g",
    senderId: "alice",
    message: create(MessageSchema, { elements: [{ element: { case: "text", value: { text: "after" } } }] }),
    persist: true,
    countsAsUnread: true,
    now: T0 + 10_000,
  });
  expect(place(event)).toBe("0:5");
  const { events } = await store.createGroup(
    { appId: APP, groupId: "h", type: GroupType.WORK, name: "h", ownerId: "alice", createdAt: T0 + 11_000 },
    [{ userId: "alice", role: MemberRole.OWNER }, { userId: "carol", role: MemberRole.MEMBER }],
    { maxMembers: 10, memberEventsMaxMembers: 0 },
  );
  const h = partitionOf("h");
  expect(events.map(place)).toEqual([`${h}:1`, `${h}:2`]);
  expect(await store.latestPositions(APP)).toEqual(Object.assign(only(0, 5), { [h]: 2 }));
  expect((await readEvents(store, APP, "alice", resumed, 100)).map(place)).toEqual(["0:3", "0:5", `${h}:1`, `${h}:2`]);
  expect((await store.conversation(APP, "g", "bob"))?.unreadCount).toBe(1);
}

/** Over the wire: bob resumes from a 0.2 cursor on a server started on the old database. */
async function expectOldCursorResumes(server: TestServer): Promise<void> {
  const admin = server.admin("connect");
  const client = async (userId: string) => {
    const { token } = await admin.issueUserToken({ appId: APP, userId });
    return new UserClient(userId, token, server.transport("connect", { token }));
  };
  const [alice, bob] = [await client("alice"), await client("bob")];
  const first = await bob.subscribe({ cursor: oldCursor(2) });
  expect(first.replayed.map((e) => e.payload.case)).toEqual(["messageReceived", "conversationUpdated"]);
  expect(first.replayed[0].payload.case === "messageReceived" && textOf(first.replayed[0].payload.value.message)).toBe("before");
  const ready = first.lastCursor;
  expect(ready).toMatch(/^p\./);
  first.close();
  await alice.send("g", "after");
  const second = await bob.subscribe({ cursor: ready });
  expect(second.replayed.map((e) => e.payload.case === "messageReceived" && textOf(e.payload.value.message))).toEqual(["after"]);
  second.close();
  expect((await bob.history("g")).map(textOf)).toEqual(["before", "after"]);
}

describe("upgrading a 0.2 SQLite database to partitions", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  /** A data directory holding a 0.2 database (schema version 4) with the old data. */
  async function oldDataDir(): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "narrowcast-0.2-"));
    dirs.push(dir);
    const db = new Database(join(dir, "narrowcast.db"));
    db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)");
    for (const m of sqliteMigrations.filter((m) => m.version <= 4)) {
      db.exec(m.sql);
      db.prepare("INSERT INTO schema_migrations VALUES (?, ?)").run(m.version, T0);
    }
    await writeOldData(async (sql, params) => void db.prepare(sql).run(...params));
    db.close();
    return dir;
  }

  it("the old log becomes partition 0 (positions = event IDs, floor kept); old groups stay there; a 0.2 cursor resumes", async () => {
    const store = new SqliteStore({ dataDir: await oldDataDir() });
    await store.migrate();
    try {
      await expectUpgraded(store);
    } finally {
      await store.close();
    }
  });

  it("over the wire, a server started on the old database resumes a 0.2 cursor", async () => {
    const server = await TestServer.start({ dataDir: await oldDataDir() });
    try {
      await expectOldCursorResumes(server);
    } finally {
      await server.close();
    }
  });
});

const url = postgresUrl();
const skip = requireOrSkip(await postgresAvailable(url), `PostgreSQL at ${redact(url)}`);

describe.skipIf(skip)("upgrading a 0.2 PostgreSQL schema to partitions", () => {
  const admin = new pg.Pool({ connectionString: url, max: 2 });
  admin.on("error", () => {});
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  });

  /** A fresh schema holding a 0.2 database (schema version 4) with the old data. */
  async function oldSchema(): Promise<string> {
    const schema = `nc_test_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    await admin.query(`CREATE SCHEMA ${schema}`);
    const c = await admin.connect();
    try {
      await c.query(`SET search_path = ${schema}`);
      await c.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
      for (const m of postgresMigrations.filter((m) => m.version <= 4)) {
        await c.query(m.sql);
        await c.query("INSERT INTO schema_migrations VALUES ($1, $2)", [m.version, T0]);
      }
      await writeOldData(async (sql, params) => {
        let n = 0;
        await c.query(sql.replace(/\?/g, () => `$${++n}`), params);
      });
    } finally {
      c.release(true); // never back to the pool with our search_path
    }
    return schema;
  }

  it("the old log becomes partition 0 (positions = event IDs, floor kept); old groups stay there; a 0.2 cursor resumes", async () => {
    const store = new PostgresStore({ connectionString: url, schema: await oldSchema() });
    await store.migrate();
    try {
      await expectUpgraded(store);
    } finally {
      await store.close();
    }
  });

  it("over the wire, a server started on the old schema resumes a 0.2 cursor", async () => {
    const server = await TestServer.start({ store: new PostgresStore({ connectionString: url, schema: await oldSchema() }) });
    try {
      await expectOldCursorResumes(server);
    } finally {
      await server.close();
    }
  });
});
