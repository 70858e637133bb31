// The NATS bus against the shared Bus contract, on the NATS server this machine runs.
// Without NATS these tests skip, unless NARROWCAST_REQUIRE_SERVICES=1 makes them fail.
import { randomBytes } from "node:crypto";
import { connect } from "nats";
import { describe, expect, it } from "vitest";
import { NatsBus } from "../src/bus/nats.js";
import { busContract } from "./bus-contract.js";

export const natsUrl = process.env.NARROWCAST_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const required = process.env.NARROWCAST_REQUIRE_SERVICES === "1";

async function natsReachable(): Promise<boolean> {
  try {
    const nc = await connect({ servers: natsUrl, timeout: 2_000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

const available = await natsReachable();
if (!available && !required) console.warn(`NATS not reachable at ${natsUrl}: skipping the NATS bus tests`);

describe.runIf(required)("NATS availability", () => {
  it(`NATS is reachable at ${natsUrl} (required by NARROWCAST_REQUIRE_SERVICES=1)`, () => {
    expect(available).toBe(true);
  });
});

describe.runIf(available)("NatsBus", () => {
  // A subject per bus pair, so parallel test files never hear each other.
  busContract("NatsBus", async () =>
    NatsBus.connect({ servers: natsUrl, subject: `narrowcast.test.${randomBytes(6).toString("hex")}` }),
  );

  it("carries events between two connections (two nodes) in one order", async () => {
    const subject = `narrowcast.test.${randomBytes(6).toString("hex")}`;
    const a = await NatsBus.connect({ servers: natsUrl, subject });
    const b = await NatsBus.connect({ servers: natsUrl, subject });
    const seenByA: number[] = [];
    const seenByB: number[] = [];
    a.subscribe((e) => seenByA.push(e.eventId));
    b.subscribe((e) => seenByB.push(e.eventId));
    const { create } = await import("@bufbuild/protobuf");
    const { EventSchema } = await import("@narrowcast/gen");
    for (let i = 1; i <= 20; i++) {
      (i % 2 ? a : b).publish({ appId: "x", eventId: i, groupId: "g", audience: { kind: "group" }, event: create(EventSchema, {}) });
    }
    for (let i = 0; i < 200 && (seenByA.length < 20 || seenByB.length < 20); i++) await new Promise((r) => setTimeout(r, 10));
    expect(seenByA.length).toBe(20);
    expect(seenByB).toEqual(seenByA);
    await a.close();
    await b.close();
  });
});
