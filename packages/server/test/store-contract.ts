// The Store contract: the behaviour every storage backend (embedded SQLite, PostgreSQL, …) must
// have, as vitest suites. A backend's test file calls `storeContract(name, makeStore)`; the suite
// talks to the store only through the `Store` interface, so the same cases run on every backend.
// Each case works in a fresh app of one shared store: apps are isolated, so cases cannot see each
// other's data, and a backend that is expensive to create is created once per file.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  ConversationSchema,
  EventSchema,
  GroupType,
  MemberRole,
  MessageSchema,
  type Event,
  type Message,
} from "@narrowcast/gen";
import { Plan } from "@narrowcast/gen/admin";
import { ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@narrowcast/gen";
import { appTag, cursorOf, parseCursor } from "../src/cursor.js";
import { PARTITIONS, origin, partitionOf } from "../src/positions.js";
import {
  StoreConflict,
  type GroupLimits,
  type ConversationCounters,
  type ListMessagesQuery,
  type ReactionRecord,
  type Store,
  type StoredEvent,
} from "../src/store/types.js";
import { storeAgreesWithRules } from "./store-rules-oracle.js";
import { only, storePartitionsContract } from "./partitions-contract.js";
import { readEvents } from "./replayed.js";

const USERS = ["alice", "bob", "carol", "dave", "erin"] as const;
/** Limits that no case reaches unless it means to. */
const LIMITS: GroupLimits = { maxMembers: 1000, memberEventsMaxMembers: 0 };

export function storeContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await makeStore();
    });
    afterAll(async () => {
      await store?.close();
    });
    const world = (plan = Plan.ULTIMATE) => World.create(store, plan);

    describe("apps and users", () => {
      it("createApp and getApp round-trip; an unknown app is undefined", async () => {
        const appId = `app_${randomUUID()}`;
        const app = { appId, name: "Contract", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: 1_700_000_000_000 };
        await store.createApp(app);
        expect(await store.getApp(appId)).toEqual(app);
        expect(await store.getApp(`app_${randomUUID()}`)).toBeUndefined();
        expect(await store.latestPositions(appId)).toEqual(origin());
      });

      it("upsertUsers creates new users and accepts existing ones; existingUsers returns the subset that exists, per app", async () => {
        const w = await world();
        await store.upsertUsers(w.appId, [{ userId: "alice", nickname: "Alice II" }, { userId: "zoe", nickname: "Zoe" }]);
        expect(await store.existingUsers(w.appId, ["alice", "zoe", "nobody", "alice"])).toEqual(new Set(["alice", "zoe"]));
        const other = await world();
        expect(await store.existingUsers(other.appId, ["zoe"])).toEqual(new Set());
      });

      it("getAppAndUser reads the app and whether it has the user, in one call", async () => {
        const w = await world();
        const app = await store.getApp(w.appId);
        expect(await store.getAppAndUser(w.appId, "alice")).toEqual({ app, userExists: true });
        expect(await store.getAppAndUser(w.appId, "nobody")).toEqual({ app, userExists: false });
        expect(await store.getAppAndUser((await world()).appId, "nobody")).toMatchObject({ userExists: false });
        expect(await store.getAppAndUser(`app_${randomUUID()}`, "alice")).toEqual({ userExists: false });
        await store.deleteUser(w.appId, "alice", w.now(), () => LIMITS);
        expect(await store.getAppAndUser(w.appId, "alice")).toEqual({ app, userExists: false });
      });
    });

    describe("groups and membership", () => {
      it("createGroup stores the group and emits one MemberJoined per member, in order, in the group's partition", async () => {
        const w = await world();
        const createdAt = w.now();
        const { group, events } = await store.createGroup(
          { appId: w.appId, groupId: "g1", type: GroupType.WORK, name: "Team", ownerId: "alice", createdAt },
          [
            { userId: "alice", role: MemberRole.OWNER },
            { userId: "bob", role: MemberRole.MEMBER },
            { userId: "carol", role: MemberRole.ADMIN },
          ],
          LIMITS,
        );
        const expected = {
          appId: w.appId,
          groupId: "g1",
          type: GroupType.WORK,
          name: "Team",
          ownerId: "alice",
          memberCount: 3,
          createdAt,
          lastSeq: 0,
          lastActivityAt: createdAt,
        };
        expect(group).toEqual(expected);
        expect(await store.getGroup(w.appId, "g1")).toEqual(expected);
        expect(events.map((e) => describeEvent(e.event))).toEqual(["joined:alice", "joined:bob", "joined:carol"]);
        expectLogged(events);
        for (const e of events) {
          expect(e.audience).toEqual({ kind: "group" });
          expect(e.groupId).toBe("g1");
        }
        expect(events.map((e) => e.membership)).toEqual([
          { change: "joined", userId: "alice" },
          { change: "joined", userId: "bob" },
          { change: "joined", userId: "carol" },
        ]);
        const joined = events[2].event.payload;
        expect(joined.case === "memberJoined" && joined.value.member?.role).toBe(MemberRole.ADMIN);
        expect(await store.latestPositions(w.appId)).toEqual(only(partitionOf("g1"), events[2].position));
        expect(await store.getGroup(w.appId, "nope")).toBeUndefined();
        expect(await store.getGroup((await world()).appId, "g1")).toBeUndefined();
      });

      it("getMember, listMembers (ordered by user ID, optionally filtered) and listUserGroups (ordered by group ID)", async () => {
        const w = await world();
        await w.group("g2", ["carol", "alice", "bob"]);
        await w.group("g1", ["alice", "dave"]);
        const carol = await store.getMember(w.appId, "g2", "carol");
        expect(carol).toMatchObject({ userId: "carol", role: MemberRole.OWNER, joinSeq: 0 });
        expect(typeof carol?.joinedAt).toBe("number");
        expect(await store.getMember(w.appId, "g2", "dave")).toBeUndefined();
        expect((await store.listMembers(w.appId, "g2")).map((m) => m.userId)).toEqual(["alice", "bob", "carol"]);
        expect((await store.listMembers(w.appId, "g2", ["dave", "bob", "alice"])).map((m) => m.userId)).toEqual(["alice", "bob"]);
        expect((await store.listUserGroups(w.appId, "alice")).map((g) => g.groupId)).toEqual(["g1", "g2"]);
        expect((await store.listUserGroups(w.appId, "erin")).map((g) => g.groupId)).toEqual([]);
      });

      it("addMembers: the history floor is the latest seq, memberCount grows, MemberJoined names who added", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.send("g", "alice");
        await w.send("g", "bob");
        const events = await store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "alice", w.now(), LIMITS);
        expect(events.map((e) => describeEvent(e.event))).toEqual(["joined:carol"]);
        expectLogged(events);
        const p = events[0].event.payload;
        expect(p.case === "memberJoined" && p.value.addedBy).toBe("alice");
        expect(events[0].membership).toEqual({ change: "joined", userId: "carol" });
        expect(await store.getMember(w.appId, "g", "carol")).toMatchObject({ role: MemberRole.MEMBER, joinSeq: 2 });
        expect((await store.getGroup(w.appId, "g"))?.memberCount).toBe(3);
        // Rule UNR-6: joining reads everything before it.
        expect(await w.conv("g", "carol")).toMatchObject({ readSeq: 2, unreadCount: 0 });
      });

      it("removeMembers ends the membership: MemberLeft, memberCount shrinks; removing the owner leaves no owner", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const events = await store.removeMembers(w.appId, "g", ["bob", "alice"], "carol", w.now(), LIMITS);
        expect(events.map((e) => describeEvent(e.event)).sort()).toEqual(["left:alice", "left:bob"]);
        expectLogged(events);
        for (const e of events) {
          const p = e.event.payload;
          expect(p.case === "memberLeft" && p.value.removedBy).toBe("carol");
          expect(e.membership?.change).toBe("left");
        }
        expect(await store.getMember(w.appId, "g", "bob")).toBeUndefined();
        expect(await store.listUserGroups(w.appId, "bob")).toEqual([]);
        expect(await store.conversation(w.appId, "g", "bob")).toBeUndefined();
        expect(await store.getGroup(w.appId, "g")).toMatchObject({ memberCount: 1, ownerId: "" });
      });

      it("a rejoin starts a new membership with a new history floor", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.send("g", "alice");
        await store.removeMembers(w.appId, "g", ["bob"], "", w.now(), LIMITS);
        await w.send("g", "alice");
        await w.send("g", "alice");
        await store.addMembers(w.appId, "g", [{ userId: "bob", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
        expect(await store.getMember(w.appId, "g", "bob")).toMatchObject({ role: MemberRole.MEMBER, joinSeq: 3 });
        expect(await w.conv("g", "bob")).toMatchObject({ readSeq: 3, unreadCount: 0, lastMessage: undefined });
        await w.send("g", "alice");
        expect(await w.conv("g", "bob")).toMatchObject({ readSeq: 3, unreadCount: 1 });
        expect((await store.getGroup(w.appId, "g"))?.memberCount).toBe(2);
      });

      it("setRoles sets ADMIN and MEMBER; OWNER moves ownership and the previous owner becomes ADMIN", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await store.setRoles(w.appId, "g", [{ userId: "bob", role: MemberRole.ADMIN }]);
        expect((await store.getMember(w.appId, "g", "bob"))?.role).toBe(MemberRole.ADMIN);
        await store.setRoles(w.appId, "g", [{ userId: "bob", role: MemberRole.MEMBER }]);
        expect((await store.getMember(w.appId, "g", "bob"))?.role).toBe(MemberRole.MEMBER);
        await store.setRoles(w.appId, "g", [{ userId: "carol", role: MemberRole.OWNER }]);
        expect((await store.getGroup(w.appId, "g"))?.ownerId).toBe("carol");
        expect(await w.roles("g")).toEqual({ alice: MemberRole.ADMIN, bob: MemberRole.MEMBER, carol: MemberRole.OWNER });
      });

      it("dismissGroup emits GroupDismissed; then the group, its members and its join requests are gone", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"], GroupType.PUBLIC);
        await store.addJoinRequest(w.appId, "g", "carol", "hi", w.now());
        const event = await store.dismissGroup(w.appId, "g", w.now());
        expect(describeEvent(event.event)).toBe("dismissed");
        expectLogged([event]);
        expect(event.audience).toEqual({ kind: "group" });
        expect(event.membership).toEqual({ change: "dismissed" });
        expect(await store.getGroup(w.appId, "g")).toBeUndefined();
        expect(await store.getMember(w.appId, "g", "alice")).toBeUndefined();
        expect(await store.listUserGroups(w.appId, "alice")).toEqual([]);
        expect(await store.listJoinRequests(w.appId, "g")).toEqual([]);
        expect(await store.conversation(w.appId, "g", "alice")).toBeUndefined();
        // Members at dismissal get the event in their log (rule GRP-9).
        expect((await w.log("bob")).at(-1)).toBe("dismissed");
      });

      it("group operations on an unknown or dismissed group are group_not_found", async () => {
        const w = await world();
        await w.group("gone", ["alice", "bob"]);
        await store.dismissGroup(w.appId, "gone", w.now());
        for (const groupId of ["gone", "never"]) {
          const latest = await store.latestPositions(w.appId);
          await expectConflict(store.addMembers(w.appId, groupId, [{ userId: "carol", role: MemberRole.MEMBER }], "", w.now(), LIMITS), "group_not_found");
          await expectConflict(store.removeMembers(w.appId, groupId, ["alice"], "", w.now(), LIMITS), "group_not_found");
          await expectConflict(store.setRoles(w.appId, groupId, [{ userId: "bob", role: MemberRole.ADMIN }]), "group_not_found");
          await expectConflict(store.dismissGroup(w.appId, groupId, w.now()), "group_not_found");
          await expectConflict(w.send(groupId, "alice"), "group_not_found");
          await expectConflict(store.markRead(w.appId, groupId, "alice", 0, w.now(), conversationUpdated), "group_not_found");
          expect(await store.latestPositions(w.appId)).toEqual(latest);
        }
      });
    });

    describe("join requests", () => {
      it("add, list oldest first, re-add keeps one request, delete once", async () => {
        const w = await world();
        await w.group("g", ["alice"], GroupType.PUBLIC);
        const t1 = w.now();
        expect(await store.addJoinRequest(w.appId, "g", "carol", "first", t1)).toEqual({ userId: "carol", message: "first", createdAt: t1 });
        const t2 = w.now();
        await store.addJoinRequest(w.appId, "g", "bob", "me too", t2);
        // A repeated request keeps its createdAt (its place in the queue) and takes the new message.
        expect(await store.addJoinRequest(w.appId, "g", "carol", "again", w.now())).toEqual({ userId: "carol", message: "again", createdAt: t1 });
        const list = await store.listJoinRequests(w.appId, "g");
        expect(list.map((r) => r.userId)).toEqual(["carol", "bob"]);
        expect(list[1]).toEqual({ userId: "bob", message: "me too", createdAt: t2 });
        expect(list[0].message).toBe("again");
        expect(await store.deleteJoinRequest(w.appId, "g", "carol")).toEqual({ userId: "carol", message: "again", createdAt: t1 });
        expect(await store.deleteJoinRequest(w.appId, "g", "carol")).toBeUndefined();
        expect((await store.listJoinRequests(w.appId, "g")).map((r) => r.userId)).toEqual(["bob"]);
        // Join requests create no events.
        expect(await w.log("alice")).toEqual(["joined:alice"]);
      });

      it("becoming a member removes the applicant's pending request", async () => {
        const w = await world();
        await w.group("g", ["alice"], GroupType.PUBLIC);
        await store.addJoinRequest(w.appId, "g", "bob", "", w.now());
        await store.addJoinRequest(w.appId, "g", "carol", "", w.now());
        await store.addMembers(w.appId, "g", [{ userId: "bob", role: MemberRole.MEMBER }], "alice", w.now(), LIMITS);
        expect((await store.listJoinRequests(w.appId, "g")).map((r) => r.userId)).toEqual(["carol"]);
      });

      it("approveJoinRequest removes the request and adds the user as addMembers does, MemberJoined naming the approver (rule GRP-3)", async () => {
        const w = await world();
        await w.group("p", ["alice", "bob"], GroupType.PUBLIC);
        await w.send("p", "alice");
        await store.addJoinRequest(w.appId, "p", "carol", "hi", w.now());
        await store.addJoinRequest(w.appId, "p", "dave", "", w.now());
        const now = w.now();
        const { member, events } = await store.approveJoinRequest(w.appId, "p", "carol", "bob", now, LIMITS);
        expect(member).toEqual({ userId: "carol", role: MemberRole.MEMBER, joinedAt: now, joinSeq: 1 });
        expect(await store.getMember(w.appId, "p", "carol")).toEqual(member);
        expectLogged(events);
        expect(events.map((e) => describeEvent(e.event))).toEqual(["joined:carol"]);
        const p = events[0].event.payload;
        expect(p.case === "memberJoined" && p.value.addedBy).toBe("bob");
        expect(events[0]).toMatchObject({ audience: { kind: "group" }, membership: { change: "joined", userId: "carol" } });
        expect((await store.getGroup(w.appId, "p"))?.memberCount).toBe(3);
        expect((await store.listJoinRequests(w.appId, "p")).map((r) => r.userId)).toEqual(["dave"]);
        expect((await w.log("alice")).at(-1)).toBe("joined:carol");
      });

      it("approveJoinRequest with no pending request (none, decided already, or its user gone) is join_request_not_found and records nothing", async () => {
        const w = await world();
        await w.group("p", ["alice"], GroupType.PUBLIC);
        await store.addJoinRequest(w.appId, "p", "bob", "", w.now());
        await store.approveJoinRequest(w.appId, "p", "bob", "alice", w.now(), LIMITS);
        await store.addJoinRequest(w.appId, "p", "carol", "", w.now());
        await store.deleteJoinRequest(w.appId, "p", "carol");
        // A user that does not exist (or was deleted meanwhile) cannot leave a request behind (rule ADM-11).
        await expectConflict(store.addJoinRequest(w.appId, "p", "zed", "", w.now()), "user_not_found", ["zed"]);
        const before = await w.snapshot("p", ["alice", "bob", "carol", "dave", "zed"]);
        for (const userId of ["bob", "carol", "dave", "zed"]) {
          await expectConflict(store.approveJoinRequest(w.appId, "p", userId, "alice", w.now(), LIMITS), "join_request_not_found", [userId]);
        }
        expect(await w.snapshot("p", ["alice", "bob", "carol", "dave", "zed"])).toEqual(before);
        await expectConflict(store.approveJoinRequest(w.appId, "nope", "bob", "alice", w.now(), LIMITS), "group_not_found");
      });

      it("approveJoinRequest on a full group is group_full and the request stays pending as it was (rule GRP-13)", async () => {
        const w = await world();
        const small: GroupLimits = { maxMembers: 2, memberEventsMaxMembers: 0 };
        await w.group("p", ["alice", "bob"], GroupType.PUBLIC, small);
        const asked = w.now();
        await store.addJoinRequest(w.appId, "p", "carol", "let me in", asked);
        await store.addJoinRequest(w.appId, "p", "dave", "", w.now());
        const before = await w.snapshot("p", ["alice", "bob", "carol"]);
        await expectConflict(store.approveJoinRequest(w.appId, "p", "carol", "alice", w.now(), small), "group_full");
        expect(await w.snapshot("p", ["alice", "bob", "carol"])).toEqual(before);
        expect((await store.listJoinRequests(w.appId, "p"))[0]).toEqual({ userId: "carol", message: "let me in", createdAt: asked });
      });

      it("a reject racing a group_full approve always finds the request: the request is never briefly gone", async () => {
        const w = await world();
        const full: GroupLimits = { maxMembers: 1, memberEventsMaxMembers: 0 };
        await w.group("p", ["alice"], GroupType.PUBLIC, full);
        const asked = w.now();
        await store.addJoinRequest(w.appId, "p", "bob", "hi", asked);
        const [approved, rejected] = await Promise.all([
          store.approveJoinRequest(w.appId, "p", "bob", "alice", w.now(), full).then(
            () => "approved",
            (e: unknown) => (e instanceof StoreConflict ? e.kind : e),
          ),
          store.deleteJoinRequest(w.appId, "p", "bob"),
        ]);
        // group_full when the approve ran first (and changed nothing), else the reject took the request.
        expect(["group_full", "join_request_not_found"]).toContain(approved);
        expect(rejected).toEqual({ userId: "bob", message: "hi", createdAt: asked });
        expect(await store.listJoinRequests(w.appId, "p")).toEqual([]);
      });

      it("approveJoinRequest for a user who became a member meanwhile removes the stale request and keeps the membership", async () => {
        const w = await world();
        await w.group("p", ["alice"], GroupType.PUBLIC);
        await store.addMembers(w.appId, "p", [{ userId: "bob", role: MemberRole.MEMBER }], "alice", w.now(), LIMITS);
        const joined = await store.getMember(w.appId, "p", "bob");
        await store.addJoinRequest(w.appId, "p", "bob", "", w.now()); // raced the invitation
        const latest = await store.latestPositions(w.appId);
        expect(await store.approveJoinRequest(w.appId, "p", "bob", "alice", w.now(), LIMITS)).toEqual({ member: joined, events: [] });
        expect(await store.listJoinRequests(w.appId, "p")).toEqual([]);
        expect(await store.latestPositions(w.appId)).toEqual(latest);
      });

      it("of concurrent approves and a reject of one request exactly one succeeds, and the user joins at most once", async () => {
        const w = await world();
        await w.group("p", ["alice", "bob"], GroupType.PUBLIC);
        const approve = (userId: string, by: string) =>
          store.approveJoinRequest(w.appId, "p", userId, by, w.now(), LIMITS).then(
            () => "approved",
            (e: unknown) => (e instanceof StoreConflict ? e.kind : e),
          );
        const reject = (userId: string) =>
          store.deleteJoinRequest(w.appId, "p", userId).then((r) => (r ? "rejected" : "join_request_not_found"));
        // Started in both orders: approve first, and reject first.
        for (const [applicant, rejectFirst] of [["carol", false], ["dave", true]] as const) {
          await store.addJoinRequest(w.appId, "p", applicant, "", w.now());
          const outcomes = await Promise.all(
            rejectFirst
              ? [reject(applicant), approve(applicant, "alice"), approve(applicant, "bob")]
              : [approve(applicant, "alice"), reject(applicant), approve(applicant, "bob")],
          );
          expect(outcomes.filter((o) => o !== "join_request_not_found"), applicant).toHaveLength(1);
          const joined = (await w.log(applicant)).filter((e) => e === `joined:${applicant}`);
          expect(joined).toHaveLength(outcomes.includes("approved") ? 1 : 0);
          expect(await store.listJoinRequests(w.appId, "p")).toEqual([]);
        }
      });
    });

    describe("appendMessage", () => {
      it("assigns consecutive seqs (targeted included), unique IDs and the server time; updates the group", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const sent: Message[] = [];
        sent.push((await w.send("g", "alice")).message);
        sent.push((await w.send("g", "bob", { receivers: ["carol"] })).message);
        const at = w.clock + 1000;
        sent.push((await w.send("g", "carol", { text: "third" })).message);
        expect(sent.map((m) => m.seq)).toEqual([1n, 2n, 3n]);
        expect(new Set(sent.map((m) => m.messageId)).size).toBe(3);
        for (const m of sent) expect(m.messageId).not.toBe("");
        expect(sent.map((m) => m.senderId)).toEqual(["alice", "bob", "carol"]);
        expect(sent.every((m) => m.groupId === "g")).toBe(true);
        expect(timestampMs(sent[2].serverTime!)).toBe(at);
        expect(await store.getGroup(w.appId, "g")).toMatchObject({ lastSeq: 3, lastActivityAt: at });
        // Seqs are per group.
        await w.group("h", ["alice"]);
        expect((await w.send("h", "alice")).message.seq).toBe(1n);
      });

      it("emits MessageReceived in the group's partition: group audience for ordinary, receivers + sender for targeted", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        const ordinary = await w.send("g", "alice");
        const targeted = await w.send("g", "alice", { receivers: ["carol", "bob"] });
        const system = await w.send("g", "", { receivers: ["dave"] });
        expectLogged([ordinary.event, targeted.event, system.event]);
        expect(ordinary.event.audience).toEqual({ kind: "group" });
        expect(ordinary.event.membership).toBeUndefined();
        expect(audienceOf(targeted.event)).toEqual(["alice", "bob", "carol"]);
        expect(audienceOf(system.event)).toEqual(["dave"]);
        const p = targeted.event.event.payload;
        expect(p.case).toBe("messageReceived");
        if (p.case === "messageReceived") {
          expect(p.value.message?.messageId).toBe(targeted.message.messageId);
          expect(p.value.message?.receiverIds).toEqual(["carol", "bob"]); // the sender's order (rule TGT-7)
        }
        expect(await store.latestPositions(w.appId)).toEqual(only(partitionOf("g"), system.event.position));
      });

      it("persist=false records only idempotency: seq 0, no position, no log entry, no seq consumed, no history", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.send("g", "alice");
        const before = await w.snapshot("g", ["alice", "bob"]);
        const { message, event } = await w.send("g", "alice", { persist: false, clientMessageId: "live-1" });
        expect(message.seq).toBe(0n);
        expect(message.messageId).not.toBe("");
        expect(event.position).toBe(0);
        expect(event.event.cursor).toBe("");
        expect(event.event.payload.case).toBe("messageReceived");
        expect(event.audience).toEqual({ kind: "group" });
        expect(await w.snapshot("g", ["alice", "bob"])).toEqual(before);
        expect((await store.findSent(w.appId, "alice", "g", "live-1", 0))?.messageId).toBe(message.messageId);
        expect(await store.getMessage(w.appId, "g", message.messageId, "alice")).toBeUndefined();
        expect((await w.send("g", "bob")).message.seq).toBe(2n);
      });

      it("sendContext reads what a send checks: plan, live group, the sender's membership, the recorded message, members among the IDs", async () => {
        const w = await world(Plan.STANDARD);
        await w.group("g", ["alice", "bob", "carol"]);
        const at = w.clock + 1000;
        const { message } = await w.send("g", "alice", { clientMessageId: "c-1" });
        const query = (clientMessageId: string, since: number, userIds: string[]) => ({ clientMessageId, since, userIds });
        const context = await store.sendContext(w.appId, "g", "alice", query("c-1", at - 1, ["bob", "dave", "carol", "bob"]));
        expect(context).toEqual({
          plan: Plan.STANDARD,
          group: await store.getGroup(w.appId, "g"),
          sender: await store.getMember(w.appId, "g", "alice"),
          earlier: message,
          members: new Set(["bob", "carol"]),
        });
        // Outside the window, another key, another sender, no key: no recorded message.
        expect((await store.sendContext(w.appId, "g", "alice", query("c-1", at + 1, []))).earlier).toBeUndefined();
        expect((await store.sendContext(w.appId, "g", "alice", query("c-2", 0, []))).earlier).toBeUndefined();
        expect((await store.sendContext(w.appId, "g", "bob", query("c-1", 0, []))).earlier).toBeUndefined();
        expect((await store.sendContext(w.appId, "g", "alice", query("", 0, []))).earlier).toBeUndefined();
        // Not a member, the system (""), an unknown group, a dismissed one.
        expect((await store.sendContext(w.appId, "g", "dave", query("", 0, []))).sender).toBeUndefined();
        expect(await store.sendContext(w.appId, "g", "", query("", 0, ["alice"]))).toMatchObject({ sender: undefined, members: new Set(["alice"]) });
        expect(await store.sendContext(w.appId, "nope", "alice", query("c-1", 0, ["bob"]))).toEqual({
          plan: Plan.STANDARD,
          group: undefined,
          sender: undefined,
          earlier: undefined,
          members: new Set(),
        });
        await store.dismissGroup(w.appId, "g", w.now());
        expect(await store.sendContext(w.appId, "g", "alice", query("", 0, ["bob"]))).toMatchObject({ group: undefined, sender: undefined, members: new Set() });
      });

      it("findSent returns the original message within the window, and only for its sender", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        const at = w.clock + 1000;
        const { message } = await w.send("g", "alice", { clientMessageId: "c-1", receivers: ["bob"] });
        const found = await store.findSent(w.appId, "alice", "g", "c-1", at - 1);
        expect(found).toEqual(message);
        expect(found?.clientMessageId).toBe("c-1");
        expect(await store.findSent(w.appId, "alice", "g", "c-1", at + 1)).toBeUndefined();
        expect(await store.findSent(w.appId, "bob", "g", "c-1", 0)).toBeUndefined();
        expect(await store.findSent(w.appId, "alice", "g", "c-2", 0)).toBeUndefined();
        expect(await store.findSent((await world()).appId, "alice", "g", "c-1", 0)).toBeUndefined();
        await w.send("g", "alice"); // no client message ID: nothing recorded
        expect(await store.findSent(w.appId, "alice", "g", "", 0)).toBeUndefined();
      });

      it("readEventRange rebuilds every event exactly as it was published: audience, membership change, payload", async () => {
        const w = await world();
        const published: StoredEvent[] = [];
        published.push(...(await w.group("g", ["alice", "bob", "carol"])).events);
        published.push(...(await store.addMembers(w.appId, "g", [{ userId: "dave", role: MemberRole.MEMBER }], "alice", w.now(), LIMITS)));
        const ordinary = await w.send("g", "alice");
        published.push(ordinary.event, (await w.send("g", "alice", { receivers: ["bob"] })).event);
        published.push((await store.recallMessage(w.appId, "g", ordinary.message.messageId, "alice", w.now())).event);
        published.push((await store.markRead(w.appId, "g", "bob", 0, w.now(), () => create(EventSchema, {}))).event!);
        published.push(...(await store.removeMembers(w.appId, "g", ["carol"], "alice", w.now(), LIMITS)));
        published.push(await store.dismissGroup(w.appId, "g", w.now()));
        // One group: one partition, so the published events are one range of it.
        const part = partitionOf("g");
        expect(published.every((e) => e.partition === part)).toBe(true);
        const ids = published.map((e) => e.position);
        const rebuilt = await store.readEventRange(w.appId, part, ids[0], ids[ids.length - 1]);
        // Recall events are published with the payload that existed then; the log holds the same.
        const normal = (e: StoredEvent) => ({
          partition: e.partition,
          position: e.position,
          groupId: e.groupId,
          audience: e.audience.kind === "users" ? { kind: "users", userIds: [...e.audience.userIds].sort() } : e.audience,
          membership: e.membership,
          payload: e.event.payload.case,
          cursor: e.event.cursor,
        });
        expect(rebuilt.map(normal)).toEqual(published.map(normal));
        expect(await store.readEventRange(w.appId, part, ids[ids.length - 1] + 1, ids[ids.length - 1] + 10)).toEqual([]);
        // The same positions of another partition are other (here: no) events.
        expect(await store.readEventRange(w.appId, (part + 1) % PARTITIONS, ids[0], ids[ids.length - 1])).toEqual([]);
      });

      it("pruneSent deletes idempotency records made before the given time, and only those", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.send("g", "alice", { clientMessageId: "old" });
        const cutoff = w.now();
        await w.send("g", "alice", { clientMessageId: "new" });
        expect(await store.pruneSent(cutoff)).toBeGreaterThanOrEqual(1);
        expect(await store.findSent(w.appId, "alice", "g", "old", 0)).toBeUndefined();
        expect((await store.findSent(w.appId, "alice", "g", "new", 0))?.clientMessageId).toBe("new");
        // The messages themselves stay.
        expect((await store.listMessages(w.appId, "g", { viewerId: "bob", floorSeq: 0, direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 10 })).messages).toHaveLength(2);
      });

      it("dedupeSince: a recorded client message ID returns the original, marked duplicate, and writes nothing", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        const first = await w.send("g", "alice", { clientMessageId: "k-1", text: "first" });
        expect(first.duplicate).toBe(false);
        const before = await w.snapshot("g", ["alice", "bob"]);
        const since = w.clock - 500;
        const again = await w.send("g", "alice", { clientMessageId: "k-1", text: "retry", dedupeSince: since });
        expect(again.duplicate).toBe(true);
        expect(again.message).toEqual(first.message);
        expect(await w.snapshot("g", ["alice", "bob"])).toEqual(before);
        // Another sender's key, or a record older than the window, is not a duplicate.
        const other = await w.send("g", "bob", { clientMessageId: "k-1", dedupeSince: since });
        expect(other.duplicate).toBe(false);
        expect(other.message.seq).toBe(2n);
        const late = await w.send("g", "alice", { clientMessageId: "k-1", text: "later", dedupeSince: w.clock + 500 });
        expect(late.duplicate).toBe(false);
        expect(late.message.seq).toBe(3n);
        expect((await store.findSent(w.appId, "alice", "g", "k-1", 0))?.messageId).toBe(late.message.messageId);
      });

      it("unread: an ordinary message counts for everyone but its sender; an excluded one for nobody", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await w.send("g", "alice");
        await w.send("g", "alice", { counts: false }); // exclude_from_unread
        await w.send("g", "bob");
        // bob's own send also moved bob's read position past alice's message (rule UNR-5).
        expect(await w.unread("g")).toEqual({ alice: 1, bob: 0, carol: 2 });
      });

      it("unread: a targeted message counts only with the opt-in, and then only for its receivers", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        await w.send("g", "alice", { receivers: ["bob"] }); // default: not counted (rule TGT-6)
        expect(await w.unread("g")).toEqual({ alice: 0, bob: 0, carol: 0, dave: 0 });
        await w.send("g", "alice", { receivers: ["bob", "carol"], counts: true });
        expect(await w.unread("g")).toEqual({ alice: 0, bob: 1, carol: 1, dave: 0 });
        await w.send("g", "dave");
        expect(await w.unread("g")).toEqual({ alice: 1, bob: 2, carol: 2, dave: 0 });
      });

      it("a system message (no sender) counts for every member and moves nobody's read position", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        const { message } = await w.send("g", "");
        expect(message.senderId).toBe("");
        expect(await w.unread("g")).toEqual({ alice: 1, bob: 1 });
        expect((await w.conv("g", "alice"))?.readSeq).toBe(0);
      });

      it("sending moves the sender's read position to the new message (rule UNR-5)", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await w.send("g", "alice");
        await w.send("g", "alice", { receivers: ["bob"], counts: true });
        expect(await w.conv("g", "bob")).toMatchObject({ readSeq: 0, unreadCount: 2 });
        await w.send("g", "bob", { receivers: ["alice"] });
        expect(await w.conv("g", "bob")).toMatchObject({ readSeq: 3, unreadCount: 0 });
        await w.send("g", "carol");
        expect(await w.conv("g", "bob")).toMatchObject({ readSeq: 3, unreadCount: 1 });
      });

      it("last message per viewer: excluded messages are skipped; targeted ones only for their audience", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        expect((await w.conv("g", "alice"))?.lastMessage).toBeUndefined();
        await w.send("g", "alice", { text: "one" });
        await w.send("g", "bob", { text: "two", excludeFromLast: true });
        expect(await w.lastTexts("g")).toEqual({ alice: "one", bob: "one", carol: "one" });
        await w.send("g", "alice", { text: "to bob", receivers: ["bob"] });
        expect(await w.lastTexts("g")).toEqual({ alice: "to bob", bob: "to bob", carol: "one" });
        await w.send("g", "carol", { text: "hidden to alice", receivers: ["alice"], excludeFromLast: true });
        expect(await w.lastTexts("g")).toEqual({ alice: "to bob", bob: "to bob", carol: "one" });
        await w.send("g", "carol", { text: "four" });
        expect(await w.lastTexts("g")).toEqual({ alice: "four", bob: "four", carol: "four" });
        const last = (await w.conv("g", "bob"))?.lastMessage;
        expect(last?.seq).toBe(5n);
        expect(last?.senderId).toBe("carol");
      });

      it("mention flags: for the mentioned users and @all, never for the sender; cleared by reading past", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await w.send("g", "alice", { mentions: ["bob", "alice"] });
        expect(await w.mentions("g")).toEqual({ alice: "-", bob: "me", carol: "-" });
        await w.send("g", "carol", { mentionAll: true });
        expect(await w.mentions("g")).toEqual({ alice: "all", bob: "me+all", carol: "-" });
        await store.markRead(w.appId, "g", "bob", 1, w.now(), conversationUpdated);
        expect(await w.mentions("g")).toEqual({ alice: "all", bob: "all", carol: "-" });
        await store.markRead(w.appId, "g", "bob", 2, w.now(), conversationUpdated);
        expect(await w.mentions("g")).toEqual({ alice: "all", bob: "-", carol: "-" });
      });

      it("a later member sees nothing from before joining (WORK); a MEETING member's last message includes it", async () => {
        for (const type of [GroupType.WORK, GroupType.MEETING]) {
          const w = await world();
          await w.group("g", ["alice", "bob"], type);
          await w.send("g", "alice", { text: "before", mentionAll: true, mentions: ["bob"] });
          await w.send("g", "alice", { text: "secret", receivers: ["bob"], counts: true });
          await store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
          const carol = await w.conv("g", "carol");
          expect(carol).toMatchObject({ readSeq: 2, unreadCount: 0, mentionedMe: false, mentionedAll: false });
          expect(carol?.lastMessage?.elements[0]?.element.value).toEqual(
            type === GroupType.MEETING ? expect.objectContaining({ text: "before" }) : undefined,
          );
        }
      });
    });

    describe("getMessage", () => {
      it("ordinary messages for any viewer; targeted ones for their receivers and sender only; null viewer sees all", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const ordinary = (await w.send("g", "alice", { text: "hello" })).message;
        const targeted = (await w.send("g", "alice", { text: "psst", receivers: ["bob"] })).message;
        for (const viewer of ["alice", "bob", "carol", null]) {
          expect(await store.getMessage(w.appId, "g", ordinary.messageId, viewer)).toEqual(ordinary);
        }
        for (const viewer of ["alice", "bob", null]) {
          expect(await store.getMessage(w.appId, "g", targeted.messageId, viewer)).toEqual(targeted);
        }
        expect(await store.getMessage(w.appId, "g", targeted.messageId, "carol")).toBeUndefined();
      });

      it("an unknown ID, another group's message or another app's message is undefined", async () => {
        const w = await world();
        await w.group("g", ["alice"]);
        await w.group("h", ["alice"]);
        const { message } = await w.send("g", "alice");
        expect(await store.getMessage(w.appId, "h", message.messageId, "alice")).toBeUndefined();
        expect(await store.getMessage(w.appId, "g", "msg_nope", "alice")).toBeUndefined();
        const other = await world();
        await other.group("g", ["alice"]);
        expect(await store.getMessage(other.appId, "g", message.messageId, null)).toBeUndefined();
      });
    });

    describe("listMessages", () => {
      it("pages by seq: latest page, before_seq, after_seq, has_more, ascending order", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        for (let i = 0; i < 10; i++) await w.send("g", i % 2 ? "bob" : "alice");
        const page = (q: Partial<ListMessagesQuery>) => w.page("g", "bob", q);
        expect(await page({ limit: 3 })).toEqual({ seqs: [8, 9, 10], hasMore: true });
        expect(await page({ limit: 3, beforeSeq: 8 })).toEqual({ seqs: [5, 6, 7], hasMore: true });
        expect(await page({ limit: 3, beforeSeq: 4 })).toEqual({ seqs: [1, 2, 3], hasMore: false });
        expect(await page({ limit: 3, beforeSeq: 1 })).toEqual({ seqs: [], hasMore: false });
        expect(await page({ limit: 3, afterSeq: 2 })).toEqual({ seqs: [3, 4, 5], hasMore: true });
        expect(await page({ limit: 3, afterSeq: 7 })).toEqual({ seqs: [8, 9, 10], hasMore: false });
        expect(await page({ limit: 3, afterSeq: 10 })).toEqual({ seqs: [], hasMore: false });
        expect(await page({ limit: 20 })).toEqual({ seqs: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], hasMore: false });
        // Forward from the start of history (no after_seq anchor).
        expect(await page({ limit: 3, direction: "forward" })).toEqual({ seqs: [1, 2, 3], hasMore: true });
        const full = await store.listMessages(w.appId, "g", { viewerId: "bob", floorSeq: 0, direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 1 });
        expect(full.messages[0]).toEqual(await store.getMessage(w.appId, "g", full.messages[0].messageId, "bob"));
      });

      it("respects the history floor (rule GRP-6) in both directions", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        for (let i = 0; i < 6; i++) await w.send("g", "alice");
        const page = (q: Partial<ListMessagesQuery>) => w.page("g", "bob", { floorSeq: 3, ...q });
        expect(await page({ limit: 10 })).toEqual({ seqs: [4, 5, 6], hasMore: false });
        expect(await page({ limit: 2 })).toEqual({ seqs: [5, 6], hasMore: true });
        expect(await page({ limit: 2, beforeSeq: 5 })).toEqual({ seqs: [4], hasMore: false });
        expect(await page({ limit: 2, afterSeq: 1 })).toEqual({ seqs: [4, 5], hasMore: true });
      });

      it("hides targeted messages from non-receivers, in the page and in has_more", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await w.send("g", "alice", { receivers: ["bob"] }); // 1
        await w.send("g", "alice", { receivers: ["bob"] }); // 2
        await w.send("g", "alice"); // 3
        await w.send("g", "carol", { receivers: ["alice"] }); // 4
        await w.send("g", "alice"); // 5
        await w.send("g", "bob", { receivers: ["alice"] }); // 6
        expect(await w.page("g", "carol", { limit: 10 })).toEqual({ seqs: [3, 4, 5], hasMore: false });
        expect(await w.page("g", "carol", { limit: 2, beforeSeq: 5 })).toEqual({ seqs: [3, 4], hasMore: false });
        expect(await w.page("g", "carol", { limit: 1, afterSeq: 4 })).toEqual({ seqs: [5], hasMore: false });
        expect(await w.page("g", "bob", { limit: 10 })).toEqual({ seqs: [1, 2, 3, 5, 6], hasMore: false });
        expect(await w.page("g", "bob", { limit: 2, afterSeq: 2 })).toEqual({ seqs: [3, 5], hasMore: true });
        expect(await w.page("g", "alice", { limit: 10 })).toEqual({ seqs: [1, 2, 3, 4, 5, 6], hasMore: false });
      });
    });

    describe("recallMessage", () => {
      it("clears the content, rewrites the logged MessageReceived and emits MessageRecalled", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        const { message: original, event: received } = await w.send("g", "alice", { text: "oops", customData: true });
        const at = w.clock + 1000;
        const { message, event } = await store.recallMessage(w.appId, "g", original.messageId, "bob", at);
        expect(message.elements).toEqual([]);
        expect(message.customData.length).toBe(0);
        expect(message.recall?.recalledBy).toBe("bob");
        expect(timestampMs(message.recall!.recallTime!)).toBe(at);
        expect(message).toMatchObject({ messageId: original.messageId, seq: 1n, senderId: "alice" });
        expectLogged([event]);
        expect(await w.audience(event)).toEqual(["alice", "bob"]);
        const p = event.event.payload;
        expect(p.case).toBe("messageRecalled");
        if (p.case === "messageRecalled") {
          expect(p.value).toMatchObject({ groupId: "g", messageId: original.messageId, seq: 1n });
          expect(p.value.recall?.recalledBy).toBe("bob");
        }
        expect(await store.getMessage(w.appId, "g", original.messageId, "bob")).toEqual(message);
        expect((await store.listMessages(w.appId, "g", query("bob"))).messages).toEqual([message]);
        // A recalled last message stays the last message, shown as recalled (rule CNV-2).
        expect((await w.conv("g", "bob"))?.lastMessage).toEqual(message);
        // Replaying the log must not bring the content back (rule MSG-11), and the rewritten event
        // keeps its place (and, like every stored event, no cursor: Subscribe sets it).
        const log = await readEvents(store, w.appId, "bob", origin(), 100);
        const replayed = log.find((e) => e.partition === received.partition && e.position === received.position);
        expect(replayed?.event.cursor).toBe("");
        expect(replayed?.event.payload.case === "messageReceived" && replayed.event.payload.value.message).toEqual(message);
        expect(log.at(-1)).toMatchObject({ partition: event.partition, position: event.position });
      });

      it("a targeted message's recall goes to its receivers and sender only", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const { message } = await w.send("g", "alice", { receivers: ["bob"] });
        const { event } = await store.recallMessage(w.appId, "g", message.messageId, "alice", w.now());
        expect(await w.audience(event)).toEqual(["alice", "bob"]);
        expect(await w.log("bob")).toContain("recall:1");
        expect(await w.log("alice")).toContain("recall:1");
        expect(await w.log("carol")).not.toContain("recall:1");
        expect(await w.log("carol")).not.toContain("msg:1");
      });

      it("an ordinary message's recall reaches the members whose history holds it (all members in MEETING)", async () => {
        for (const type of [GroupType.WORK, GroupType.MEETING]) {
          const w = await world();
          await w.group("g", ["alice", "bob"], type);
          const { message } = await w.send("g", "alice");
          await store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
          const { event } = await store.recallMessage(w.appId, "g", message.messageId, "", w.now());
          const expected = type === GroupType.MEETING ? ["alice", "bob", "carol"] : ["alice", "bob"];
          expect(await w.audience(event), GroupType[type]).toEqual(expected);
          expect(await w.log("carol"), GroupType[type]).toEqual(
            type === GroupType.MEETING ? ["joined:carol", "recall:1"] : ["joined:carol"],
          );
          expect((await w.log("bob")).at(-1)).toBe("recall:1");
        }
      });

      it("does not change unread counts (rule UNR-7)", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const a = await w.send("g", "alice");
        const b = await w.send("g", "alice", { receivers: ["bob"], counts: true });
        const before = await w.unread("g");
        await store.recallMessage(w.appId, "g", a.message.messageId, "alice", w.now());
        await store.recallMessage(w.appId, "g", b.message.messageId, "", w.now());
        expect(await w.unread("g")).toEqual(before);
        expect(before).toEqual({ alice: 0, bob: 2, carol: 1 });
      });

      it("recalling twice is already_recalled and records nothing", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        const { message } = await w.send("g", "alice");
        await store.recallMessage(w.appId, "g", message.messageId, "alice", w.now());
        const before = await w.snapshot("g", ["alice", "bob"]);
        await expectConflict(store.recallMessage(w.appId, "g", message.messageId, "", w.now()), "already_recalled");
        expect(await w.snapshot("g", ["alice", "bob"])).toEqual(before);
      });

      it("recalling an unknown message or another group's message is a conflict that records nothing", async () => {
        const w = await world();
        await w.group("g", ["alice"]);
        await w.group("h", ["alice"]);
        const { message } = await w.send("g", "alice");
        const latest = await store.latestPositions(w.appId);
        await expect(store.recallMessage(w.appId, "h", message.messageId, "", w.now())).rejects.toBeInstanceOf(StoreConflict);
        await expect(store.recallMessage(w.appId, "g", "msg_nope", "", w.now())).rejects.toBeInstanceOf(StoreConflict);
        expect(await store.latestPositions(w.appId)).toEqual(latest);
        expect((await store.getMessage(w.appId, "g", message.messageId, null))?.recall).toBeUndefined();
      });
    });

    describe("conversations", () => {
      it("conversations reads every live group of the user with their counters, by group ID, as conversation() does one", async () => {
        const w = await world();
        await w.group("b", ["alice", "bob"]);
        await w.group("a", ["bob", "carol"]);
        await w.group("c", ["alice", "carol"]);
        await w.group("d", ["bob", "alice"]);
        await w.send("a", "carol");
        await w.send("b", "alice", { receivers: ["bob"], counts: true });
        await w.send("b", "alice", { mentions: ["bob"] });
        await w.send("d", "alice", { mentionAll: true });
        await store.dismissGroup(w.appId, "d", w.now());
        await store.removeMembers(w.appId, "c", ["carol"], "alice", w.now(), LIMITS);
        const all = await store.conversations(w.appId, "bob");
        expect(all.map((c) => c.group.groupId)).toEqual(["a", "b"]);
        for (const { group, counters } of all) {
          expect(group).toEqual(await store.getGroup(w.appId, group.groupId));
          expect(counters).toEqual(await w.conv(group.groupId, "bob"));
        }
        expect(all[1].counters).toMatchObject({ unreadCount: 2, mentionedMe: true });
        expect((await store.conversations(w.appId, "carol")).map((c) => c.group.groupId)).toEqual(["a"]);
        expect(await store.conversations(w.appId, "nobody")).toEqual([]);
      });
    });

    describe("markRead", () => {
      it("moves forward only; 0 means the latest seq; values above the latest are clamped", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        for (let i = 0; i < 5; i++) await w.send("g", "alice");
        const read = async (seq: number) =>
          (await store.markRead(w.appId, "g", "bob", seq, w.now(), conversationUpdated)).counters;
        expect(await read(3)).toMatchObject({ readSeq: 3, unreadCount: 2 });
        expect(await read(2)).toMatchObject({ readSeq: 3, unreadCount: 2 });
        expect(await read(0)).toMatchObject({ readSeq: 5, unreadCount: 0 });
        await w.send("g", "alice");
        expect(await read(99)).toMatchObject({ readSeq: 6, unreadCount: 0 });
        expect(await w.conv("g", "bob")).toMatchObject({ readSeq: 6, unreadCount: 0 });
      });

      it("unread after a partial read counts exactly the visible, counted messages above it", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await w.send("g", "alice"); // 1
        await w.send("g", "alice", { receivers: ["bob"], counts: true }); // 2
        await w.send("g", "alice", { counts: false }); // 3
        await w.send("g", "alice", { receivers: ["carol"], counts: true }); // 4
        await w.send("g", "alice"); // 5
        await w.send("g", "alice", { receivers: ["bob", "carol"] }); // 6, not counted
        expect(await w.unread("g")).toEqual({ alice: 0, bob: 3, carol: 3 });
        const read = async (user: string, seq: number) =>
          (await store.markRead(w.appId, "g", user, seq, w.now(), conversationUpdated)).counters.unreadCount;
        expect(await read("bob", 2)).toBe(1);
        expect(await read("carol", 2)).toBe(2);
        expect(await read("carol", 3)).toBe(2);
        expect(await read("carol", 4)).toBe(1);
        expect(await read("bob", 5)).toBe(0);
        expect(await w.unread("g")).toEqual({ alice: 0, bob: 0, carol: 1 });
      });

      it("records ConversationUpdated for the user only, built from the new counters", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.send("g", "alice");
        await w.send("g", "alice");
        let seen: ConversationCounters | undefined;
        const { counters, event } = await store.markRead(w.appId, "g", "bob", 1, w.now(), (c) => {
          seen = c;
          return conversationUpdated(c);
        });
        expect(seen).toEqual(counters);
        expect(counters).toMatchObject({ readSeq: 1, unreadCount: 1 });
        expect(counters.lastMessage?.seq).toBe(2n);
        expectLogged([event!]);
        expect(event!.audience).toEqual({ kind: "user", userId: "bob" });
        expect(describeEvent(event!.event)).toBe("read:1");
        expect((await w.log("bob")).at(-1)).toBe("read:1");
        expect(await w.log("alice")).not.toContain("read:1");
      });

      it("a non-member is not_member and nothing is recorded", async () => {
        const w = await world();
        await w.group("g", ["alice"]);
        await w.send("g", "alice");
        const latest = await store.latestPositions(w.appId);
        await expectConflict(store.markRead(w.appId, "g", "bob", 0, w.now(), conversationUpdated), "not_member", ["bob"]);
        expect(await store.latestPositions(w.appId)).toEqual(latest);
      });
    });

    describe("readEvents and latestPositions", () => {
      it("latestPositions follows the stored events of the app, in their group's partition", async () => {
        const w = await world();
        expect(await store.latestPositions(w.appId)).toEqual(origin());
        const { events } = await w.group("g", ["alice", "bob"]);
        expect(await store.latestPositions(w.appId)).toEqual(only(partitionOf("g"), events[1].position));
        const { event } = await w.send("g", "alice");
        expect(event.partition).toBe(events[1].partition);
        expect(event.position).toBeGreaterThan(events[1].position);
        expect(await store.latestPositions(w.appId)).toEqual(only(partitionOf("g"), event.position));
      });

      it("returns only events within the user's membership spans, their own MemberJoined and MemberLeft included", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.send("g", "alice"); // 1: before carol
        await store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "alice", w.now(), LIMITS);
        await w.send("g", "alice"); // 2
        await store.removeMembers(w.appId, "g", ["carol"], "alice", w.now(), LIMITS);
        await w.send("g", "alice"); // 3: while carol is out
        await store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "bob", w.now(), LIMITS);
        await w.send("g", "bob"); // 4
        expect(await w.log("carol")).toEqual(["joined:carol", "msg:2", "left:carol", "joined:carol", "msg:4"]);
        // alice joined before bob was a member, so her MemberJoined is not in bob's log.
        expect(await w.log("bob")).toEqual([
          "joined:bob", "msg:1", "joined:carol", "msg:2", "left:carol", "msg:3", "joined:carol", "msg:4",
        ]);
        expect(await w.log("dave")).toEqual([]);
      });

      it("targeted message events go to their audience only; personal events to their user only", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await w.send("g", "alice", { receivers: ["bob"] });
        await w.send("g", "", { receivers: ["carol"] });
        await store.markRead(w.appId, "g", "carol", 0, w.now(), conversationUpdated);
        const tail = async (user: string) => (await w.log(user)).filter((e) => !e.startsWith("joined:"));
        expect(await tail("alice")).toEqual(["msg:1"]);
        expect(await tail("bob")).toEqual(["msg:1"]);
        expect(await tail("carol")).toEqual(["msg:2", "read:2"]);
      });

      it("pages oldest first after a vector of positions, at most limit events", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        for (let i = 0; i < 5; i++) await w.send("g", "alice");
        const all = await readEvents(store, w.appId, "bob", origin(), 100);
        expect(all.map((e) => describeEvent(e.event))).toEqual(["joined:bob", "msg:1", "msg:2", "msg:3", "msg:4", "msg:5"]);
        expectLogged(all);
        const part = partitionOf("g");
        const first = await readEvents(store, w.appId, "bob", origin(), 3);
        expect(first.map((e) => e.position)).toEqual(all.slice(0, 3).map((e) => e.position));
        const rest = await readEvents(store, w.appId, "bob", only(part, first[2].position), 100);
        expect(rest.map((e) => e.position)).toEqual(all.slice(3).map((e) => e.position));
        expect(await readEvents(store, w.appId, "bob", only(part, all[5].position), 100)).toEqual([]);
        // A position in another partition does not skip this one's events.
        expect((await readEvents(store, w.appId, "bob", only((part + 1) % PARTITIONS, 1_000), 100)).map((e) => e.position)).toEqual(
          all.map((e) => e.position),
        );

        for (const e of all) expect(e).toMatchObject({ appId: w.appId, groupId: "g" });
      });

      it("apps are isolated: one app's events never appear in another's log", async () => {
        const a = await world();
        const b = await world();
        await a.group("g", ["alice", "bob"]);
        await a.send("g", "alice");
        const { events } = await b.group("g", ["alice"]);
        expect(await b.log("alice")).toEqual(["joined:alice"]);
        expect(await b.log("bob")).toEqual([]);
        expect(await store.latestPositions(b.appId)).toEqual(only(partitionOf("g"), events[0].position));
      });
    });

    describe("atomicity: a conflict leaves nothing behind", () => {
      it("a targeted append with a non-member receiver is not_member; no seq, event, counter or idempotency record", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        await w.send("g", "carol");
        await w.send("g", "bob", { receivers: ["alice"], counts: true });
        const users = ["alice", "bob", "carol"];
        const before = await w.snapshot("g", users);
        expect(before.conversations.alice).toMatchObject({ unreadCount: 2 });
        // bob (a member, counted) comes first, so a store that writes receiver by receiver must roll back.
        await expectConflict(
          w.send("g", "alice", { receivers: ["bob", "dave"], counts: true, clientMessageId: "atomic-1" }),
          "not_member",
          ["dave"],
        );
        expect(await w.snapshot("g", users)).toEqual(before);
        expect(await store.findSent(w.appId, "alice", "g", "atomic-1", 0)).toBeUndefined();
        expect((await w.send("g", "alice")).message.seq).toBe(3n);
      });

      it("addMembers naming a current member is already_member naming them, and adds nobody", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        const before = await w.snapshot("g", ["alice", "bob", "carol"]);
        await expectConflict(
          store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }, { userId: "bob", role: MemberRole.MEMBER }], "", w.now(), LIMITS),
          "already_member",
          ["bob"],
        );
        expect(await w.snapshot("g", ["alice", "bob", "carol"])).toEqual(before);
        expect(await store.listUserGroups(w.appId, "carol")).toEqual([]);
      });

      it("addMembers and createGroup naming users that do not exist (deleted meanwhile) are user_not_found naming them, and add nobody (rule ADM-11)", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await store.deleteUser(w.appId, "carol", w.now(), () => LIMITS);
        const before = await w.snapshot("g", ["alice", "bob", "dave"]);
        await expectConflict(
          store.addMembers(
            w.appId,
            "g",
            ["dave", "carol", "zed"].map((userId) => ({ userId, role: MemberRole.MEMBER })),
            "alice",
            w.now(),
            LIMITS,
          ),
          "user_not_found",
          ["carol", "zed"],
        );
        expect(await w.snapshot("g", ["alice", "bob", "dave"])).toEqual(before);
        expect(await store.listUserGroups(w.appId, "dave")).toEqual([]);
        await expectConflict(w.group("h", ["alice", "carol"]), "user_not_found", ["carol"]);
        expect(await store.getGroup(w.appId, "h")).toBeUndefined();
        expect(await store.latestPositions(w.appId)).toEqual(before.latestPositions);
      });

      it("createGroup with an existing group ID is group_exists and creates nothing", async () => {
        const w = await world();
        await w.group("g", ["alice"]);
        const before = await w.snapshot("g", ["alice", "bob"]);
        await expectConflict(
          store.createGroup({ appId: w.appId, groupId: "g", type: GroupType.MEETING, name: "again", ownerId: "bob", createdAt: w.now() }, [
            { userId: "bob", role: MemberRole.OWNER },
          ], LIMITS),
          "group_exists",
          ["g"],
        );
        expect(await w.snapshot("g", ["alice", "bob"])).toEqual(before);
      });

      it("removeMembers naming a non-member is not_member naming them, and removes nobody", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        const before = await w.snapshot("g", ["alice", "bob"]);
        await expectConflict(store.removeMembers(w.appId, "g", ["bob", "carol"], "", w.now(), LIMITS), "not_member", ["carol"]);
        expect(await w.snapshot("g", ["alice", "bob"])).toEqual(before);
      });

      it("setRoles naming a non-member is not_member and changes no role", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const before = await w.snapshot("g", ["alice", "bob", "carol"]);
        await expectConflict(
          store.setRoles(w.appId, "g", [{ userId: "bob", role: MemberRole.OWNER }, { userId: "dave", role: MemberRole.ADMIN }]),
          "not_member",
          ["dave"],
        );
        expect(await w.snapshot("g", ["alice", "bob", "carol"])).toEqual(before);
      });
    });

    describe("apps: plan and secret rotation (rules ADM-7, ADM-8, ADM-9)", () => {
      it("setAppPlan changes the plan; rotateAppSecret keeps the old secret until the expiry, or drops it", async () => {
        const w = await world(Plan.STANDARD);
        const created = await store.getApp(w.appId);
        expect(created).toEqual({ appId: w.appId, name: "contract", plan: Plan.STANDARD, secret: "c2VjcmV0", createdAt: 1_700_000_000_000 });
        expect(await store.setAppPlan(w.appId, Plan.ULTIMATE)).toEqual({ ...created, plan: Plan.ULTIMATE });
        expect((await store.getApp(w.appId))?.plan).toBe(Plan.ULTIMATE);

        const graced = await store.rotateAppSecret(w.appId, "bmV3LTE", 1_700_000_100_000);
        expect(graced).toEqual({ ...created, plan: Plan.ULTIMATE, secret: "bmV3LTE", previousSecret: "c2VjcmV0", previousSecretExpiresAt: 1_700_000_100_000 });
        expect(await store.getApp(w.appId)).toEqual(graced);
        // A second rotation drops the older previous secret.
        const again = await store.rotateAppSecret(w.appId, "bmV3LTI", 1_700_000_200_000);
        expect(again).toMatchObject({ secret: "bmV3LTI", previousSecret: "bmV3LTE", previousSecretExpiresAt: 1_700_000_200_000 });
        // Without a grace period the old secret stops at once.
        const now = await store.rotateAppSecret(w.appId, "bmV3LTM");
        expect(now).toEqual({ ...created, plan: Plan.ULTIMATE, secret: "bmV3LTM" });
        expect(await store.getApp(w.appId)).toEqual(now);

        const unknown = `app_${randomUUID()}`;
        expect(await store.setAppPlan(unknown, Plan.STANDARD)).toBeUndefined();
        expect(await store.rotateAppSecret(unknown, "eA")).toBeUndefined();
        expect(await store.getApp(unknown)).toBeUndefined();
      });
    });

    describe("users: get, list, delete (rules ADM-10, ADM-11)", () => {
      it("getUser and listUsers page by user ID", async () => {
        const w = await world();
        expect(await store.getUser(w.appId, "carol")).toEqual({ userId: "carol", nickname: "carol" });
        expect(await store.getUser(w.appId, "zoe")).toBeUndefined();
        expect(await store.getUser((await world()).appId + "x", "carol")).toBeUndefined();
        const first = await store.listUsers(w.appId, { limit: 2 });
        expect(first.map((u) => u.userId)).toEqual(["alice", "bob"]);
        // Added during the walk: before the position (never shown) and after it (shown).
        await store.upsertUsers(w.appId, [{ userId: "aaron", nickname: "" }, { userId: "frank", nickname: "F" }]);
        const second = await store.listUsers(w.appId, { after: "bob", limit: 2 });
        expect(second.map((u) => u.userId)).toEqual(["carol", "dave"]);
        const third = await store.listUsers(w.appId, { after: "dave", limit: 2 });
        expect(third).toEqual([{ userId: "erin", nickname: "erin" }, { userId: "frank", nickname: "F" }]);
        expect(await store.listUsers(w.appId, { after: "frank", limit: 2 })).toEqual([]);
      });

      it("deleteUser ends every membership with MemberLeft (removed_by empty, owned group left without owner) and forgets the user; messages stay", async () => {
        const w = await world();
        await w.group("g", ["bob", "alice", "carol"]);
        await w.group("h", ["alice", "bob"]);
        await w.group("p", ["alice"], GroupType.PUBLIC);
        await w.group("gone", ["bob", "alice"]);
        await store.dismissGroup(w.appId, "gone", w.now());
        const said = (await w.send("g", "bob", { text: "bye all", clientMessageId: "k-bob" })).message;
        const told = (await w.send("g", "alice", { text: "to bob", receivers: ["bob", "carol"] })).message;
        await store.addJoinRequest(w.appId, "p", "bob", "let me in", w.now());
        expect((await store.markRead(w.appId, "g", "bob", 0, w.now(), conversationUpdated)).event).toBeDefined();

        const events = await store.deleteUser(w.appId, "bob", w.now(), () => LIMITS);
        expect(events?.map((e) => `${e.groupId}:${describeEvent(e.event)}`)).toEqual(["g:left:bob", "h:left:bob"]);
        expectLogged(events!);
        for (const e of events!) {
          const p = e.event.payload;
          expect(p.case === "memberLeft" && p.value.removedBy).toBe("");
          expect(e.audience).toEqual({ kind: "group" });
          expect(e.membership).toEqual({ change: "left", userId: "bob" });
        }
        expect(await store.getGroup(w.appId, "g")).toMatchObject({ ownerId: "", memberCount: 2 });
        expect(await store.getGroup(w.appId, "h")).toMatchObject({ ownerId: "alice", memberCount: 1 });
        expect(await w.log("alice")).toEqual(expect.arrayContaining(["left:bob"]));
        expect(await store.getUser(w.appId, "bob")).toBeUndefined();
        expect(await store.existingUsers(w.appId, ["bob", "alice"])).toEqual(new Set(["alice"]));
        expect(await store.listUsers(w.appId, { limit: 10 })).not.toContainEqual(expect.objectContaining({ userId: "bob" }));
        expect(await store.listJoinRequests(w.appId, "p")).toEqual([]);
        expect(await store.findSent(w.appId, "bob", "g", "k-bob", 0)).toBeUndefined();
        // History keeps what they sent and the receiver lists naming them.
        expect((await store.listMessages(w.appId, "g", query("alice"))).messages).toEqual([said, told]);
        expect((await store.getMessage(w.appId, "g", told.messageId, "carol"))?.receiverIds).toEqual(["bob", "carol"]);

        // Re-importing the ID creates a new user: no memberships, no past to replay.
        await store.upsertUsers(w.appId, [{ userId: "bob", nickname: "Bob II" }]);
        expect(await store.listUserGroups(w.appId, "bob")).toEqual([]);
        expect(await store.getMember(w.appId, "g", "bob")).toBeUndefined();
        expect(await w.log("bob")).toEqual([]);
        expect(await store.deleteUser(w.appId, "nobody", w.now(), () => LIMITS)).toBeUndefined();
      });

      it("a user re-imported under a deleted user's ID never sees the deleted user's targeted messages (MEETING history)", async () => {
        const w = await world();
        await w.group("m", ["alice", "bob", "carol"], GroupType.MEETING);
        const toBob = (await w.send("m", "alice", { text: "for bob", receivers: ["bob"] })).message;
        const fromBob = (await w.send("m", "bob", { text: "from bob", receivers: ["carol"] })).message;
        await store.deleteUser(w.appId, "bob", w.now(), () => LIMITS);
        await store.upsertUsers(w.appId, [{ userId: "bob", nickname: "Bob II" }]);
        await store.addMembers(w.appId, "m", [{ userId: "bob", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
        expect(await store.getMessage(w.appId, "m", toBob.messageId, "bob")).toBeUndefined();
        expect(await store.getMessage(w.appId, "m", fromBob.messageId, "bob")).toBeUndefined();
        expect((await store.listMessages(w.appId, "m", query("bob"))).messages).toEqual([]);
        expect((await store.conversation(w.appId, "m", "bob"))?.lastMessage).toBeUndefined();
        // The others keep seeing them.
        expect(await store.getMessage(w.appId, "m", fromBob.messageId, "carol")).toEqual(fromBob);
      });
    });

    describe("keyset pagination (rule PAG-1)", () => {
      it("listMembers, listUserGroups and listGroups page by ID; items added during a walk never repeat an item", async () => {
        const w = await world();
        await w.group("g2", ["bob", "dave", "alice"]);
        await w.group("g4", ["bob"]);
        await w.group("g1", ["bob", "carol"]);
        await w.group("g3", ["carol"]);
        await store.dismissGroup(w.appId, "g3", w.now());
        const ids = <T extends { userId: string } | { groupId: string }>(xs: T[]) =>
          xs.map((x) => ("userId" in x ? x.userId : x.groupId));

        expect(ids(await store.listMembers(w.appId, "g2", undefined, { limit: 2 }))).toEqual(["alice", "bob"]);
        await store.upsertUsers(w.appId, [{ userId: "aaa", nickname: "" }]);
        await store.addMembers(w.appId, "g2", [{ userId: "aaa", role: MemberRole.MEMBER }, { userId: "carol", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
        expect(ids(await store.listMembers(w.appId, "g2", undefined, { after: "bob", limit: 2 }))).toEqual(["carol", "dave"]);
        expect(ids(await store.listMembers(w.appId, "g2", undefined, { after: "dave", limit: 2 }))).toEqual([]);
        expect(ids(await store.listMembers(w.appId, "g2"))).toEqual(["aaa", "alice", "bob", "carol", "dave"]);

        expect(ids(await store.listUserGroups(w.appId, "bob", { limit: 2 }))).toEqual(["g1", "g2"]);
        expect(ids(await store.listUserGroups(w.appId, "bob", { after: "g2", limit: 2 }))).toEqual(["g4"]);
        expect(ids(await store.listUserGroups(w.appId, "bob"))).toEqual(["g1", "g2", "g4"]);

        expect(ids(await store.listGroups(w.appId, { limit: 2 }))).toEqual(["g1", "g2"]);
        await w.group("g0", ["erin"]);
        expect(ids(await store.listGroups(w.appId, { after: "g2", limit: 2 }))).toEqual(["g4"]); // dismissed g3 is not listed
        expect(ids(await store.listGroups((await world()).appId, { limit: 10 }))).toEqual([]);
      });

      it("listJoinRequests pages by (createdAt, userId), ties included", async () => {
        const w = await world();
        await w.group("p", ["alice"], GroupType.PUBLIC);
        const t1 = w.now();
        const t2 = w.now();
        await store.addJoinRequest(w.appId, "p", "dave", "", t2);
        await store.addJoinRequest(w.appId, "p", "carol", "", t1);
        await store.addJoinRequest(w.appId, "p", "erin", "", t1);
        await store.addJoinRequest(w.appId, "p", "bob", "", t2);
        const key = (r: { userId: string; createdAt: number }) => `${r.createdAt - t1}:${r.userId}`;
        const first = await store.listJoinRequests(w.appId, "p", { limit: 3 });
        expect(first.map(key)).toEqual(["0:carol", "0:erin", "1000:bob"]);
        const last = first.at(-1)!;
        const rest = await store.listJoinRequests(w.appId, "p", { after: { createdAt: last.createdAt, userId: last.userId }, limit: 3 });
        expect(rest.map(key)).toEqual(["1000:dave"]);
        expect((await store.listJoinRequests(w.appId, "p", { after: { createdAt: t1, userId: "carol" }, limit: 1 })).map(key)).toEqual(["0:erin"]);
      });
    });

    describe("group limits (rules GRP-13, GRP-14)", () => {
      it("a join beyond maxMembers is group_full and adds nobody; up to the maximum is fine", async () => {
        const w = await world();
        const small: GroupLimits = { maxMembers: 3, memberEventsMaxMembers: 0 };
        await expectConflict(w.group("big", ["alice", "bob", "carol", "dave"], GroupType.WORK, small), "group_full");
        expect(await store.getGroup(w.appId, "big")).toBeUndefined();
        expect(await store.listUserGroups(w.appId, "alice")).toEqual([]);

        await w.group("g", ["alice", "bob"], GroupType.WORK, small);
        const before = await w.snapshot("g", ["alice", "bob", "carol", "dave"]);
        const add = (...ids: string[]) =>
          store.addMembers(w.appId, "g", ids.map((userId) => ({ userId, role: MemberRole.MEMBER })), "alice", w.now(), small);
        await expectConflict(add("carol", "dave"), "group_full");
        expect(await w.snapshot("g", ["alice", "bob", "carol", "dave"])).toEqual(before);
        await add("carol");
        await expectConflict(add("dave"), "group_full");
        expect((await store.getGroup(w.appId, "g"))?.memberCount).toBe(3);
        // A leave makes room again.
        await store.removeMembers(w.appId, "g", ["bob"], "", w.now(), small);
        await add("dave");
        expect((await store.listMembers(w.appId, "g")).map((m) => m.userId)).toEqual(["alice", "carol", "dave"]);
      });

      it("above memberEventsMaxMembers in COMMUNITY / AVCHATROOM, MemberJoined and MemberLeft go to their subject only, live and on replay", async () => {
        const quiet: GroupLimits = { maxMembers: 100, memberEventsMaxMembers: 3 };
        for (const type of [GroupType.COMMUNITY, GroupType.AVCHATROOM, GroupType.WORK]) {
          const w = await world();
          const name = GroupType[type];
          const { events: created } = await w.group("g", ["alice", "bob", "carol"], type, quiet); // 3: not above
          expect(created.map((e) => e.audience), name).toEqual([{ kind: "group" }, { kind: "group" }, { kind: "group" }]);
          const published = await store.addMembers(w.appId, "g", [{ userId: "dave", role: MemberRole.MEMBER }], "", w.now(), quiet); // 4 after
          published.push(...(await store.removeMembers(w.appId, "g", ["dave"], "", w.now(), quiet))); // 4 before
          published.push(...(await store.removeMembers(w.appId, "g", ["carol"], "", w.now(), quiet))); // 3 before
          const scoped = type !== GroupType.WORK;
          expect(published.map((e) => e.audience), name).toEqual([
            scoped ? { kind: "user", userId: "dave" } : { kind: "group" },
            scoped ? { kind: "user", userId: "dave" } : { kind: "group" },
            { kind: "group" },
          ]);
          expect(published.map((e) => e.membership), name).toEqual([
            { change: "joined", userId: "dave" },
            { change: "left", userId: "dave" },
            { change: "left", userId: "carol" },
          ]);
          // Replay reads the same audiences: others never see dave come and go.
          expect(await w.log("alice"), name).toEqual(
            scoped
              ? ["joined:alice", "joined:bob", "joined:carol", "left:carol"]
              : ["joined:alice", "joined:bob", "joined:carol", "joined:dave", "left:dave", "left:carol"],
          );
          expect(await w.log("dave"), name).toEqual(["joined:dave", "left:dave"]);
          const ids = published.map((e) => e.position);
          const rebuilt = await store.readEventRange(w.appId, partitionOf("g"), ids[0], ids[ids.length - 1]);
          expect(rebuilt.map((e) => e.audience), name).toEqual(published.map((e) => e.audience));
        }
      });
    });

    describe("idempotency per sender and group (rule MSG-10)", () => {
      it("a key reused in another group is a new message; in the same group it is the duplicate", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.group("h", ["alice", "bob"]);
        const since = w.clock - 500;
        const inG = await w.send("g", "alice", { clientMessageId: "k", dedupeSince: since });
        const inH = await w.send("h", "alice", { clientMessageId: "k", dedupeSince: since });
        expect([inG.duplicate, inH.duplicate]).toEqual([false, false]);
        expect(inH.message.messageId).not.toBe(inG.message.messageId);
        expect(inH.message.seq).toBe(1n);
        const retryH = await w.send("h", "alice", { clientMessageId: "k", dedupeSince: since });
        expect(retryH).toMatchObject({ duplicate: true, message: inH.message });
        expect((await store.findSent(w.appId, "alice", "g", "k", 0))?.messageId).toBe(inG.message.messageId);
        expect((await store.findSent(w.appId, "alice", "h", "k", 0))?.messageId).toBe(inH.message.messageId);
        expect(await store.findSent(w.appId, "alice", "i", "k", 0)).toBeUndefined();
      });
    });

    describe("markRead that does not move (rule UNR-3)", () => {
      it("records no event and returns none, with the current counters", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob"]);
        await w.send("g", "alice");
        await w.send("g", "alice", { mentions: ["bob"] });
        const moved = await store.markRead(w.appId, "g", "bob", 1, w.now(), conversationUpdated);
        expect(moved.event).toBeDefined();
        const latest = await store.latestPositions(w.appId);
        for (const seq of [1, 0 /* 0 = latest: moves */]) {
          const r = await store.markRead(w.appId, "g", "bob", seq, w.now(), conversationUpdated);
          if (seq === 1) {
            expect(r.event).toBeUndefined();
            expect(r.counters).toEqual(await w.conv("g", "bob"));
            expect(r.counters).toMatchObject({ readSeq: 1, unreadCount: 1, mentionedMe: true });
            expect(await store.latestPositions(w.appId)).toEqual(latest);
          } else {
            expect(r.event).toBeDefined();
          }
        }
        // At the latest already, and above it (clamped): nothing.
        for (const seq of [0, 2, 99]) {
          const r = await store.markRead(w.appId, "g", "bob", seq, w.now(), conversationUpdated);
          expect(r.event, `readSeq ${seq}`).toBeUndefined();
        }
        expect((await w.log("bob")).filter((e) => e.startsWith("read:"))).toEqual(["read:1", "read:2"]);
        // alice's own send put her at the latest: her read records nothing.
        expect((await store.markRead(w.appId, "g", "alice", 0, w.now(), conversationUpdated)).event).toBeUndefined();
      });
    });

    describe("visibility at event time (rule EVT-2 / VIS)", () => {
      it("a receiver who left gets no MessageRecalled, live or on replay; the other receivers do", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        const { message } = await w.send("g", "alice", { receivers: ["bob", "carol"] });
        await store.removeMembers(w.appId, "g", ["bob"], "alice", w.now(), LIMITS);
        const { event } = await store.recallMessage(w.appId, "g", message.messageId, "alice", w.now());
        expect(await w.audience(event)).toEqual(["alice", "carol"]);
        expect(await w.log("bob")).toEqual(["joined:bob", "joined:carol", "joined:dave", "msg:1", "left:bob"]);
        expect((await w.log("carol")).at(-1)).toBe("recall:1");
        expect(await w.log("dave")).not.toContain("recall:1");
        const [rebuilt] = await store.readEventRange(w.appId, event.partition, event.position, event.position);
        expect(rebuilt.audience).toEqual({ kind: "users", userIds: ["alice", "carol"] });
      });

      it("re-join in WORK / PUBLIC / COMMUNITY: the history floor hides the earlier targeted message everywhere, its recall included", async () => {
        for (const type of [GroupType.WORK, GroupType.PUBLIC, GroupType.COMMUNITY]) {
          const w = await world();
          const name = GroupType[type];
          await w.group("g", ["alice", "bob", "carol"], type);
          const { message } = await w.send("g", "alice", { text: "for bob", receivers: ["bob"] });
          await store.removeMembers(w.appId, "g", ["bob", "alice"], "", w.now(), LIMITS);
          await store.addMembers(w.appId, "g", [{ userId: "bob", role: MemberRole.MEMBER }, { userId: "alice", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
          const bob = await store.getMember(w.appId, "g", "bob");
          expect(bob?.joinSeq, name).toBe(1);
          expect((await w.page("g", "bob", { floorSeq: bob!.joinSeq })).seqs, name).toEqual([]);
          expect((await w.conv("g", "bob"))?.lastMessage, name).toBeUndefined();
          expect((await w.conv("g", "alice"))?.lastMessage, name).toBeUndefined();
          const logBefore = await w.log("bob");
          const { event } = await store.recallMessage(w.appId, "g", message.messageId, "", w.now());
          expect(await w.audience(event), name).toEqual([]);
          expect(await w.log("bob"), name).toEqual(logBefore);
          expect(await w.log("alice"), name).not.toContain("recall:1");
        }
      });

      it("re-join in MEETING: the receiver and the sender see the targeted message again, as last message and in its recall, live and on replay", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"], GroupType.MEETING);
        const { message } = await w.send("g", "alice", { text: "for bob", receivers: ["bob"] });
        await w.send("g", "carol", { text: "hidden from last", receivers: ["bob"], excludeFromLast: true });
        await store.removeMembers(w.appId, "g", ["bob", "alice"], "", w.now(), LIMITS);
        await store.addMembers(w.appId, "g", [{ userId: "bob", role: MemberRole.MEMBER }, { userId: "alice", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
        // MEETING history has no floor (the service passes floorSeq 0).
        expect((await w.page("g", "bob", {})).seqs).toEqual([1, 2]);
        expect((await w.page("g", "alice", {})).seqs).toEqual([1]);
        expect((await w.page("g", "carol", {})).seqs).toEqual([2]);
        expect(await store.getMessage(w.appId, "g", message.messageId, "bob")).toEqual(message);
        expect(await w.lastTexts("g")).toEqual({ alice: "for bob", bob: "for bob", carol: undefined });
        expect(await w.conv("g", "bob")).toMatchObject({ unreadCount: 0, readSeq: 2 });
        const joinedAt = await store.latestPositions(w.appId);
        const { event } = await store.recallMessage(w.appId, "g", message.messageId, "alice", w.now());
        expect(await w.audience(event)).toEqual(["alice", "bob"]);
        for (const user of ["alice", "bob"]) {
          expect((await readEvents(store, w.appId, user, joinedAt, 100)).map((e) => describeEvent(e.event)), user).toEqual(["recall:1"]);
        }
        expect(await w.log("carol")).not.toContain("recall:1");
        const [rebuilt] = await store.readEventRange(w.appId, event.partition, event.position, event.position);
        expect(rebuilt.audience).toEqual({ kind: "users", userIds: ["alice", "bob"] });
        // An ordinary message sent later still becomes the last message.
        await w.send("g", "carol", { text: "later" });
        expect(await w.lastTexts("g")).toEqual({ alice: "later", bob: "later", carol: "later" });
      });
    });

    describe("reactions (rules RCT-1 to RCT-8)", () => {
      /** One user's add (or remove) of one reaction on the message, at `at` (default: the next tick). */
      const react = (w: World, groupId: string, messageId: string, userId: string, reaction: string, added = true, at = w.now()) =>
        store.changeReaction(w.appId, groupId, messageId, { userId, reaction, added }, at);
      /** The ReactionChanged payload of a change's event (it must have one). */
      const changed = (r: { event?: StoredEvent }) => {
        const p = r.event?.event.payload;
        expect(p?.case, "the change appends ReactionChanged").toBe("reactionChanged");
        return p?.case === "reactionChanged" ? p.value : undefined;
      };
      /** reactionCounts of one message as `viewer` sees it: "reaction×count" with "*" when the viewer is one of them. */
      const tallies = async (w: World, groupId: string, seq: bigint, viewer: string) =>
        ((await store.reactionCounts(w.appId, groupId, [Number(seq)], viewer)).get(Number(seq)) ?? []).map(
          (t) => `${t.reaction}×${t.count}${t.callerReacted ? "*" : ""}`,
        );
      /** Every reaction on the message, as ListReactions lists them: "reaction:user". */
      const listed = async (w: World, groupId: string, seq: bigint, reaction?: string) =>
        (await store.listReactions(w.appId, groupId, Number(seq), reaction, { limit: 1000 })).map((r) => `${r.reaction}:${r.userId}`);

      it("an add appends ReactionChanged with the reaction's new count; re-adding changes nothing and appends nothing", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const { message } = await w.send("g", "alice");
        const at = w.now();
        const first = await react(w, "g", message.messageId, "bob", "👍", true, at);
        expectLogged([first.event!]);
        expect(first.event).toMatchObject({ appId: w.appId, groupId: "g" });
        expect(changed(first)).toMatchObject({ groupId: "g", messageId: message.messageId, seq: 1n, reaction: "👍", userId: "bob", added: true, count: 1 });
        const second = await react(w, "g", message.messageId, "carol", "👍");
        expect(changed(second)).toMatchObject({ userId: "carol", added: true, count: 2 });
        expect(second.event!.position).toBeGreaterThan(first.event!.position);
        expect(await store.latestPositions(w.appId)).toEqual(only(partitionOf("g"), second.event!.position));

        const latest = await store.latestPositions(w.appId);
        expect(await react(w, "g", message.messageId, "bob", "👍")).toEqual({});
        expect(await store.latestPositions(w.appId)).toEqual(latest);
        expect(await tallies(w, "g", message.seq, "bob")).toEqual(["👍×2*"]);
        expect(await tallies(w, "g", message.seq, "alice")).toEqual(["👍×2"]);
        // The first add's time stays: a repeated add does not move the reaction (RCT-3, RCT-6).
        const [bobs] = await store.listReactions(w.appId, "g", 1, "👍", { limit: 1 });
        expect(bobs).toEqual({ reaction: "👍", userId: "bob", createdAt: at });
        expect(await w.log("alice")).toEqual(["joined:alice", "joined:bob", "joined:carol", "msg:1", "react:1:+👍:bob=1", "react:1:+👍:carol=2"]);
      });

      it("a remove appends ReactionChanged with the count left; removing a reaction the user does not have appends nothing", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const { message } = await w.send("g", "alice");
        await react(w, "g", message.messageId, "bob", "👍");
        await react(w, "g", message.messageId, "carol", "👍");
        await react(w, "g", message.messageId, "bob", ":+1:");
        const removed = await react(w, "g", message.messageId, "bob", "👍", false);
        expectLogged([removed.event!]);
        expect(changed(removed)).toMatchObject({ groupId: "g", messageId: message.messageId, seq: 1n, reaction: "👍", userId: "bob", added: false, count: 1 });
        const latest = await store.latestPositions(w.appId);
        // Removing again, removing another user's (alice has none) or one nobody has: nothing.
        expect(await react(w, "g", message.messageId, "bob", "👍", false)).toEqual({});
        expect(await react(w, "g", message.messageId, "alice", "👍", false)).toEqual({});
        expect(await react(w, "g", message.messageId, "bob", "never", false)).toEqual({});
        expect(await store.latestPositions(w.appId)).toEqual(latest);
        expect(await tallies(w, "g", message.seq, "carol")).toEqual(["👍×1*", ":+1:×1"]);
        // The last user's remove leaves count 0, and the message no longer has the reaction.
        expect(changed(await react(w, "g", message.messageId, "carol", "👍", false))).toMatchObject({ added: false, count: 0 });
        expect(await tallies(w, "g", message.seq, "bob")).toEqual([":+1:×1*"]);
        expect(changed(await react(w, "g", message.messageId, "bob", ":+1:", false))).toMatchObject({ count: 0 });
        expect((await store.reactionCounts(w.appId, "g", [1], "bob")).has(1)).toBe(false);
        expect(await listed(w, "g", message.seq)).toEqual([]);
      });

      it("reactions change no unread count, last message, mention flag, read position, history or group activity (RCT-8)", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const { message } = await w.send("g", "alice", { mentions: ["bob"] });
        await w.send("g", "carol", { receivers: ["bob"], counts: true });
        const users = ["alice", "bob", "carol"];
        const before = await w.snapshot("g", users);
        await react(w, "g", message.messageId, "bob", "👍");
        await react(w, "g", message.messageId, "carol", "🎉");
        await react(w, "g", message.messageId, "bob", "👍", false);
        const after = await w.snapshot("g", users);
        expect({ ...after, latestPositions: undefined }).toEqual({ ...before, latestPositions: undefined });
        expect(after.latestPositions).not.toEqual(before.latestPositions);
      });

      it("an ordinary message's ReactionChanged reaches the members whose history holds it (all members in MEETING)", async () => {
        for (const type of [GroupType.WORK, GroupType.PUBLIC, GroupType.COMMUNITY, GroupType.MEETING]) {
          const name = GroupType[type];
          const w = await world();
          await w.group("g", ["alice", "bob"], type);
          const { message } = await w.send("g", "alice");
          await store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
          const { event } = await react(w, "g", message.messageId, "bob", "👍");
          const expected = type === GroupType.MEETING ? ["alice", "bob", "carol"] : ["alice", "bob"];
          expect(await w.audience(event!), name).toEqual(expected);
          expect((await w.log("alice")).at(-1), name).toBe("react:1:+👍:bob=1");
          expect((await w.log("bob")).at(-1), name).toBe("react:1:+👍:bob=1");
          expect(await w.log("carol"), name).toEqual(type === GroupType.MEETING ? ["joined:carol", "react:1:+👍:bob=1"] : ["joined:carol"]);
          expect(await w.log("dave"), name).toEqual([]);
          const replayed = (await readEvents(store, w.appId, "bob", origin(), 100)).find((e) => e.position === event!.position);
          expect(replayed?.event, name).toEqual(event!.event);
          const [rebuilt] = await store.readEventRange(w.appId, event!.partition, event!.position, event!.position);
          expect(rebuilt.event, name).toEqual(event!.event);
          expect(type === GroupType.MEETING ? rebuilt.audience : audienceOf(rebuilt), name).toEqual(
            type === GroupType.MEETING ? { kind: "group" } : ["alice", "bob"],
          );
        }
      });

      it("a targeted message's ReactionChanged reaches exactly its receivers and sender who are current members", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        const { message } = await w.send("g", "alice", { receivers: ["bob", "carol"] });
        const first = await react(w, "g", message.messageId, "carol", "👍");
        expect(audienceOf(first.event!)).toEqual(["alice", "bob", "carol"]);
        await store.removeMembers(w.appId, "g", ["carol"], "alice", w.now(), LIMITS);
        const second = await react(w, "g", message.messageId, "bob", "👍");
        expect(audienceOf(second.event!)).toEqual(["alice", "bob"]);
        expect(changed(second)).toMatchObject({ count: 2 }); // carol's reaction stays after she left (RCT-5)
        await store.removeMembers(w.appId, "g", ["alice"], "", w.now(), LIMITS);
        // A re-join outside MEETING starts above the message: carol is not in its audience again.
        await store.addMembers(w.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
        const third = await react(w, "g", message.messageId, "bob", "ok");
        expect(audienceOf(third.event!)).toEqual(["bob"]);
        const [rebuilt] = await store.readEventRange(w.appId, third.event!.partition, third.event!.position, third.event!.position);
        expect(rebuilt.audience).toEqual({ kind: "users", userIds: ["bob"] });

        const reactions = async (user: string) => (await w.log(user)).filter((e) => e.startsWith("react:"));
        expect(await reactions("bob")).toEqual(["react:1:+👍:carol=1", "react:1:+👍:bob=2", "react:1:+ok:bob=1"]);
        expect(await reactions("alice")).toEqual(["react:1:+👍:carol=1", "react:1:+👍:bob=2"]);
        expect(await reactions("carol")).toEqual(["react:1:+👍:carol=1"]);
        expect(await reactions("dave")).toEqual([]);
        expect(await w.log("dave")).not.toContain("msg:1");
        expect(await tallies(w, "g", message.seq, "bob")).toEqual(["👍×2*", "ok×1*"]);
      });

      it("in MEETING a re-joined receiver is in the audience again (no history floor)", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"], GroupType.MEETING);
        const { message } = await w.send("g", "alice", { receivers: ["bob"] });
        await store.removeMembers(w.appId, "g", ["bob"], "", w.now(), LIMITS);
        expect(audienceOf((await react(w, "g", message.messageId, "alice", "👍")).event!)).toEqual(["alice"]);
        await store.addMembers(w.appId, "g", [{ userId: "bob", role: MemberRole.MEMBER }], "", w.now(), LIMITS);
        const { event } = await react(w, "g", message.messageId, "alice", "🎉");
        expect(audienceOf(event!)).toEqual(["alice", "bob"]);
        expect((await w.log("bob")).filter((e) => e.startsWith("react:"))).toEqual(["react:1:+🎉:alice=1"]);
        expect((await w.log("carol")).filter((e) => e.startsWith("react:"))).toEqual([]);
      });

      it("a message has at most 20 distinct reactions: the 21st is reaction_limit and records nothing; one of the 20 is fine", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const { message } = await w.send("g", "alice");
        const twenty = Array.from({ length: 20 }, (_, i) => `r${i}`);
        for (const r of twenty) await react(w, "g", message.messageId, "alice", r);
        const users = ["alice", "bob", "carol"];
        const before = { snapshot: await w.snapshot("g", users), reactions: await listed(w, "g", message.seq) };
        await expectConflict(react(w, "g", message.messageId, "bob", "r20"), "reaction_limit");
        await expectConflict(react(w, "g", message.messageId, "alice", "👍"), "reaction_limit");
        expect({ snapshot: await w.snapshot("g", users), reactions: await listed(w, "g", message.seq) }).toEqual(before);
        // One of its 20, by another user, and a repeated add at the limit.
        expect(changed(await react(w, "g", message.messageId, "bob", "r7"))).toMatchObject({ reaction: "r7", count: 2 });
        expect(await react(w, "g", message.messageId, "alice", "r7")).toEqual({});
        // Removing from a message at the limit, even a reaction it does not have, is fine.
        expect(await react(w, "g", message.messageId, "bob", "r20", false)).toEqual({});
        // The limit is per message, and a reaction that goes frees its place.
        const other = await w.send("g", "bob");
        expect(changed(await react(w, "g", other.message.messageId, "bob", "r20"))).toMatchObject({ count: 1 });
        await react(w, "g", message.messageId, "alice", "r7", false); // bob's r7 stays: still 20
        await expectConflict(react(w, "g", message.messageId, "bob", "r20"), "reaction_limit");
        await react(w, "g", message.messageId, "alice", "r0", false);
        expect(changed(await react(w, "g", message.messageId, "bob", "r20"))).toMatchObject({ reaction: "r20", count: 1 });
        expect((await tallies(w, "g", message.seq, "carol")).length).toBe(20);
      });

      it("concurrent changes are serialised: never more than 20 distinct reactions, and each event's count is its own", async () => {
        const w = await world();
        await w.group("g", [...USERS]);
        const { message } = await w.send("g", "alice");
        const at = w.now();
        const outcomes = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => react(w, "g", message.messageId, "alice", `c${i}`, true, at)));
        expect(outcomes.filter((o) => o.status === "fulfilled").length).toBe(20);
        for (const o of outcomes) if (o.status === "rejected") expect((o.reason as StoreConflict).kind).toBe("reaction_limit");
        expect((await tallies(w, "g", message.seq, "bob")).length).toBe(20);

        const second = await w.send("g", "alice");
        const counts = await Promise.all(USERS.map((u) => react(w, "g", second.message.messageId, u, "👍", true, at)));
        expect(counts.map((r) => changed(r)?.count).sort()).toEqual([1, 2, 3, 4, 5]);
        const same = await Promise.all([0, 1, 2].map(() => react(w, "g", second.message.messageId, "alice", "🎉", true, at)));
        expect(same.filter((r) => r.event).length).toBe(1);
        expect(await tallies(w, "g", second.message.seq, "alice")).toEqual(["🎉×1*", "👍×5*"]);
      });

      it("a recalled message: changes are already_recalled and record nothing; the recall removes its reactions with no ReactionChanged", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const { message } = await w.send("g", "alice");
        const kept = await w.send("g", "bob");
        await react(w, "g", message.messageId, "bob", "👍");
        await react(w, "g", message.messageId, "carol", "❤️");
        await react(w, "g", kept.message.messageId, "carol", "👍");
        const { event } = await store.recallMessage(w.appId, "g", message.messageId, "alice", w.now());
        expect((await w.log("bob")).at(-1)).toBe("recall:1");
        expect(await store.latestPositions(w.appId)).toEqual(only(partitionOf("g"), event.position));
        expect((await store.reactionCounts(w.appId, "g", [1, 2], "carol")).has(1)).toBe(false);
        expect(await listed(w, "g", message.seq)).toEqual([]);
        // Another message's reactions are not touched.
        expect(await tallies(w, "g", kept.message.seq, "carol")).toEqual(["👍×1*"]);
        const users = ["alice", "bob", "carol"];
        const before = await w.snapshot("g", users);
        await expectConflict(react(w, "g", message.messageId, "bob", "👍"), "already_recalled");
        await expectConflict(react(w, "g", message.messageId, "bob", "👍", false), "already_recalled");
        await expectConflict(react(w, "g", message.messageId, "carol", "new"), "already_recalled");
        expect(await w.snapshot("g", users)).toEqual(before);
        expect(await listed(w, "g", message.seq)).toEqual([]);
      });

      it("a change to an unknown message or another group's is a conflict that records nothing", async () => {
        const w = await world();
        await w.group("g", ["alice"]);
        await w.group("h", ["alice"]);
        const { message } = await w.send("g", "alice");
        const latest = await store.latestPositions(w.appId);
        await expect(react(w, "h", message.messageId, "alice", "👍")).rejects.toBeInstanceOf(StoreConflict);
        await expect(react(w, "g", "msg_nope", "alice", "👍")).rejects.toBeInstanceOf(StoreConflict);
        await expect(react(w, "g", "msg_nope", "alice", "👍", false)).rejects.toBeInstanceOf(StoreConflict);
        const other = await world();
        await other.group("g", ["alice"]);
        await expect(react(other, "g", message.messageId, "alice", "👍")).rejects.toBeInstanceOf(StoreConflict);
        expect(await store.latestPositions(w.appId)).toEqual(latest);
        expect(await listed(w, "g", message.seq)).toEqual([]);
      });

      it("reactionCounts: by each reaction's oldest current use, ties in code point order; callerReacted per viewer; messages without any left out", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        const m1 = (await w.send("g", "alice")).message;
        const m2 = (await w.send("g", "alice")).message;
        const m3 = (await w.send("g", "alice")).message;
        // Three reactions added at the same moment. UTF-16 order is z < 👍 (D83D…) < \uFFFD; code
        // point order (the spec's) is z < \uFFFD < 👍 (U+1F44D).
        const t = w.now();
        await react(w, "g", m1.messageId, "alice", "👍", true, t);
        await react(w, "g", m1.messageId, "bob", "z", true, t);
        await react(w, "g", m1.messageId, "carol", "\uFFFD", true, t);
        await react(w, "g", m1.messageId, "bob", "a");
        await react(w, "g", m1.messageId, "carol", "👍");
        await react(w, "g", m2.messageId, "dave", "ok");
        expect(await tallies(w, "g", m1.seq, "carol")).toEqual(["z×1", "\uFFFD×1*", "👍×2*", "a×1"]);
        expect(await tallies(w, "g", m1.seq, "alice")).toEqual(["z×1", "\uFFFD×1", "👍×2*", "a×1"]);
        expect(await tallies(w, "g", m1.seq, "erin")).toEqual(["z×1", "\uFFFD×1", "👍×2", "a×1"]);
        // The oldest *current* use: once alice's 👍 goes, 👍 dates from carol's, after a.
        await react(w, "g", m1.messageId, "alice", "👍", false);
        expect(await tallies(w, "g", m1.seq, "carol")).toEqual(["z×1", "\uFFFD×1*", "a×1", "👍×1*"]);
        // One read for a page of history: each message's own, the ones with none left out.
        const all = await store.reactionCounts(w.appId, "g", [1, 2, 3, 99], "dave");
        expect([...all.keys()].sort()).toEqual([1, 2]);
        expect(all.get(2)).toEqual([{ reaction: "ok", count: 1, callerReacted: true }]);
        expect(all.get(1)?.map((x) => x.reaction)).toEqual(["z", "\uFFFD", "a", "👍"]);
        expect(await store.reactionCounts(w.appId, "g", [], "dave")).toEqual(new Map());
        expect((await store.reactionCounts(w.appId, "g", [Number(m3.seq)], "dave")).size).toBe(0);
        // Reactions are exact strings: no normalisation (RCT-2).
        await react(w, "g", m3.messageId, "alice", "\u00E9");
        await react(w, "g", m3.messageId, "bob", "e\u0301");
        expect((await tallies(w, "g", m3.seq, "bob")).length).toBe(2);
      });

      it("listReactions pages oldest first by (createdAt, reaction, userId) across ties, optionally one reaction's", async () => {
        const w = await world();
        await w.group("g", [...USERS]);
        const { message } = await w.send("g", "alice");
        const other = await w.send("g", "alice");
        const t1 = w.now();
        const t2 = w.now();
        await react(w, "g", message.messageId, "bob", "b", true, t1);
        await react(w, "g", message.messageId, "erin", "c", true, t2);
        await react(w, "g", message.messageId, "alice", "👍", true, t1);
        await react(w, "g", message.messageId, "carol", "a", true, t1);
        await react(w, "g", message.messageId, "dave", "a", true, t2);
        await react(w, "g", message.messageId, "bob", "\uFFFD", true, t1);
        await react(w, "g", message.messageId, "alice", "b", true, t1);
        await react(w, "g", message.messageId, "alice", "a", true, t1);
        await react(w, "g", other.message.messageId, "alice", "a", true, t1);
        const key = (r: { createdAt: number; reaction: string; userId: string }) => `${r.createdAt - t1}:${r.reaction}:${r.userId}`;
        const all = [
          "0:a:alice", "0:a:carol", "0:b:alice", "0:b:bob", "0:\uFFFD:bob", "0:👍:alice", // code point order within a tie
          "1000:a:dave", "1000:c:erin",
        ];
        const page = (reaction: string | undefined, after: ReactionRecord | undefined, limit: number) =>
          store.listReactions(w.appId, "g", Number(message.seq), reaction, { after, limit });
        expect((await page(undefined, undefined, 100)).map(key)).toEqual(all);
        // A keyset walk of pages of 3 (the service asks for one more than it shows) sees each once.
        const walked: string[] = [];
        let after: ReactionRecord | undefined;
        for (let i = 0; i < 10; i++) {
          const items = await page(undefined, after, 3);
          walked.push(...items.map(key));
          if (items.length < 3) break;
          after = items.at(-1);
        }
        expect(walked).toEqual(all);
        // After a key inside a tie: the rest of the tie, in order (the 👍 after \uFFFD included).
        expect((await page(undefined, { createdAt: t1, reaction: "b", userId: "alice" }, 3)).map(key)).toEqual(["0:b:bob", "0:\uFFFD:bob", "0:👍:alice"]);
        expect((await page(undefined, { createdAt: t1, reaction: "\uFFFD", userId: "bob" }, 100)).map(key)).toEqual(["0:👍:alice", "1000:a:dave", "1000:c:erin"]);
        // A reaction added during the walk comes after every key taken so far (its time is later).
        await react(w, "g", message.messageId, "dave", "b", true, w.now());
        expect((await page(undefined, { createdAt: t2, reaction: "a", userId: "dave" }, 100)).map(key)).toEqual(["1000:c:erin", "2000:b:dave"]);
        // One reaction's only, paged.
        expect((await page("a", undefined, 2)).map(key)).toEqual(["0:a:alice", "0:a:carol"]);
        expect((await page("a", { createdAt: t1, reaction: "a", userId: "carol" }, 2)).map(key)).toEqual(["1000:a:dave"]);
        expect((await page("👍", undefined, 10)).map(key)).toEqual(["0:👍:alice"]);
        expect(await page("nope", undefined, 10)).toEqual([]);
        // Another message's are its own.
        expect((await store.listReactions(w.appId, "g", Number(other.message.seq), undefined, { limit: 10 })).map(key)).toEqual(["0:a:alice"]);
      });
    });

    describe("read receipts (rules RCP-2 to RCP-6, ADM-11)", () => {
      const member = (userId: string) => [{ userId, role: MemberRole.MEMBER }];
      /** One user's acknowledgement of these seqs, at `at` (default: the next tick). */
      const ack = (w: World, groupId: string, userId: string, seqs: readonly (number | bigint)[], at = w.now()) =>
        store.acknowledge(w.appId, groupId, userId, seqs.map(Number), at);
      /** The message's readers who have (`read`) or have not acknowledged it, in one page. */
      const readers = async (w: World, groupId: string, seq: number | bigint, read: boolean) =>
        (await store.listReceipts(w.appId, groupId, Number(seq), read, { limit: 1000 })).map((r) => r.userId);
      const countsOf = async (w: World, groupId: string, seq: number | bigint) =>
        (await store.receiptCounts(w.appId, groupId, [Number(seq)])).get(Number(seq));
      /** The MessageRead events in the user's replay. */
      const readsIn = async (w: World, userId: string) => (await w.log(userId)).filter((e) => e.startsWith("readby:"));
      const described = (events: readonly StoredEvent[]) => events.map((e) => describeEvent(e.event));

      it("appendMessage fixes the readers: an ordinary message's are the members but the sender, a targeted one's its receivers; none without receipts or when not stored", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        const ordinary = (await w.send("g", "alice", { receipts: true })).message;
        expect(ordinary.readReceiptsRequested).toBe(true);
        const targeted = (await w.send("g", "bob", { receivers: ["alice", "carol"], receipts: true })).message;
        const plain = (await w.send("g", "alice")).message;
        const online = await w.send("g", "alice", { receipts: true, persist: false });
        expect(await readers(w, "g", ordinary.seq, false)).toEqual(["bob", "carol", "dave"]);
        expect(await readers(w, "g", targeted.seq, false)).toEqual(["alice", "carol"]);
        expect(await readers(w, "g", plain.seq, false)).toEqual([]);
        expect(await readers(w, "g", ordinary.seq, true)).toEqual([]);
        expect(await store.receiptCounts(w.appId, "g", [0, 1, 2, 3, 4, 99])).toEqual(
          new Map([
            [1, { read: 0, unread: 3 }],
            [2, { read: 0, unread: 2 }],
          ]),
        );
        expect(Number(online.message.seq)).toBe(0);

        // Fixed at send time: a later member is no reader, a reader who leaves stays one (RCP-2).
        await store.addMembers(w.appId, "g", member("erin"), "", w.now(), LIMITS);
        await store.removeMembers(w.appId, "g", ["carol"], "", w.now(), LIMITS);
        expect(await readers(w, "g", ordinary.seq, false)).toEqual(["bob", "carol", "dave"]);
        expect(await ack(w, "g", "erin", [ordinary.seq])).toEqual([]);
        expect(await countsOf(w, "g", ordinary.seq)).toEqual({ read: 0, unread: 3 });
        const later = (await w.send("g", "dave", { receipts: true })).message;
        expect(await readers(w, "g", later.seq, false)).toEqual(["alice", "bob", "erin"]);
        // Another group's and another app's messages with the same seq are their own.
        await w.group("h", ["bob", "carol"]);
        await w.send("h", "bob", { receipts: true });
        expect(await readers(w, "h", 1, false)).toEqual(["carol"]);
        expect(await readers(w, "g", 1, false)).toEqual(["bob", "carol", "dave"]);
        expect(await store.receiptCounts((await world()).appId, "g", [1])).toEqual(new Map());
      });

      it("acknowledge records once per reader; MessageRead with the counts after it goes to the sender alone; anything else changes nothing", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        const m = (await w.send("g", "alice", { receipts: true })).message; // 1
        await w.send("g", "alice"); // 2: no receipts asked
        await w.send("g", "alice", { receivers: ["bob"], receipts: true }); // 3
        const at = w.now();
        const first = await ack(w, "g", "bob", [1], at);
        expectLogged(first);
        expect(described(first)).toEqual(["readby:1:bob=1/2"]);
        expect(first[0]).toMatchObject({ appId: w.appId, groupId: "g", audience: { kind: "user", userId: "alice" } });
        const p = first[0].event.payload;
        expect(p.case === "messageRead" && p.value).toMatchObject({
          groupId: "g",
          messageId: m.messageId,
          seq: 1n,
          readerId: "bob",
          counts: { readCount: 1, unreadCount: 2 },
        });
        expect(await store.latestPositions(w.appId)).toEqual(only(partitionOf("g"), first[0].position));
        expect(await store.listReceipts(w.appId, "g", 1, true, { limit: 10 })).toEqual([{ userId: "bob", readAt: at }]);

        // Again; the sender's own; a non-reader; a message that asked for none; unknown seqs: nothing.
        const latest = await store.latestPositions(w.appId);
        expect(await ack(w, "g", "bob", [1])).toEqual([]);
        expect(await ack(w, "g", "alice", [1, 2, 3])).toEqual([]);
        expect(await ack(w, "g", "carol", [2, 3, 0, 99])).toEqual([]);
        expect(await ack(w, "h", "carol", [1])).toEqual([]);
        expect(await store.latestPositions(w.appId)).toEqual(latest);
        expect(await store.listReceipts(w.appId, "g", 1, true, { limit: 10 })).toEqual([{ userId: "bob", readAt: at }]);
        expect(await countsOf(w, "g", 3)).toEqual({ read: 0, unread: 1 });

        // Several seqs in one call, with a repeat, one that asked for none and an unknown one.
        await w.send("g", "alice", { receipts: true }); // 4
        const many = await ack(w, "g", "carol", [1, 2, 4, 4, 99]);
        expectLogged(many);
        expect(described(many)).toEqual(["readby:1:carol=2/1", "readby:4:carol=1/2"]);
        expect(many.map((e) => e.audience)).toEqual([
          { kind: "user", userId: "alice" },
          { kind: "user", userId: "alice" },
        ]);
        expect(described(await ack(w, "g", "dave", [1]))).toEqual(["readby:1:dave=3/0"]);
        expect(described(await ack(w, "g", "bob", [3]))).toEqual(["readby:3:bob=1/0"]);

        // Replay (RCP-5): the sender's alone, and as appended.
        expect(await readsIn(w, "alice")).toEqual(["readby:1:bob=1/2", "readby:1:carol=2/1", "readby:4:carol=1/2", "readby:1:dave=3/0", "readby:3:bob=1/0"]);
        for (const u of ["bob", "carol", "dave", "erin"]) expect(await readsIn(w, u), u).toEqual([]);
        const replayed = (await readEvents(store, w.appId, "alice", origin(), 100)).find((e) => e.position === first[0].position);
        expect(replayed?.event).toEqual(first[0].event);
        const [rebuilt] = await store.readEventRange(w.appId, first[0].partition, first[0].position, first[0].position);
        expect(rebuilt.audience).toEqual({ kind: "user", userId: "alice" });
        expect(rebuilt.event).toEqual(first[0].event);
      });

      it("acknowledgements change no unread count, last message, mention flag, read position or history (RCP-6); a recall keeps them", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol"]);
        const m = (await w.send("g", "alice", { receipts: true, mentions: ["bob"] })).message;
        await w.send("g", "carol", { receivers: ["bob"], receipts: true, counts: true });
        const users = ["alice", "bob", "carol"];
        const before = await w.snapshot("g", users);
        await ack(w, "g", "bob", [1, 2]);
        await ack(w, "g", "carol", [1]);
        const after = await w.snapshot("g", users);
        expect({ ...after, latestPositions: undefined }).toEqual({ ...before, latestPositions: undefined });
        expect(after.latestPositions).not.toEqual(before.latestPositions);
        await store.recallMessage(w.appId, "g", m.messageId, "alice", w.now());
        expect(await countsOf(w, "g", 1)).toEqual({ read: 2, unread: 0 });
        expect(await readers(w, "g", 1, true)).toEqual(["bob", "carol"]);
      });

      it("no MessageRead while the sender is no member or is below their history floor; the acknowledgement is recorded all the same", async () => {
        for (const type of [GroupType.WORK, GroupType.MEETING]) {
          const name = GroupType[type];
          const w = await world();
          await w.group("g", ["dave", "alice", "bob", "carol", "erin"], type);
          await w.send("g", "alice", { receipts: true });
          expect(described(await ack(w, "g", "erin", [1])), name).toEqual(["readby:1:erin=1/3"]);
          await store.removeMembers(w.appId, "g", ["alice"], "", w.now(), LIMITS);
          expect(await ack(w, "g", "bob", [1]), name).toEqual([]);
          expect(await countsOf(w, "g", 1), name).toEqual({ read: 2, unread: 2 });
          // A re-join: outside MEETING the message lies below alice's new floor (VIS-1).
          await store.addMembers(w.appId, "g", member("alice"), "", w.now(), LIMITS);
          const rejoined = await ack(w, "g", "carol", [1]);
          const want = type === GroupType.MEETING ? ["readby:1:carol=3/1"] : [];
          expect(described(rejoined), name).toEqual(want);
          expect(await countsOf(w, "g", 1), name).toEqual({ read: 3, unread: 1 });
          // Replay as live: the one from before she left stays hers, none from while she could not see it.
          expect(await readsIn(w, "alice"), name).toEqual(["readby:1:erin=1/3", ...want]);
          expect(await readers(w, "g", 1, true), name).toEqual(["bob", "carol", "erin"]);
        }
      });

      it("receiptCounts and listReceipts: readers by user ID in pages, read with their time or unread", async () => {
        const w = await world();
        await w.group("g", [...USERS]);
        await w.send("g", "alice", { receipts: true }); // readers bob, carol, dave, erin
        await w.send("g", "bob", { receipts: true }); // readers alice, carol, dave, erin
        const t1 = w.now();
        await ack(w, "g", "erin", [1], t1);
        const t2 = w.now();
        await ack(w, "g", "carol", [1, 2], t2);
        const page = (seq: number, read: boolean, after: string | undefined, limit: number) =>
          store.listReceipts(w.appId, "g", seq, read, { after, limit });
        expect(await page(1, true, undefined, 10)).toEqual([
          { userId: "carol", readAt: t2 },
          { userId: "erin", readAt: t1 },
        ]);
        const unread = await page(1, false, undefined, 10);
        expect(unread.map((r) => r.userId)).toEqual(["bob", "dave"]);
        for (const r of unread) expect(r.readAt).toBeUndefined();
        // Keyset pages (the service asks for one more than it shows).
        expect((await page(1, false, undefined, 1)).map((r) => r.userId)).toEqual(["bob"]);
        expect((await page(1, false, "bob", 1)).map((r) => r.userId)).toEqual(["dave"]);
        expect(await page(1, false, "dave", 1)).toEqual([]);
        expect((await page(1, true, "carol", 5)).map((r) => r.userId)).toEqual(["erin"]);
        expect((await page(1, true, "a", 1)).map((r) => r.userId)).toEqual(["carol"]);
        expect((await page(2, false, undefined, 10)).map((r) => r.userId)).toEqual(["alice", "dave", "erin"]);
        expect(await store.receiptCounts(w.appId, "g", [1, 2])).toEqual(
          new Map([
            [1, { read: 2, unread: 2 }],
            [2, { read: 1, unread: 3 }],
          ]),
        );
        expect(await store.receiptCounts(w.appId, "g", [])).toEqual(new Map());
        expect(await page(99, false, undefined, 10)).toEqual([]);
      });

      it("deleteUser removes the user's reactions and receipt rows and nothing of other users'; no MessageRead comes of it", async () => {
        const w = await world();
        await w.group("g", ["alice", "bob", "carol", "dave"]);
        const m1 = (await w.send("g", "alice", { receipts: true })).message; // readers bob, carol, dave
        const m2 = (await w.send("g", "bob", { receipts: true })).message; // readers alice, carol, dave
        await ack(w, "g", "bob", [1]);
        await ack(w, "g", "carol", [1, 2]);
        const react = (messageId: string, userId: string, reaction: string) =>
          store.changeReaction(w.appId, "g", messageId, { userId, reaction, added: true }, w.now());
        await react(m1.messageId, "bob", "👍");
        await react(m1.messageId, "carol", "👍");
        await react(m1.messageId, "bob", "🎉");
        await react(m2.messageId, "bob", "ok");
        await react(m2.messageId, "dave", "ok");
        const aliceReads = await readsIn(w, "alice");
        const left = await store.deleteUser(w.appId, "bob", w.now(), () => LIMITS);
        expect(left?.map((e) => describeEvent(e.event))).toEqual(["left:bob"]);
        expect(await readsIn(w, "alice")).toEqual(aliceReads);

        expect(await readers(w, "g", 1, true)).toEqual(["carol"]);
        expect(await readers(w, "g", 1, false)).toEqual(["dave"]);
        // bob's own message keeps its readers: they are other users.
        expect(await countsOf(w, "g", 2)).toEqual({ read: 1, unread: 2 });
        expect(await readers(w, "g", 2, false)).toEqual(["alice", "dave"]);
        const tallies = await store.reactionCounts(w.appId, "g", [1, 2], "carol");
        expect(tallies.get(1)).toEqual([{ reaction: "👍", count: 1, callerReacted: true }]);
        expect(tallies.get(2)).toEqual([{ reaction: "ok", count: 1, callerReacted: false }]);
        expect((await store.listReactions(w.appId, "g", 1, undefined, { limit: 10 })).map((r) => `${r.reaction}:${r.userId}`)).toEqual(["👍:carol"]);
        // A user re-imported under the same ID is nobody's reader (ADM-11).
        await store.upsertUsers(w.appId, [{ userId: "bob", nickname: "bob again" }]);
        await store.addMembers(w.appId, "g", member("bob"), "", w.now(), LIMITS);
        expect(await ack(w, "g", "bob", [1])).toEqual([]);
        expect(await countsOf(w, "g", 1)).toEqual({ read: 1, unread: 1 });
      });

      it("concurrent acknowledgements are serialised: each MessageRead's counts are its own, and a repeated one records once", async () => {
        for (let round = 0; round < 3; round++) {
          const w = await world();
          await w.group("g", [...USERS]);
          await w.send("g", "alice", { receipts: true });
          await w.send("g", "alice", { receipts: true });
          const at = w.now();
          const events = (await Promise.all(["bob", "carol", "dave", "erin"].map((u) => ack(w, "g", u, [1, 2], at)))).flat();
          const reads = (seq: number) =>
            events
              .map((e) => e.event.payload)
              .flatMap((p) => (p.case === "messageRead" && p.value.seq === BigInt(seq) ? [`${p.value.counts?.readCount}/${p.value.counts?.unreadCount}`] : []))
              .sort();
          expect({ round, one: reads(1), two: reads(2) }).toEqual({ round, one: ["1/3", "2/2", "3/1", "4/0"], two: ["1/3", "2/2", "3/1", "4/0"] });
          await w.send("g", "bob", { receipts: true });
          const same = (await Promise.all([0, 1, 2].map(() => ack(w, "g", "carol", [3], at)))).flat();
          expect({ round, same: described(same) }).toEqual({ round, same: ["readby:3:carol=1/3"] });
        }
      });

      it("a send with receipts racing AddMembers and RemoveMembers: its readers are exactly the members when it was stored", async () => {
        for (let round = 0; round < 4; round++) {
          const w = await world();
          await w.group("g", ["alice", "bob", "carol"]);
          const send = () => w.send("g", "alice", { receipts: true });
          const change = (op: "add" | "remove", userId: string) =>
            op === "add"
              ? store.addMembers(w.appId, "g", member(userId), "", w.now(), LIMITS)
              : store.removeMembers(w.appId, "g", [userId], "", w.now(), LIMITS);
          const sends: Promise<unknown>[] = [];
          const changes: Promise<unknown>[] = [];
          const plan: ["add" | "remove", string][] = [["add", "dave"], ["remove", "bob"], ["add", "erin"], ["remove", "carol"], ["add", "bob"]];
          // Rotate so each round interleaves the membership changes with the sends differently.
          for (let i = 0; i < 8; i++) {
            sends.push(send());
            const c = plan[(i + round) % 8];
            // bob's re-join may come before his removal and conflict: the logs below say what happened.
            if (c) changes.push(change(...c).catch((err: unknown) => expect(err).toBeInstanceOf(StoreConflict)));
          }
          await Promise.all([...sends, ...changes]);
          const logs = new Map(await Promise.all(USERS.map(async (u) => [u, await w.log(u)] as const)));
          for (let seq = 1; seq <= 8; seq++) {
            // The members whose spans hold the message's MessageReceived (WORK: every member then).
            const want = USERS.filter((u) => u !== "alice" && logs.get(u)!.includes(`msg:${seq}`));
            expect({ round, seq, readers: await readers(w, "g", seq, false) }).toEqual({ round, seq, readers: want });
          }
        }
      });
    });

    describe("the rules module is the oracle (randomized)", () => {
      storeAgreesWithRules(() => store);
    });

    describe("partitions of the event log", () => {
      storePartitionsContract(() => store);
    });


    describe("event retention (rule EVT-10)", () => {
      it("pruneEvents deletes older events of every app and raises the floor of each partition it pruned; later events still replay", async () => {
        // Worlds whose clocks run far behind every other case's, so the prune touches only them.
        const a = await World.create(store, Plan.ULTIMATE, 1_000_000_000_000);
        const b = await World.create(store, Plan.ULTIMATE, 1_000_000_000_000);
        const untouched = await world();
        await untouched.group("g", ["alice"]);
        const part = partitionOf("g");
        expect(await store.eventFloors(a.appId)).toEqual(origin());
        await a.group("g", ["alice", "bob", "carol"]);
        await a.send("g", "alice");
        await store.removeMembers(a.appId, "g", ["carol"], "", a.now(), LIMITS);
        await store.addMembers(a.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "", a.now(), LIMITS);
        const { events: bEvents } = await b.group("g", ["alice"]);
        const aLast = (await store.latestPositions(a.appId))[part];
        const cutoff = Math.max(a.now(), b.now());
        a.clock = b.clock = cutoff;
        const kept = await a.send("g", "bob");
        await a.send("g", "carol", { receivers: ["alice"] });

        // Positions start at 1 in each partition: aLast events of a, all of b's.
        expect(await store.pruneEvents(cutoff)).toBe(aLast + bEvents.length);
        expect(await store.eventFloors(a.appId)).toEqual(only(part, aLast));
        expect(await store.eventFloors(b.appId)).toEqual(only(part, bEvents[0].position));
        expect(await store.eventFloors(untouched.appId)).toEqual(origin());
        expect(await untouched.log("alice")).toEqual(["joined:alice"]);
        // From the start: what is left of bob's log (msg:3 is targeted to alice).
        expect((await readEvents(store, a.appId, "bob", origin(), 100)).map((e) => e.position)).toEqual([kept.event.position]);
        expect((await readEvents(store, a.appId, "alice", only(part, aLast), 100)).map((e) => describeEvent(e.event))).toEqual(["msg:2", "msg:3"]);
        expect((await readEvents(store, a.appId, "carol", only(part, aLast), 100)).map((e) => describeEvent(e.event))).toEqual(["msg:2", "msg:3"]);
        expect(await store.readEventRange(a.appId, part, 1, aLast)).toEqual([]);
        // History is not event retention: the messages stay.
        expect((await a.page("g", "alice", {})).seqs).toEqual([1, 2, 3]);
        // Idempotent: nothing older is left; the floor does not move back.
        expect(await store.pruneEvents(cutoff)).toBe(0);
        expect(await store.eventFloors(a.appId)).toEqual(only(part, aLast));
        expect(await store.eventFloors(`app_${randomUUID()}`)).toEqual(origin());
      });
    });

    describe("cursors (rules EVT-4, EVT-11)", () => {
      it("stored events carry no cursor; a cursor of the app's latest positions parses back, for its own app only", async () => {
        const w = await world();
        const other = await world();
        await w.group("g", ["alice"]);
        await w.group("g6", ["alice"]); // partition 0, where 0.2 cursors point
        expect(partitionOf("g6")).toBe(0);
        const { event } = await w.send("g", "alice");
        // A cursor is a reader's place in the whole log: the Subscribe paths set it per delivery.
        expect(event.event.cursor).toBe("");
        const latest = await store.latestPositions(w.appId);
        expect(latest).toEqual(Object.assign(origin(), { 0: 1, [event.partition]: event.position }));
        const cursor = cursorOf(w.appId, latest);
        expect(cursor).toMatch(/^p\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]+$/);
        expect(parseCursor(w.appId, cursor, latest)).toEqual(latest);
        const invalid = (appId: string, c: string, at: readonly number[] = latest) => {
          try {
            parseCursor(appId, c, at);
            return "accepted";
          } catch (err) {
            return ConnectError.from(err).findDetails(ErrorInfoSchema)[0]?.reason;
          }
        };
        expect(invalid(other.appId, cursor, latest.map(() => 1_000))).toBe("CURSOR_INVALID");
        // Ahead of the log in one partition only is ahead.
        const behind = latest.slice();
        behind[event.partition]--;
        expect(invalid(w.appId, cursor, behind)).toBe("CURSOR_INVALID");
        expect(invalid(w.appId, `${event.position}`)).toBe("CURSOR_INVALID");
        expect(invalid(w.appId, `e${event.position}`)).toBe("CURSOR_INVALID");
        expect(invalid(w.appId, `0${cursor}`)).toBe("CURSOR_INVALID");
        expect(invalid(w.appId, `${cursor}${"A".repeat(300)}`)).toBe("CURSOR_INVALID");
        expect(invalid(w.appId, cursorOf(w.appId, origin()))).toBe("accepted");
        // A 0.2 cursor, "<eventId>.<apptag>", is that position in partition 0.
        expect(parseCursor(w.appId, `1.${appTag(w.appId)}`, latest)).toEqual(only(0, 1));
        expect(invalid(w.appId, `2.${appTag(w.appId)}`)).toBe("CURSOR_INVALID");
        expect(invalid(w.appId, `${"9".repeat(300)}.${appTag(w.appId)}`)).toBe("CURSOR_INVALID");
      });
    });
  });
}

