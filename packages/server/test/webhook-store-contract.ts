// The WebhookStore part of the Store contract (store/webhooks.ts, spec section 16): webhook
// configurations, the durable outbox written with its events (HOOK-6, HOOK-7, HOOK-13), leases,
// retries, dead letters (HOOK-8, HOOK-9), event viewers and presence. Called by each store's
// test file next to storeContract. Claims see every app's deliveries (the store is shared by the
// cases), so each case looks only at its own app's.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary } from "@bufbuild/protobuf";
import { EventSchema, GroupType, MemberRole, MessageSchema } from "@narrowcast/gen";
import { Plan, WebhookEventType, WebhookSchema } from "@narrowcast/gen/admin";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { GroupLimits, Store } from "../src/store/types.js";
import type { ClaimedDelivery, WebhookRecord } from "../src/store/webhooks.js";
import { deliveryIdOf } from "../src/store/webhook-rows.js";

const LIMITS: GroupLimits = { maxMembers: 1000, memberEventsMaxMembers: 0 };
const USERS = ["alice", "bob", "carol", "dave", "erin"];
const LEASE = 60_000;
const T = WebhookEventType;
const ALL_TYPES = [T.MESSAGE_SENT, T.MESSAGE_RECALLED, T.MEMBER_JOINED, T.MEMBER_LEFT, T.GROUP_DISMISSED, T.PUSH_REQUESTED];

