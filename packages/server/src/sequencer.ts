// Releases each partition's stored events (positions.ts) in position order, each exactly once,
// whatever the bus does. The store is the source of truth; the bus only brings events early.
// Positions are allocated in commit order without holes, but publications can overtake each other,
// come late, twice, or never: two sends that commit in turn may publish in the other order, with
// several nodes the bus interleaves their publications freely, a node may stop between commit and
// publish, and the bus itself may be cut or down. A subscriber's cursor is a position per
// partition, so releasing p:12 before p:11 and then resuming from p:12 would lose p:11 (EVT-3),
// and releasing p:11 after p:12 would move its cursor backwards (EVT-8). So:
// - a held-back range is read from the store after a short wait, every gap in it at once;
// - the store's heads, polled (`noteHeads`), reveal events whose publication never came, and
//   those are read from the store the same way: delivery goes on, in order, with the bus down;
// - anything that arrives for a position already released is dropped.
// With interest routing (bus/types.ts) a position may be known by its tick only: one no stream
// here needs (`needsContent`) is passed over; one a stream needs waits for its event, from the
// bus or the store. Events not stored (position 0) pass straight through.
import { PARTITIONS, origin, type Positions } from "./positions.js";
import type { EventTick, StoredEvent } from "./store/types.js";

export interface SequencerOptions {
  /** How long a gap may stay open before the held-back range is read from the store. */
  gapTimeoutMs: number;
  /** Most positions held back per partition; beyond it the open gaps are given up at once. */
  maxPending: number;
  /**
   * Reads a partition's stored events with positions from `from` to `to` (what the bus did not
   * bring comes from the log); events no stream here needs may come as ticks. Without it, a gap
   * is given up after the timeout.
   */
  recover?: (appId: string, partition: number, from: number, to: number) => Promise<(StoredEvent | EventTick)[]>;
  /** Whether a stream here needs the event a tick announces (interest routing). Default: always. */
  needsContent?: (tick: EventTick) => boolean;
  /** Called when a gap is given up: the store no longer has it (pruned), or too much waits behind it. */
  onGapSkipped?: (appId: string, partition: number, from: number, to: number) => void;
  /** Called for each range read from the store, with how many events (not ticks) it brought. */
  onRecovered?: (appId: string, partition: number, events: number) => void;
}

/** What is known of one held-back position: its event, its tick, or both. */
interface Entry {
  event?: StoredEvent;
  tick?: EventTick;
}

interface PartitionState {
  appId: string;
  partition: number;
  /** The next position to release; every position below it was released or given up. */
  expected: number;
  /** The highest position known to be committed (from the store's heads). */
  known: number;
  pending: Map<number, Entry>;
  timer: NodeJS.Timeout | undefined;
  recovering: boolean;
}

interface AppState {
  partitions: (PartitionState | undefined)[];
  /** The last position released per partition: the live cursor of this node (cursor.ts). */
  released: Positions;
}

const isEvent = (x: StoredEvent | EventTick): x is StoredEvent => "event" in x;

export class Sequencer {
  private readonly apps = new Map<string, AppState>();

  constructor(
    /** Receives each event in order, with the app's released positions including it. */
    private readonly emit: (event: StoredEvent, released: readonly number[]) => void,
    private readonly options: SequencerOptions,
  ) {}

  /**
   * Starts each partition's sequence after `latest` unless it runs already: a subscription whose
   * replay ends at (or after) those positions then gets every later event, in order. Without this
   * the first publication seen would start the sequence and one it overtook would be lost.
   */
  startAfter(appId: string, latest: readonly number[]): void {
    const app = this.app(appId);
    for (let p = 0; p < PARTITIONS; p++) {
      if (app.partitions[p]) continue;
      app.partitions[p] = this.newState(appId, p, latest[p] + 1);
      app.released[p] = Math.max(app.released[p], latest[p]);
    }
  }

  /** Drops an app's sequences (no stream of it is left here); a later startAfter begins afresh. */
  forget(appId: string): void {
    const app = this.apps.get(appId);
    if (!app) return;
    for (const state of app.partitions) if (state?.timer) clearTimeout(state.timer);
    this.apps.delete(appId);
  }

  /**
   * The store's latest positions of an app: any committed event not yet released is read from
   * the store if its publication does not come within the gap timeout.
   */
  noteHeads(appId: string, heads: readonly number[]): void {
    const app = this.apps.get(appId);
    if (!app) return;
    for (let p = 0; p < PARTITIONS; p++) {
      const state = app.partitions[p];
      if (!state || heads[p] < state.expected || heads[p] <= state.known) continue;
      state.known = heads[p];
      state.timer ??= setTimeout(() => this.recover(state), this.options.gapTimeoutMs).unref();
    }
  }

  accept(event: StoredEvent): void {
    if (event.position === 0) {
      this.emit(event, this.apps.get(event.appId)?.released ?? origin());
      return;
    }
    this.hold(this.stateFor(event), event.position, { event });
  }

  /** A tick: position `tick.position` of its partition exists (interest routing). */
  acceptTick(tick: EventTick): void {
    this.hold(this.stateFor(tick), tick.position, { tick });
  }

  private stateFor(x: StoredEvent | EventTick): PartitionState {
    const app = this.app(x.appId);
    // No subscription of this app has started here: nobody is waiting for earlier events.
    return (app.partitions[x.partition] ??= this.newState(x.appId, x.partition, x.position));
  }