// ---- helpers ----

interface SendOptions {
  text?: string;
  receivers?: string[];
  /** countsAsUnread as the service computes it; default: ordinary yes, targeted no. */
  counts?: boolean;
  mentions?: string[];
  mentionAll?: boolean;
  excludeFromLast?: boolean;
  clientMessageId?: string;
  persist?: boolean;
  customData?: boolean;
  dedupeSince?: number;
  /** Asks for read receipts (RCP-1; the service refuses it for the system sender). */
  receipts?: boolean;
}

/** The state a rejected operation must leave untouched. */
interface Snapshot {
  latestPositions: number[];
  group: unknown;
  members: unknown;
  conversations: Record<string, ConversationCounters | undefined>;
  history: Record<string, unknown>;
  joinRequests: unknown;
}

/** One app of the store under test, with its users, and a clock that moves 1 s per operation. */
class World {
  clock = 1_700_000_000_000;
  private constructor(
    readonly store: Store,
    readonly appId: string,
  ) {}

  static async create(store: Store, plan: Plan, clock = 1_700_000_000_000): Promise<World> {
    const w = new World(store, `app_${randomUUID()}`);
    w.clock = clock;
    await store.createApp({ appId: w.appId, name: "contract", plan, secret: "c2VjcmV0", createdAt: w.clock });
    await store.upsertUsers(w.appId, USERS.map((userId) => ({ userId, nickname: userId })));
    return w;
  }

