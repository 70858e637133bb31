// The in-process Bus: synchronous delivery, in publish order, to the handlers of this process.
import type { StoredEvent } from "../store/types.js";
import type { Bus } from "./types.js";

export class InProcessBus implements Bus {
  private readonly handlers = new Set<(event: StoredEvent) => void>();

  publish(event: StoredEvent): void {
    for (const handler of this.handlers) handler(event);
  }

  subscribe(handler: (event: StoredEvent) => void): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
