// One open Subscribe stream on this node: a queue bounded in bytes (rule EVT-6), heartbeats when idle
// (EVT-5), and two ways out — a reader that pulls (the connect-es handler) or a direct writer
// that takes items synchronously while its transport keeps up (the HTTP fast path). Both ways
// share this class, so slow-consumer handling, heartbeats and shutdown cannot differ by path.
import { create } from "@bufbuild/protobuf";
import type { ConnectError } from "@connectrpc/connect";
import { ErrorReason, SubscribeResponseSchema, type SubscribeResponse } from "@narrowcast/gen";
import { narrowcastError } from "./errors.js";
import { bufferedSizeOf } from "./frames.js";
import { cursorOf } from "./cursor.js";
import { dominates, later, type Positions } from "./positions.js";

/**
 * Default budget of a stream's queue (rule EVT-6): 4 MiB, about 16,000 events of a 100-byte text
 * message — room for an ordinary connect-es reader to take a burst of 2,000 messages in a busy
 * group (docs/benchmarks.md) — while a stream of 64 kB messages is cut after about 64.
 */
export const DEFAULT_SUBSCRIBER_BUFFER_BYTES = 4 * 1024 * 1024;

/** One shared object: the fast path encodes it once per codec. */
export const HEARTBEAT: SubscribeResponse = create(SubscribeResponseSchema, { item: { case: "heartbeat", value: {} } });

/**
 * Writes items to a stream at once; returns false when the transport is full (backpressure).
 * It must not throw: it runs inside the sender's call.
 */
export type DirectWriter = (items: SubscribeResponse[]) => boolean;

/** Where a live stored event sits: its partition and position, and this node's released positions with it. */
export interface Placement {
  partition: number;
  position: number;
  /** The node's released positions including this event: the cursor its item carries. */
  released: readonly number[];
}

/** What a subscription reports, for metrics; every hook optional. */
export interface SubscriptionObserver {
  /** Live events handed to streams (written or queued), one per stream; heartbeats not counted. */
  delivered?(count: number): void;
  /** A stream ended with SLOW_CONSUMER (rule EVT-6). */
  slowConsumerCut?(): void;
}

export class Subscription {
  private readonly queue: { item: SubscribeResponse; at?: Placement; bytes: number }[] = [];
  /** Bytes of the queued items (bufferedSizeOf), held against the stream's budget. */
  private queuedBytes = 0;
  private failure: ConnectError | undefined;
  /** Where the replay ended: stored events at or below it were sent by the replay; drop them. */
  private replayedUpTo: Positions | undefined;
  /**
   * The node's released positions have reached `replayedUpTo` in every partition: the shared
   * item's cursor is this stream's cursor too. Until then each item gets its own cursor, never
   * behind the replay's (a cursor must not move backwards, EVT-8).
   */
  private caughtUp = false;
  private replaying = true;
  private onFail: ((err: ConnectError) => void) | undefined;
  private writer: DirectWriter | undefined;
  /** The direct writer's transport is full: items queue until `drained()`. */
  private blocked = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private waiter: (() => void) | undefined;
  private boundSignal: AbortSignal | undefined;
  /** Settles when the subscription fails (slow consumer, shutdown), so a blocked writer can stop. */
  readonly failed = new Promise<ConnectError>((resolve) => (this.onFail = resolve));

  constructor(
    readonly appId: string,
    readonly userId: string,
    /** Bytes of events the stream may have queued before it is cut (rule EVT-6). */
    private readonly budgetBytes: number,
    private readonly observer: SubscriptionObserver = {},
  ) {}