  now(): number {
    return (this.clock += 1000);
  }

  /** Creates a group; the first member is its owner. */
  group(groupId: string, members: readonly string[], type = GroupType.WORK, limits = LIMITS) {
    return this.store.createGroup(
      { appId: this.appId, groupId, type, name: groupId, ownerId: members[0], createdAt: this.now() },
      members.map((userId, i) => ({ userId, role: i === 0 ? MemberRole.OWNER : MemberRole.MEMBER })),
      limits,
    );
  }

  send(groupId: string, senderId: string, o: SendOptions = {}) {
    const receivers = o.receivers ?? [];
    const message = create(MessageSchema, {
      elements: [{ element: { case: "text", value: { text: o.text ?? `from ${senderId || "system"}` } } }],
      receiverIds: receivers,
      mentionedUserIds: o.mentions ?? [],
      mentionAll: o.mentionAll ?? false,
      excludeFromUnread: o.counts === false && receivers.length === 0,
      excludeFromLastMessage: o.excludeFromLast ?? false,
      countAsUnreadForReceivers: receivers.length > 0 && o.counts === true,
      clientMessageId: o.clientMessageId ?? "",
      customData: o.customData ? new Uint8Array([1, 2, 3]) : new Uint8Array(0),
      readReceiptsRequested: o.receipts ?? false,
    });
    const persist = o.persist ?? true;
    return this.store.appendMessage({
      appId: this.appId,
      groupId,
      senderId,
      message,
      persist,
      countsAsUnread: persist && (o.counts ?? receivers.length === 0),
      now: this.now(),
      dedupeSince: o.dedupeSince,
    });
  }

