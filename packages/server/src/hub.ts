// The Hub routes committed events to this node's open subscriptions. It keeps, per group, the
// locally online users who are members, so an ordinary message costs O(local subscribers of
// the group) and a targeted one O(receivers), whatever the group's size (rule TGT-4, EVT-1).
// On a bus that routes by interest it follows exactly the apps and groups of that index, so the
// node receives only those groups' events (and the ticks of those apps, bus/types.ts).
import { create } from "@bufbuild/protobuf";
import { SubscribeResponseSchema, type SubscribeResponse } from "@narrowcast/gen";
import type { ConnectError } from "@connectrpc/connect";
import { Subscription, type Placement, type SubscriptionObserver } from "./subscription.js";
import { cursorOf } from "./cursor.js";
import type { Bus, BusInterest } from "./bus/types.js";
import type { EventTick, Interest, Store, StoredEvent } from "./store/types.js";
import { Sequencer } from "./sequencer.js";

const key = (appId: string, id: string) => `${appId}\u0000${id}`;

/** The bus's follows are in effect, or `ms` passed. */
function settledWithin(interest: BusInterest, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms).unref()));
  return Promise.race([interest.settled().catch(() => {}), timeout]).finally(() => clearTimeout(timer));
}

/** What the hub reports as it fans out, for metrics (src/ops/metrics.ts); every hook optional. */
export interface HubObserver extends SubscriptionObserver {
  /** Events read from the store because the bus did not bring them (late, lost, or bus down). */
  recoveredFromStore?(count: number): void;
}

export interface HubOptions {
  /** How long a gap in a partition may stay open before it is read from the store (ms). */
  gapTimeoutMs?: number;
  /**
   * How often the store's heads are polled for the apps with streams here (ms): events whose
   * publication never comes are then read from the store. Default 1000.
   */
  pollIntervalMs?: number;
  /** The same while the bus reports its connection lost: all live events come this way then. Default 250. */
  busDownPollIntervalMs?: number;
  /** Told when the bus connection is lost or back (the server logs it). */
  onBusConnectionChange?: (connected: boolean) => void;
}

interface UserState {
  appId: string;
  userId: string;
  subs: Set<Subscription>;
  groups: Set<string>;
  /** Membership changes seen while the group list loads, re-applied on top of it. */
  pending: ((groups: Set<string>) => void)[] | undefined;
  /**
   * Settles when the group list is loaded and indexed (and the bus follows it): a second stream
   * of the user opening meanwhile waits for it too, or it would be ready before its groups' live
   * events reach it, and an event committed after its replay would be lost (EVT-3).
   */
  loaded: Promise<void>;
}

export class Hub {
  private readonly users = new Map<string, UserState>();
  /** Set by closeAll: the error every later open fails with. */
  private closedWith: ConnectError | undefined;
  /** group key → user IDs online on this node who are members. */
  private readonly groups = new Map<string, Set<string>>();
  /** Per app with streams here: its users with state, and its groups in the index (interest). */
  private readonly apps = new Map<string, { users: Set<string>; groups: Set<string> }>();
  private readonly interest: BusInterest | undefined;
  private readonly unsubscribeTicks: () => void;
  private readonly unsubscribe: () => void;
  private readonly responseCache = new WeakMap<object, SubscribeResponse>();

  private readonly sequencer: Sequencer;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private busConnected = true;
  private readonly stopWatchingBus: () => void;