  /** Records what arrived for `position`, then releases whatever became releasable. */
  private hold(state: PartitionState, position: number, arrived: Entry): void {
    // Released already (published twice, or read from the store before it came): drop it.
    if (position < state.expected) return;
    const entry = state.pending.get(position);
    if (entry) {
      entry.event ??= arrived.event;
      entry.tick ??= arrived.tick;
    } else {
      state.pending.set(position, arrived);
      if (state.pending.size > this.options.maxPending) {
        this.giveUp(state);
        return;
      }
    }
    if (position === state.expected) this.drain(state);
    else state.timer ??= setTimeout(() => this.recover(state), this.options.gapTimeoutMs).unref();
  }

  private app(appId: string): AppState {
    let app = this.apps.get(appId);
    if (!app) this.apps.set(appId, (app = { partitions: new Array(PARTITIONS).fill(undefined), released: origin() }));
    return app;
  }

  private newState(appId: string, partition: number, expected: number): PartitionState {
    return { appId, partition, expected, known: expected - 1, pending: new Map(), timer: undefined, recovering: false };
  }

  /** Whether the entry can be released now: its event is here, or no stream here needs it. */
  private releasable(entry: Entry): boolean {
    return !!entry.event || (!!entry.tick && !(this.options.needsContent?.(entry.tick) ?? true));
  }

  private release(state: PartitionState, position: number, entry: Entry): void {
    state.expected = position + 1;
    const app = this.apps.get(state.appId)!;
    app.released[state.partition] = position;
    if (entry.event) this.emit(entry.event, app.released);
  }

  private drain(state: PartitionState): void {
    for (let next = state.pending.get(state.expected); next && this.releasable(next); next = state.pending.get(state.expected)) {
      state.pending.delete(state.expected);
      this.release(state, state.expected, next);
    }
    this.arm(state);
  }

  /** Whether positions from `expected` on are known to exist but not yet released. */
  private waiting(state: PartitionState): boolean {
    return state.pending.size > 0 || state.known >= state.expected;
  }

  /** Nothing waits: no timer. Something waits (after progress): a fresh timeout for it. */
  private arm(state: PartitionState): void {
    if (!this.waiting(state)) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      return;
    }
    if (state.recovering) return;
    if (state.timer) state.timer.refresh();
    else state.timer = setTimeout(() => this.recover(state), this.options.gapTimeoutMs).unref();
  }

  /** Reads the held-back range (up to the known head) from the store, then releases in order. */
  private recover(state: PartitionState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    if (!this.waiting(state) || state.recovering) return;
    const read = this.options.recover;
    if (!read) {
      this.giveUp(state);
      return;
    }
    state.recovering = true;
    const from = state.expected;
    // Up to the last position still missing its event (positions held with one need no read).
    let to = state.known;
    for (const [position, entry] of state.pending) to = Math.max(to, entry.event ? position - 1 : position);
    let ok = false;
    read(state.appId, state.partition, from, to)
      .then(
        (found) => {
          ok = true;
          let events = 0;
          for (const x of found) {
            if (x.position < state.expected || x.position > to) continue;
            const entry = state.pending.get(x.position) ?? {};
            if (isEvent(x)) {
              entry.event ??= x;
              events++;
            } else entry.tick ??= x;
            state.pending.set(x.position, entry);
          }
          this.options.onRecovered?.(state.appId, state.partition, events);
        },
        () => {},
      )
      .finally(() => {
        state.recovering = false;
        if (this.apps.get(state.appId)?.partitions[state.partition] !== state) return;
        this.drain(state);
        // A position inside the range the store answered for that it did not return is one it
        // does not have (pruned, EVT-10): give up exactly those. A position held back for its
        // content (the store sent a tick: the group became needed meanwhile), one that opened
        // meanwhile, or a failed read waits another round.
        if (ok) {
          while (state.expected <= to && !state.pending.has(state.expected)) {
            let next = state.expected + 1;
            while (next <= to && !state.pending.has(next)) next++;
            this.skipTo(state, next);
          }
        }
        this.arm(state);
      });
  }

  /** Gives up the positions from `expected` to `next - 1` and releases what follows them. */
  private skipTo(state: PartitionState, next: number): void {
    this.options.onGapSkipped?.(state.appId, state.partition, state.expected, next - 1);
    const app = this.apps.get(state.appId)!;
    state.expected = next;
    app.released[state.partition] = next - 1;
    this.drain(state);
  }

  /** Too much waits (or nothing can be read): give every open gap up, releasing what is held. */
  private giveUp(state: PartitionState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    while (state.pending.size > 0) {
      const first = Math.min(...state.pending.keys());
      if (first > state.expected) this.skipTo(state, first);
      const entry = state.pending.get(state.expected);
      if (!entry) continue;
      // Held for content that cannot come: give it up too.
      state.pending.delete(state.expected);
      if (!entry.event) this.options.onGapSkipped?.(state.appId, state.partition, state.expected, state.expected);
      this.release(state, state.expected, entry);
      this.drain(state);
    }
    if (state.known >= state.expected) state.known = state.expected - 1;
  }

  stop(): void {
    for (const app of this.apps.values()) for (const state of app.partitions) if (state?.timer) clearTimeout(state.timer);
    this.apps.clear();
  }
}