  conv(groupId: string, userId: string) {
    return this.store.conversation(this.appId, groupId, userId);
  }

  private async perMember<T>(groupId: string, f: (c: ConversationCounters) => T): Promise<Record<string, T>> {
    const out: Record<string, T> = {};
    for (const m of await this.store.listMembers(this.appId, groupId)) {
      const c = await this.conv(groupId, m.userId);
      if (c) out[m.userId] = f(c);
    }
    return out;
  }

  unread(groupId: string) {
    return this.perMember(groupId, (c) => c.unreadCount);
  }

  lastTexts(groupId: string) {
    return this.perMember(groupId, (c) => {
      const el = c.lastMessage?.elements[0]?.element;
      return el?.case === "text" ? el.value.text : undefined;
    });
  }

  mentions(groupId: string) {
    return this.perMember(groupId, (c) =>
      c.mentionedMe && c.mentionedAll ? "me+all" : c.mentionedMe ? "me" : c.mentionedAll ? "all" : "-",
    );
  }

  /** The users an event's audience resolves to ("group": the current members), sorted. */
  async audience(e: StoredEvent): Promise<string[]> {
    const a = e.audience;
    const users =
      a.kind === "group"
        ? (await this.store.listMembers(this.appId, e.groupId)).map((m) => m.userId)
        : a.kind === "users"
          ? [...a.userIds]
          : [a.userId];
    return users.sort();
  }

