// A live EventService.Subscribe stream read in the background. Cases wait for items matching a
// predicate (bounded by a timeout, so a silent server fails instead of hanging) and check that
// nothing matching arrived (after a fence event and the suite's negative wait).
import type { Client } from "@connectrpc/connect";
import type { Event, EventService, SubscribeResponse } from "@narrowcast/gen";
import { CheckFailure } from "./check.js";
import { describeObserved, observe, type ObservedError } from "./errors.js";
import { describeEvent } from "./events.js";

export interface SubscribeOptions {
  cursor?: string;
  heartbeatIntervalSeconds?: number;
  /** A raw heartbeat_interval (overrides heartbeatIntervalSeconds), for invalid Durations. */
  heartbeatInterval?: { seconds: bigint; nanos: number };
}

export interface WaitOptions {
  /** Upper bound for positive waits, in milliseconds. */
  timeoutMs: number;
  /** How long "must not be delivered" checks keep listening, in milliseconds. */
  negativeWaitMs: number;
}

type End = { kind: "closed" } | { kind: "completed" } | { kind: "error"; error: ObservedError };

export class Subscription {
  /** Every item received, in order. */
  readonly items: SubscribeResponse[] = [];
  private end: End | undefined;
  private readonly abort = new AbortController();
  private readonly listeners = new Set<() => void>();

  private constructor(
    /** Names the subscription in failure messages, e.g. "carol's subscription". */
    readonly label: string,
    private readonly wait: WaitOptions,
  ) {}

  /** Opens a stream and starts reading it. Does not wait for `ready`. */
  static open(client: Client<typeof EventService>, request: SubscribeOptions, label: string, wait: WaitOptions): Subscription {
    const sub = new Subscription(label, wait);
    void sub.read(client, request);
    return sub;
  }

  private async read(client: Client<typeof EventService>, request: SubscribeOptions): Promise<void> {
    try {
      const stream = client.subscribe(
        {
          cursor: request.cursor ?? "",
          ...(request.heartbeatInterval
            ? { heartbeatInterval: request.heartbeatInterval }
            : request.heartbeatIntervalSeconds
              ? { heartbeatInterval: { seconds: BigInt(request.heartbeatIntervalSeconds) } }
              : {}),
        },
        { signal: this.abort.signal },
      );
      for await (const item of stream) {
        this.items.push(item);
        this.notify();
      }
      this.end = { kind: "completed" };
    } catch (err) {
      this.end = this.abort.signal.aborted ? { kind: "closed" } : { kind: "error", error: observe(err) };
    }
    this.notify();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Events received so far, in order. */
  get events(): Event[] {
    const events: Event[] = [];
    for (const item of this.items) if (item.item.case === "event") events.push(item.item.value);
    return events;
  }

  /** Index of the `ready` item, or -1 if it has not arrived. */
  get readyIndex(): number {
    return this.items.findIndex((i) => i.item.case === "ready");
  }

  /** Events received before `ready` (the replay of a resumed subscription). */
  get replayed(): Event[] {
    const end = this.readyIndex < 0 ? this.items.length : this.readyIndex;
    const events: Event[] = [];
    for (const item of this.items.slice(0, end)) if (item.item.case === "event") events.push(item.item.value);
    return events;
  }

  /** The cursor to resume from: the last non-empty event cursor, else the `ready` cursor. */
  get resumeCursor(): string {
    let cursor = "";
    for (const item of this.items) {
      if (item.item.case === "ready") cursor = item.item.value.cursor;
      if (item.item.case === "event" && item.item.value.cursor !== "") cursor = item.item.value.cursor;
    }
    return cursor;
  }

  /** How the stream ended, if it did. */
  get ended(): End | undefined {
    return this.end;
  }

  /**
   * Resolves once `condition` holds; fails on timeout, or when the stream ends first.
   * `condition` runs after every item.
   */
  async until<T>(description: string, condition: () => T | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const finish = (err: Error | undefined, value?: T) => {
        done = true;
        clearTimeout(timer);
        this.listeners.delete(listener);
        if (err) reject(err);
        else resolve(value as T);
      };
      const listener = () => {
        if (done) return;
        try {
          const value = condition();
          if (value !== undefined) finish(undefined, value);
          else if (this.end) finish(this.endedFailure(description));
        } catch (err) {
          finish(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const timer = setTimeout(
        () =>
          finish(
            new CheckFailure(
              `${this.label}: timed out waiting for ${description}`,
              description,
              `after ${this.wait.timeoutMs} ms received: ${this.describeItems()}`,
            ),
          ),
        this.wait.timeoutMs,
      );
      this.listeners.add(listener);
      listener();
    });
  }

  private endedFailure(description: string): CheckFailure {
    const end = this.end;
    const how = end?.kind === "error" ? `ended with ${describeObserved(end.error)}` : `ended (${end?.kind})`;
    return new CheckFailure(`${this.label}: stream ${how} while waiting for ${description}`, description, `received: ${this.describeItems()}`);
  }

  /** Waits for `ready` and returns its cursor. */
  async ready(): Promise<string> {
    return this.until("the ready item", () => {
      const item = this.items.find((i) => i.item.case === "ready");
      return item?.item.case === "ready" ? item.item.value.cursor : undefined;
    });
  }

  /** Waits for an event matching the predicate and returns it. */
  async waitFor(description: string, predicate: (e: Event) => boolean): Promise<Event> {
    return this.until(description, () => this.events.find(predicate));
  }

  /** Waits until `count` events match the predicate and returns them. */
  async waitForCount(description: string, count: number, predicate: (e: Event) => boolean): Promise<Event[]> {
    return this.until(`${count} × ${description}`, () => {
      const found = this.events.filter(predicate);
      return found.length >= count ? found : undefined;
    });
  }

  /** Waits for the stream to end with an error and returns it. */
  async error(description = "the stream to fail"): Promise<ObservedError> {
    return this.until(description, () => {
      if (this.end === undefined) return undefined;
      if (this.end.kind === "error") return this.end.error;
      throw new CheckFailure(`${this.label}: stream ended without error`, description, `ended (${this.end.kind})`);
    });
  }

  /** Fails now if an event matching the predicate has arrived. Does not wait. */
  assertNone(description: string, predicate: (e: Event) => boolean): void {
    const hit = this.events.find(predicate);
    if (hit) throw new CheckFailure(`${this.label} received ${description}`, `no such event`, describeEvent(hit));
    if (this.end?.kind === "error") throw this.endedFailure(`no ${description}`);
  }

  /**
   * Checks that no matching event arrives: first waits for the fence event (an event that the
   * server must deliver after the forbidden one, per EVT-8), then listens for the negative wait.
   */
  async expectNone(description: string, predicate: (e: Event) => boolean, fence?: { description: string; predicate: (e: Event) => boolean }): Promise<void> {
    if (fence) await this.waitFor(fence.description, fence.predicate);
    await sleep(this.wait.negativeWaitMs);
    this.assertNone(description, predicate);
  }

  /** Ends the stream from the client side. */
  close(): void {
    this.abort.abort();
  }

  /** A short rendering of everything received, for failure reports. */
  describeItems(): string {
    if (this.items.length === 0) return "nothing";
    const shown = this.items.slice(-12).map((i) => {
      if (i.item.case === "event") return describeEvent(i.item.value);
      if (i.item.case === "ready") return "ready";
      if (i.item.case === "heartbeat") return "heartbeat";
      return "empty item";
    });
    const skipped = this.items.length - shown.length;
    return (skipped > 0 ? `… ${skipped} earlier, ` : "") + shown.join(", ");
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
