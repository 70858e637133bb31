// The fan-out contract between nodes. A Bus carries every committed event to every node's Hub,
// which delivers it to that node's local subscriptions. In-process for one node; NATS for many.
import type { StoredEvent } from "../store/types.js";

export interface Bus {
  /** Publishes an event after its transaction committed. Delivery to handlers is in publish order. */
  publish(event: StoredEvent): void;
  /** Registers a handler for every published event; returns an unsubscribe function. */
  subscribe(handler: (event: StoredEvent) => void): () => void;
  close(): Promise<void>;
  /** Resolves when the bus is reachable (readiness, GET /readyz); absent: always reachable. */
  ping?(): Promise<void>;
}
