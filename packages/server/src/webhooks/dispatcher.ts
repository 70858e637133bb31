// The webhook dispatcher (rules HOOK-6 to HOOK-8, HOOK-13): works through the durable outbox of
// deliveries that every node shares. It claims due deliveries for a lease, makes one attempt of
// each (or, for a fanout, works out its push requests), and settles it: done, due again later
// with exponential backoff and jitter, or dead. A node that dies mid-attempt leaves its claims to
// expire, and another node (or this one after a restart) makes them: at least once.
import { fromBinary } from "@bufbuild/protobuf";
import { EventSchema, type Event } from "@narrowcast/gen";
import { WebhookEventType } from "@narrowcast/gen/admin";
import type { Logger } from "pino";
import type { Store } from "../store/types.js";
import type { ClaimedDelivery, NewPushDelivery } from "../store/webhooks.js";
import { EndpointSlots } from "./endpoint-slots.js";
import { eventBody, eventType, pushBody } from "./payloads.js";
import { postSigned } from "./post.js";
import type { Presence } from "./presence.js";

export interface RetryOptions {
  /** The first retry's delay bound (ms). */
  baseMs?: number;
  /** The longest delay bound (ms). */
  capMs?: number;
  /** Attempts before a delivery becomes a dead letter. */
  maxAttempts?: number;
}

export type DispatcherStore = Pick<
  Store,
  "getWebhook" | "claimDeliveries" | "completeDelivery" | "retryDelivery" | "killDelivery" | "expandPush" | "eventViewers" | "getMessage"
>;

export interface DispatcherOptions {
  store: DispatcherStore;
  presence: Pick<Presence, "onlineUsers">;
  log: Logger;
  now: () => number;
  retry?: RetryOptions;
  /** How often to look for due deliveries without a nudge (ms); 0 looks only when nudged. Default 250. */
  pollMs?: number;
  /** How long a claim keeps other nodes off a delivery. Default attemptTimeoutMs + 30 s. */
  leaseMs?: number;
  /** HOOK-8: an attempt without an answer in this time failed. Default 10 s. */
  attemptTimeoutMs?: number;
  /** The most deliveries claimed (and held) at a time. Default 50. */
  batch?: number;
  /** Called with the app of every claimed delivery (the runtime learns which apps have webhooks). */
  onClaim?: (appId: string) => void;
}

const DEFAULT_RETRY: Required<RetryOptions> = { baseMs: 1_000, capMs: 600_000, maxAttempts: 10 };
/** HOOK-8: attempts in flight per endpoint on one node when the webhook says 0 (HOOK-1). */
export const DEFAULT_MAX_CONCURRENT = 16;

/**
 * The wait before the next attempt after `attemptsSoFar` failed ones (HOOK-8): random in
 * [d/2, d], d = min(base × 2^(n−1), cap); the jitter spreads retries of many deliveries that
 * failed together.
 */
export function retryDelayMs(attemptsSoFar: number, retry: Required<RetryOptions>, random: () => number = Math.random): number {
  const n = Math.max(1, attemptsSoFar);
  const d = Math.min(retry.baseMs * 2 ** (n - 1), retry.capMs);
  return Math.min(d, Math.ceil(d / 2 + random() * (d / 2)));
}

function isSuccess(status: number): boolean {
  return status >= 200 && status <= 299;
}

export class WebhookDispatcher {
  private readonly store: DispatcherStore;
  private readonly retry: Required<RetryOptions>;
  private readonly pollMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly leaseMs: number;
  private readonly batch: number;
  private readonly slots = new EndpointSlots();
  /** Claimed deliveries not yet settled (waiting for a slot or being attempted). */
  private readonly inFlight = new Set<Promise<void>>();
  private running = false;
  private polling = false;
  /** A nudge came during a poll: look again as soon as it ends. */
  private pollAgain = false;
  private timer: NodeJS.Timeout | undefined;
  /** The earliest retry this node scheduled, and the timer that looks for it then. */
  private retryWake = { at: Infinity, timer: undefined as NodeJS.Timeout | undefined };

