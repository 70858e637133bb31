// The Store contract's cases about the partitioned event log (positions.ts): a group's events go
// to the group's partition, numbered there in commit order; readers resume from one position per
// partition; retention keeps a floor per partition. Called by storeContract for every backend.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventSchema, GroupType, MemberRole, MessageSchema } from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { PARTITIONS, origin, partitionOf } from "../src/positions.js";
import type { Store, StoredEvent } from "../src/store/types.js";
import { readEvents, type DecodedReplay } from "./replayed.js";

const LIMITS = { maxMembers: 1000, memberEventsMaxMembers: 0 };

// Group IDs chosen for where partitionOf puts them: "g" and "g4" share a partition, "h" has its own.
const G = partitionOf("g");
const H = partitionOf("h");

/** Positions that are `position` in `partition` and 0 elsewhere. */
export function only(partition: number, position: number): number[] {
  const out = origin();
  out[partition] = position;
  return out;
}

/** Positions from a sparse { partition: position } record, 0 elsewhere. */
function vec(sparse: Record<number, number>): number[] {
  const out = origin();
  for (const [p, position] of Object.entries(sparse)) out[Number(p)] = position;
  return out;
}

/** "<partition>:<position>", to compare where events sit. */
const place = (e: { partition: number; position: number }) => `${e.partition}:${e.position}`;

/** One app with users alice, bob and carol, and a clock that moves 1 s per operation. */
class App {
  readonly appId = `app_${randomUUID()}`;
  constructor(
    readonly store: Store,
    public clock = 1_700_000_000_000,
  ) {}

  async init(): Promise<this> {
    await this.store.createApp({ appId: this.appId, name: "partitions", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: this.clock });
    await this.store.upsertUsers(this.appId, ["alice", "bob", "carol"].map((userId) => ({ userId, nickname: "" })));
    return this;
  }

  now(): number {
    return (this.clock += 1000);
  }

  async group(groupId: string, members: readonly string[]): Promise<StoredEvent[]> {
    const { events } = await this.store.createGroup(
      { appId: this.appId, groupId, type: GroupType.WORK, name: groupId, ownerId: members[0], createdAt: this.now() },
      members.map((userId, i) => ({ userId, role: i === 0 ? MemberRole.OWNER : MemberRole.MEMBER })),
      LIMITS,
    );
    return events;
  }

  async send(groupId: string, senderId: string, receivers: string[] = []): Promise<StoredEvent> {
    const message = create(MessageSchema, {
      elements: [{ element: { case: "text", value: { text: `to ${groupId}` } } }],
      receiverIds: receivers,
    });
    const { event } = await this.store.appendMessage({
      appId: this.appId,
      groupId,
      senderId,
      message,
      persist: true,
      countsAsUnread: receivers.length === 0,
      now: this.now(),
    });
    return event;
  }

  async read(groupId: string, userId: string): Promise<StoredEvent | undefined> {
    return (await this.store.markRead(this.appId, groupId, userId, 0, this.now(), () => create(EventSchema, {}))).event;
  }
}

