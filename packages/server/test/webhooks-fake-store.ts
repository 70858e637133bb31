// An in-memory stand-in for the parts of the Store the webhook engine uses (the outbox, presence,
// eventViewers and getMessage), so the engine's tests need no database. It keeps the contract's
// observable rules: claims are leased, settled deliveries are gone, dead letters keep their body,
// presence rows count only while their node is valid.
import { create, toBinary } from "@bufbuild/protobuf";
import { EventSchema, type Event, type Message } from "@narrowcast/gen";
import { WebhookSchema, type Webhook } from "@narrowcast/gen/admin";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Store } from "../src/store/types.js";
import type { ClaimedDelivery, DeadLetterRecord, DeliveryKind, NewPushDelivery, WebhookRecord } from "../src/store/webhooks.js";
import { newWebhookSecret } from "../src/webhooks/secrets.js";

/** A webhook configuration to put, as plain fields. */
export type WebhookConfigInit = Omit<Exclude<MessageInitShape<typeof WebhookSchema>, Webhook>, "$typeName">;

export interface FakeDelivery {
  appId: string;
  deliveryId: string;
  kind: DeliveryKind;
  type: string;
  attempts: number;
  createdAt: number;
  body?: string;
  event?: { partition: number; position: number; groupId: string; payload: Uint8Array };
  dueAt: number;
  leasedUntil: number;
}

export interface RetryCall {
  deliveryId: string;
  attemptsBefore: number;
  now: number;
  nextAttemptAt: number;
  lastError: string;
  body?: string;
}

type FakedMethods =
  | "getWebhook"
  | "claimDeliveries"
  | "completeDelivery"
  | "retryDelivery"
  | "killDelivery"
  | "expandPush"
  | "eventViewers"
  | "getMessage"
  | "setPresence"
  | "touchNode"
  | "dropNodes"
  | "onlineUsers";

export class FakeWebhookStore implements Pick<Store, FakedMethods> {
  readonly webhooks = new Map<string, WebhookRecord>();
  readonly deliveries = new Map<string, FakeDelivery>();
  readonly deadLetters: DeadLetterRecord[] = [];
  readonly retries: RetryCall[] = [];
  readonly completed: string[] = [];
  /** Every completeDelivery call, of a pending delivery or not. */
  readonly completeCalls: string[] = [];
  /** eventViewers' answers, by "partition:position". */
  readonly viewers = new Map<string, string[]>();
  /** Stored messages by ID (getMessage ignores the viewer: the engine asks with null). */
  readonly messages = new Map<string, Message>();
  /** node → its validity end (ms). */
  readonly nodes = new Map<string, number>();
  /** node → "app\0user" rows. */
  readonly presence = new Map<string, Set<string>>();
  /** Every setPresence call, in order. */
  readonly presenceWrites: Array<{ nodeId: string; appId: string; userId: string; online: boolean }> = [];
  /** The next calls of these methods throw (one throw per count). */
  readonly failures = new Map<FakedMethods, number>();
  /** Holds the next setPresence calls, one promise per call in call order, until the test releases them. */
  readonly presenceHolds: Array<Promise<void>> = [];
  private nextPosition = 1;

  /** Puts an app's webhook configuration, with a fresh secret. */
  setWebhook(appId: string, config: WebhookConfigInit, extra: Partial<WebhookRecord> = {}): WebhookRecord {
    const record: WebhookRecord = { appId, config: create(WebhookSchema, config) as Webhook, secret: newWebhookSecret(), ...extra };
    this.webhooks.set(appId, record);
    return record;
  }

  /** Records a delivery of a logged event ("event" or "fanout"), due now. */
  addEventDelivery(appId: string, deliveryId: string, event: Event, opts: { kind?: "event" | "fanout"; type?: string; viewers?: string[]; pruned?: boolean } = {}): FakeDelivery {
    const position = this.nextPosition++;
    if (opts.viewers) this.viewers.set(`0:${position}`, opts.viewers);
    return this.add({
      appId,
      deliveryId,
      kind: opts.kind ?? "event",
      type: opts.type ?? "message.sent",
      attempts: 0,
      createdAt: 0,
      event: opts.pruned ? undefined : { partition: 0, position, groupId: "g", payload: toBinary(EventSchema, event) },
      dueAt: 0,
      leasedUntil: 0,
    });
  }

  add(delivery: FakeDelivery): FakeDelivery {
    this.deliveries.set(this.key(delivery.appId, delivery.deliveryId), delivery);
    return delivery;
  }

  private key(appId: string, deliveryId: string): string {
    return `${appId}\0${deliveryId}`;
  }

  private maybeFail(method: FakedMethods): void {
    const n = this.failures.get(method) ?? 0;
    if (n > 0) {
      this.failures.set(method, n - 1);
      throw new Error(`injected ${method} failure`);
    }
  }

