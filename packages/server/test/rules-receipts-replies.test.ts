// Unit tests of the read receipt and quote reply rules (rules/receipts.ts, rules/replies.ts): which
// sends may ask for receipts (RCP-1) and how many IDs one acknowledgement takes (RCP-3); whom a
// reply would reach beyond the quoted message's audience (RPL-2).
import { describe, expect, it } from "vitest";
import { MAX_RECEIPT_GROUP_MEMBERS, MAX_RECEIPT_MESSAGE_IDS, receiptsRefusal, replyOutsiders, type ReceiptRequestFacts } from "../src/rules/index.js";

describe("RCP-1: receiptsRefusal", () => {
  const ok: ReceiptRequestFacts = { stored: true, system: false, targeted: false, memberCount: 2 };

  it("the limits are the spec's: 200 members, 100 message IDs", () => {
    expect(MAX_RECEIPT_GROUP_MEMBERS).toBe(200);
    expect(MAX_RECEIPT_MESSAGE_IDS).toBe(100);
  });

  it("allows a stored message from a user: ordinary in a group of up to 200 members, targeted in any", () => {
    for (const memberCount of [1, 2, 199, 200]) expect(receiptsRefusal({ ...ok, memberCount }), `${memberCount} members`).toBeUndefined();
    for (const memberCount of [2, 200, 201, 100_000]) expect(receiptsRefusal({ ...ok, targeted: true, memberCount }), `targeted, ${memberCount}`).toBeUndefined();
  });

  it("refuses an ordinary message to more than 200 members", () => {
    for (const memberCount of [201, 202, 100_000]) expect(receiptsRefusal({ ...ok, memberCount }), `${memberCount} members`).toMatch(/200 members/);
  });

  it("refuses a message that is not stored, and the system sender, whatever else holds", () => {
    for (const targeted of [false, true]) {
      for (const memberCount of [2, 201]) {
        expect(receiptsRefusal({ ...ok, targeted, memberCount, stored: false })).toMatch(/stored/);
        expect(receiptsRefusal({ ...ok, targeted, memberCount, system: true })).toMatch(/system/);
      }
    }
    // Not stored is the first reason given.
    expect(receiptsRefusal({ stored: false, system: true, targeted: false, memberCount: 201 })).toMatch(/stored/);
  });
});

describe("RPL-2: replyOutsiders", () => {
  const ordinary = { seq: 1, senderId: "alice", receiverIds: [] };
  const targeted = { seq: 2, senderId: "alice", receiverIds: ["bob", "carol"] };
  const system = { seq: 3, senderId: "", receiverIds: ["bob"] };

  it("a reply to an ordinary message widens nothing, ordinary or targeted", () => {
    expect(replyOutsiders(ordinary, [])).toEqual([]);
    expect(replyOutsiders(ordinary, ["dave", "erin"])).toEqual([]);
  });

  it("an ordinary reply to a targeted message reaches everyone", () => {
    expect(replyOutsiders(targeted, [])).toBe("everyone");
    expect(replyOutsiders(system, [])).toBe("everyone");
  });

  it("a targeted reply to a targeted message: its receivers outside the receivers and sender, in the order given", () => {
    expect(replyOutsiders(targeted, ["bob"])).toEqual([]);
    expect(replyOutsiders(targeted, ["alice"])).toEqual([]);
    expect(replyOutsiders(targeted, ["carol", "alice", "bob"])).toEqual([]);
    expect(replyOutsiders(targeted, ["erin", "bob", "dave"])).toEqual(["erin", "dave"]);
    // A system message's audience is its receivers: nobody else is its "sender".
    expect(replyOutsiders(system, ["bob"])).toEqual([]);
    expect(replyOutsiders(system, ["alice", "bob"])).toEqual(["alice"]);
  });
});
