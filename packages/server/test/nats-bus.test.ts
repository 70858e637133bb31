// The NATS bus against the shared Bus contract, on the NATS server this machine runs.
// Without NATS these tests skip, unless NARROWCAST_REQUIRE_SERVICES=1 makes them fail (services.ts).
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { NatsBus } from "../src/bus/nats.js";
import { busContract, follow } from "./bus-contract.js";
import { natsAvailable, natsUrl, requireOrSkip } from "./services.js";

const url = natsUrl();
const skip = requireOrSkip(await natsAvailable(url), `NATS at ${url}`);

describe.skipIf(skip)("NatsBus", () => {
  // A subject per bus pair, so parallel test files never hear each other.
  busContract("NatsBus", async () =>
    NatsBus.connect({ servers: url, subject: `narrowcast.test.${randomBytes(6).toString("hex")}` }),
  );

  it("carries events between two connections (two nodes) in one order", async () => {
    const subject = `narrowcast.test.${randomBytes(6).toString("hex")}`;
    const a = await NatsBus.connect({ servers: url, subject });
    const b = await NatsBus.connect({ servers: url, subject });
    const seenByA: string[] = [];
    const seenByB: string[] = [];
    a.subscribe((e) => seenByA.push(`${e.partition}:${e.position}`));
    b.subscribe((e) => seenByB.push(`${e.partition}:${e.position}`));
    await follow(a, "x", "g");
    await follow(b, "x", "g");

    const { create } = await import("@bufbuild/protobuf");
    const { EventSchema } = await import("@narrowcast/gen");
    for (let i = 1; i <= 20; i++) {
      (i % 2 ? a : b).publish({ appId: "x", partition: i % 16, position: i, groupId: "g", audience: { kind: "group" }, event: create(EventSchema, {}) });

    }
    for (let i = 0; i < 200 && (seenByA.length < 20 || seenByB.length < 20); i++) await new Promise((r) => setTimeout(r, 10));
    expect(seenByA.length).toBe(20);
    expect(seenByB).toEqual(seenByA);
    await a.close();
    await b.close();
  });
});
