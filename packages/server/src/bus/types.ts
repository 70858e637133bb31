// The fan-out contract between nodes. A Bus carries committed events to the nodes whose Hubs
// need them, which deliver them to their local subscriptions. In-process for one node; NATS for
// many. The store stays the source of truth (sequencer.ts): a bus may be late, lossy or down.
import type { EventTick, StoredEvent } from "../store/types.js";

export interface Bus {
  /** Publishes an event after its transaction committed. */
  publish(event: StoredEvent): void;
  /**
   * Registers a handler for published events: every event, or on a bus with `interest` only the
   * events of the groups this node follows. Returns an unsubscribe function.
   */
  subscribe(handler: (event: StoredEvent) => void): () => void;
  close(): Promise<void>;
  /** Resolves when the bus is reachable (readiness, GET /readyz); absent: always reachable. */
  ping?(): Promise<void>;
  /**
   * Reports each change of the bus's connection (false: lost, true: back); returns an
   * unsubscribe function. Absent: always connected. Live delivery does not depend on it (the
   * hub reads the store meanwhile); it makes an outage visible and the hub poll the store faster.
   */
  onConnectionChange?(listener: (connected: boolean) => void): () => void;
  /** Present on a bus that routes by interest (see BusInterest); absent: every event reaches every node. */
  interest?: BusInterest;
}

/**
 * Interest routing: a node receives the events of the groups it follows (those with members
 * streaming on it), and a tick — position and group, no content — of every stored event of the
 * apps it follows, so it can release each partition in order without receiving other groups'
 * events. Follow calls are exact (the hub counts); following twice is a no-op.
 */
export interface BusInterest {
  /** Registers a handler for the ticks of followed apps; returns an unsubscribe function. */
  onTick(handler: (tick: EventTick) => void): () => void;
  followApp(appId: string): void;
  unfollowApp(appId: string): void;
  followGroup(appId: string, groupId: string): void;
  unfollowGroup(appId: string, groupId: string): void;
  /**
   * Resolves once every follow made so far is in effect on the bus: events published after that
   * reach this node. Stored events never depend on it (ticks and the store cover them); events
   * that are not stored (online-only, AVCHATROOM) do.
   */
  settled(): Promise<void>;
}