  async roles(groupId: string): Promise<Record<string, MemberRole>> {
    return Object.fromEntries((await this.store.listMembers(this.appId, groupId)).map((m) => [m.userId, m.role]));
  }

  async page(groupId: string, viewerId: string, q: Partial<ListMessagesQuery>) {
    // An after_seq anchor walks forward, as the service asks.
    const direction = q.direction ?? (q.afterSeq ? "forward" : "backward");
    const { messages, hasMore } = await this.store.listMessages(this.appId, groupId, { ...query(viewerId), direction, ...q });
    return { seqs: messages.map((m) => Number(m.seq)), hasMore };
  }

  /** The user's event log, described compactly (see describeEvent). */
  async log(userId: string): Promise<string[]> {
    return (await readEvents(this.store, this.appId, userId, origin(), 10_000)).map((e) => describeEvent(e.event));
  }

  async snapshot(groupId: string, users: readonly string[]): Promise<Snapshot> {
    const conversations: Snapshot["conversations"] = {};
    const history: Snapshot["history"] = {};
    for (const u of users) {
      conversations[u] = await this.conv(groupId, u);
      history[u] = await this.store.listMessages(this.appId, groupId, { ...query(u), limit: 100 });
    }
    return {
      latestPositions: await this.store.latestPositions(this.appId),
      group: await this.store.getGroup(this.appId, groupId),
      members: await this.store.listMembers(this.appId, groupId),
      conversations,
      history,
      joinRequests: await this.store.listJoinRequests(this.appId, groupId),
    };
  }
}