  constructor(
    private readonly store: Store,
    bus: Bus,
    /** Bytes each stream may queue (rule EVT-6). */
    private readonly bufferBytes: number,
    onGapSkipped?: (appId: string, partition: number, from: number, to: number) => void,
    /** Metrics of the fan-out (delivered events, slow-consumer cuts, store reads). */
    private readonly observer: HubObserver = {},
    options: HubOptions = {},
  ) {
    const interest = (this.interest = bus.interest);
    this.sequencer = new Sequencer((e, released) => this.route(e, released), {
      gapTimeoutMs: options.gapTimeoutMs ?? 250,
      maxPending: 10_000,
      recover: interest
        ? (appId, partition, from, to) => store.readEventRangeFor(appId, partition, from, to, this.interestOf(appId))
        : (appId, partition, from, to) => store.readEventRange(appId, partition, from, to),
      needsContent: interest ? (tick) => this.needs(tick) : undefined,
      onGapSkipped: (appId, partition, from, to) => onGapSkipped?.(appId, partition, from, to),
      onRecovered: (_appId, _partition, n) => observer.recoveredFromStore?.(n),
    });
    this.unsubscribe = bus.subscribe((e) => this.sequencer.accept(e));
    this.unsubscribeTicks = interest?.onTick((tick) => this.sequencer.acceptTick(tick)) ?? (() => {});
    const every = (ms: number) => {
      if (this.poller) clearInterval(this.poller);
      this.poller = setInterval(() => void this.pollHeads(), ms).unref();
    };
    every(options.pollIntervalMs ?? 1000);
    this.stopWatchingBus =
      bus.onConnectionChange?.((connected) => {
        if (connected === this.busConnected || this.closedWith) return;
        this.busConnected = connected;
        options.onBusConnectionChange?.(connected);
        every(connected ? (options.pollIntervalMs ?? 1000) : (options.busDownPollIntervalMs ?? 250));
        if (!connected) void this.pollHeads();
      }) ?? (() => {});
  }

  /** Hands the store's heads of the apps with streams here to the sequencer (see sequencer.ts). */
  private async pollHeads(): Promise<void> {
    if (this.polling || this.closedWith) return;
    const appIds = [...this.apps.keys()];
    if (appIds.length === 0) return;
    this.polling = true;
    try {
      const heads = await this.store.latestPositionsOf(appIds);
      for (const [appId, positions] of heads) this.sequencer.noteHeads(appId, positions);
    } catch {
      // The store is unreachable: the next poll tries again (its outage is logged where it is used).
    } finally {
      this.polling = false;
    }
  }

  /** Whether a stream here needs the event a tick announces: its group is followed, or a user here joins. */
  private needs(tick: EventTick): boolean {
    const app = this.apps.get(tick.appId);
    return !!app && (app.groups.has(tick.groupId) || (tick.joinedUserId !== undefined && app.users.has(tick.joinedUserId)));
  }

  /** What a range read from the store must bring whole for this app (the rest comes as ticks). */
  private interestOf(appId: string): Interest {
    const app = this.apps.get(appId);
    return { groupIds: [...(app?.groups ?? [])], userIds: [...(app?.users ?? [])] };
  }

  /**
   * Registers a subscription and loads its user's groups into the index. Its replay covers the
   * app's events up to `latest` (at least); live delivery covers every event after it.
   */
  async open(appId: string, userId: string, latest: readonly number[]): Promise<Subscription> {
    // During shutdown's drain a request on a connection still open must not start a new stream.
    if (this.closedWith) throw this.closedWith;
    this.sequencer.startAfter(appId, latest);
    const sub = new Subscription(appId, userId, this.bufferBytes, this.observer);
    const k = key(appId, userId);
    const existing = this.users.get(k);
    if (existing) {
      existing.subs.add(sub);
      await this.settle(existing.loaded, sub);
      return sub;
    }
    let loaded!: { resolve: () => void; reject: (err: unknown) => void };
    const state: UserState = {
      appId,
      userId,
      subs: new Set([sub]),
      groups: new Set(),
      pending: [],
      loaded: new Promise((resolve, reject) => (loaded = { resolve, reject })),
    };
    state.loaded.catch(() => {}); // each opener handles it (settle)
    this.users.set(k, state);
    let app = this.apps.get(appId);
    if (!app) {
      this.apps.set(appId, (app = { users: new Set(), groups: new Set() }));
      this.interest?.followApp(appId);
    }
    app.users.add(userId);
    this.load(state, k, app).then(loaded.resolve, (err: unknown) => {
      // Every stream waiting on it fails (settle); a later open loads afresh.
      this.drop(k, state);
      loaded.reject(err);
    });
    await this.settle(state.loaded, sub);
    return sub;
  }

