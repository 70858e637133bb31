// Cursors (src/cursor.ts): one position per partition, opaque, bound to the app (EVT-4, EVT-11).
import { describe, expect, it } from "vitest";
import { ConnectError } from "@connectrpc/connect";
import { appTag, cursorOf, parseCursor } from "../src/cursor.js";
import { PARTITIONS, origin, partitionOf } from "../src/positions.js";

const latest = origin().map((_, p) => 100_000 + p);

function positions(set: Record<number, number>): number[] {
  const out = origin();
  for (const [p, v] of Object.entries(set)) out[Number(p)] = v;
  return out;
}

function reason(fn: () => unknown): string {
  try {
    fn();
    return "accepted";
  } catch (err) {
    return ConnectError.from(err).rawMessage;
  }
}

describe("cursors", () => {
  it("round-trip any vector of positions, and stay short", () => {
    const cases = [origin(), positions({ 0: 1 }), positions({ 15: 7 }), positions({ 3: 127, 4: 128, 5: 16_384 }), latest];
    for (const v of cases) expect(parseCursor("app", cursorOf("app", v), latest)).toEqual(v);
    const huge = origin().fill(2 ** 53 - 1);
    const cursor = cursorOf("app", huge);
    expect(parseCursor("app", cursor, huge)).toEqual(huge);
    expect(Buffer.byteLength(cursor)).toBeLessThanOrEqual(200);
  });

  it("parse a 0.2 cursor as a position in partition 0 (migration 5 put the old log there)", () => {
    expect(parseCursor("app", `42.${appTag("app")}`, latest)).toEqual(positions({ 0: 42 }));
  });

  it("reject junk, other apps' cursors and cursors ahead of the log with CURSOR_INVALID", () => {
    const good = cursorOf("app", positions({ 2: 5 }));
    const bad = [
      "",
      "p",
      good + "A",
      good + "=",
      good.replace("p.", "q."),
      `p.${appTag("app")}.AA`, // a trailing zero position is not how a cursor is written
      `p.${appTag("app")}.gA`, // an over-long varint of 0
      `p.${appTag("app")}.${Buffer.from(new Array(PARTITIONS + 1).fill(1)).toString("base64url")}`,
      `p.${appTag("app")}.${Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).toString("base64url")}`,
      "12.abc",
      "x".repeat(300),
    ];
    for (const cursor of bad) expect(reason(() => parseCursor("app", cursor, latest)), cursor).toMatch(/^cursor (is malformed|is longer)/);
    expect(reason(() => parseCursor("other", good, latest))).toBe("cursor was not issued for this app");
    expect(reason(() => parseCursor("app", cursorOf("app", positions({ 9: 100_010 })), latest))).toBe("cursor is ahead of the event log");
  });

  it("spread groups over every partition", () => {
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) seen.add(partitionOf(`group-${i}`));
    expect(seen.size).toBe(PARTITIONS);
  });
});
