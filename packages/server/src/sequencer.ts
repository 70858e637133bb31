// Releases each app's stored events in event-ID order, each exactly once. IDs are allocated in
// commit order without holes, but publications can overtake each other or never come: two sends
// whose transactions commit in turn may publish in the other order, with several nodes the bus
// interleaves their publications freely, and a node may stop between commit and publish. A
// subscriber's cursor is a position in the app's log, so delivering e12 before e11 and then
// resuming from e12 would lose e11 (rule EVT-3), and delivering e11 after e12 would move its cursor
// backwards (EVT-8). So a held-back range is read from the store after a short wait, every gap
// in it at once; anything that arrives for a position already released is dropped. Events not
// stored (ID 0) pass straight through.
import type { StoredEvent } from "./store/types.js";

export interface SequencerOptions {
  /** How long a gap may stay open before the held-back range is read from the store. */
  gapTimeoutMs: number;
  /** Most events held back per app; beyond it the open gaps are given up at once. */
  maxPending: number;
  /**
   * Reads the app's stored events with IDs from `fromId` to `toId` (a publication that never came
   * is recovered from the log). Without it, a gap is given up after the timeout.
   */
  recover?: (appId: string, fromId: number, toId: number) => Promise<StoredEvent[]>;
  /** Called when a gap is given up: the store no longer has it (pruned), or too much waits behind it. */
  onGapSkipped?: (appId: string, fromId: number, toId: number) => void;
}

interface AppState {
  appId: string;
  /** The next event ID to release; every ID below it was released or given up. */
  expected: number;
  pending: Map<number, StoredEvent>;
  timer: NodeJS.Timeout | undefined;
  recovering: boolean;
}

export class Sequencer {
  private readonly apps = new Map<string, AppState>();

  constructor(
    private readonly emit: (event: StoredEvent) => void,
    private readonly options: SequencerOptions,
  ) {}

  /**
   * Starts an app's sequence after `latestEventId` unless it runs already: a subscription whose
   * replay ends at (or after) that ID then gets every later event, in order. Without this the
   * first publication seen would start the sequence and one it overtook would be lost.
   */
  startAfter(appId: string, latestEventId: number): void {
    if (!this.apps.has(appId)) this.apps.set(appId, this.newState(appId, latestEventId + 1));
  }

  private newState(appId: string, expected: number): AppState {
    return { appId, expected, pending: new Map(), timer: undefined, recovering: false };
  }

  accept(event: StoredEvent): void {
    if (event.eventId === 0) {
      this.emit(event);
      return;
    }
    let state = this.apps.get(event.appId);
    if (!state) {
      // No subscription of this app has started here: nobody is waiting for earlier events.
      state = this.newState(event.appId, event.eventId);
      this.apps.set(event.appId, state);
    }
    // Released already (published twice, or recovered from the store before it came): drop it.
    if (event.eventId < state.expected || state.pending.has(event.eventId)) return;
    if (event.eventId > state.expected) {
      state.pending.set(event.eventId, event);
      if (state.pending.size > this.options.maxPending) this.giveUp(state);
      else state.timer ??= setTimeout(() => this.recover(state), this.options.gapTimeoutMs).unref();
      return;
    }
    this.emit(event);
    state.expected++;
    this.drain(state);
  }

  private drain(state: AppState): void {
    for (let next = state.pending.get(state.expected); next; next = state.pending.get(state.expected)) {
      state.pending.delete(state.expected);
      this.emit(next);
      state.expected++;
    }
    this.arm(state);
  }

  /** No gap: no timer. A gap (after progress): a fresh timeout for it. */
  private arm(state: AppState): void {
    if (state.pending.size === 0) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = undefined;
      return;
    }
    if (state.recovering) return;
    if (state.timer) state.timer.refresh();
    else state.timer = setTimeout(() => this.recover(state), this.options.gapTimeoutMs).unref();
  }

  /** Reads every gap of the held-back range from the store, then releases what is complete. */
  private recover(state: AppState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    if (state.pending.size === 0 || state.recovering) return;
    const read = this.options.recover;
    if (!read) {
      this.giveUp(state);
      return;
    }
    state.recovering = true;
    const from = state.expected;
    const to = Math.max(...state.pending.keys()) - 1;
    let ok = false;
    read(state.appId, from, to)
      .then(
        (events) => {
          ok = true;
          for (const e of events) if (e.eventId >= state.expected && e.eventId <= to && !state.pending.has(e.eventId)) state.pending.set(e.eventId, e);
        },
        () => {},
      )
      .finally(() => {
        state.recovering = false;
        if (this.apps.get(state.appId) !== state) return;
        this.drain(state);
        // A gap inside the range the store answered for is one it does not have (pruned, EVT-10):
        // give up exactly those. A gap that opened meanwhile, or a failed read, waits another round.
        while (ok && state.pending.size > 0 && state.expected <= to) this.skipTo(state, Math.min(...state.pending.keys()));
        this.arm(state);
      });
  }

  /** Gives up the IDs from `expected` to `next - 1` and releases what follows them. */
  private skipTo(state: AppState, next: number): void {
    this.options.onGapSkipped?.(state.appId, state.expected, next - 1);
    state.expected = next;
    this.drain(state);
  }

  /** Too much waits (or nothing can be read): give every open gap up, releasing all held events. */
  private giveUp(state: AppState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    while (state.pending.size > 0) this.skipTo(state, Math.min(...state.pending.keys()));
  }

  stop(): void {
    for (const state of this.apps.values()) if (state.timer) clearTimeout(state.timer);
    this.apps.clear();
  }
}
