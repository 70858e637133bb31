// Two server nodes behind one "load balancer": they share one store and one NATS subject, and
// clients talk to either. Events committed on one node reach subscribers on the other, targeted
// visibility holds across nodes, and a stream resumed on the other node misses nothing
// (rules EVT-1, EVT-3, TGT-4). Run on one SQLite store shared in-process, and on two PostgreSQL
// stores (two pools) on one database, which is how nodes are deployed.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupType } from "@narrowcast/gen";
import { NatsBus } from "../src/bus/nats.js";
import { SqliteStore } from "../src/store/sqlite.js";
import { PostgresStore } from "../src/store/postgres.js";
import pg from "pg";
import { natsAvailable, natsUrl, postgresAvailable, postgresUrl, requireOrSkip } from "./services.js";
import type { Store, StoredEvent } from "../src/store/types.js";
import type { Bus } from "../src/bus/types.js";
import { AppFixture, TestServer, UserClient, isMessage, textOf, type Protocol } from "./support.js";

const url = natsUrl();
const skip = requireOrSkip(await natsAvailable(url), `NATS at ${url}`);

/** Two nodes, each with its store (on one database) and its bus connection (on one subject). */
async function startTwoNodes(stores: () => Promise<[Store, Store]>): Promise<[TestServer, TestServer]> {
  const subject = `narrowcast.test.${randomBytes(6).toString("hex")}`;
  const [first, second] = await stores();
  const node = async (store: Store, bus: Bus) => TestServer.start({ store, bus });
  const busA = await NatsBus.connect({ servers: url, subject });
  return [await node(first, new LossyBus(busA)), await node(second, await NatsBus.connect({ servers: url, subject }))];
}

/**
 * Node A's bus loses the publication of any message whose text is "never published", as if
 * the node stopped between its commit and its publish.
 */
class LossyBus implements Bus {
  constructor(private readonly inner: Bus) {}
  get interest() {
    return this.inner.interest;
  }
  publish(event: StoredEvent): void {
    const p = event.event.payload;
    if (p.case === "messageReceived" && textOf(p.value.message) === "never published") return;
    this.inner.publish(event);
  }
  subscribe(handler: (event: StoredEvent) => void): () => void {
    return this.inner.subscribe(handler);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A user's clients on another node (same token). */
function on(node: TestServer, user: UserClient, protocol: Protocol): UserClient {
  return new UserClient(user.id, user.token, node.transport(protocol, { token: user.token, sessionManager: node.newSession() }));
}

function multiNodeScenario(name: string, stores: () => Promise<[Store, Store]>, enabled = true, cleanup?: () => Promise<void>): void {
  describe.runIf(!skip && enabled)(`two nodes, ${name}`, () => {
    let a: TestServer;
    let b: TestServer;
    beforeAll(async () => {
      [a, b] = await startTwoNodes(stores);
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
      await cleanup?.();
    });

    it("delivers across nodes, keeps targeted messages private, and resumes on the other node", async () => {
      const protocol: Protocol = "grpc";
      const app = await AppFixture.create(a, protocol, { users: ["alice", "bob", "carol"] });
      const g = await app.group(GroupType.WORK, "alice", ["bob", "carol"]);
      const aliceOnB = on(b, app.user("alice"), protocol);
      const bob = await app.user("bob").subscribe();
      const carol = await app.user("carol").subscribe();
      const aliceOtherDevice = await aliceOnB.subscribe();

      await aliceOnB.send(g, "hello");
      await aliceOnB.send(g, "psst", { receiverIds: ["bob"] });
      await aliceOnB.send(g, "everyone again");
      for (const s of [bob, aliceOtherDevice]) {
        await s.waitFor(isMessage("everyone again"));
        expect(s.messages.map(textOf)).toEqual(["hello", "psst", "everyone again"]);
      }
      await carol.waitFor(isMessage("everyone again"));
      expect(carol.messages.map(textOf)).toEqual(["hello", "everyone again"]);

      // Bob drops off node A and comes back on node B from his last cursor.
      const cursor = bob.lastCursor;
      bob.close();
      for (const body of ["m1", "m2", "m3"]) await app.user("alice").send(g, body);
      await aliceOnB.send(g, "m4", { receiverIds: ["carol"] });
      const bobOnB = await on(b, app.user("bob"), protocol).subscribe({ cursor });
      expect(bobOnB.replayed.flatMap((e) => (e.payload.case === "messageReceived" ? [textOf(e.payload.value.message)] : []))).toEqual(["m1", "m2", "m3"]);
      await aliceOnB.send(g, "live");
      await bobOnB.waitFor(isMessage("live"));
      for (const s of [carol, aliceOtherDevice, bobOnB]) s.close();
    });

    it("recovers from the store an event whose publication was lost, and keeps the order", async () => {
      const protocol: Protocol = "connect";
      const app = await AppFixture.create(a, protocol, { users: ["alice", "bob"] });
      const g = await app.group(GroupType.WORK, "alice", ["bob"]);
      const bobOnB = await on(b, app.user("bob"), protocol).subscribe();
      const aliceOnA = await app.user("alice").subscribe();
      await app.user("alice").send(g, "never published");
      await app.user("alice").send(g, "after it");
      for (const s of [bobOnB, aliceOnA]) {
        await s.waitFor(isMessage("after it"));
        expect(s.messages.map(textOf)).toEqual(["never published", "after it"]);
      }
      bobOnB.close();
      aliceOnA.close();
    });
  });
}

multiNodeScenario("one SQLite store shared in-process", async () => {
  const store = new SqliteStore({ dataDir: ":memory:" });
  await store.migrate();
  return [store, store];
});

// The deployment shape: each node its own PostgreSQL pool on one database (a fresh schema).
const pgReady = await postgresAvailable();
const schema = `nc_test_${randomBytes(6).toString("hex")}`;
multiNodeScenario(
  "two PostgreSQL stores on one database",
  async () => {
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    await admin.query(`CREATE SCHEMA ${schema}`);
    await admin.end();
    const node = () => new PostgresStore({ connectionString: postgresUrl(), schema, max: 4 });
    return [node(), node()];
  },
  pgReady,
  async () => {
    const admin = new pg.Client({ connectionString: postgresUrl() });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await admin.end();
  },
);
// PostgreSQL's own reachability check (required in CI) is in postgres-store.test.ts.
if (!pgReady) console.warn(`PostgreSQL not reachable at ${postgresUrl()}: skipping the multi-node PostgreSQL scenario`);
