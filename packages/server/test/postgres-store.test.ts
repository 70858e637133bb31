// The PostgreSQL store: the Store contract, then what only a shared database can show:
// versioned migrations that several nodes may run at once, and appends from several nodes
// (each its own store and pool on one schema) racing for one group's seq, one idempotency key
// and the positions of an app's log partitions; last, a short scenario over the wire on a server
// backed by it.
// Every store works in a fresh PostgreSQL schema, dropped at the end, so runs never collide.
// Without PostgreSQL the file is skipped with a warning, or fails with NARROWCAST_REQUIRE_SERVICES=1.
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventSchema, GroupType, MemberRole, MessageSchema } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { PostgresStore } from "../src/store/postgres.js";
import { postgresMigrations } from "../src/store/postgres-schema.js";
import { StoreConflict, type AppendMessageInput, type Store, type StoredEvent } from "../src/store/types.js";
import { PARTITIONS, partitionOf } from "../src/positions.js";
import { postgresAvailable, postgresUrl, redact, requireOrSkip } from "./services.js";
import { storeContract } from "./store-contract.js";
import { webhookStoreContract } from "./webhook-store-contract.js";
import { AppFixture, TestServer, textOf } from "./support.js";
import { readEvents, type DecodedReplay } from "./replayed.js";

const url = postgresUrl();
const skip = requireOrSkip(await postgresAvailable(url), `PostgreSQL at ${redact(url)}`);

/** A connection of the test's own, to create, inspect and drop schemas. */
const admin = new pg.Pool({ connectionString: url, max: 2 });
admin.on("error", () => {});
const schemas: string[] = [];

async function freshSchema(): Promise<string> {
  const schema = `nc_test_${randomBytes(6).toString("hex")}`;
  await admin.query(`CREATE SCHEMA ${schema}`);
  schemas.push(schema);
  return schema;
}

async function openStore(schema: string): Promise<PostgresStore> {
  const store = new PostgresStore({ connectionString: url, schema });
  await store.migrate();
  return store;
}