function query(viewerId: string): ListMessagesQuery {
  return { viewerId, floorSeq: 0, direction: "backward", beforeSeq: 0, afterSeq: 0, limit: 20 };
}

/** A ConversationUpdated event, as ConversationService builds it for markRead. */
function conversationUpdated(c: ConversationCounters): Event {
  return create(EventSchema, {
    payload: {
      case: "conversationUpdated",
      value: {
        conversation: create(ConversationSchema, {
          readSeq: BigInt(c.readSeq),
          unreadCount: c.unreadCount,
          lastMessage: c.lastMessage,
          mentionedMe: c.mentionedMe,
          mentionedAll: c.mentionedAll,
        }),
      },
    },
  });
}

/**
 * "msg:<seq>", "recall:<seq>", "joined:<user>", "left:<user>", "dismissed", "read:<readSeq>",
 * "react:<seq>:<+ or -><reaction>:<user>=<count>", "readby:<seq>:<reader>=<read>/<unread>".
 */
function describeEvent(e: Event): string {
  const p = e.payload;
  switch (p.case) {
    case "messageReceived":
      return `msg:${p.value.message?.seq}`;
    case "messageRecalled":
      return `recall:${p.value.seq}`;
    case "memberJoined":
      return `joined:${p.value.member?.userId}`;
    case "memberLeft":
      return `left:${p.value.userId}`;
    case "groupDismissed":
      return "dismissed";
    case "conversationUpdated":
      return `read:${p.value.conversation?.readSeq}`;
    case "reactionChanged":
      return `react:${p.value.seq}:${p.value.added ? "+" : "-"}${p.value.reaction}:${p.value.userId}=${p.value.count}`;
    case "messageRead":
      return `readby:${p.value.seq}:${p.value.readerId}=${p.value.counts?.readCount}/${p.value.counts?.unreadCount}`;
    default:
      return "unknown";
  }
}

