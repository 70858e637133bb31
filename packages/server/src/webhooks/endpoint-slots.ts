// Per-endpoint concurrency (rule HOOK-8): at most N attempts to one (app, URL) in flight on this
// node; the rest wait their turn in claim order.

interface Endpoint {
  active: number;
  /** The limit the latest acquire gave: a lowered limit applies as slots free up. */
  limit: number;
  waiting: Array<(granted: boolean) => void>;
}

export class EndpointSlots {
  private readonly endpoints = new Map<string, Endpoint>();
  private closed = false;

  /** Waits for a slot; false when the slots were closed meanwhile (the attempt must not start). */
  acquire(key: string, limit: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    let endpoint = this.endpoints.get(key);
    if (!endpoint) {
      endpoint = { active: 0, limit, waiting: [] };
      this.endpoints.set(key, endpoint);
    }
    endpoint.limit = limit;
    if (endpoint.active < limit) {
      endpoint.active++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => endpoint.waiting.push(resolve));
  }

  /** Whether an acquire now would be granted at once. */
  hasRoom(key: string, limit: number): boolean {
    const endpoint = this.endpoints.get(key);
    return !endpoint || endpoint.active < limit;
  }

  /** Frees a slot, handing it to the next waiter if there is one. */
  release(key: string): void {
    const endpoint = this.endpoints.get(key);
    if (!endpoint) return;
    endpoint.active--;
    while (endpoint.active < endpoint.limit && endpoint.waiting.length > 0) {
      endpoint.active++;
      endpoint.waiting.shift()!(true);
    }
    if (endpoint.active === 0) this.endpoints.delete(key);
  }

  /** How many claimed attempts wait for a slot. */
  get waitingCount(): number {
    let n = 0;
    for (const endpoint of this.endpoints.values()) n += endpoint.waiting.length;
    return n;
  }

  /** Refuses every waiting and later acquire (shutdown); slots already granted stay until released. */
  close(): void {
    this.closed = true;
    for (const endpoint of this.endpoints.values()) {
      for (const waiter of endpoint.waiting.splice(0)) waiter(false);
    }
  }
}
