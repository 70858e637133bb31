// The contract every Bus (in-process now; NATS for several nodes later) must keep: every handler
// gets every event published after it subscribed, once, in publish order, with the event intact;
// unsubscribing and closing stop delivery.
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { EventSchema } from "@narrowcast/gen";
import type { Bus } from "../src/bus/types.js";
import type { StoredEvent } from "../src/store/types.js";

function event(eventId: number, audience: StoredEvent["audience"] = { kind: "group" }): StoredEvent {
  return {
    appId: "app_1",
    eventId,
    groupId: "g1",
    audience,
    event: create(EventSchema, {
      cursor: eventId ? `e${eventId}` : "",
      payload: { case: "memberLeft", value: { groupId: "g1", userId: `u${eventId}` } },
    }),
    membership: { change: "left", userId: `u${eventId}` },
  };
}

/** Resolves once `received` holds `n` events, or fails after a bound (a Bus may be asynchronous). */
async function until(received: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 200 && received.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  expect(received.length).toBe(n);
}

export function busContract(name: string, makeBus: () => Promise<Bus>): void {
  describe(`Bus contract: ${name}`, () => {
    it("delivers every event to every handler, once, in publish order, intact", async () => {
      const bus = await makeBus();
      const a: StoredEvent[] = [];
      const b: StoredEvent[] = [];
      bus.subscribe((e) => a.push(e));
      bus.subscribe((e) => b.push(e));
      const sent = [event(1), event(2, { kind: "users", userIds: ["x", "y"] }), event(0, { kind: "user", userId: "x" }), event(3)];
      for (const e of sent) bus.publish(e);
      await until(a, sent.length);
      await until(b, sent.length);
      for (const got of [a, b]) {
        expect(got.map((e) => e.eventId)).toEqual([1, 2, 0, 3]);
        expect(got[1].audience).toEqual({ kind: "users", userIds: ["x", "y"] });
        expect(got[2].audience).toEqual({ kind: "user", userId: "x" });
        expect(got[0].membership).toEqual({ change: "left", userId: "u1" });
        expect(got[3].event.payload.case).toBe("memberLeft");
        expect(got[3].event.cursor).toBe("e3");
      }
      await bus.close();
    });

    it("stops delivering to a handler that unsubscribed, and keeps delivering to the others", async () => {
      const bus = await makeBus();
      const kept: StoredEvent[] = [];
      const dropped: StoredEvent[] = [];
      bus.subscribe((e) => kept.push(e));
      const unsubscribe = bus.subscribe((e) => dropped.push(e));
      bus.publish(event(1));
      await until(dropped, 1);
      unsubscribe();
      bus.publish(event(2));
      await until(kept, 2);
      expect(dropped.map((e) => e.eventId)).toEqual([1]);
      await bus.close();
    });

    it("a handler sees nothing published before it subscribed", async () => {
      const bus = await makeBus();
      const early: StoredEvent[] = [];
      bus.subscribe((e) => early.push(e));
      bus.publish(event(1));
      await until(early, 1);
      const late: StoredEvent[] = [];
      bus.subscribe((e) => late.push(e));
      bus.publish(event(2));
      await until(late, 1);
      expect(late.map((e) => e.eventId)).toEqual([2]);
      await bus.close();
    });

    it("delivers nothing after close", async () => {
      const bus = await makeBus();
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
  });
}
