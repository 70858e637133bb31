// The contract every Bus (in-process now; NATS for several nodes later) must keep: every handler
// gets every event published after it subscribed, once, in publish order, with the event intact
// (its partition and position included); unsubscribing and closing stop delivery. A bus that
// routes by interest (bus/types.ts) does so for the groups its node follows, and sends ticks
// (partition, position, group; no content) of the stored events of the apps it follows.
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventSchema } from "@narrowcast/gen";
import type { Bus } from "../src/bus/types.js";
import type { EventTick, StoredEvent } from "../src/store/types.js";

/** An event at `position` (0: not stored) of partition `partition`. */
function event(position: number, audience: StoredEvent["audience"] = { kind: "group" }, partition = 5): StoredEvent {
  return {
    appId: "app_1",
    partition,
    position,
    groupId: "g1",
    audience,
    event: create(EventSchema, {
      // Stored events carry no cursor; a bus must carry the event as given all the same.
      cursor: position ? `e${position}` : "",
      payload: { case: "memberLeft", value: { groupId: "g1", userId: `u${position}` } },
    }),
    membership: { change: "left", userId: `u${position}` },
  };
}

/** Resolves once `received` holds `n` events, or fails after a bound (a Bus may be asynchronous). */
async function until(received: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 200 && received.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  expect(received.length).toBe(n);
}

/**
 * On a bus that routes by interest, follows the group of these events (and its app), and waits
 * until the bus has registered that; a bus without interest delivers everything anyway.
 */
export async function follow(bus: Bus, appId = "app_1", groupId = "g1"): Promise<void> {
  bus.interest?.followApp(appId);
  bus.interest?.followGroup(appId, groupId);
  await bus.interest?.settled();
}

export function busContract(name: string, makeBus: () => Promise<Bus>): void {
  // The contract's buses, each followed (see `follow`) before anything is published on it.
  const followed = async () => {
    const bus = await makeBus();
    await follow(bus);
    return bus;
  };

  describe(`Bus contract: ${name}`, () => {
    it("delivers every event to every handler, once, in publish order, intact", async () => {
      const bus = await followed();
      const a: StoredEvent[] = [];
      const b: StoredEvent[] = [];
      bus.subscribe((e) => a.push(e));
      bus.subscribe((e) => b.push(e));
      const sent = [event(1), event(2, { kind: "users", userIds: ["x", "y"] }, 15), event(0, { kind: "user", userId: "x" }, 0), event(3)];
      for (const e of sent) bus.publish(e);
      await until(a, sent.length);
      await until(b, sent.length);
      for (const got of [a, b]) {
        expect(got.map((e) => [e.partition, e.position])).toEqual([[5, 1], [15, 2], [0, 0], [5, 3]]);
        expect(got[1].audience).toEqual({ kind: "users", userIds: ["x", "y"] });
        expect(got[2].audience).toEqual({ kind: "user", userId: "x" });
        expect(got[0].membership).toEqual({ change: "left", userId: "u1" });
        expect(got[3].event.payload.case).toBe("memberLeft");
        expect(got[3].event.cursor).toBe("e3");
      }
      await bus.close();
    });

    it("stops delivering to a handler that unsubscribed, and keeps delivering to the others", async () => {
      const bus = await followed();
      const kept: StoredEvent[] = [];
      const dropped: StoredEvent[] = [];
      bus.subscribe((e) => kept.push(e));
      const unsubscribe = bus.subscribe((e) => dropped.push(e));
      bus.publish(event(1));
      await until(dropped, 1);
      unsubscribe();
      bus.publish(event(2));
      await until(kept, 2);
      expect(dropped.map((e) => e.position)).toEqual([1]);
      await bus.close();
    });

    it("a handler sees nothing published before it subscribed", async () => {
      const bus = await followed();
      const early: StoredEvent[] = [];
      bus.subscribe((e) => early.push(e));
      bus.publish(event(1));
      await until(early, 1);
      const late: StoredEvent[] = [];
      bus.subscribe((e) => late.push(e));
      bus.publish(event(2));
      await until(late, 1);
      expect(late.map((e) => e.position)).toEqual([2]);

      await bus.close();
    });

    it("delivers nothing after close", async () => {
      const bus = await followed();
      const got: StoredEvent[] = [];
      bus.subscribe((e) => got.push(e));
      await bus.close();
      try {
        bus.publish(event(1));
      } catch {
        // Publishing on a closed bus may throw; it must not deliver.
      }
      await new Promise((r) => setTimeout(r, 20));
      expect(got).toEqual([]);
    });

    it("with interest: only followed groups' events arrive; followed apps' stored events arrive as ticks", async (ctx) => {
      const bus = await makeBus();
      const interest = bus.interest;
      if (!interest) return ctx.skip(); // delivers every event to every node
      const events: StoredEvent[] = [];
      const ticks: EventTick[] = [];
      bus.subscribe((e) => events.push(e));
      interest.onTick((t) => ticks.push(t));
      interest.followApp("app_1");
      interest.followGroup("app_1", "g1");
      await bus.ping?.();
      const other = { ...event(2, { kind: "group" }, 9), groupId: "g2", membership: { change: "joined" as const, userId: "u2" } };
      const elsewhere = { ...event(3), appId: "app_2" };
      for (const e of [event(1), other, event(0, { kind: "user", userId: "x" }), elsewhere, event(4)]) bus.publish(e);
      await until(ticks, 3);
      await until(events, 3);
      expect(events.map((e) => [e.groupId, e.partition, e.position])).toEqual([["g1", 5, 1], ["g1", 5, 0], ["g1", 5, 4]]);
      // Ticks: stored events only (position > 0), of the followed app, whatever their group.
      expect(ticks).toEqual([
        { appId: "app_1", partition: 5, position: 1, groupId: "g1", joinedUserId: undefined },
        { appId: "app_1", partition: 9, position: 2, groupId: "g2", joinedUserId: "u2" },
        { appId: "app_1", partition: 5, position: 4, groupId: "g1", joinedUserId: undefined },
      ]);
      // Unfollowed: nothing more.
      interest.unfollowGroup("app_1", "g1");
      interest.unfollowApp("app_1");
      await bus.ping?.();
      bus.publish(event(5));
      await bus.ping?.();
      await new Promise((r) => setTimeout(r, 20));
      expect(events).toHaveLength(3);
      expect(ticks).toHaveLength(3);
      await bus.close();
    });
  });
}