  /**
   * Queues a live item (`at`: where a stored event sits); ends the stream with SLOW_CONSUMER when
   * the queued bytes would exceed the budget (rule EVT-6). A budget in bytes, not events, lets a
   * reader that keeps up on average take a burst of small messages, while big ones cannot pile up.
   */
  push(item: SubscribeResponse, at?: Placement): void {
    if (this.failure) return;
    if (this.replaying) {
      // Its cursor is settled when the replay ends (finishReplay).
      if (at) at = { ...at, released: at.released.slice() };
    } else if (at) {
      const settled = this.settle(item, at);
      if (!settled) return;
      item = settled;
      at = undefined;
    }
    if (this.writer && !this.blocked && this.queue.length === 0) {
      // The hot path of fan-out: no queue, no wake-up, the shared frame goes straight out.
      if (item !== HEARTBEAT) this.observer.delivered?.(1);
      this.writeDirect([item]);
      return;
    }
    const bytes = bufferedSizeOf(item);
    if (this.queuedBytes + bytes > this.budgetBytes) {
      this.observer.slowConsumerCut?.();
      this.fail(narrowcastError(ErrorReason.SLOW_CONSUMER, "subscriber fell too far behind; resume from the last cursor"));
      return;
    }
    if (item !== HEARTBEAT) this.observer.delivered?.(1);
    this.enqueue(item, at, bytes);
    this.wake();
  }

  private enqueue(item: SubscribeResponse, at: Placement | undefined, bytes: number): void {
    this.queue.push({ item, at, bytes });
    this.queuedBytes += bytes;
  }

  /** The item as this stream sends it, or undefined if the replay sent it already. */
  private settle(item: SubscribeResponse, at: Placement): SubscribeResponse | undefined {
    const floor = this.replayedUpTo!;
    if (at.position <= floor[at.partition]) return undefined;
    if (this.caughtUp || (this.caughtUp = dominates(at.released, floor))) return item;
    if (item.item.case !== "event") return item;
    const cursor = cursorOf(this.appId, later(at.released, floor));
    return create(SubscribeResponseSchema, { item: { case: "event", value: { ...item.item.value, cursor } } });
  }

  /**
   * Ends the replay: queued stored events it already sent are dropped, and the stream now gets a
   * Heartbeat whenever it has been idle for `heartbeatMs` (rule EVT-5).
   */
  finishReplay(replayedUpTo: readonly number[], heartbeatMs: number): void {
    this.replaying = false;
    this.replayedUpTo = replayedUpTo.slice();
    const queued = this.queue.splice(0);
    this.queuedBytes = 0;
    for (const q of queued) {
      const item = q.at ? this.settle(q.item, q.at) : q.item;
      if (item) this.enqueue(item, undefined, item === q.item ? q.bytes : bufferedSizeOf(item));
    }
    const beat = () => {
      // Only an idle stream gets one: queued items, or a full transport, mean it is not idle.
      if (!this.failure && !this.blocked && this.queue.length === 0) this.push(HEARTBEAT);
      this.heartbeat?.refresh();
    };
    this.heartbeat = setTimeout(beat, heartbeatMs).unref();
  }

  /** Switches to direct writes (after the replay and `ready`); anything queued is written now. */
  attach(writer: DirectWriter): void {
    this.writer = writer;
    this.flush();
  }

  /** The direct writer's transport can take more: write what queued meanwhile. */
  drained(): void {
    this.blocked = false;
    this.flush();
  }

  private flush(): void {
    if (!this.writer || this.blocked || this.failure || this.queue.length === 0) return;
    const items = this.queue.map((q) => q.item);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.writeDirect(items);
  }

  private writeDirect(items: SubscribeResponse[]): void {
    this.heartbeat?.refresh();
    if (!this.writer!(items)) this.blocked = true;
  }

  fail(err: ConnectError): void {
    if (this.failure) return;
    this.failure = err;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.onFail?.(err);
    this.wake();
  }

  /** The next item, waiting for one; undefined once `signal` aborted; throws once the subscription failed. */
  async next(signal: AbortSignal): Promise<SubscribeResponse | undefined> {
    if (this.boundSignal !== signal) {
      this.boundSignal = signal;
      signal.addEventListener("abort", () => this.wake(), { once: true });
    }
    for (;;) {
      if (this.failure) throw this.failure;
      const head = this.queue.shift();
      if (head) {
        this.queuedBytes -= head.bytes;
        this.heartbeat?.refresh();
        return head.item;
      }
      if (signal.aborted) return undefined;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Releases the heartbeat timer and any waiting reader. */
  dispose(): void {
    if (this.heartbeat) clearTimeout(this.heartbeat);
    this.heartbeat = undefined;
    this.wake();
  }
}
