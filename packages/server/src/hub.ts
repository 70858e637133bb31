// The Hub routes committed events to this node's open subscriptions. It keeps, per group, the
// locally online users who are members, so an ordinary message costs O(local subscribers of
// the group) and a targeted one O(receivers), whatever the group's size (rule TGT-4, EVT-1).
import { create } from "@bufbuild/protobuf";
import { SubscribeResponseSchema, ErrorReason, type SubscribeResponse } from "@narrowcast/gen";
import type { ConnectError } from "@connectrpc/connect";
import { narrowcastError } from "./errors.js";
import type { Bus } from "./bus/types.js";
import type { Store, StoredEvent } from "./store/types.js";
import { Sequencer } from "./sequencer.js";

const key = (appId: string, id: string) => `${appId}\u0000${id}`;

/** What the hub reports as it fans out, for metrics (src/ops/metrics.ts); every hook optional. */
export interface HubObserver {
  /** Live events handed to streams (written or queued), one per stream. */
  delivered?(count: number): void;
  /** A stream ended with SLOW_CONSUMER (rule EVT-6). */
  slowConsumerCut?(): void;
}

/**
 * Writes items to a stream at once; returns false when the transport is full (backpressure).
 * It must not throw: it runs inside the sender's call.
 */
export type DirectWriter = (items: SubscribeResponse[]) => boolean;

/**
 * One open Subscribe stream: a bounded queue of items with one waiting reader or, once a direct
 * writer is attached, synchronous writes that skip the queue while the transport keeps up.
 */
export class Subscription {
  private readonly queue: { eventId: number; item: SubscribeResponse }[] = [];
  private failure: ConnectError | undefined;
  /** Stored events at or below this ID were already sent by the replay; drop them. */
  private replayedUpTo = -1;
  private replaying = true;
  private onFail: ((err: ConnectError) => void) | undefined;
  private writer: DirectWriter | undefined;
  /** The direct writer's transport is full: items queue until `drained()`. */
  private blocked = false;
  /** Settles when the subscription fails (slow consumer, shutdown), so a blocked writer can stop. */
  readonly failed = new Promise<ConnectError>((resolve) => (this.onFail = resolve));

  constructor(
    readonly appId: string,
    readonly userId: string,
    private readonly capacity: number,
    private readonly observer: HubObserver = {},
  ) {}

  /** Queues a live event; ends the stream with SLOW_CONSUMER when the queue is full (rule EVT-6). */
  push(eventId: number, item: SubscribeResponse): void {
    if (this.failure) return;
    if (!this.replaying && eventId !== 0 && eventId <= this.replayedUpTo) return;
    if (this.writer && !this.blocked && this.queue.length === 0) {
      // The hot path of fan-out: no queue, no wake-up, the shared frame goes straight out.
      this.observer.delivered?.(1);
      if (!this.writer([item])) this.blocked = true;
      return;
    }
    if (this.queue.length >= this.capacity) {
      this.observer.slowConsumerCut?.();
      this.fail(narrowcastError(ErrorReason.SLOW_CONSUMER, "subscriber fell too far behind; resume from the last cursor"));
      return;
    }
    this.observer.delivered?.(1);
    this.queue.push({ eventId, item });
    this.signal();
  }