export function webhookStoreContract(name: string, makeStore: () => Promise<Store>): void {
  describe(`WebhookStore contract: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await makeStore();
    });
    afterAll(async () => {
      await store?.close();
    });
    const app = (clock?: number) => HookApp.create(store, clock);

    describe("configuration", () => {
      it("putWebhook and getWebhook round-trip, without the config's output-only fields; put replaces; delete removes once", async () => {
        const a = await app();
        expect(await store.getWebhook(a.appId)).toBeUndefined();
        const record: WebhookRecord = {
          appId: a.appId,
          config: create(WebhookSchema, {
            url: "https://backend.example/hook",
            eventTypes: [T.MESSAGE_SENT, T.PUSH_REQUESTED],
            pushUrl: "https://backend.example/push",
            maxConcurrentDeliveries: 4,
            secret: "whsec_ignored",
            previousSecretExpireTime: timestampFromMs(5),
          }),
          secret: "whsec_c2VjcmV0",
          previousSecret: "whsec_b2xk",
          previousSecretExpiresAt: 1_700_000_100_000,
        };
        await store.putWebhook(record);
        const stored = await store.getWebhook(a.appId);
        expect(stored).toEqual({
          ...record,
          config: create(WebhookSchema, { ...record.config, secret: "", previousSecretExpireTime: undefined }),
        });
        const replaced: WebhookRecord = { appId: a.appId, config: a.config([T.MEMBER_LEFT]), secret: "whsec_bmV3" };
        await store.putWebhook(replaced);
        expect(await store.getWebhook(a.appId)).toEqual(replaced);
        expect(await store.getWebhook((await app()).appId)).toBeUndefined();
        expect(await store.deleteWebhook(a.appId)).toBe(true);
        expect(await store.getWebhook(a.appId)).toBeUndefined();
        expect(await store.deleteWebhook(a.appId)).toBe(false);
      });

      it("sendContext.beforeSend is the app's webhook only when it has a before_send_url", async () => {
        const a = await app();
        await a.group("g", ["alice", "bob"]);
        const context = () => store.sendContext(a.appId, "g", "alice", { clientMessageId: "", since: 0, userIds: [] });
        expect((await context()).beforeSend).toBeUndefined();
        await a.hook([T.MESSAGE_SENT]);
        expect((await context()).beforeSend).toBeUndefined();
        const record: WebhookRecord = {
          appId: a.appId,
          config: create(WebhookSchema, { url: "https://backend.example/hook", beforeSendUrl: "https://backend.example/before" }),
          secret: "whsec_c2VjcmV0",
        };
        await store.putWebhook(record);
        expect((await context()).beforeSend).toEqual(record);
        // …with the rest of the context as before; also for a group that does not exist.
        expect((await context()).sender?.userId).toBe("alice");
        expect((await store.sendContext(a.appId, "nope", "alice", { clientMessageId: "", since: 0, userIds: [] })).beforeSend).toEqual(record);
      });
    });

    describe("the outbox (HOOK-6, HOOK-7, HOOK-13)", () => {
      it("records a delivery per committed event of a listed type, only after putWebhook; online-only messages and unlisted types get none", async () => {
        const a = await app();
        await a.group("g", ["alice", "bob", "carol"]);
        await a.send("g", "alice"); // before the webhook
        expect(await a.claimOwn()).toEqual([]);

        await a.hook([T.MESSAGE_SENT, T.MEMBER_LEFT]);
        const ordinary = await a.send("g", "alice");
        const targeted = await a.send("g", "alice", { receivers: ["bob"] });
        const system = await a.send("g", "");
        await a.send("g", "alice", { persist: false });
        await store.recallMessage(a.appId, "g", ordinary.message.messageId, "alice", a.now());
        await store.addMembers(a.appId, "g", [{ userId: "dave", role: MemberRole.MEMBER }], "", a.now(), LIMITS);
        const [left] = await store.removeMembers(a.appId, "g", ["carol"], "", a.now(), LIMITS);
        await store.markRead(a.appId, "g", "bob", 1, a.now(), () => create(EventSchema, {}));
        await store.dismissGroup(a.appId, "g", a.now());

        const claimed = await a.claimOwn();
        expect(claimed.map(summary)).toEqual(
          [
            ["message.sent", "event", ordinary.event.position, "messageReceived"],
            ["message.sent", "event", targeted.event.position, "messageReceived"],
            ["message.sent", "event", system.event.position, "messageReceived"],
            ["member.left", "event", left.position, "memberLeft"],
          ].sort(byPosition),
        );
        for (const d of claimed) {
          expect(d).toMatchObject({ appId: a.appId, attempts: 0, webhook: await store.getWebhook(a.appId) });
          expect(d.body).toBeUndefined();
          expect(d.event?.groupId).toBe("g");
        }
        // The logged event, as stored: the ordinary message's MessageReceived names it.
        const first = claimed.find((d) => d.event?.position === ordinary.event.position)!;
        const decoded = fromBinary(EventSchema, first.event!.payload);
        expect(decoded.payload.case === "messageReceived" && decoded.payload.value.message?.messageId).toBe(ordinary.message.messageId);
        expect(new Set(claimed.map((d) => d.deliveryId)).size).toBe(claimed.length);
      });

      it("every listed type: message.sent (with a fanout for PUSH_REQUESTED), message.recalled, member.joined, member.left, group.dismissed", async () => {
        const a = await app();
        await a.hook(ALL_TYPES);
        const { events: created } = await a.group("g", ["alice", "bob"]);
        const sent = await a.send("g", "alice");
        const recalled = await store.recallMessage(a.appId, "g", sent.message.messageId, "alice", a.now());
        const [joined] = await store.addMembers(a.appId, "g", [{ userId: "carol", role: MemberRole.MEMBER }], "", a.now(), LIMITS);
        const [left] = await store.removeMembers(a.appId, "g", ["carol"], "", a.now(), LIMITS);
        const dismissed = await store.dismissGroup(a.appId, "g", a.now());
        const claimed = await a.claimOwn();
        // Both stores name a delivery after its event's place, the same way (the webhook-id, HOOK-4).
        for (const d of claimed) {
          expect(d.deliveryId).toBe(deliveryIdOf(a.appId, d.event!.partition, d.event!.position, d.kind as "event" | "fanout"));
        }
        expect(claimed.map(summary)).toEqual(
          [
            ...created.map((e) => ["member.joined", "event", e.position, "memberJoined"]),
            ["message.sent", "event", sent.event.position, "messageReceived"],
            ["message.sent", "fanout", sent.event.position, "messageReceived"],
            ["message.recalled", "event", recalled.event.position, "messageRecalled"],
            ["member.joined", "event", joined.position, "memberJoined"],
            ["member.left", "event", left.position, "memberLeft"],
            ["group.dismissed", "event", dismissed.position, "groupDismissed"],
          ].sort(byPosition),
        );
      });

      it("PUSH_REQUESTED alone records a fanout per stored message and nothing else; another app's webhook records nothing here", async () => {
        const a = await app();
        const other = await app();
        await other.hook(ALL_TYPES);
        await a.hook([T.PUSH_REQUESTED]);
        for (const w of [a, other]) await w.group("g", ["alice", "bob"], GroupType.AVCHATROOM);
        await a.send("g", "alice", { persist: false });
        const stored = await a.send("g", "alice", { receivers: ["bob"] });
        const claimed = await a.claimOwn();
        expect(claimed.map(summary)).toEqual([["message.sent", "fanout", stored.event.position, "messageReceived"]]);
        const plain = await app();
        await plain.group("g", ["alice", "bob"]);
        await plain.send("g", "alice");
        expect(await plain.claimOwn()).toEqual([]);
      });
    });

    describe("claims, retries and dead letters (HOOK-8, HOOK-9)", () => {
      it("a claim leases: not claimed again until the lease ends; a completed delivery is gone", async () => {
        const a = await app();
        await a.hook([T.MESSAGE_SENT]);
        await a.group("g", ["alice", "bob"]);
        await a.send("g", "alice");
        const now = a.now();
        const [d] = await a.claimOwn(now);
        expect(d).toBeDefined();
        expect(await a.claimOwn(now + LEASE - 1)).toEqual([]);
        const [again] = await a.claimOwn(now + LEASE);
        expect(again.deliveryId).toBe(d.deliveryId);
        await store.completeDelivery(a.appId, d.deliveryId);
        expect(await a.claimOwn(now + 10 * LEASE)).toEqual([]);
      });

      it("retryDelivery counts the attempt, keeps the body and makes it due at nextAttemptAt", async () => {
        const a = await app();
        await a.hook([T.MESSAGE_SENT]);
        await a.group("g", ["alice", "bob"]);
        await a.send("g", "alice");
        const now = a.now();
        const [d] = await a.claimOwn(now);
        await store.retryDelivery(a.appId, d.deliveryId, { body: '{"type":"message.sent"}', lastError: "HTTP 503", now, nextAttemptAt: now + 5000 });
        expect(await a.claimOwn(now + 4999)).toEqual([]);
        const [retried] = await a.claimOwn(now + 5000);
        expect(retried).toMatchObject({ deliveryId: d.deliveryId, attempts: 1, body: '{"type":"message.sent"}', createdAt: d.createdAt });
        await store.retryDelivery(a.appId, d.deliveryId, { lastError: "timeout", now: now + 5000, nextAttemptAt: now + 6000 });
        const [twice] = await a.claimOwn(now + 6000);
        expect(twice).toMatchObject({ attempts: 2, body: '{"type":"message.sent"}' });
      });

      it("killDelivery makes a dead letter: never claimed, listed newest first with keyset paging", async () => {
        const a = await app();
        await a.hook([T.MESSAGE_SENT]);
        await a.group("g", ["alice", "bob"]);
        for (let i = 0; i < 3; i++) await a.send("g", "alice");
        const now = a.now();
        const claimed = await a.claimOwn(now);
        expect(claimed).toHaveLength(3);
        for (const [i, d] of claimed.entries()) {
          await store.killDelivery(a.appId, d.deliveryId, { body: `body ${i}`, lastError: `HTTP 50${i}`, now: now + i, url: "https://backend.example/hook" });
        }
        expect(await a.claimOwn(now + 10 * LEASE)).toEqual([]);
        const newestFirst = [...claimed].sort((x, y) => y.createdAt - x.createdAt);
        const all = await store.listDeadLetters(a.appId, { limit: 10 });
        expect(all.map((l) => l.deliveryId)).toEqual(newestFirst.map((d) => d.deliveryId));
        const i = claimed.indexOf(newestFirst[0]);
        expect(all[0]).toEqual({
          deliveryId: newestFirst[0].deliveryId,
          type: "message.sent",
          url: "https://backend.example/hook",
          attempts: 1,
          lastError: `HTTP 50${i}`,
          createdAt: newestFirst[0].createdAt,
          lastAttemptAt: now + i,
          body: `body ${i}`,
        });
        const page1 = await store.listDeadLetters(a.appId, { limit: 2 });
        const last = page1[page1.length - 1];
        const page2 = await store.listDeadLetters(a.appId, { limit: 2, after: { createdAt: last.createdAt, deliveryId: last.deliveryId } });
        expect([...page1, ...page2]).toEqual(all);
        expect(await store.listDeadLetters((await app()).appId, { limit: 10 })).toEqual([]);
      });

      it("replayDeadLetters is all or nothing, and makes them pending with zero attempts and the same ID and body", async () => {
        const a = await app();
        await a.hook([T.MESSAGE_SENT]);
        await a.group("g", ["alice", "bob"]);
        for (let i = 0; i < 3; i++) await a.send("g", "alice");
        const now = a.now();
        const claimed = await a.claimOwn(now);
        for (const d of claimed) await store.killDelivery(a.appId, d.deliveryId, { body: "b", lastError: "x", now, url: "https://u.example" });
        const [d0, d1] = claimed.map((d) => d.deliveryId);

        expect(await store.replayDeadLetters(a.appId, [d0, "nope", d1], now)).toEqual({ replayed: 0, missing: ["nope"] });
        expect(await store.listDeadLetters(a.appId, { limit: 10 })).toHaveLength(3);
        expect(await store.replayDeadLetters(a.appId, [d0, d0], now + 1)).toEqual({ replayed: 1, missing: [] });
        const [replayed] = await a.claimOwn(now + 1);
        expect(replayed).toMatchObject({ deliveryId: d0, attempts: 0, body: "b" });
        // A pending delivery is not a dead letter.
        expect(await store.replayDeadLetters(a.appId, [d0], now + 2)).toEqual({ replayed: 0, missing: [d0] });
        expect(await store.replayDeadLetters(a.appId, undefined, now + 2)).toEqual({ replayed: 2, missing: [] });
        expect(await store.listDeadLetters(a.appId, { limit: 10 })).toEqual([]);
        expect((await a.claimOwn(now + 2)).map((d) => d.deliveryId).sort()).toEqual([claimed[1], claimed[2]].map((d) => d.deliveryId).sort());
      });

      it("pruneDeadLetters deletes the dead letters last attempted before a time, and nothing else", async () => {
        const a = await app();
        await a.hook([T.MESSAGE_SENT]);
        await a.group("g", ["alice", "bob"]);
        for (let i = 0; i < 3; i++) await a.send("g", "alice");
        const now = a.now();
        const [old, recent, pending] = await a.claimOwn(now);
        // Long before any other case's clock, so that pruning up to 5,000 ms touches only this one.
        await store.killDelivery(a.appId, old.deliveryId, { lastError: "x", now: 1000, url: "https://u.example" });
        await store.killDelivery(a.appId, recent.deliveryId, { lastError: "x", now, url: "https://u.example" });
        await store.retryDelivery(a.appId, pending.deliveryId, { lastError: "x", now: 1000, nextAttemptAt: now });
        expect(await store.pruneDeadLetters(5000)).toBe(1);
        expect((await store.listDeadLetters(a.appId, { limit: 10 })).map((d) => d.deliveryId)).toEqual([recent.deliveryId]);
        expect((await a.claimOwn(now)).map((d) => d.deliveryId)).toEqual([pending.deliveryId]);
      });

      it("deleteWebhook removes pending deliveries and dead letters; a new webhook starts empty", async () => {
        const a = await app();
        await a.hook([T.MESSAGE_SENT]);
        await a.group("g", ["alice", "bob"]);
        await a.send("g", "alice");
        await a.send("g", "alice");
        const now = a.now();
        const [dead] = await a.claimOwn(now);
        await store.killDelivery(a.appId, dead.deliveryId, { lastError: "x", now, url: "https://u.example" });
        expect(await store.deleteWebhook(a.appId)).toBe(true);
        await a.send("g", "alice"); // without a webhook: nothing
        await a.hook([T.MESSAGE_SENT]);
        expect(await a.claimOwn(now + 10 * LEASE)).toEqual([]);
        expect(await store.listDeadLetters(a.appId, { limit: 10 })).toEqual([]);
      });

      it("expandPush replaces a fanout with push deliveries, once", async () => {
        const a = await app();
        await a.hook([T.PUSH_REQUESTED]);
        await a.group("g", ["alice", "bob", "carol"]);
        await a.send("g", "alice");
        const now = a.now();
        const [fanout] = await a.claimOwn(now);
        expect(fanout.kind).toBe("fanout");
        const pushes = ["bob", "carol"].map((userId) => ({ deliveryId: `${fanout.deliveryId}_${userId}`, userId, body: `{"to":"${userId}"}` }));
        await store.expandPush(a.appId, fanout.deliveryId, pushes, now);
        await store.expandPush(a.appId, fanout.deliveryId, [{ deliveryId: "extra", userId: "dave", body: "{}" }], now);
        const claimed = await a.claimOwn(now);
        expect(claimed.map((d) => [d.deliveryId, d.kind, d.type, d.body, d.event, d.attempts]).sort()).toEqual(
          pushes.map((p) => [p.deliveryId, "push", "push.requested", p.body, undefined, 0]).sort(),
        );
      });

      it("a delivery whose event was pruned is claimed with no event", async () => {
        const a = await app(800_000_000_000); // older than any other case's events: prunes only its own
        await a.hook([T.MESSAGE_SENT]);
        await a.group("g", ["alice", "bob"]);
        await a.send("g", "alice");
        await store.pruneEvents(a.now());
        const [d] = await a.claimOwn();
        expect(d).toMatchObject({ kind: "event", type: "message.sent" });
        expect(d.event).toBeUndefined();
      });

      it("concurrent claims never return the same delivery", async () => {
        const a = await app();
        await a.hook([T.MESSAGE_SENT, T.PUSH_REQUESTED]);
        await a.group("g", ["alice", "bob"]);
        for (let i = 0; i < 20; i++) await a.send("g", "alice");
        const now = a.now() + 100 * LEASE; // past every other case's leases too
        const claims = await Promise.all(Array.from({ length: 8 }, () => store.claimDeliveries(now, 7, LEASE)));
        const ids = claims.flat().map((d) => `${d.appId}/${d.deliveryId}`);
        expect(new Set(ids).size).toBe(ids.length);
        const rest = await store.claimDeliveries(now, 10_000, LEASE);
        const own = [...claims.flat(), ...rest].filter((d) => d.appId === a.appId);
        expect(own).toHaveLength(40);
        expect(new Set(own.map((d) => d.deliveryId)).size).toBe(40);
      });
    });

    describe("eventViewers (VIS-1)", () => {
      it("an ordinary message: the members then, not later joiners, including those who left since; a targeted one: receivers and sender; a private event: its user", async () => {
        const a = await app();
        await a.group("g", ["alice", "bob", "carol", "erin"]);
        await store.removeMembers(a.appId, "g", ["erin"], "", a.now(), LIMITS);
        const ordinary = await a.send("g", "alice");
        const targeted = await a.send("g", "alice", { receivers: ["carol"] });
        await store.addMembers(a.appId, "g", [{ userId: "dave", role: MemberRole.MEMBER }], "", a.now(), LIMITS);
        const [left] = await store.removeMembers(a.appId, "g", ["bob"], "", a.now(), LIMITS);
        const read = await store.markRead(a.appId, "g", "carol", 1, a.now(), () => create(EventSchema, {}));
        const viewers = (e: { partition: number; position: number }) => store.eventViewers(a.appId, e.partition, e.position);
        expect(await viewers(ordinary.event)).toEqual(["alice", "bob", "carol"]);
        expect(await viewers(targeted.event)).toEqual(["alice", "carol"]);
        expect(await viewers(left)).toEqual(["alice", "bob", "carol", "dave"]);
        expect(await viewers(read.event!)).toEqual(["carol"]);
        expect(await store.eventViewers(a.appId, ordinary.event.partition, 10_000)).toEqual([]);
      });
    });

    describe("presence", () => {
      it("a user is online while a stream is open on a node whose validity has not ended", async () => {
        const a = await app();
        const other = await app();
        const n1 = `node_${randomUUID()}`;
        const n2 = `node_${randomUUID()}`;
        const now = a.now();
        const online = (at: number, w = a) => store.onlineUsers(w.appId, ["alice", "bob", "carol"], at);
        await store.touchNode(n1, now + 10_000);
        await store.setPresence(n1, a.appId, "alice", true);
        await store.setPresence(n1, a.appId, "alice", true);
        await store.setPresence(n2, a.appId, "bob", true); // n2 has not announced itself
        expect(await online(now)).toEqual(new Set(["alice"]));
        expect(await online(now, other)).toEqual(new Set());
        expect(await online(now + 10_000)).toEqual(new Set());
        await store.touchNode(n2, now + 20_000);
        await store.touchNode(n1, now + 20_000);
        expect(await online(now + 10_000)).toEqual(new Set(["alice", "bob"]));
        await store.setPresence(n1, a.appId, "alice", false);
        expect(await online(now)).toEqual(new Set(["bob"]));
        expect(await store.onlineUsers(a.appId, [], now)).toEqual(new Set());

        // dropNodes: this node's rows, and every node expired before `now`.
        await store.setPresence(n1, a.appId, "carol", true);
        await store.dropNodes(n1, now);
        await store.touchNode(n1, now + 20_000);
        expect(await online(now)).toEqual(new Set(["bob"]));
        await store.dropNodes(undefined, now + 20_001);
        await store.touchNode(n2, now + 50_000);
        expect(await online(now + 20_001)).toEqual(new Set());
      });
    });
  });
}

type Summary = [type: string, kind: string, position: number, payload: string];

function summary(d: ClaimedDelivery): Summary {
  const payload = d.event ? String(fromBinary(EventSchema, d.event.payload).payload.case) : "pruned";
  return [d.type, d.kind, d.event?.position ?? 0, payload];
}

function byPosition(x: (string | number)[], y: (string | number)[]): number {
  return (x[2] as number) - (y[2] as number) || String(x[1]).localeCompare(String(y[1]));
}

/** One app of the shared store, with a clock, users and a few helpers. */
class HookApp {
  private constructor(
    readonly store: Store,
    readonly appId: string,
    private clock: number,
  ) {}

  static async create(store: Store, clock = 1_700_000_000_000): Promise<HookApp> {
    const a = new HookApp(store, `app_${randomUUID()}`, clock);
    await store.createApp({ appId: a.appId, name: "hooks", plan: Plan.ULTIMATE, secret: "c2VjcmV0", createdAt: clock });
    await store.upsertUsers(a.appId, USERS.map((userId) => ({ userId, nickname: userId })));
    return a;
  }

  now(): number {
    return (this.clock += 1000);
  }

  config(eventTypes: WebhookEventType[]) {
    return create(WebhookSchema, { url: "https://backend.example/hook", eventTypes });
  }

  hook(eventTypes: WebhookEventType[]): Promise<void> {
    return this.store.putWebhook({ appId: this.appId, config: this.config(eventTypes), secret: "whsec_c2VjcmV0" });
  }

  group(groupId: string, members: readonly string[], type = GroupType.WORK) {
    return this.store.createGroup(
      { appId: this.appId, groupId, type, name: groupId, ownerId: members[0], createdAt: this.now() },
      members.map((userId, i) => ({ userId, role: i === 0 ? MemberRole.OWNER : MemberRole.MEMBER })),
      LIMITS,
    );
  }

  send(groupId: string, senderId: string, o: { receivers?: string[]; persist?: boolean } = {}) {
    const receivers = o.receivers ?? [];
    const persist = o.persist ?? true;
    return this.store.appendMessage({
      appId: this.appId,
      groupId,
      senderId,
      message: create(MessageSchema, { elements: [{ element: { case: "text", value: { text: "hi" } } }], receiverIds: receivers }),
      persist,
      countsAsUnread: persist,
      now: this.now(),
    });
  }

  /** This app's deliveries a claim at `now` (default: this app's clock) returns, by position then kind. */
  async claimOwn(now = this.clock): Promise<ClaimedDelivery[]> {
    const claimed = await this.store.claimDeliveries(now, 10_000, LEASE);
    return claimed
      .filter((d) => d.appId === this.appId)
      .sort((x, y) => (x.event?.position ?? 0) - (y.event?.position ?? 0) || x.kind.localeCompare(y.kind) || x.deliveryId.localeCompare(y.deliveryId));
  }
}