export function storePartitionsContract(getStore: () => Store): void {
  it("the group IDs these cases use fall into the partitions they assume", () => {
    expect(G).not.toBe(H);
    expect(partitionOf("g4")).toBe(G);
  });

  it("events of groups in different partitions get positions in their own partitions; latestPositions moves only there", async () => {
    const store = getStore();
    const a = await new App(store).init();
    const logged: StoredEvent[] = [];
    const log = async (...events: (StoredEvent | undefined)[]) => {
      for (const e of events) logged.push(e!);
      return events;
    };
    await log(...(await a.group("g", ["alice", "bob"])));
    expect(await store.latestPositions(a.appId)).toEqual(only(G, 2));
    await log(...(await a.group("h", ["alice", "carol"])));
    expect(await store.latestPositions(a.appId)).toEqual(vec({ [G]: 2, [H]: 2 }));
    await log(await a.send("h", "carol"));
    await log(...(await a.group("g4", ["bob"]))); // the same partition as "g": positions go on there
    await log(await a.send("g", "alice"), await a.send("g4", "bob"), await a.send("h", "alice", ["carol"]));
    await log(await a.read("h", "carol")); // a personal event is in its group's partition too
    await log(await a.send("g", "bob"));

    for (const e of logged) expect(e.partition, `${e.groupId} ${e.event.payload.case}`).toBe(partitionOf(e.groupId));
    // Each partition numbers its events 1, 2, 3, … in commit order (here, the order of the calls).
    const positionsIn = (p: number) => logged.filter((e) => e.partition === p).map((e) => e.position);
    expect(positionsIn(G)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(positionsIn(H)).toEqual([1, 2, 3, 4, 5]);
    expect(await store.latestPositions(a.appId)).toEqual(vec({ [G]: 6, [H]: 5 }));
    // A partition's range holds its groups' events only, interleaved as committed.
    const range = async (p: number) => (await store.readEventRange(a.appId, p, 1, 100)).map((e) => `${e.groupId}:${place(e)}`);
    expect(await range(G)).toEqual(logged.filter((e) => e.partition === G).map((e) => `${e.groupId}:${place(e)}`));
    expect(await range(H)).toEqual(logged.filter((e) => e.partition === H).map((e) => `${e.groupId}:${place(e)}`));
    expect(await range([...Array(PARTITIONS).keys()].find((p) => p !== G && p !== H)!)).toEqual([]);
    // Another app's log is untouched.
    expect(await store.latestPositions((await new App(store).init()).appId)).toEqual(origin());
    // Replay orders by partition, then position: alice is in g and h, not g4.
    const replay = (await readEvents(store, a.appId, "alice", origin(), 100)).map(place);
    const visible = logged.filter((e) => e.groupId !== "g4" && !(e.audience.kind === "user" && e.audience.userId !== "alice"));
    const byPartition = (x: StoredEvent, y: StoredEvent) => x.partition - y.partition || x.position - y.position;
    expect(replay).toEqual([...visible].sort(byPartition).map(place));
  });

  it("readEvents resumes exactly from a vector of positions: paging by 3, with writes between pages, gets every event once", async () => {
    const store = getStore();
    const a = await new App(store).init();
    await a.group("g", ["alice", "bob", "carol"]);
    await a.group("h", ["bob", "carol"]);
    await a.group("g4", ["bob", "alice"]);
    const groups = ["g", "h", "g4"];
    const sender: Record<string, string> = { g: "alice", h: "carol", g4: "alice" };
    for (let i = 0; i < 12; i++) {
      const groupId = groups[i % 3];
      // Some events bob must not get: targeted to alice, and carol's reads.
      if (i % 4 === 3) await a.send("g", "carol", ["alice"]);
      else await a.send(groupId, sender[groupId]);
      if (i % 5 === 4) await a.read("h", "carol");
    }
    const got: DecodedReplay[] = [];
    let after = origin();
    for (let page = 0, writes = 0; ; page++) {
      expect(page, "paging ends").toBeLessThan(100);
      const events = await readEvents(store, a.appId, "bob", after, 3);
      if (events.length === 0) break;
      expect(events.length).toBeLessThanOrEqual(3);
      got.push(...events);
      // The cursor a reader keeps: the latest position it has seen in each partition.
      after = after.slice();
      for (const e of events) after[e.partition] = Math.max(after[e.partition], e.position);
      // Writes behind the cursor (an earlier partition) and ahead of it, while the reader pages.
      if (writes < 6) {
        const groupId = groups[writes++ % 3];
        await a.send(groupId, sender[groupId]);
      }
    }
    const all = await readEvents(store, a.appId, "bob", origin(), 1000);
    expect(all.length).toBeGreaterThan(20);
    expect(new Set(got.map(place)).size, "no event twice").toBe(got.length);
    expect([...got.map(place)].sort()).toEqual([...all.map(place)].sort());
    // Within a partition, a resumed reader never goes back.
    for (let p = 0; p < PARTITIONS; p++) {
      const positions = got.filter((e) => e.partition === p).map((e) => e.position);
      expect(positions, `partition ${p}`).toEqual([...positions].sort((x, y) => x - y));
    }
    // And it got them with their content.
    const byPlace = new Map(all.map((e) => [place(e), e]));
    for (const e of got) expect(e).toEqual(byPlace.get(place(e)));
  });

  it("pruneEvents raises the floor of each partition to the highest position it deleted there, and of no other", async () => {
    const store = getStore();
    // A clock behind every case's but the retention case's (which runs later, behind this one):
    // this prune deletes only this app's events.
    const a = await new App(store, 1_100_000_000_000).init();
    const untouched = await new App(store).init();
    await untouched.group("g", ["alice"]);
    await a.group("g", ["alice", "bob"]); // G: 1, 2
    await a.send("g", "bob"); // G: 3
    await a.group("h", ["alice"]); // H: 1
    const cutoff = a.now();
    const keptG = await a.send("g", "alice"); // G: 4
    const keptH = await a.send("h", "alice"); // H: 2
    const other = await a.group("g6", ["alice"]); // partition 0, after the cutoff only
    expect(other[0].partition).toBe(0);
    expect(await store.eventFloors(a.appId)).toEqual(origin());

    expect(await store.pruneEvents(cutoff)).toBe(4);
    expect(await store.eventFloors(a.appId)).toEqual(vec({ [G]: 3, [H]: 1 }));
    expect(await store.eventFloors(untouched.appId)).toEqual(origin());
    // The heads do not move; what is left replays, partition by partition.
    expect(await store.latestPositions(a.appId)).toEqual(vec({ [G]: 4, [H]: 2, 0: 1 }));
    expect((await readEvents(store, a.appId, "alice", origin(), 100)).map(place)).toEqual(
      [other[0], keptG, keptH].sort((x, y) => x.partition - y.partition).map(place),
    );
    expect(await store.readEventRange(a.appId, G, 1, 3)).toEqual([]);
    expect((await store.readEventRange(a.appId, H, 1, 2)).map(place)).toEqual([place(keptH)]);
    // Idempotent: the floors stay.
    expect(await store.pruneEvents(cutoff)).toBe(0);
    expect(await store.eventFloors(a.appId)).toEqual(vec({ [G]: 3, [H]: 1 }));
  });

  it("readEventRangeFor gives the interest's events whole (its groups', and MemberJoined of its users) and the rest of the range as ticks", async () => {
    const store = getStore();
    const a = await new App(store).init();
    await a.group("g", ["alice", "bob"]); // G: 1, 2
    await a.group("g4", ["bob"]); // G: 3
    await a.send("g", "alice"); // G: 4
    await store.addMembers(a.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "alice", a.now(), LIMITS); // G: 5
    await a.send("g4", "bob"); // G: 6
    await a.group("h", ["alice"]); // H: 1, another partition
    const whole = await store.readEventRange(a.appId, G, 1, 100);
    expect(whole.map(place)).toEqual([1, 2, 3, 4, 5, 6].map((n) => `${G}:${n}`));
    const got = await store.readEventRangeFor(a.appId, G, 2, 6, { groupIds: ["g4"], userIds: ["carol"] });
    const tick = (e: StoredEvent) => ({
      appId: a.appId,
      partition: e.partition,
      position: e.position,
      groupId: e.groupId,
      joinedUserId: e.membership?.change === "joined" ? e.membership.userId : undefined,
    });
    // g4's events, and carol's MemberJoined (her node needs it to follow g), exactly as
    // readEventRange gives them; the others of the range as ticks.
    const byPosition = new Map(whole.map((e) => [e.position, e]));
    expect(got).toEqual([tick(byPosition.get(2)!), byPosition.get(3), tick(byPosition.get(4)!), byPosition.get(5), byPosition.get(6)]);
    expect(await store.readEventRangeFor(a.appId, H, 1, 1, { groupIds: [], userIds: [] })).toEqual([
      { appId: a.appId, partition: H, position: 1, groupId: "h", joinedUserId: "alice" },
    ]);
  });

  it("latestPositionsOf reads several apps at once; an app without events has zeros; unknown apps are left out", async () => {
    const store = getStore();
    const a = await new App(store).init();
    const b = await new App(store).init();
    const empty = await new App(store).init();
    await a.group("g", ["alice", "bob"]);
    await a.group("h", ["alice"]);
    await b.group("h", ["carol"]);
    await b.send("h", "carol");
    const unknown = `app_${randomUUID()}`;
    const got = await store.latestPositionsOf([a.appId, unknown, b.appId, empty.appId]);
    expect([...got.keys()].sort()).toEqual([a.appId, b.appId, empty.appId].sort());
    expect(got.get(a.appId)).toEqual(vec({ [G]: 2, [H]: 1 }));
    expect(got.get(b.appId)).toEqual(only(H, 2));
    expect(got.get(empty.appId)).toEqual(origin());
    for (const appId of [a.appId, b.appId]) expect(got.get(appId)).toEqual(await store.latestPositions(appId));
    expect(await store.latestPositions(unknown)).toEqual(origin());
    expect((await store.latestPositionsOf([])).size).toBe(0);
  });
}