  /** Ends the replay: queued stored events it already sent are dropped. */
  finishReplay(lastReplayed: number): void {
    this.replaying = false;
    this.replayedUpTo = lastReplayed;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const id = this.queue[i].eventId;
      if (id !== 0 && id <= lastReplayed) this.queue.splice(i, 1);
    }
  }

  /** Switches to direct writes (after the replay and `ready`); anything queued is written now. */
  attach(writer: DirectWriter): void {
    this.writer = writer;
    this.flush();
  }

  /** The direct writer's transport can take more: write what queued meanwhile. */
  drained(): void {
    this.blocked = false;
    this.flush();
  }

  /** True while the direct writer's transport is full. */
  get isBlocked(): boolean {
    return this.blocked;
  }

  private flush(): void {
    if (!this.writer || this.blocked || this.failure || this.queue.length === 0) return;
    const items = this.queue.map((q) => q.item);
    this.queue.length = 0;
    if (!this.writer(items)) this.blocked = true;
  }

  fail(err: ConnectError): void {
    if (this.failure) return;
    this.failure = err;
    this.queue.length = 0;
    this.onFail?.(err);
    this.signal();
  }

  private signal(): void {
    this.settle(true);
  }

  /** The next item, or undefined after `idleMs` without one; throws once the subscription failed. */
  async next(idleMs: number, signal: AbortSignal): Promise<SubscribeResponse | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      const head = this.queue.shift();
      if (head) return head.item;
      if (signal.aborted) return undefined;
      if (!(await this.wait(idleMs, signal)) && !this.failure && this.queue.length === 0) return undefined;
    }
  }

  /** Every queued item (empty after `idleMs` without any); throws once the subscription failed. */
  async nextBatch(idleMs: number, signal: AbortSignal): Promise<SubscribeResponse[]> {
    if (this.queue.length === 0 && !this.failure && !signal.aborted) await this.wait(idleMs, signal);
    if (this.failure) throw this.failure;
    const items = this.queue.map((q) => q.item);
    this.queue.length = 0;
    return items;
  }

  private waiter: ((woken: boolean) => void) | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private boundSignal: AbortSignal | undefined;

  /** Resolves true when woken (item, failure, abort), false after `idleMs` idle. */
  private wait(idleMs: number, signal: AbortSignal): Promise<boolean> {
    if (this.boundSignal !== signal) {
      this.boundSignal = signal;
      signal.addEventListener("abort", () => this.settle(true), { once: true });
    }
    return new Promise<boolean>((resolve) => {
      this.waiter = resolve;
      // One timer per subscription, re-armed per wait: cheaper than a timer per event.
      if (this.idleTimer) this.idleTimer.refresh();
      else this.idleTimer = setTimeout(() => this.settle(false), idleMs).unref();
    });
  }

  private settle(woken: boolean): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(woken);
  }

  /** Releases the idle timer. */
  dispose(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    this.settle(true);
  }

}

interface UserState {
  subs: Set<Subscription>;
  groups: Set<string>;
  /** Membership changes seen while the group list loads, re-applied on top of it. */
  pending: ((groups: Set<string>) => void)[] | undefined;
}

export class Hub {
  private readonly users = new Map<string, UserState>();
  /** Set by closeAll: the error every later open fails with. */
  private closedWith: ConnectError | undefined;
  /** group key → user IDs online on this node who are members. */
  private readonly groups = new Map<string, Set<string>>();
  private readonly unsubscribe: () => void;
  private readonly responseCache = new WeakMap<object, SubscribeResponse>();

  private readonly sequencer: Sequencer;

  constructor(
    private readonly store: Store,
    bus: Bus,
    private readonly capacity: number,
    onGapSkipped?: (appId: string, fromId: number, toId: number) => void,
    /** Metrics of the fan-out (delivered events, slow-consumer cuts). */
    private readonly observer: HubObserver = {},
  ) {
    this.sequencer = new Sequencer((e) => this.route(e), {
      gapTimeoutMs: 250,
      maxPending: 10_000,
      recover: (appId, from, to) => store.readEventRange(appId, from, to),
      onGapSkipped: (appId, from, to) => onGapSkipped?.(appId, from, to),
    });
    this.unsubscribe = bus.subscribe((e) => this.sequencer.accept(e));
  }