  constructor(private readonly opts: DispatcherOptions) {
    this.store = opts.store;
    this.retry = { ...DEFAULT_RETRY, ...definedOnly(opts.retry ?? {}) };
    this.pollMs = opts.pollMs ?? 250;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 10_000;
    this.leaseMs = opts.leaseMs ?? this.attemptTimeoutMs + 30_000;
    this.batch = opts.batch ?? 50;
    if (this.leaseMs <= this.attemptTimeoutMs) throw new Error("leaseMs must be longer than attemptTimeoutMs: an attempt must end within its claim");
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /** Looks for due deliveries now (after a local commit recorded some). */
  nudge(): void {
    if (!this.running) return;
    if (this.polling) {
      this.pollAgain = true;
      return;
    }
    this.schedule(0);
  }

  /** Stops claiming and waits for the attempts in flight, at most one attempt timeout. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.retryWake.timer);
    // Claims still waiting for a slot are left to their leases: another node, or this one after
    // a restart, makes them.
    this.slots.close();
    let timeout: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timeout = setTimeout(resolve, this.attemptTimeoutMs);
      timeout.unref();
    });
    await Promise.race([Promise.allSettled([...this.inFlight]), deadline]);
    clearTimeout(timeout);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.poll(), delayMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (!this.running || this.polling) return;
    this.polling = true;
    this.pollAgain = false;
    let full = false;
    try {
      // Deliveries claimed but still waiting for a slot count against the batch: claiming more
      // than can be attempted would only let leases run out in the queue.
      const room = this.batch - this.inFlight.size;
      if (room > 0) {
        const claimedAt = this.opts.now();
        const claimed = await this.store.claimDeliveries(claimedAt, room, this.leaseMs);
        full = claimed.length === room;
        const leaseEnd = claimedAt + this.leaseMs;
        for (const delivery of claimed) {
          // Claimed during stop(): left to the lease, like claims waiting for a slot.
          if (!this.running) break;
          this.opts.onClaim?.(delivery.appId);
          this.track(this.settle(delivery, leaseEnd));
        }
      }
    } catch (err) {
      this.opts.log.warn({ err }, "claiming webhook deliveries failed");
    } finally {
      this.polling = false;
    }
    if (!this.running) return;
    if (full || this.pollAgain) this.schedule(0);
    else if (this.pollMs > 0) this.schedule(this.pollMs);
  }

  private track(attempt: Promise<void>): void {
    this.inFlight.add(attempt);
    void attempt.finally(() => {
      this.inFlight.delete(attempt);
      // Half the batch has room again: claim more now. Not at every settlement, which under a
      // backlog would cost one claim query per delivery.
      if (this.inFlight.size === Math.floor(this.batch / 2)) this.nudge();
    });
  }

  /** One delivery, start to settlement; a store failure leaves it to its lease (retried later). */
  private async settle(delivery: ClaimedDelivery, leaseEnd: number): Promise<void> {
    try {
      switch (delivery.kind) {
        case "fanout":
          await this.expand(delivery);
          return;
        case "push":
          await this.attempt(delivery, leaseEnd, delivery.webhook.config.pushUrl || delivery.webhook.config.url, delivery.body);
          return;
        case "event": {
          const body = delivery.body ?? (await this.eventBodyOf(delivery));
          if (typeof body === "string") await this.attempt(delivery, leaseEnd, delivery.webhook.config.url, body);
          else await this.kill(delivery, delivery.webhook.config.url, body.error);
          return;
        }
      }
    } catch (err) {
      this.opts.log.warn({ err, appId: delivery.appId, deliveryId: delivery.deliveryId }, "webhook delivery failed in the server; retried after its lease");
    }
  }

  /** The body of an event delivery's first attempt, or why there can be none (no attempt can succeed). */
  private async eventBodyOf(delivery: ClaimedDelivery): Promise<string | { error: string }> {
    if (!delivery.event) return { error: "event no longer stored" };
    const event = fromBinary(EventSchema, delivery.event.payload);
    if (eventType(event) === undefined) return { error: `event ${event.payload.case ?? "(empty)"} has no webhook type` };
    return eventBody(delivery.appId, event, await this.receiversOf(delivery.appId, event));
  }

  private async kill(delivery: ClaimedDelivery, url: string, lastError: string): Promise<void> {
    await this.store.killDelivery(delivery.appId, delivery.deliveryId, { lastError, now: this.opts.now(), url });
  }

  /** A targeted message's receivers (HOOK-6); empty for everything else. */
  private async receiversOf(appId: string, event: Event): Promise<string[]> {
    switch (event.payload.case) {
      case "messageReceived":
        return event.payload.value.message?.receiverIds ?? [];
      case "messageRecalled": {
        // The recall event does not name the receivers; the stored message (kept, emptied) does.
        const { groupId, messageId } = event.payload.value;
        const message = await this.store.getMessage(appId, groupId, messageId, null);
        return message?.receiverIds ?? [];
      }
      default:
        return [];
    }
  }

  /** One HTTP attempt, within the endpoint's concurrency, then the delivery's settlement. */
  private async attempt(delivery: ClaimedDelivery, leaseEnd: number, url: string, body: string | undefined): Promise<void> {
    const { appId, deliveryId } = delivery;
    if (body === undefined) {
      await this.kill(delivery, url, "delivery has no body");
      return;
    }
    const key = `${appId}\0${url}`;
    const limit = delivery.webhook.config.maxConcurrentDeliveries || DEFAULT_MAX_CONCURRENT;
    const waits = !this.slots.hasRoom(key, limit);
    if (!(await this.slots.acquire(key, limit))) return;
    // HOOK-2: no delivery starts after DeleteWebhook; one that waited for a slot may have
    // outlived its app's configuration.
    if (waits && !(await this.stillConfigured(appId, key))) return;
    // A claim that waited for a slot until its lease could end mid-attempt may be claimed again
    // (here or on another node) meanwhile: it is left to that claim, so no delivery has two
    // attempts at once.
    if (this.opts.now() + this.attemptTimeoutMs > leaseEnd) {
      this.slots.release(key);
      return;
    }
    let result;
    try {
      result = await postSigned(url, delivery.webhook, deliveryId, body, { timeoutMs: this.attemptTimeoutMs, nowMs: this.opts.now() });
    } finally {
      this.slots.release(key);
    }
    if (isSuccess(result.status)) {
      await this.store.completeDelivery(appId, deliveryId);
      return;
    }
    const lastError = result.error ?? `HTTP ${result.status}`;
    const attempts = delivery.attempts + 1;
    const now = this.opts.now();
    if (attempts >= this.retry.maxAttempts) {
      await this.store.killDelivery(appId, deliveryId, { body, lastError, now, url });
    } else {
      const nextAttemptAt = now + retryDelayMs(attempts, this.retry);
      await this.store.retryDelivery(appId, deliveryId, { body, lastError, now, nextAttemptAt });
      this.wakeAt(nextAttemptAt);
    }
  }

  /** Looks again when a retry this node scheduled comes due, rather than at the next periodic look. */
  private wakeAt(at: number): void {
    if (!this.running || at >= this.retryWake.at) return;
    clearTimeout(this.retryWake.timer);
    const timer = setTimeout(() => {
      this.retryWake = { at: Infinity, timer: undefined };
      this.nudge();
    }, Math.max(0, at - this.opts.now()));
    timer.unref();
    this.retryWake = { at, timer };
  }

  /** Whether the app still has a webhook; releases the slot when not (or when that cannot be told). */
  private async stillConfigured(appId: string, key: string): Promise<boolean> {
    try {
      if (await this.store.getWebhook(appId)) return true;
    } catch (err) {
      this.slots.release(key);
      throw err;
    }
    this.slots.release(key);
    return false;
  }

  /**
   * A stored message's push requests (HOOK-13): one per user who may see it, is not its sender
   * and has no open stream on any node, unless the app no longer asks for them or the message is
   * excluded from unread counts and the app did not opt in.
   */
  private async expand(delivery: ClaimedDelivery): Promise<void> {
    const { appId, deliveryId, webhook } = delivery;
    const now = this.opts.now();
    if (!webhook.config.eventTypes.includes(WebhookEventType.PUSH_REQUESTED)) {
      await this.store.completeDelivery(appId, deliveryId);
      return;
    }
    if (!delivery.event) {
      await this.kill(delivery, webhook.config.pushUrl || webhook.config.url, "event no longer stored");
      return;
    }
    const event = fromBinary(EventSchema, delivery.event.payload);
    const message = event.payload.case === "messageReceived" ? event.payload.value.message : undefined;
    if (!message || (message.excludeFromUnread && !webhook.config.pushExcludedFromUnread)) {
      await this.store.completeDelivery(appId, deliveryId);
      return;
    }
    // Recalled before its push requests were prepared: a notification would show what the sender took back.
    if ((await this.store.getMessage(appId, message.groupId, message.messageId, null))?.recall) {
      await this.store.completeDelivery(appId, deliveryId);
      return;
    }
    const viewers = await this.store.eventViewers(appId, delivery.event.partition, delivery.event.position);
    const candidates = viewers.filter((userId) => userId !== message.senderId);
    const online = candidates.length > 0 ? await this.opts.presence.onlineUsers(appId, candidates) : new Set<string>();
    const pushes: NewPushDelivery[] = candidates
      .filter((userId) => !online.has(userId))
      .map((userId) => ({ deliveryId: `${deliveryId}_${userId}`, userId, body: pushBody(appId, message, userId, now) }));
    await this.store.expandPush(appId, deliveryId, pushes, now);
    if (pushes.length > 0) this.nudge();
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
