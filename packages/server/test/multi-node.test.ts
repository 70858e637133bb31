// Two server nodes behind one "load balancer": they share one store and one NATS subject, and
// clients talk to either. Events committed on one node reach subscribers on the other, targeted
// visibility holds across nodes, and a stream resumed on the other node misses nothing
// (rules EVT-1, EVT-3, TGT-4). The store here is one SQLite instance shared in-process; the
// PostgreSQL store runs the same scenario in postgres-store.test.ts when it is available.
import { randomBytes } from "node:crypto";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupType } from "@narrowcast/gen";
import { NatsBus } from "../src/bus/nats.js";
import { SqliteStore } from "../src/store/sqlite.js";
import type { Store } from "../src/store/types.js";
import { AppFixture, TestServer, UserClient, isMessage, textOf, type Protocol } from "./support.js";

const natsUrl = process.env.NARROWCAST_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const required = process.env.NARROWCAST_REQUIRE_SERVICES === "1";
const available = await connect({ servers: natsUrl, timeout: 2_000, reconnect: false }).then(
  async (nc) => (await nc.close(), true),
  () => false,
);
if (!available && !required) console.warn(`NATS not reachable at ${natsUrl}: skipping the multi-node tests`);

describe.runIf(required || !available)("multi-node needs NATS", () => {
  it(`NATS is reachable at ${natsUrl} (required by NARROWCAST_REQUIRE_SERVICES=1)`, () => expect(available).toBe(true));
});

/** Two nodes on one store and one NATS subject. */
export async function startTwoNodes(store: () => Promise<Store>): Promise<[TestServer, TestServer]> {
  const subject = `narrowcast.test.${randomBytes(6).toString("hex")}`;
  const shared = await store();
  const node = async () =>
    TestServer.start({ store: shared, bus: await NatsBus.connect({ servers: natsUrl, subject }) });
  return [await node(), await node()];
}

/** A user's clients on another node (same token). */
function on(node: TestServer, user: UserClient, protocol: Protocol): UserClient {
  return new UserClient(user.id, user.token, node.transport(protocol, { token: user.token, sessionManager: node.newSession() }));
}

export function multiNodeScenario(name: string, store: () => Promise<Store>): void {
  describe.runIf(available)(`two nodes, ${name}`, () => {
    let a: TestServer;
    let b: TestServer;
    beforeAll(async () => {
      [a, b] = await startTwoNodes(store);
    });
    afterAll(async () => {
      await b?.close();
      await a?.close();
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
  });
}

multiNodeScenario("shared SQLite store", async () => {
  const store = new SqliteStore({ dataDir: ":memory:" });
  await store.migrate();
  return store;
});