  /** Registers a subscription and loads its user's groups into the index. */
  async open(appId: string, userId: string): Promise<Subscription> {
    // During shutdown's drain a request on a connection still open must not start a new stream.
    if (this.closedWith) throw this.closedWith;
    const sub = new Subscription(appId, userId, this.capacity, this.observer);
    const k = key(appId, userId);
    let state = this.users.get(k);
    if (state) {
      state.subs.add(sub);
      return sub;
    }
    state = { subs: new Set([sub]), groups: new Set(), pending: [] };
    this.users.set(k, state);
    try {
      const groups = await this.store.listUserGroups(appId, userId);
      if (this.users.get(k) !== state) return sub;
      for (const g of groups) state.groups.add(g.groupId);
      for (const change of state.pending ?? []) change(state.groups);
      state.pending = undefined;
      for (const g of state.groups) this.indexAdd(appId, g, userId);
    } catch (err) {
      this.close(sub);
      throw err;
    }
    return sub;
  }

  close(sub: Subscription): void {
    const k = key(sub.appId, sub.userId);
    const state = this.users.get(k);
    sub.dispose();
    if (!state || !state.subs.delete(sub) || state.subs.size > 0) return;
    this.users.delete(k);
    for (const g of state.groups) this.indexRemove(sub.appId, g, sub.userId);
  }

  /** Ends every stream (server shutdown, rule EVT-9). */
  closeAll(err: ConnectError): void {
    this.closedWith = err;
    for (const state of this.users.values()) for (const sub of state.subs) sub.fail(err);
  }

  get subscriptionCount(): number {
    let n = 0;
    for (const s of this.users.values()) n += s.subs.size;
    return n;
  }

  stop(): void {
    this.unsubscribe();
    this.sequencer.stop();
  }

  private indexAdd(appId: string, groupId: string, userId: string): void {
    const gk = key(appId, groupId);
    let set = this.groups.get(gk);
    if (!set) this.groups.set(gk, (set = new Set()));
    set.add(userId);
  }

  private indexRemove(appId: string, groupId: string, userId: string): void {
    const gk = key(appId, groupId);
    const set = this.groups.get(gk);
    if (!set) return;
    set.delete(userId);
    if (set.size === 0) this.groups.delete(gk);
  }

  /** Applies a membership change to a user's state (or defers it while the state loads). */
  private applyMembership(appId: string, userId: string, groupId: string, joined: boolean): void {
    const state = this.users.get(key(appId, userId));
    if (!state) return;
    const change = (groups: Set<string>) => (joined ? groups.add(groupId) : groups.delete(groupId));
    if (state.pending) {
      state.pending.push(change);
      return;
    }
    change(state.groups);
    if (joined) this.indexAdd(appId, groupId, userId);
    else this.indexRemove(appId, groupId, userId);
  }

  private deliverTo(appId: string, userId: string, eventId: number, item: SubscribeResponse): void {
    const state = this.users.get(key(appId, userId));
    if (!state) return;
    for (const sub of state.subs) sub.push(eventId, item);
  }

  private route(e: StoredEvent): void {
    // One response object per event, shared by every subscription that receives it.
    let item = this.responseCache.get(e.event);
    if (!item) {
      item = create(SubscribeResponseSchema, { item: { case: "event", value: e.event } });
      this.responseCache.set(e.event, item);
    }
    const { appId, groupId, eventId } = e;
    if (e.membership?.change === "joined") this.applyMembership(appId, e.membership.userId, groupId, true);

    switch (e.audience.kind) {
      case "user":
        this.deliverTo(appId, e.audience.userId, eventId, item);
        break;
      case "users":
        for (const userId of e.audience.userIds) this.deliverTo(appId, userId, eventId, item);
        break;
      case "group": {
        const members = this.groups.get(key(appId, groupId));
        if (members) for (const userId of members) this.deliverTo(appId, userId, eventId, item);
        // Users whose group list is still loading are not indexed yet: the replay covers them.
        break;
      }
    }

    if (e.membership?.change === "left") this.applyMembership(appId, e.membership.userId, groupId, false);
    if (e.membership?.change === "dismissed") {
      const members = this.groups.get(key(appId, groupId));
      for (const userId of [...(members ?? [])]) this.applyMembership(appId, userId, groupId, false);
      for (const state of this.users.values()) {
        if (state.pending) state.pending.push((g) => g.delete(groupId));
      }
    }
  }
}
