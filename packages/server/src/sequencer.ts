// Releases each app's stored events in event-ID order. IDs are allocated in commit order, but
// publications can overtake each other: two sends whose transactions commit in turn may publish
// in the other order, and with several nodes the bus interleaves their publications freely. A
// subscriber's cursor is a position in the app's log, so delivering e12 before e11 and then
// resuming from e12 would lose e11 (rule EVT-3). Events not stored (ID 0) pass straight through.
import type { StoredEvent } from "./store/types.js";

export interface SequencerOptions {
  /** How long a gap may stay open before the events behind it are released anyway. */
  gapTimeoutMs: number;
  /** Most events held back per app; beyond it the gap is given up at once. */
  maxPending: number;
  /**
   * Reads the events of a gap that stayed open (from the store): a publication that never came,
   * e.g. because its node stopped between commit and publish, is recovered from the log.
   */
  recover?: (appId: string, fromId: number, toId: number) => Promise<StoredEvent[]>;
  /** Called when a gap is given up (neither published nor recoverable). */
  onGapSkipped?: (appId: string, fromId: number, toId: number) => void;
}

interface AppState {
  /** The next event ID to release. */
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

  accept(event: StoredEvent): void {
    if (event.eventId === 0) {
      this.emit(event);
      return;
    }
    let state = this.apps.get(event.appId);
    if (!state) {
      // The first event seen of an app starts its sequence.
      state = { expected: event.eventId, pending: new Map(), timer: undefined, recovering: false };
      this.apps.set(event.appId, state);
    }
    if (event.eventId < state.expected) {
      // Late: its gap was given up already. Deliver it rather than lose it.
      this.emit(event);
      return;
    }
    if (event.eventId > state.expected) {
      state.pending.set(event.eventId, event);
      if (state.pending.size > this.options.maxPending) this.skipGap(event.appId, state);
      else state.timer ??= setTimeout(() => this.skipGap(event.appId, state), this.options.gapTimeoutMs).unref();
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
    if (state.timer) state.timer.refresh();
    else {
      const appId = [...state.pending.values()][0].appId;
      state.timer = setTimeout(() => this.skipGap(appId, state), this.options.gapTimeoutMs).unref();
    }
  }

  private skipGap(appId: string, state: AppState): void {
    if (state.timer) clearTimeout(state.timer);
    state.timer = undefined;
    if (state.pending.size === 0 || state.recovering) return;
    const recover = this.options.recover;
    if (!recover) {
      this.giveUp(appId, state);
      return;
    }
    state.recovering = true;
    recover(appId, state.expected, Math.min(...state.pending.keys()) - 1)
      .then(
        (events) => {
          for (const e of events) if (e.eventId >= state.expected && !state.pending.has(e.eventId)) state.pending.set(e.eventId, e);
        },
        () => {},
      )
      .finally(() => {
        state.recovering = false;
        this.giveUp(appId, state);
      });
  }

  /** Releases what the recovery filled in; a gap that is still open is skipped. */
  private giveUp(appId: string, state: AppState): void {
    this.drain(state);
    if (state.pending.size === 0) return;
    const resume = Math.min(...state.pending.keys());
    this.options.onGapSkipped?.(appId, state.expected, resume - 1);
    state.expected = resume;
    this.drain(state);
  }

  stop(): void {
    for (const state of this.apps.values()) if (state.timer) clearTimeout(state.timer);
    this.apps.clear();
  }
}