  /** The pending delivery; settling one that is gone (deleted webhook, settled elsewhere) changes nothing, as in the stores. */
  private pending(appId: string, deliveryId: string): FakeDelivery | undefined {
    return this.deliveries.get(this.key(appId, deliveryId));
  }

  getWebhook(appId: string): Promise<WebhookRecord | undefined> {
    return Promise.resolve(this.webhooks.get(appId));
  }

  async claimDeliveries(now: number, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    this.maybeFail("claimDeliveries");
    const due = [...this.deliveries.values()]
      .filter((d) => d.dueAt <= now && d.leasedUntil <= now && this.webhooks.has(d.appId))
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, limit);
    for (const d of due) d.leasedUntil = now + leaseMs;
    return due.map((d) => ({
      appId: d.appId,
      deliveryId: d.deliveryId,
      kind: d.kind,
      type: d.type,
      attempts: d.attempts,
      createdAt: d.createdAt,
      body: d.body,
      event: d.event,
      webhook: this.webhooks.get(d.appId)!,
    }));
  }

  async completeDelivery(appId: string, deliveryId: string): Promise<void> {
    this.maybeFail("completeDelivery");
    this.completeCalls.push(deliveryId);
    if (!this.pending(appId, deliveryId)) return;
    this.deliveries.delete(this.key(appId, deliveryId));
    this.completed.push(deliveryId);
  }

  async retryDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; nextAttemptAt: number }): Promise<void> {
    this.maybeFail("retryDelivery");
    const d = this.pending(appId, deliveryId);
    if (!d) return;
    this.retries.push({ deliveryId, attemptsBefore: d.attempts, ...failure });
    d.attempts++;
    if (failure.body !== undefined) d.body = failure.body;
    d.dueAt = failure.nextAttemptAt;
    d.leasedUntil = 0;
  }

  async killDelivery(appId: string, deliveryId: string, failure: { body?: string; lastError: string; now: number; url: string }): Promise<void> {
    this.maybeFail("killDelivery");
    const d = this.pending(appId, deliveryId);
    if (!d) return;
    this.deliveries.delete(this.key(appId, deliveryId));
    this.deadLetters.push({
      deliveryId,
      type: d.type,
      url: failure.url,
      attempts: d.attempts + 1,
      lastError: failure.lastError,
      createdAt: d.createdAt,
      lastAttemptAt: failure.now,
      body: failure.body ?? d.body ?? "",
    });
  }

  async expandPush(appId: string, fanoutId: string, pushes: readonly NewPushDelivery[], now: number): Promise<void> {
    this.maybeFail("expandPush");
    const fanout = this.pending(appId, fanoutId);
    if (fanout?.kind !== "fanout") return;
    this.deliveries.delete(this.key(appId, fanoutId));
    for (const p of pushes) {
      this.add({ appId, deliveryId: p.deliveryId, kind: "push", type: "push.requested", attempts: 0, createdAt: now, body: p.body, dueAt: now, leasedUntil: 0 });
    }
  }

  async eventViewers(_appId: string, partition: number, position: number): Promise<string[]> {
    this.maybeFail("eventViewers");
    return [...(this.viewers.get(`${partition}:${position}`) ?? [])].sort();
  }

  async getMessage(_appId: string, groupId: string, messageId: string, _viewerId: string | null): Promise<Message | undefined> {
    this.maybeFail("getMessage");
    const m = this.messages.get(messageId);
    return m && m.groupId === groupId ? m : undefined;
  }

  async setPresence(nodeId: string, appId: string, userId: string, online: boolean): Promise<void> {
    await this.presenceHolds.shift();
    this.maybeFail("setPresence");
    this.presenceWrites.push({ nodeId, appId, userId, online });
    const rows = this.presence.get(nodeId) ?? new Set<string>();
    this.presence.set(nodeId, rows);
    if (online) rows.add(`${appId}\0${userId}`);
    else rows.delete(`${appId}\0${userId}`);
  }

  async touchNode(nodeId: string, expiresAt: number): Promise<void> {
    this.maybeFail("touchNode");
    this.nodes.set(nodeId, expiresAt);
  }

  async dropNodes(nodeId: string | undefined, now: number): Promise<void> {
    this.maybeFail("dropNodes");
    for (const [node, expiresAt] of [...this.nodes]) {
      if (node === nodeId || expiresAt < now) {
        this.nodes.delete(node);
        this.presence.delete(node);
      }
    }
    if (nodeId !== undefined) this.presence.delete(nodeId);
  }

  async onlineUsers(appId: string, userIds: readonly string[], now: number): Promise<Set<string>> {
    this.maybeFail("onlineUsers");
    const online = new Set<string>();
    for (const [node, rows] of this.presence) {
      const expiresAt = this.nodes.get(node);
      if (expiresAt === undefined || expiresAt < now) continue;
      for (const userId of userIds) if (rows.has(`${appId}\0${userId}`)) online.add(userId);
    }
    return online;
  }
}