function audienceOf(e: StoredEvent): string[] {
  return e.audience.kind === "users" ? [...e.audience.userIds].sort() : [e.audience.kind];
}

/**
 * Stored events sit in their group's partition, at positive positions increasing in the order
 * given within each partition, and carry their time but no cursor (Subscribe sets cursors).
 */
function expectLogged(events: readonly Pick<StoredEvent, "partition" | "position" | "groupId" | "event">[]): void {
  for (const e of events) {
    expect(e.partition, `partition of ${e.groupId}`).toBe(partitionOf(e.groupId));
    expect(e.position).toBeGreaterThan(0);
    expect(e.event.time, "stored events carry their time").toBeDefined();
    expect(e.event.cursor, "stored events carry no cursor").toBe("");
  }
  for (let p = 0; p < PARTITIONS; p++) {
    const positions = events.filter((e) => e.partition === p).map((e) => e.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(new Set(positions).size).toBe(positions.length);
  }
}


async function expectConflict(p: Promise<unknown>, kind: StoreConflict["kind"], ids?: readonly string[]): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected StoreConflict(${kind})`).toBeInstanceOf(StoreConflict);
  expect((err as StoreConflict).kind).toBe(kind);
  if (ids) expect([...(err as StoreConflict).ids].sort()).toEqual([...ids].sort());
}
