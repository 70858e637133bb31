// Interest-based fan-out (issue 16): with three nodes sharing PostgreSQL + NATS, a node receives
// only the events of the groups its streams need — from the bus or from the store — and a tick
// (position and group, no content) of each stored event of the apps it has streams of; and a user
// who joins a group their node does not follow gets the join and everything after it, in order.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GroupType } from "@narrowcast/gen";
import { NatsBus } from "../src/bus/nats.js";
import { PostgresStore } from "../src/store/postgres.js";
import type { Bus } from "../src/bus/types.js";
import type { EventTick, Interest, Store, StoredEvent } from "../src/store/types.js";
import { adminSql, natsAvailable, natsUrl, postgresAvailable, postgresUrl, requireOrSkip } from "./services.js";
import { AppFixture, TestServer, UserClient, isMessage, textOf } from "./support.js";

const skip = requireOrSkip((await natsAvailable()) && (await postgresAvailable()), "PostgreSQL and NATS (interest routing)");

/** What one node received, by group: events from the bus, events read whole from the store. */
class Intake {
  readonly fromBus = new Map<string, number>();
  readonly fromStore = new Map<string, number>();
  ticks = 0;

  count(map: Map<string, number>, groupId: string): void {
    map.set(groupId, (map.get(groupId) ?? 0) + 1);
  }

  of(groupId: string): number {
    return (this.fromBus.get(groupId) ?? 0) + (this.fromStore.get(groupId) ?? 0);
  }
}

function countingBus(inner: Bus, intake: Intake): Bus {
  const interest = inner.interest!;
  return {
    publish: (e) => inner.publish(e),
    subscribe: (handler) =>
      inner.subscribe((e: StoredEvent) => {
        if (e.position !== 0) intake.count(intake.fromBus, e.groupId);
        handler(e);
      }),
    close: () => inner.close(),
    ping: () => inner.ping!(),
    interest: {
      onTick: (handler) =>
        interest.onTick((t: EventTick) => {
          intake.ticks++;
          handler(t);
        }),
      followApp: (a) => interest.followApp(a),
      unfollowApp: (a) => interest.unfollowApp(a),
      followGroup: (a, g) => interest.followGroup(a, g),
      unfollowGroup: (a, g) => interest.unfollowGroup(a, g),
      settled: () => interest.settled(),
    },
  };
}

function countingStore(inner: Store, intake: Intake): Store {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "readEventRangeFor") {
        return async (appId: string, partition: number, from: number, to: number, interest: Interest) => {
          const found = await target.readEventRangeFor(appId, partition, from, to, interest);
          for (const x of found) if ("event" in x) intake.count(intake.fromStore, x.groupId);
          return found;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe.skipIf(skip)("interest routing on three nodes sharing PostgreSQL + NATS", () => {
  const schema = `nc_interest_${randomBytes(6).toString("hex")}`;
  const subject = `narrowcast.test.${schema}`;
  const adminKey = randomBytes(12).toString("hex");
  const nodes: TestServer[] = [];
  const intakes = [new Intake(), new Intake(), new Intake()];


  beforeAll(async () => {
    await adminSql(`CREATE SCHEMA ${schema}`);
    for (const intake of intakes) {
      const store = new PostgresStore({ connectionString: postgresUrl(), schema, max: 4 });
      const bus = countingBus(await NatsBus.connect({ servers: natsUrl(), subject }), intake);
      nodes.push(await TestServer.start({ adminKey, store, bus, wrapStore: (s) => countingStore(s, intake) }));
    }
  });
  afterAll(async () => {
    for (const n of nodes) await n.close();
    await adminSql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });

  /** A user's clients on node `i`. */
  const on = (i: number, user: UserClient) => new UserClient(user.id, user.token, nodes[i]!.transport("connect", { token: user.token }));

  it("a node receives none of the events of a group whose streams are all on another node", async () => {
    const app = await AppFixture.create(nodes[0]!, "connect", { users: ["alice", "bob", "carol", "dave"] });
    // g's streams are on node 0 only; h has streams on nodes 1 and 2 (so they follow the app).
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const h = await app.group(GroupType.WORK, "carol", ["dave"]);
    const bob = await on(0, app.user("bob")).subscribe();
    const carol = await on(1, app.user("carol")).subscribe();
    const dave = await on(2, app.user("dave")).subscribe();
    for (let i = 0; i < 20; i++) {
      // Sends go through every node, including the ones that do not follow g.
      await on(i % 3, app.user("alice")).send(g, `g${i}`);
      await on(i % 3, app.user("carol")).send(h, `h${i}`);
    }
    await bob.waitFor(isMessage("g19"));
    for (const s of [carol, dave]) await s.waitFor(isMessage("h19"));
    expect(bob.messages.map((m) => textOf(m))).toEqual(Array.from({ length: 20 }, (_, i) => `g${i}`));
    for (const s of [carol, dave]) expect(s.messages.map((m) => textOf(m))).toEqual(Array.from({ length: 20 }, (_, i) => `h${i}`));

    expect(intakes[0]!.of(g)).toBeGreaterThanOrEqual(20);
    expect([intakes[1]!.of(g), intakes[2]!.of(g)]).toEqual([0, 0]);
    expect(intakes[0]!.of(h)).toBe(0);
    // Nodes 1 and 2 still learn of g's events, as ticks, to keep their cursors exact.
    expect(intakes[1]!.ticks).toBeGreaterThanOrEqual(40);
    for (const s of [bob, carol, dave]) s.close();
  });

  it("a user who joins a group their node does not follow gets the join and every later event, in order", async () => {
    const app = await AppFixture.create(nodes[0]!, "connect", { users: ["alice", "bob", "erin"] });
    const g = await app.group(GroupType.WORK, "alice", ["bob"]);
    const h = await app.group(GroupType.WORK, "alice", ["erin"]);
    const bob = await on(0, app.user("bob")).subscribe();
    // Erin's node (2) follows the app through h, not g.
    const erin = await on(2, app.user("erin")).subscribe();
    await on(1, app.user("alice")).send(g, "before erin");
    await on(1, app.user("alice")).groups.inviteMembers({ groupId: g, userIds: ["erin"] });
    for (let i = 0; i < 10; i++) await on(i % 3, app.user("alice")).send(g, `after ${i}`);
    await erin.waitFor(isMessage("after 9"));
    const seen = erin.events.filter((e) => e.payload.case !== "messageReceived" || e.payload.value.message?.groupId === g);
    expect(seen.map((e) => (e.payload.case === "memberJoined" ? "joined" : textOf(e.payload.case === "messageReceived" ? e.payload.value.message : undefined)))).toEqual([
      "joined",
      ...Array.from({ length: 10 }, (_, i) => `after ${i}`),
    ]);
    // A resume from the last cursor on another node replays nothing more.
    const cursor = erin.lastCursor;
    erin.close();
    const resumed = await on(1, app.user("erin")).subscribe({ cursor });
    expect(resumed.replayed).toEqual([]);
    for (const s of [bob, resumed]) s.close();
  });
});