afterAll(async () => {
  if (!skip) for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

const APP = "app_pg";
const NOW = 1_700_000_000_000;

async function seed(store: Store, users: readonly string[], groups: Record<string, readonly string[]>): Promise<void> {
  await store.createApp({ appId: APP, name: "pg", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: NOW });
  await store.upsertUsers(APP, users.map((userId) => ({ userId, nickname: "" })));
  for (const [groupId, members] of Object.entries(groups)) {
    await store.createGroup(
      { appId: APP, groupId, type: GroupType.WORK, name: groupId, ownerId: members[0], createdAt: NOW },
      members.map((userId, i) => ({ userId, role: i === 0 ? MemberRole.OWNER : MemberRole.MEMBER })),
      { maxMembers: 100_000, memberEventsMaxMembers: 0 },
    );
  }
}

function send(store: Store, groupId: string, senderId: string, extra: Partial<AppendMessageInput> & { clientMessageId?: string } = {}) {
  const { clientMessageId = "", ...rest } = extra;
  return store.appendMessage({
    appId: APP,
    groupId,
    senderId,
    message: create(MessageSchema, { elements: [{ element: { case: "text", value: { text: "hi" } } }], clientMessageId }),
    persist: true,
    countsAsUnread: true,
    now: NOW + 1000,
    ...rest,
  });
}

const userIds = (n: number) => Array.from({ length: n }, (_, i) => `u${i}`);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
/** `latest` with each named group's partition moved on by that many positions. */
function moved(latest: readonly number[], by: Record<string, number>): number[] {
  const out = latest.slice();
  for (const [groupId, n] of Object.entries(by)) out[partitionOf(groupId)] += n;
  return out;
}


describe.skipIf(skip)("PostgresStore", () => {
  storeContract("PostgresStore", async () => openStore(await freshSchema()));
  webhookStoreContract("PostgresStore", async () => openStore(await freshSchema()));

  describe("migrations", () => {
    async function catalog(schema: string) {
      const q = async (sql: string) => (await admin.query(sql, [schema])).rows;
      return {
        applied: (await admin.query(`SELECT version, applied_at FROM ${schema}.schema_migrations ORDER BY version`)).rows,
        tables: await q("SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename"),
        indexes: await q("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 ORDER BY indexname"),
        columns: await q(
          "SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = $1 ORDER BY table_name, column_name",
        ),
      };
    }

    it("are versioned; nodes starting together apply each once; re-running is a no-op that keeps the data", async () => {
      const versions = postgresMigrations.map((m) => m.version);
      expect(versions.length).toBeGreaterThan(0);
      expect(new Set(versions).size, "migration versions are unique").toBe(versions.length);
      expect(versions, "migration versions increase").toEqual([...versions].sort((a, b) => a - b));

      // Four nodes start at once on an empty schema: the advisory lock queues them.
      const schema = await freshSchema();
      const nodes = [0, 1, 2, 3].map(() => new PostgresStore({ connectionString: url, schema }));
      await Promise.all(nodes.map((n) => n.migrate()));
      const first = await catalog(schema);
      expect(first.applied.map((r) => r.version)).toEqual(versions);

      // The layout the queries rely on (same names as the SQLite store's).
      const indexes = new Map(first.indexes.map((r) => [r.indexname as string, r.indexdef as string]));
      expect(indexes.get("memberships_current")).toMatch(/UNIQUE INDEX .* \(app_id, group_id, user_id\) WHERE \(left_event_id IS NULL\)/);
      expect(indexes.get("events_by_group")).toMatch(/\(app_id, group_id, event_id\)/);
      expect(indexes.get("events_by_user")).toMatch(/\(app_id, user_id, part, event_id\) WHERE \(user_id IS NOT NULL\)/);
      expect(indexes.get("events_pkey")).toMatch(/\(app_id, part, event_id\)/);
      expect(indexes.get("partitions_pkey")).toMatch(/\(app_id, part\)/);
      expect(indexes.get("messages_ordinary")).toMatch(/\(app_id, group_id, targeted, seq\)/);
      expect(indexes.get("message_audience_pkey")).toMatch(/\(app_id, group_id, user_id, seq\)/);
      const types = new Map(first.columns.map((r) => [`${r.table_name}.${r.column_name}`, r.data_type as string]));
      expect([types.get("messages.seq"), types.get("events.event_id"), types.get("partitions.head"), types.get("partitions.floor"), types.get("messages.payload")]).toEqual([
        "bigint",
        "bigint",
        "bigint",
        "bigint",
        "bytea",
      ]);

      await seed(nodes[0], ["alice"], { g: ["alice"] });
      await nodes[1].migrate();
      expect(await catalog(schema)).toEqual(first);
      await Promise.all(nodes.map((n) => n.close()));

      // A restart applies nothing and keeps the data.
      const restarted = await openStore(schema);
      expect(await catalog(schema)).toEqual(first);
      expect((await restarted.getApp(APP))?.name).toBe("pg");
      expect((await restarted.getGroup(APP, "g"))?.memberCount).toBe(1);
      await restarted.close();
    });

    it("upgrades a 0.1 schema (version 3): edition becomes plan; apps, users and idempotency rows are kept", async () => {
      const schema = await freshSchema();
      const c = await admin.connect();
      try {
        await c.query(`SET search_path = ${schema}`);
        await c.query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
        for (const m of postgresMigrations.filter((m) => m.version <= 3)) {
          await c.query(m.sql);
          await c.query("INSERT INTO schema_migrations VALUES ($1, $2)", [m.version, NOW]);
        }
        await c.query("INSERT INTO apps (app_id, name, edition, secret, created_at) VALUES ($1, 'old', 2, 'c2VjcmV0', $2)", [APP, NOW]);
        await c.query("INSERT INTO users (app_id, user_id, nickname) VALUES ($1, 'alice', 'A')", [APP]);
        await c.query(
          "INSERT INTO sent_messages (app_id, sender_id, client_message_id, created_at, payload) VALUES ($1, 'alice', 'k', $2, '')",
          [APP, NOW],
        );
      } finally {
        c.release();
      }
      const store = await openStore(schema);
      expect(await store.getApp(APP)).toEqual({ appId: APP, name: "old", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: NOW });
      expect(await store.getUser(APP, "alice")).toEqual({ userId: "alice", nickname: "A" });
      expect((await catalog(schema)).applied.map((r) => r.version)).toEqual(postgresMigrations.map((m) => m.version));
      const kept = await admin.query(`SELECT sender_id, group_id, client_message_id FROM ${schema}.sent_messages`);
      expect(kept.rows).toEqual([{ sender_id: "alice", group_id: "", client_message_id: "k" }]);
      await store.upsertUsers(APP, [{ userId: "bob", nickname: "" }]);
      await store.createGroup(
        { appId: APP, groupId: "g", type: GroupType.WORK, name: "g", ownerId: "alice", createdAt: NOW },
        [{ userId: "alice", role: MemberRole.OWNER }, { userId: "bob", role: MemberRole.MEMBER }],
        { maxMembers: 10, memberEventsMaxMembers: 0 },
      );
      const { message } = await send(store, "g", "bob", { clientMessageId: "k" });
      expect((await store.findSent(APP, "bob", "g", "k", 0))?.messageId).toBe(message.messageId);
      await store.close();
    });

    it("migrate() creates its schema when it does not exist yet", async () => {
      const schema = `nc_test_${randomBytes(6).toString("hex")}`;
      schemas.push(schema);
      const store = await openStore(schema);
      expect((await catalog(schema)).applied.map((r) => r.version)).toEqual(postgresMigrations.map((m) => m.version));
      await store.close();
    });
  });

  describe("several nodes on one database", () => {
    let nodes: PostgresStore[] = [];
    let schema = "";
    const members = userIds(6);
    const node = (i: number) => nodes[i % nodes.length];

    beforeAll(async () => {
      schema = await freshSchema();
      nodes = [await openStore(schema), await openStore(schema)];
      await seed(nodes[0], members, { g: members, h: members, i: members, j: members, k: members, l: members });
    });
    afterAll(async () => {
      await Promise.all(nodes.map((n) => n.close()));
    });

    it("two concurrent appends into one group get seq 1 and 2; thirty more get 3 to 32, each once", async () => {
      const pair = await Promise.all([send(nodes[0], "g", "u1"), send(nodes[1], "g", "u2")]);
      expect(pair.map((r) => r.message.seq).sort()).toEqual([1n, 2n]);
      const many = await Promise.all(range(0, 29).map((i) => send(node(i), "g", members[1 + (i % 5)])));
      expect(many.map((r) => Number(r.message.seq)).sort((a, b) => a - b)).toEqual(range(3, 32));
      expect((await nodes[0].getGroup(APP, "g"))?.lastSeq).toBe(32);
      const history = await nodes[1].listMessages(APP, "g", { viewerId: "u0", floorSeq: 0, direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 100 });
      expect(history.messages.map((m) => Number(m.seq))).toEqual(range(1, 32));
      // Every member's counters saw every message exactly once (u0 never sent: all 32 unread).
      expect((await nodes[1].conversation(APP, "g", "u0"))?.unreadCount).toBe(32);
    });

    it("20 concurrent sends with one client message ID store exactly one message; the others get it back", async () => {
      const latest = await nodes[0].latestPositions(APP);
      const dedupeSince = NOW - 60_000;
      const results = await Promise.all(
        range(0, 19).map((i) => send(node(i), "h", "u1", { clientMessageId: "same-key", dedupeSince })),
      );
      const stored = results.filter((r) => !r.duplicate);
      expect(stored).toHaveLength(1);
      for (const r of results) expect(r.message).toEqual(stored[0].message);
      const history = await nodes[0].listMessages(APP, "h", { viewerId: "u1", floorSeq: 0, direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 100 });
      expect(history.messages.map((m) => m.messageId)).toEqual([stored[0].message.messageId]);
      // One event, in h's partition.
      expect(await nodes[1].latestPositions(APP)).toEqual(moved(latest, { h: 1 }));
      expect((await nodes[1].conversation(APP, "h", "u2"))?.unreadCount).toBe(1);
    });

    it("…while the same key in another group is another message (rule MSG-10: scoped to sender and group)", async () => {
      const latest = await nodes[0].latestPositions(APP);
      const dedupeSince = NOW - 60_000;
      const results = await Promise.all(
        range(0, 19).map((i) => send(node(i), i % 2 ? "i" : "j", "u2", { clientMessageId: "cross-key", dedupeSince })),
      );
      const stored = results.filter((r) => !r.duplicate);
      expect(stored.map((r) => r.message.groupId).sort()).toEqual(["i", "j"]);
      for (const r of results) {
        expect(r.message.messageId).toBe(stored.find((s) => s.message.groupId === r.message.groupId)!.message.messageId);
      }
      const seqs = async (groupId: string) =>
        (await nodes[0].listMessages(APP, groupId, { viewerId: "u2", floorSeq: 0, direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 100 })).messages.length;
      expect([await seqs("i"), await seqs("j")]).toEqual([1, 1]);
      expect(await nodes[1].latestPositions(APP)).toEqual(moved(latest, { i: 1, j: 1 }));
      for (const groupId of ["i", "j"]) {
        expect((await nodes[1].findSent(APP, "u2", groupId, "cross-key", 0))?.messageId).toBe(
          stored.find((s) => s.message.groupId === groupId)!.message.messageId,
        );
      }
    });

    it("concurrent writes in one app take contiguous positions in each partition, and readers never see a later one before an earlier one there", async () => {
      const groups = ["g", "h", "i", "j", "k", "l"];
      // A message in every group first, so that each read below (u0's first in its group; u0 never
      // sends) moves the read position and is logged (rule UNR-3: a read that does not, is not).
      for (const groupId of groups) await send(nodes[0], groupId, "u1");
      const start = await nodes[0].latestPositions(APP);
      // u5 is in every group: its log holds every message event (markRead events are private
      // to their user, so those are done by others).
      const seen: DecodedReplay[][] = [];
      let writing = true;
      const reader = (async () => {
        while (writing) seen.push(await readEvents(nodes[1], APP, "u5", start, 1000));
      })();
      const writes = range(0, 47).map(async (i) => {
        const groupId = groups[i % 6];
        if (i % 8 === 7) {
          const readGroup = groups[(i - 7) / 8];
          return (await node(i).markRead(APP, readGroup, "u0", 0, NOW + 2000, () => create(EventSchema, {}))).event!;
        }
        return (await send(node(i), groupId, members[1 + (i % 4)])).event;
      });
      const written = await Promise.all(writes);
      writing = false;
      await reader;
      // Per partition: the positions after `start`, each once, none skipped.
      const end = start.slice();
      for (const p of new Set(written.map((e) => e.partition))) {
        const positions = written.filter((e) => e.partition === p).map((e) => e.position);
        expect(positions.sort((a, b) => a - b), `partition ${p}`).toEqual(range(start[p] + 1, start[p] + positions.length));
        end[p] = start[p] + positions.length;
      }
      expect(written.length).toBe(48);
      expect(await nodes[0].latestPositions(APP)).toEqual(end);
      const messageEvents = await readEvents(nodes[0], APP, "u5", start, 1000);
      expect(messageEvents).toHaveLength(42);
      // What a reader saw of a partition at any moment was a prefix of the final log there:
      // committed in position order.
      const inPartition = (events: DecodedReplay[], p: number) => events.filter((e) => e.partition === p).map((e) => e.position);
      for (const snapshot of seen) {
        for (let p = 0; p < PARTITIONS; p++) {
          const got = inPartition(snapshot, p);
          expect(got, `partition ${p}`).toEqual(inPartition(messageEvents, p).slice(0, got.length));
        }
      }
    });

    it("addMembers of a user whose deletion is under way waits for it, then is user_not_found (rule ADM-11)", async () => {
      await nodes[0].upsertUsers(APP, [{ userId: "doomed", nickname: "" }]);
      const limits = { maxMembers: 100_000, memberEventsMaxMembers: 0 };
      // A deletion held open, locking as deleteUser does: the user's row FOR UPDATE first.
      const deleter = await admin.connect();
      try {
        await deleter.query(`SET search_path = ${schema}`);
        await deleter.query("BEGIN");
        await deleter.query("SELECT 1 FROM users WHERE app_id = $1 AND user_id = 'doomed' FOR UPDATE", [APP]);
        await deleter.query("DELETE FROM users WHERE app_id = $1 AND user_id = 'doomed'", [APP]);
        const pid = (await deleter.query("SELECT pg_backend_pid() AS pid")).rows[0].pid as number;
        let settled = false;
        const adding = nodes[1]
          .addMembers(APP, "g", [{ userId: "doomed", role: MemberRole.MEMBER }], "", NOW, limits)
          .then(
            () => "added",
            (e: unknown) => e,
          )
          .finally(() => (settled = true));
        // Until addMembers waits for the deletion's lock (or, without that lock, is done).
        const blocked = async () =>
          ((await admin.query("SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", [pid])).rowCount ?? 0) > 0;
        while (!settled && !(await blocked())) await sleep(10);
        await deleter.query("COMMIT");
        const outcome = await adding;
        expect(outcome).toBeInstanceOf(StoreConflict);
        expect(outcome).toMatchObject({ kind: "user_not_found", ids: ["doomed"] });
      } finally {
        deleter.release(true); // never back to the pool with our search_path (or a transaction open)
      }
      expect(await nodes[0].getMember(APP, "g", "doomed")).toBeUndefined();
    });

    it("concurrent deleteUser and addMembers of the same users never leave a deleted user a member", async () => {
      const doomed = range(0, 9).map((i) => `gone${i}`);
      await nodes[0].upsertUsers(APP, doomed.map((userId) => ({ userId, nickname: "" })));
      const limits = { maxMembers: 100_000, memberEventsMaxMembers: 0 };
      await Promise.all(
        doomed.flatMap((userId, i) => [
          node(i).addMembers(APP, "k", [{ userId, role: MemberRole.MEMBER }], "", NOW, limits).catch((e: unknown) => {
            if (!(e instanceof StoreConflict && e.kind === "user_not_found")) throw e;
          }),
          node(i + 1).deleteUser(APP, userId, NOW, () => limits),
        ]),
      );
      expect(await nodes[0].existingUsers(APP, doomed)).toEqual(new Set());
      const left = await nodes[0].listMembers(APP, "k");
      expect(left.map((m) => m.userId)).toEqual(members);
      expect((await nodes[0].getGroup(APP, "k"))?.memberCount).toBe(members.length);
    });
  });

  describe("a server on the PostgreSQL store, over the wire", () => {
    let server: TestServer;
    beforeAll(async () => {
      // Not migrated here: startServer migrates the store it is given.
      server = await TestServer.start({ store: new PostgresStore({ connectionString: url, schema: await freshSchema() }) });
    });
    afterAll(async () => {
      await server?.close();
    });

    it("targeted messages reach receivers only, in history and on resume; unread counts follow", async () => {
      const app = await AppFixture.create(server, "connect", { users: ["alice", "bob", "carol"] });
      const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
      const [alice, bob, carol] = ["alice", "bob", "carol"].map((id) => app.user(id));
      const streams = { bob: await bob.subscribe(), carol: await carol.subscribe() };
      const cursors = { bob: streams.bob.lastCursor, carol: streams.carol.lastCursor };
      for (const s of Object.values(streams)) s.close();

      const psst = await alice.send(g, "psst", { receiverIds: ["bob"], countAsUnreadForReceivers: true });
      const hello = await alice.send(g, "hello", { clientMessageId: "hello-1" });
      expect(await alice.send(g, "hello again?", { clientMessageId: "hello-1" })).toEqual(hello);

      expect((await bob.history(g)).map(textOf)).toEqual(["psst", "hello"]);
      expect((await carol.history(g)).map(textOf)).toEqual(["hello"]);
      expect((await bob.conversation(g)).unreadCount).toBe(2);
      expect((await carol.conversation(g)).unreadCount).toBe(1);
      expect((await carol.conversation(g)).lastMessage?.messageId).toBe(hello.messageId);

      // Resuming from the cursors replays exactly what each may see, then `ready`.
      const resumed = { bob: await bob.subscribe({ cursor: cursors.bob }), carol: await carol.subscribe({ cursor: cursors.carol }) };
      expect(resumed.bob.replayed.map((e) => (e.payload.case === "messageReceived" ? e.payload.value.message?.messageId : e.payload.case))).toEqual([
        psst.messageId,
        hello.messageId,
      ]);
      expect(resumed.carol.replayed.map((e) => (e.payload.case === "messageReceived" ? e.payload.value.message?.messageId : e.payload.case))).toEqual([
        hello.messageId,
      ]);
      for (const s of Object.values(resumed)) s.close();

      await bob.conversations.markConversationRead({ groupId: g, readSeq: 0n });
      expect((await bob.conversation(g)).unreadCount).toBe(0);
    });
  });
});