  /** Waits for the user's state to load; if it fails, this stream fails with it. */
  private async settle(loaded: Promise<void>, sub: Subscription): Promise<void> {
    try {
      await loaded;
    } catch (err) {
      this.close(sub);
      throw err;
    }
  }

  /** Loads a user's groups into the index, then waits (briefly) for the bus to follow them. */
  private async load(state: UserState, k: string, app: { users: Set<string> }): Promise<void> {
    const groups = await this.store.listUserGroups(state.appId, state.userId);
    if (this.users.get(k) !== state) return;
    for (const g of groups) state.groups.add(g.groupId);
    for (const change of state.pending ?? []) change(state.groups);
    state.pending = undefined;
    const followed = this.groups.size;
    for (const g of state.groups) this.indexAdd(state.appId, g, state.userId);
    // Events that are not stored (online-only) reach this node only once its new follows are in
    // effect: wait for that (briefly: a bus that is down must not hold the stream back).
    if (this.interest && (this.groups.size > followed || app.users.size === 1)) await settledWithin(this.interest, 1000);
  }

  close(sub: Subscription): void {
    const k = key(sub.appId, sub.userId);
    const state = this.users.get(k);
    sub.dispose();
    if (!state || !state.subs.delete(sub) || state.subs.size > 0) return;
    this.drop(k, state);
  }

  /** Removes a user's state and index entries (no stream of theirs is left, or it failed to load). */
  private drop(k: string, state: UserState): void {
    if (this.users.get(k) !== state) return;
    this.users.delete(k);
    for (const g of state.groups) this.indexRemove(state.appId, g, state.userId);
    const app = this.apps.get(state.appId);
    app?.users.delete(state.userId);
    if (app && app.users.size === 0) {
      // No stream of the app is left here: stop following it; a later stream starts afresh.
      this.apps.delete(state.appId);
      this.interest?.unfollowApp(state.appId);
      this.sequencer.forget(state.appId);
    }
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
    clearInterval(this.poller);
    this.stopWatchingBus();
    this.unsubscribeTicks();
    this.unsubscribe();
    this.sequencer.stop();
  }

  private indexAdd(appId: string, groupId: string, userId: string): void {
    const gk = key(appId, groupId);
    let set = this.groups.get(gk);
    if (!set) {
      this.groups.set(gk, (set = new Set()));
      this.apps.get(appId)?.groups.add(groupId);
      this.interest?.followGroup(appId, groupId);
    }
    set.add(userId);
  }

  private indexRemove(appId: string, groupId: string, userId: string): void {
    const gk = key(appId, groupId);
    const set = this.groups.get(gk);
    if (!set) return;
    set.delete(userId);
    if (set.size === 0) {
      this.groups.delete(gk);
      this.apps.get(appId)?.groups.delete(groupId);
      this.interest?.unfollowGroup(appId, groupId);
    }
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

  private deliverTo(appId: string, userId: string, item: SubscribeResponse, at: Placement | undefined): void {
    const state = this.users.get(key(appId, userId));
    if (!state) return;
    for (const sub of state.subs) sub.push(item, at);
  }

  private route(e: StoredEvent, released: readonly number[]): void {
    // One response object per event, shared by every subscription that receives it; a stored
    // event carries this node's released positions as its cursor (subscription.ts: "caughtUp").
    let item = this.responseCache.get(e.event);
    if (!item) {
      const value = e.position === 0 ? e.event : { ...e.event, cursor: cursorOf(e.appId, released) };
      item = create(SubscribeResponseSchema, { item: { case: "event", value } });
      this.responseCache.set(e.event, item);
    }
    const at: Placement | undefined = e.position === 0 ? undefined : { partition: e.partition, position: e.position, released };
    const { appId, groupId } = e;
    if (e.membership?.change === "joined") this.applyMembership(appId, e.membership.userId, groupId, true);

    switch (e.audience.kind) {
      case "user":
        this.deliverTo(appId, e.audience.userId, item, at);
        break;
      case "users":
        for (const userId of e.audience.userIds) this.deliverTo(appId, userId, item, at);
        break;
      case "group": {
        const members = this.groups.get(key(appId, groupId));
        if (members) for (const userId of members) this.deliverTo(appId, userId, item, at);
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
