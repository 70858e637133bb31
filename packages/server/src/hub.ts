// The Hub routes committed events to this node's open subscriptions. It keeps, per group, the
// locally online users who are members, so an ordinary message costs O(local subscribers of
// the group) and a targeted one O(receivers), whatever the group's size (rule TGT-4, EVT-1).
import { create } from "@bufbuild/protobuf";
import { SubscribeResponseSchema, type SubscribeResponse } from "@narrowcast/gen";
import type { ConnectError } from "@connectrpc/connect";
import { Subscription, type SubscriptionObserver } from "./subscription.js";
import type { Bus } from "./bus/types.js";
import type { Store, StoredEvent } from "./store/types.js";
import { Sequencer } from "./sequencer.js";

const key = (appId: string, id: string) => `${appId}\u0000${id}`;

/** What the hub reports as it fans out, for metrics (src/ops/metrics.ts); every hook optional. */
export type HubObserver = SubscriptionObserver;

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

  /**
   * Registers a subscription and loads its user's groups into the index. Its replay covers the
   * app's events up to `latestEventId` (at least); live delivery covers every event after it.
   */
  async open(appId: string, userId: string, latestEventId: number): Promise<Subscription> {
    // During shutdown's drain a request on a connection still open must not start a new stream.
    if (this.closedWith) throw this.closedWith;
    this.sequencer.startAfter(appId, latestEventId);
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
